"""Worker configurations: list, create (checked against a version's fields), retrieve, rename, archive."""

import pytest

from documents.tests.factories import CorpusFactory, ElementTypeFactory
from ponos.tests.factories import TaskFactory
from processes.tests.factories import ProcessFactory, WorkerRunFactory
from users.models import Role
from users.tests.factories import grant
from workers.models import WorkerConfiguration, WorkerVersionState
from workers.tests.factories import (
    WorkerConfigurationFactory,
    WorkerFactory,
    WorkerVersionFactory,
    assert_list_queries,
)

pytestmark = pytest.mark.django_db

FIELDS = {
    "configuration": {"batch_size": 8},
    "user_configuration": {
        "threshold": {"title": "Threshold", "type": "float", "default": 0.5},
        "mode": {"title": "Mode", "type": "enum", "choices": ["fast", "slow"], "default": "fast"},
        "prompt": {"title": "Prompt", "type": "text", "required": True, "default": "Read"},
        "fixed": {"title": "Fixed", "type": "int", "editable": False, "default": 1},
    },
}


@pytest.fixture
def worker(user):
    worker = WorkerFactory(name="Demo")
    grant(worker, Role.ADMIN, user=user)
    return worker


@pytest.fixture
def version(worker):
    return WorkerVersionFactory(worker=worker, configuration=FIELDS)


def configurations_url(worker):
    return f"/api/v1/workers/{worker.id}/configurations/"


def configuration_url(worker_configuration):
    return f"/api/v1/workers/configurations/{worker_configuration.id}/"


# --- ListWorkerConfigurations ----------------------------------------------------------------


def test_list_configurations(user_client, worker):
    usable = WorkerConfigurationFactory(worker=worker, name="B usable", configuration={"threshold": 0.9})
    archived = WorkerConfigurationFactory(worker=worker, name="A archived", archived=True)
    WorkerConfigurationFactory()  # another worker's
    response = user_client.get(configurations_url(worker))
    assert response.status_code == 200
    assert response.json()["count"] == 2
    assert response.json()["results"] == [
        {"id": str(archived.id), "name": "A archived", "configuration": archived.configuration, "archived": True},
        {"id": str(usable.id), "name": "B usable", "configuration": {"threshold": 0.9}, "archived": False},
    ]


@pytest.mark.parametrize(("query", "names"), [("true", ["A"]), ("False", ["B"]), ("", ["A", "B"])])
def test_list_configurations_archived_filter(user_client, worker, query, names):
    WorkerConfigurationFactory(worker=worker, name="A", archived=True)
    WorkerConfigurationFactory(worker=worker, name="B")
    response = user_client.get(f"{configurations_url(worker)}?archived={query}")
    assert response.status_code == 200
    assert [item["name"] for item in response.json()["results"]] == names


def test_list_configurations_invalid_filter(user_client, worker):
    response = user_client.get(f"{configurations_url(worker)}?archived=sometimes")
    assert response.status_code == 400
    assert response.json() == {"archived": ["'sometimes' is not a boolean: use true or false."]}


def test_list_configurations_guest_sees_them(user, user_client):
    worker = WorkerFactory()
    grant(worker, Role.GUEST, user=user)
    WorkerConfigurationFactory(worker=worker)
    assert user_client.get(configurations_url(worker)).json()["count"] == 1


def test_list_configurations_hidden_worker(user_client):
    worker = WorkerFactory()
    WorkerConfigurationFactory(worker=worker)
    assert user_client.get(configurations_url(worker)).status_code == 404


def test_list_configurations_queries(user_client, worker, django_assert_num_queries):
    for _ in range(6):
        WorkerConfigurationFactory(worker=worker)
    # Token, worker with rights, count, page.
    assert_list_queries(user_client, configurations_url(worker), 4, django_assert_num_queries)
    assert_list_queries(user_client, f"{configurations_url(worker)}?archived=false", 4, django_assert_num_queries)


# --- CreateWorkerConfiguration ---------------------------------------------------------------


def test_create_configuration(user_client, worker, version):
    response = user_client.post(
        configurations_url(worker), {"name": "Slow", "configuration": {"mode": "slow", "threshold": 0.7}}
    )
    assert response.status_code == 201, response.json()
    created = WorkerConfiguration.objects.get(id=response.json()["id"])
    assert response.json() == {
        "id": str(created.id),
        "name": "Slow",
        "configuration": {"mode": "slow", "threshold": 0.7},
        "archived": False,
    }
    assert created.worker == worker


def test_create_configuration_uses_latest_available_version(user_client, worker, version):
    # A later version that is not available, with other fields, does not check the values.
    WorkerVersionFactory(worker=worker, state=WorkerVersionState.Created, configuration={})
    response = user_client.post(configurations_url(worker), {"name": "Slow", "configuration": {"mode": "slow"}})
    assert response.status_code == 201, response.json()
    # A later available one does.
    WorkerVersionFactory(worker=worker, configuration={})
    response = user_client.post(configurations_url(worker), {"name": "Fast", "configuration": {"mode": "fast2"}})
    assert response.status_code == 400
    assert response.json() == {
        "configuration": ["mode: This key is not a field of the worker version. Known fields: none."]
    }


def test_create_configuration_with_explicit_version(user_client, worker, version):
    WorkerVersionFactory(worker=worker, configuration={})
    response = user_client.post(
        configurations_url(worker),
        {"name": "Slow", "configuration": {"mode": "slow"}, "worker_version": str(version.id)},
    )
    assert response.status_code == 201, response.json()


def test_create_configuration_equal_to_defaults(user_client, worker, version):
    for values in ({}, {"mode": "fast"}, {"threshold": 0.5, "prompt": "Read", "mode": "fast"}):
        response = user_client.post(configurations_url(worker), {"name": "Default", "configuration": values})
        assert response.status_code == 400
        assert response.json() == {
            "configuration": [
                "These values are the worker version's defaults, which a run without configuration already uses: "
                "change at least one value."
            ]
        }
    assert not WorkerConfiguration.objects.exists()


def test_create_configuration_duplicate_content(user_client, worker, version):
    existing = WorkerConfigurationFactory(
        worker=worker, name="Existing", configuration={"mode": "slow", "threshold": 1}
    )
    # Same content, other key order.
    response = user_client.post(
        configurations_url(worker), {"name": "Copy", "configuration": {"threshold": 1, "mode": "slow"}}
    )
    assert response.status_code == 400
    assert response.json() == {
        "configuration": [
            f"This worker already has a configuration with these values: 'Existing' ({existing.id}). Use it instead."
        ]
    }


def test_create_configuration_compared_by_effective_values(user_client, worker, version):
    """Values written differently but received the same by the worker are one configuration."""
    WorkerConfigurationFactory(worker=worker, name="Slow", configuration={"mode": "slow"})
    # The defaults spelled out beside the same change.
    response = user_client.post(
        configurations_url(worker),
        {"name": "Slow again", "configuration": {"mode": "slow", "threshold": 0.5, "prompt": "Read"}},
        format="json",
    )
    assert response.status_code == 400
    assert "already has a configuration with these values: 'Slow'" in response.json()["configuration"][0]


def test_create_configuration_null_optional_field_is_the_default(user_client, worker):
    """An optional field without default is null when absent: setting it to null changes nothing."""
    WorkerVersionFactory(
        worker=worker,
        configuration={
            "user_configuration": {"opt": {"title": "Opt", "type": "string"}, "n": {"type": "int", "default": 1}}
        },
    )
    response = user_client.post(
        configurations_url(worker), {"name": "Same", "configuration": {"opt": None, "n": 1}}, format="json"
    )
    assert response.status_code == 400
    assert "the worker version's defaults" in response.json()["configuration"][0]


def test_create_configuration_required_field_set_to_null(user_client, worker, version):
    """A required field never runs without a value, even one with a default."""
    response = user_client.post(
        configurations_url(worker), {"name": "Null", "configuration": {"prompt": None, "mode": "slow"}}, format="json"
    )
    assert response.status_code == 400
    assert response.json() == {
        "configuration": ["prompt: This field is required: set a value, or leave it out to use its default."]
    }


def test_create_configuration_duplicate_name(user_client, worker, version):
    WorkerConfigurationFactory(worker=worker, name="Slow", configuration={"mode": "slow"})
    response = user_client.post(configurations_url(worker), {"name": "Slow", "configuration": {"threshold": 0.1}})
    assert response.status_code == 400
    assert response.json() == {"name": ["This worker already has a configuration with this name: choose another."]}


def test_create_configuration_same_values_on_another_worker(user, user_client, version):
    other = WorkerFactory()
    grant(other, Role.ADMIN, user=user)
    WorkerVersionFactory(worker=other, configuration=FIELDS)
    WorkerConfigurationFactory(worker=version.worker, name="Slow", configuration={"mode": "slow"})
    response = user_client.post(configurations_url(other), {"name": "Slow", "configuration": {"mode": "slow"}})
    assert response.status_code == 201


@pytest.mark.parametrize(
    ("values", "messages"),
    [
        (
            {"speed": 3},
            ["speed: This key is not a field of the worker version. Known fields: mode, prompt, threshold."],
        ),
        ({"threshold": "high"}, ["threshold: Must be a number."]),
        ({"mode": "medium"}, ["mode: Must be one of: fast, slow."]),
        ({"fixed": 2}, ["fixed: This field cannot be edited: remove it from the configuration."]),
        ({"batch_size": 2}, ["batch_size: This value is fixed by the worker version and cannot be set."]),
        (
            {"prompt": 3, "threshold": True},
            ["prompt: Must be a string.", "threshold: Must be a number."],
        ),
    ],
)
def test_create_configuration_invalid_values(user_client, worker, version, values, messages):
    response = user_client.post(configurations_url(worker), {"name": "Bad", "configuration": values})
    assert response.status_code == 400
    assert response.json() == {"configuration": messages}


def test_create_configuration_required_field(user_client, worker):
    WorkerVersionFactory(
        worker=worker,
        configuration={"user_configuration": {"model": {"title": "Model", "type": "model", "required": True}}},
    )
    response = user_client.post(configurations_url(worker), {"name": "None", "configuration": {"model": None}})
    assert response.status_code == 400
    assert response.json() == {"configuration": ["model: This field is required: set a value."]}
    response = user_client.post(
        configurations_url(worker),
        {"name": "Model", "configuration": {"model": "e0b4ba9f-5ad9-4e47-9a53-4b0d4f0f9a3b"}},
    )
    assert response.status_code == 201


def test_create_configuration_without_available_version(user_client, worker):
    WorkerVersionFactory(worker=worker, state=WorkerVersionState.Error, configuration=FIELDS)
    response = user_client.post(configurations_url(worker), {"name": "Slow", "configuration": {"mode": "slow"}})
    assert response.status_code == 400
    assert response.json() == {
        "worker_version": [
            "This worker has no available version whose fields could check the values: create a version first, "
            "or name one in worker_version."
        ]
    }


def test_create_configuration_version_of_another_worker(user_client, worker, version):
    response = user_client.post(
        configurations_url(worker),
        {"name": "Slow", "configuration": {"mode": "slow"}, "worker_version": str(WorkerVersionFactory().id)},
    )
    assert response.status_code == 400
    assert response.json() == {"worker_version": ["This version belongs to another worker: pick one of this worker."]}


def test_create_configuration_unknown_version(user_client, worker, version):
    response = user_client.post(
        configurations_url(worker),
        {"name": "Slow", "configuration": {"mode": "slow"}, "worker_version": "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa"},
    )
    assert response.status_code == 400
    assert response.json() == {"worker_version": ["No worker version has this ID."]}


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({"configuration": {"mode": "slow"}}, {"name": ["This field is required."]}),
        ({"name": "  ", "configuration": {"mode": "slow"}}, {"name": ["This field may not be blank."]}),
        ({"name": "A"}, {"configuration": ["This field is required."]}),
        ({"name": "A", "configuration": ["slow"]}, {"configuration": ["Must be a mapping of field keys to values."]}),
        ({"name": "A", "configuration": {}, "worker_version": "v1"}, {"worker_version": ["Must be a valid UUID."]}),
    ],
)
def test_create_configuration_invalid_body(user_client, worker, version, body, errors):
    response = user_client.post(configurations_url(worker), body)
    assert response.status_code == 400
    assert response.json() == errors


def test_create_configuration_contributor_forbidden(user, user_client):
    worker = WorkerFactory()
    grant(worker, Role.CONTRIBUTOR, user=user)
    WorkerVersionFactory(worker=worker, configuration=FIELDS)
    response = user_client.post(configurations_url(worker), {"name": "Slow", "configuration": {"mode": "slow"}})
    assert response.status_code == 403
    assert response.json() == {
        "detail": "You need admin access to the worker to create configurations; ask one of its administrators."
    }


def test_create_configuration_hidden_worker(user_client):
    worker = WorkerFactory()
    WorkerVersionFactory(worker=worker, configuration=FIELDS)
    response = user_client.post(configurations_url(worker), {"name": "Slow", "configuration": {"mode": "slow"}})
    assert response.status_code == 404


def test_create_configuration_instance_admin(superuser_client):
    worker = WorkerFactory()
    WorkerVersionFactory(worker=worker, configuration=FIELDS)
    response = superuser_client.post(configurations_url(worker), {"name": "Slow", "configuration": {"mode": "slow"}})
    assert response.status_code == 201


# --- RetrieveWorkerConfiguration -------------------------------------------------------------


def test_retrieve_configuration(user, user_client, django_assert_num_queries):
    worker = WorkerFactory()
    grant(worker, Role.GUEST, user=user)
    worker_configuration = WorkerConfigurationFactory(worker=worker, configuration={"a": 1})
    user_client.get(configuration_url(worker_configuration))
    with django_assert_num_queries(2):
        response = user_client.get(configuration_url(worker_configuration))
    assert response.status_code == 200
    assert response.json() == {
        "id": str(worker_configuration.id),
        "name": worker_configuration.name,
        "configuration": {"a": 1},
        "archived": False,
    }


def test_retrieve_configuration_hidden(user_client):
    assert user_client.get(configuration_url(WorkerConfigurationFactory())).status_code == 404


def test_retrieve_configuration_unknown(user_client):
    response = user_client.get("/api/v1/workers/configurations/aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa/")
    assert response.status_code == 404
    assert response.json() == {
        "detail": "Worker configuration aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa not found, or you have no access to it."
    }


# --- UpdateWorkerConfiguration / PartialUpdateWorkerConfiguration ----------------------------


def test_rename_configuration(user_client, worker):
    worker_configuration = WorkerConfigurationFactory(worker=worker, name="Old", configuration={"a": 1})
    response = user_client.put(configuration_url(worker_configuration), {"name": "New", "configuration": {"b": 2}})
    assert response.status_code == 200, response.json()
    assert response.json()["name"] == "New"
    # Values never change.
    assert response.json()["configuration"] == {"a": 1}
    worker_configuration.refresh_from_db()
    assert (worker_configuration.name, worker_configuration.configuration) == ("New", {"a": 1})


def test_update_configuration_requires_name(user_client, worker):
    worker_configuration = WorkerConfigurationFactory(worker=worker)
    response = user_client.put(configuration_url(worker_configuration), {"archived": True})
    assert response.status_code == 400
    assert response.json() == {"name": ["This field is required."]}


def test_rename_configuration_taken(user_client, worker):
    WorkerConfigurationFactory(worker=worker, name="Taken")
    worker_configuration = WorkerConfigurationFactory(worker=worker, name="Mine")
    response = user_client.patch(configuration_url(worker_configuration), {"name": "Taken"})
    assert response.status_code == 400
    assert response.json() == {"name": ["This worker already has a configuration with this name: choose another."]}


def test_archive_configuration(user_client, worker):
    worker_configuration = WorkerConfigurationFactory(worker=worker)
    response = user_client.patch(configuration_url(worker_configuration), {"archived": True})
    assert response.status_code == 200
    assert response.json()["archived"] is True
    worker_configuration.refresh_from_db()
    assert worker_configuration.archived


def test_unarchive_configuration_forbidden(user_client, worker):
    worker_configuration = WorkerConfigurationFactory(worker=worker, archived=True)
    response = user_client.patch(configuration_url(worker_configuration), {"archived": False, "name": "Back"})
    assert response.status_code == 403
    assert response.json() == {"detail": "Only instance administrators can un-archive a configuration."}
    worker_configuration.refresh_from_db()
    assert worker_configuration.archived
    assert worker_configuration.name != "Back"


def test_unarchive_configuration_instance_admin(superuser_client):
    worker_configuration = WorkerConfigurationFactory(archived=True)
    response = superuser_client.patch(configuration_url(worker_configuration), {"archived": False})
    assert response.status_code == 200
    assert response.json()["archived"] is False


def test_update_configuration_contributor_forbidden(user, user_client):
    worker = WorkerFactory()
    grant(worker, Role.CONTRIBUTOR, user=user)
    worker_configuration = WorkerConfigurationFactory(worker=worker)
    response = user_client.patch(configuration_url(worker_configuration), {"archived": True})
    assert response.status_code == 403
    assert response.json() == {
        "detail": "You need admin access to the worker to manage its configurations; ask one of its administrators."
    }


def test_update_configuration_hidden(user_client):
    response = user_client.patch(configuration_url(WorkerConfigurationFactory()), {"archived": True})
    assert response.status_code == 404


def test_update_configuration_invalid(user_client, worker):
    worker_configuration = WorkerConfigurationFactory(worker=worker)
    response = user_client.patch(configuration_url(worker_configuration), {"archived": "sometimes", "name": ""})
    assert response.status_code == 400
    assert set(response.json()) == {"archived", "name"}


# --- DestroyWorkerConfiguration --------------------------------------------------------------


@pytest.fixture
def used_configuration(user, worker, version):
    """A configuration run by a process that ended, with nothing left of its results."""
    from django.utils import timezone

    from processes.models import ProcessMode

    corpus = CorpusFactory(name="C")
    grant(corpus, Role.GUEST, user=user)
    configuration = WorkerConfigurationFactory(worker=worker, name="Used", configuration={"mode": "slow"})
    process = ProcessFactory(
        mode=ProcessMode.Workers, corpus=corpus, creator=user, started=timezone.now(), finished=timezone.now()
    )
    run = WorkerRunFactory(process=process, version=version, configuration=configuration)
    TaskFactory(process=process, slug="demo", worker_run=run, state="completed")
    return configuration, run


def test_destroy_configuration_unused(user_client, worker):
    configuration = WorkerConfigurationFactory(worker=worker)
    assert user_client.delete(configuration_url(configuration)).status_code == 204
    assert not WorkerConfiguration.objects.filter(pk=configuration.pk).exists()


def test_destroy_configuration_of_an_ended_process(user_client, used_configuration):
    """Its runs stay for the history of their process: their summary still names it."""
    configuration, run = used_configuration
    summary = run.summary
    assert "using configuration 'Used'" in summary
    assert user_client.delete(configuration_url(configuration)).status_code == 204
    run.refresh_from_db()
    assert (run.configuration_id, run.summary) == (None, summary)
    response = user_client.get(f"/api/v1/process/workers/{run.id}/")
    assert response.status_code == 200
    assert (response.json()["configuration"], response.json()["summary"]) == (None, summary)


def test_destroy_configuration_with_results(user_client, used_configuration):
    from documents.models import Transcription

    configuration, run = used_configuration
    page = ElementTypeFactory(corpus=run.process.corpus, slug="page", display_name="Page")
    element = run.process.corpus.elements.create(type=page, name="Page")
    transcription = Transcription.objects.create(element=element, text="x", worker_run=run)
    response = user_client.delete(configuration_url(configuration))
    assert response.status_code == 409
    assert "signed transcriptions" in response.json()["errors"][0]["detail"]
    # Once those results are gone, it can go.
    transcription.delete()
    assert user_client.delete(configuration_url(configuration)).status_code == 204


@pytest.mark.parametrize("mode, started", [("workers", False), ("template", False), ("workers", True)])
def test_destroy_configuration_of_a_process_to_run(user, user_client, worker, version, mode, started):
    from django.utils import timezone

    configuration = WorkerConfigurationFactory(worker=worker, name="Pending", configuration={"mode": "slow"})
    process = ProcessFactory(
        mode=mode, corpus=CorpusFactory(name="C"), creator=user, started=timezone.now() if started else None
    )
    run = WorkerRunFactory(process=process, version=version, configuration=configuration)
    if started:
        TaskFactory(process=process, slug="demo", worker_run=run, state="running")
    response = user_client.delete(configuration_url(configuration))
    assert response.status_code == 409
    assert f"Process {process.id} uses this configuration" in response.json()["errors"][0]["detail"]
    assert WorkerConfiguration.objects.filter(pk=configuration.pk).exists()


def test_destroy_configuration_that_would_merge_two_runs(user_client, used_configuration):

    configuration, run = used_configuration
    WorkerRunFactory(process=run.process, version=run.version)
    response = user_client.delete(configuration_url(configuration))
    assert response.status_code == 409
    assert "without configuration" in response.json()["errors"][0]["detail"]


def test_destroy_configuration_rights(user, user_client, worker):
    from users.models import Right

    configuration = WorkerConfigurationFactory(worker=worker)
    Right.objects.filter(object_id=worker.id, user=user).update(level=Role.CONTRIBUTOR)
    assert user_client.delete(configuration_url(configuration)).status_code == 403
    Right.objects.filter(object_id=worker.id, user=user).delete()
    assert user_client.delete(configuration_url(configuration)).status_code == 404
