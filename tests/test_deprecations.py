"""
What seed 002 removed or deprecated, checked where the clients see it.

- Tasks created for worker runs carry `ARKINDEX_WORKER_RUN_ID` and never `WORKER_VERSION_ID`,
  including in the environment an agent gives a task.
- Tasks have no tags, and neither tasks nor artifacts carry URLs (the clients rebuild them from
  IDs): not in the schema, not in responses.
- The `worker_version` filters (and `transcription_worker_version`) are `deprecated` in the schema
  (API.md §1.2), so that `arkindex-client` warns when one is sent, and not otherwise.
- UpdateWorkerActivity still takes a worker version id, deprecated, described on its `id`; the
  operation itself is not deprecated: its worker run form is the current one, which the base
  worker calls for every element, and the client would warn on each of those calls.
"""

# ruff: noqa: F811 (pytest fixtures imported from other test modules)

import json

import pytest

from ponos.agent.execution import task_environment
from ponos.models import Artifact, Task
from ponos.tests.factories import TaskFactory
from processes.tests.start_fixtures import (  # noqa: F401
    elements,
    make_version,
    page_type,
    process,
    runs,
)
from tests.tokens import token_client
from users.models import Token

pytestmark = pytest.mark.django_db

SCHEMA_PATH = "/api/v1/openapi/?format=json"
HTTP_METHODS = ("get", "put", "post", "delete", "patch")

# Every list that filters by provenance: (operation, deprecated parameters, their current replacements).
PROVENANCE_LISTS = {
    "ListElements": ({"worker_version", "transcription_worker_version"}, {"worker_run", "transcription_worker_run"}),
    "ListElementChildren": (
        {"worker_version", "transcription_worker_version"},
        {"worker_run", "transcription_worker_run"},
    ),
    "ListElementParents": (
        {"worker_version", "transcription_worker_version"},
        {"worker_run", "transcription_worker_run"},
    ),
    "ListTranscriptions": ({"worker_version"}, {"worker_run"}),
    "ListTranscriptionEntities": ({"worker_version"}, {"worker_run"}),
    "ListElementMetaData": ({"worker_version"}, {"worker_run"}),
    "ListElementClassifications": ({"worker_version"}, {"worker_run"}),
    "ListCorpusEntities": ({"worker_version"}, {"worker_run"}),
}

TASK_OPERATIONS = (
    "RetrieveTask",
    "PartialUpdateTask",
    "RetrieveTaskFromAgent",
    "PartialUpdateTaskFromAgent",
    "RestartTask",
    "ListProcessTasks",
    "StartProcess",
    "RetryProcess",
    "StopProcess",
)
ARTIFACT_OPERATIONS = ("ListArtifacts", "CreateArtifact")


@pytest.fixture(scope="module")
def schema(django_db_blocker):
    from django.test import Client

    with django_db_blocker.unblock():
        response = Client().get(SCHEMA_PATH)
    assert response.status_code == 200
    return json.loads(response.content)


def operations(schema):
    return {
        operation["operationId"]: operation
        for path_item in schema["paths"].values()
        for method, operation in path_item.items()
        if method in HTTP_METHODS
    }


def resolve(schema, node):
    while isinstance(node, dict) and "$ref" in node:
        node = schema["components"]["schemas"][node["$ref"].rsplit("/", 1)[-1]]
    return node


def response_properties(schema, operation):
    """Names of the properties of the objects a successful response holds, nested objects included."""
    names, seen = set(), set()

    def walk(node):
        if isinstance(node, dict) and "$ref" in node:
            if node["$ref"] in seen:
                return
            seen.add(node["$ref"])
        node = resolve(schema, node)
        if not isinstance(node, dict):
            return
        for key, value in node.get("properties", {}).items():
            names.add(key)
            walk(value)
        for key in ("items", "additionalProperties"):
            walk(node.get(key))
        for key in ("allOf", "oneOf", "anyOf"):
            for item in node.get(key, []):
                walk(item)

    for status, response in operation.get("responses", {}).items():
        if status.startswith("2"):
            for media in response.get("content", {}).values():
                walk(media.get("schema"))
    return names


# Task environments


def test_worker_tasks_carry_the_worker_run_not_the_version(user_client, process, runs):
    response = user_client.post(f"/api/v1/process/{process.id}/start/")
    assert response.status_code == 200, response.json()
    tasks = list(Task.objects.filter(process=process))
    worker_tasks = [task for task in tasks if task.worker_run_id is not None]
    assert len(worker_tasks) == len(runs)
    for task in worker_tasks:
        assert task.env["ARKINDEX_WORKER_RUN_ID"] == str(task.worker_run_id)
    for task in tasks:
        assert not [key for key in task.env if "WORKER_VERSION" in key], task.slug
    # What the task API shows of an environment agrees.
    for task in worker_tasks:
        env = user_client.get(f"/api/v1/task/{task.id}/").json()["env"]
        assert env["ARKINDEX_WORKER_RUN_ID"] == str(task.worker_run_id)
        assert "WORKER_VERSION_ID" not in env


def test_agent_never_passes_a_worker_version(process, runs, tmp_path):
    """A task stored with a version variable (an old template, an admin's edit) still runs without it."""
    run = runs[0]
    task = TaskFactory(
        process=process,
        slug="legacy",
        worker_run=run,
        env={"ARKINDEX_WORKER_RUN_ID": str(run.id), "WORKER_VERSION_ID": str(run.version_id)},
    )
    env = task_environment(task, tmp_path)
    assert env["ARKINDEX_WORKER_RUN_ID"] == str(run.id)
    assert "WORKER_VERSION_ID" not in env and "ARKINDEX_WORKER_VERSION_ID" not in env


# Tasks and artifacts


def test_task_and_artifact_responses_have_no_tags_nor_urls(user_client, process, runs):
    assert user_client.post(f"/api/v1/process/{process.id}/start/").status_code == 200
    task = Task.objects.filter(process=process, worker_run=runs[0]).get()
    Artifact.objects.create(task=task, path="results.json", size=12, content_type="application/json")

    task_body = user_client.get(f"/api/v1/task/{task.id}/").json()
    assert "tags" not in task_body
    assert not [key for key in task_body if key == "url" or key.endswith("_url")]
    for item in user_client.get(f"/api/v1/process/{process.id}/tasks/").json():
        assert "tags" not in item and "url" not in item

    artifacts = user_client.get(f"/api/v1/task/{task.id}/artifacts/").json()
    assert [artifact["path"] for artifact in artifacts] == ["results.json"]
    # Only the upload URL remains, for the task that creates the artifact (null when listing).
    assert [key for key in artifacts[0] if key == "url" or key.endswith("_url")] == ["s3_put_url"]
    assert artifacts[0]["s3_put_url"] is None


def test_schema_tasks_have_no_tags_nor_urls(schema):
    by_id = operations(schema)
    for operation_id in TASK_OPERATIONS:
        names = response_properties(schema, by_id[operation_id])
        assert names, operation_id
        assert "tags" not in names, operation_id
        assert not [name for name in names if name == "url" or name.endswith("_url")], operation_id
    for operation_id in ARTIFACT_OPERATIONS:
        names = response_properties(schema, by_id[operation_id])
        assert "path" in names, operation_id
        assert [name for name in names if name == "url" or name.endswith("_url")] == ["s3_put_url"], operation_id


# Deprecated parameters and operations


def test_worker_version_filters_are_deprecated(schema):
    by_id = operations(schema)
    for operation_id, (deprecated, current) in PROVENANCE_LISTS.items():
        operation = by_id[operation_id]
        assert not operation.get("deprecated", False), operation_id
        parameters = {parameter["name"]: parameter for parameter in operation.get("parameters", [])}
        for name in deprecated:
            assert parameters[name]["in"] == "query"
            assert parameters[name].get("deprecated") is True, f"{operation_id}: {name}"
        for name in current:
            assert not parameters[name].get("deprecated", False), f"{operation_id}: {name}"


def test_every_worker_version_filter_is_deprecated(schema):
    """Wherever a list filters by worker version (present or future), the filter is deprecated."""
    found = []
    for operation_id, operation in operations(schema).items():
        for parameter in operation.get("parameters", []):
            if parameter["in"] == "query" and parameter["name"] in ("worker_version", "transcription_worker_version"):
                found.append((operation_id, parameter["name"]))
                assert parameter.get("deprecated") is True, (operation_id, parameter["name"])
    assert {operation_id for operation_id, _ in found} >= set(PROVENANCE_LISTS)


def test_update_worker_activity_documents_the_deprecated_version_form(schema):
    operation = schema["paths"]["/api/v1/workers/versions/{id}/activity/"]["put"]
    assert operation["operationId"] == "UpdateWorkerActivity"
    assert not operation.get("deprecated", False)
    [parameter] = [parameter for parameter in operation["parameters"] if parameter["name"] == "id"]
    assert parameter["in"] == "path" and parameter["required"] is True
    assert "worker run" in parameter["description"] and "Deprecated" in parameter["description"]
    assert "deprecated" in operation["description"]


def test_worker_version_activity_update_still_works(user, process, runs, elements):
    """The deprecated form reports for the one run of that version in the process."""
    from processes.models import ActivityState, WorkerActivity

    process.activity_state = ActivityState.Ready
    process.save()
    run = runs[0]
    WorkerActivity.objects.create(process=process, worker_run=run, element=elements[0])
    client = token_client(user)
    response = client.put(
        f"/api/v1/workers/versions/{run.version_id}/activity/",
        {"element_id": str(elements[0].id), "process_id": str(process.id), "state": "started"},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert WorkerActivity.objects.get(worker_run=run, element=elements[0]).state == "started"


CLIENT_WARNINGS_SCRIPT = """
import json
import os
import warnings

from arkindex import ArkindexClient

client = ArkindexClient(base_url=os.environ["ARKINDEX_API_URL"], token=os.environ["ARKINDEX_API_TOKEN"])
corpus, run, version = os.environ["CORPUS"], os.environ["RUN"], os.environ["VERSION"]
results = {}
for name, kwargs in (
    ("worker_run", {"worker_run": run}),
    ("worker_version", {"worker_version": version}),
    ("transcription_worker_version", {"transcription_worker_version": version}),
    ("none", {}),
):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        client.request("ListElements", corpus=corpus, **kwargs)
    results[name] = [str(warning.message) for warning in caught if warning.category is DeprecationWarning]
print(json.dumps(results))
"""


def test_client_warns_about_deprecated_filters_only(
    live_server, transactional_db, user, process, runs, worker_python, run_in_clients_env
):
    """The real client, reading our schema, warns when a deprecated filter is sent, and only then."""
    token = Token.objects.create(user=user, name="deprecations")
    run = runs[0]
    output = run_in_clients_env(
        worker_python,
        CLIENT_WARNINGS_SCRIPT,
        env={
            "ARKINDEX_API_URL": live_server.url,
            "ARKINDEX_API_TOKEN": token.key,
            "CORPUS": str(process.corpus_id),
            "RUN": str(run.id),
            "VERSION": str(run.version_id),
        },
        timeout=120,
    )
    results = json.loads(output.stdout.strip().splitlines()[-1])
    assert results["worker_run"] == [] and results["none"] == []
    assert results["worker_version"] == ["Parameter 'worker_version' is deprecated."]
    assert results["transcription_worker_version"] == ["Parameter 'transcription_worker_version' is deprecated."]
