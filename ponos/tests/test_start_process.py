"""
StartProcess: access, the 400 naming every broken rule, the 409 of a second start (concurrent ones
included), and the task DAG it builds, checked task by task.
"""

# ruff: noqa: F811 (pytest fixtures imported from processes.tests.start_fixtures)

import threading
import uuid

import django_rq
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from arkindex.models import Job
from documents.tests.factories import CorpusFactory, ElementFactory, ElementTypeFactory
from ponos.models import Farm, Task
from processes.models import ActivityState, ProcessMode
from processes.tests.factories import ProcessFactory, make_run
from processes.tests.start_fixtures import (  # noqa: F401
    elements,
    make_version,
    page_type,
    process,
    runs,
)
from tests.tokens import token_client
from users.models import Role
from users.tests.factories import grant
from workers.models import FeatureUsage, WorkerVersionState

MISSING = "00000000-0000-0000-0000-000000000000"


def start_url(process_id):
    return f"/api/v1/process/{process_id}/start/"


def start(client, process, **body):
    return client.post(start_url(process.id), body or None, format="json")


def tasks_by_slug(process, run=0):
    tasks = Task.objects.filter(process=process, run=run).prefetch_related("parents")
    return {task.slug: task for task in tasks}


def parent_slugs(task):
    return {parent.slug for parent in task.parents.all()}


def base_env(process):
    return {"ARKINDEX_PROCESS_ID": str(process.id), "ARKINDEX_CORPUS_ID": str(process.corpus_id)}


def test_start_builds_the_dag(user_client, process, runs, settings):
    settings.PONOS_INITIALISATION_COMMAND = "arkindex-process-init"
    settings.PONOS_INITIALISATION_IMAGE = "registry.example.com/tasks:1"
    a, b, c = runs
    response = start(user_client, process)
    assert response.status_code == 200, response.json()

    process.refresh_from_db()
    assert process.started is not None
    assert process.finished is None
    assert process.farm == Farm.objects.get(name="default")
    assert process.activity_state == ActivityState.Disabled

    tasks = tasks_by_slug(process)
    assert set(tasks) == {"initialisation", "a", "b", "c"}
    init = tasks["initialisation"]
    assert init.depth == 0
    assert parent_slugs(init) == set()
    assert init.worker_run is None
    assert init.command == "arkindex-process-init"
    assert init.image == "registry.example.com/tasks:1"
    assert init.env == {**base_env(process), "ARKINDEX_PROCESS_CHUNKS": "1"}
    assert init.chunk is None

    elements_path = f"$PONOS_DATA/{init.id}/elements.json"
    for slug, run, depth, parents in (
        ("a", a, 1, {"initialisation"}),
        ("b", b, 2, {"initialisation", "a"}),
        ("c", c, 3, {"initialisation", "a", "b"}),
    ):
        task = tasks[slug]
        assert task.depth == depth, slug
        assert parent_slugs(task) == parents, slug
        assert task.worker_run == run
        assert task.state == "unscheduled"
        assert task.run == 0
        assert task.chunk is None
        assert task.image == f"registry.example.com/{slug}:1"
        assert task.command == f"worker-{slug}"
        assert task.shm_size == "1g"
        assert task.requires_gpu is False
        assert task.env == {
            **base_env(process),
            "ARKINDEX_WORKER_RUN_ID": str(run.id),
            "TASK_ELEMENTS": elements_path,
        }

    # Every task has its own token; none is in an environment or in the response.
    tokens = {task.token for task in tasks.values()}
    assert len(tokens) == 4
    body = response.content.decode()
    assert not any(token in body for token in tokens)
    assert not any(token in str(task.env) for task in tasks.values() for token in tokens)

    data = response.json()
    assert data["id"] == str(process.id)
    assert data["state"] == "unscheduled"
    assert data["activity_state"] == "disabled"
    assert data["started"] is not None
    assert {task["slug"]: task for task in data["tasks"]}["c"] == {
        "id": str(tasks["c"].id),
        "slug": "c",
        "state": "unscheduled",
        "run": 0,
        "depth": 3,
        "chunk": None,
        "parents": [str(tasks["initialisation"].id), str(tasks["a"].id), str(tasks["b"].id)],
        "worker_run_id": str(c.id),
        "requires_gpu": False,
    }
    assert len(data["tasks"]) == 4
    # Activities are off: no job but the scheduling one, after commit (not run in this test).
    assert django_rq.get_queue("default").count == 0


def test_start_with_chunks(user_client, process, runs):
    process.chunks = 2
    process.save()
    a, b, c = runs
    assert start(user_client, process).status_code == 200

    tasks = tasks_by_slug(process)
    assert set(tasks) == {"initialisation", "a_1", "a_2", "b_1", "b_2", "c_1", "c_2"}
    init = tasks["initialisation"]
    assert init.env["ARKINDEX_PROCESS_CHUNKS"] == "2"
    for slug, run, depth, parents in (
        ("a", a, 1, set()),
        ("b", b, 2, {"a"}),
        ("c", c, 3, {"a", "b"}),
    ):
        for chunk in (1, 2):
            task = tasks[f"{slug}_{chunk}"]
            assert task.chunk == chunk
            assert task.depth == depth
            assert task.worker_run == run
            assert parent_slugs(task) == {"initialisation"} | {f"{parent}_{chunk}" for parent in parents}
            assert task.env == {
                **base_env(process),
                "ARKINDEX_WORKER_RUN_ID": str(run.id),
                "ARKINDEX_TASK_CHUNK": str(chunk),
                "TASK_ELEMENTS": f"$PONOS_DATA/{init.id}/elements_{chunk}.json",
            }


def test_start_dataset_process(user_client, corpus, user):
    """No initialisation task and no elements list; the roots of the DAG are at depth 0."""
    from datasets.models import Dataset, DatasetSet, ProcessSet

    process = ProcessFactory(corpus=corpus, creator=user, mode=ProcessMode.Dataset)
    dataset = Dataset.objects.create(corpus=corpus, name="Dataset")
    ProcessSet.objects.create(process=process, set=DatasetSet.objects.create(dataset=dataset, name="train"))
    a = make_run(process, make_version("a"))
    b = make_run(process, make_version("b"), parents=[a])
    assert start(user_client, process).status_code == 200
    tasks = tasks_by_slug(process)
    assert set(tasks) == {"a", "b"}
    assert (tasks["a"].depth, parent_slugs(tasks["a"])) == (0, set())
    assert (tasks["b"].depth, parent_slugs(tasks["b"])) == (1, {"a"})
    assert tasks["b"].env == {**base_env(process), "ARKINDEX_WORKER_RUN_ID": str(b.id)}


def test_start_skip_elements_json(user_client, process, runs):
    process.skip_elements_json = True
    process.save()
    assert start(user_client, process).status_code == 200
    tasks = tasks_by_slug(process)
    assert "initialisation" in tasks
    assert not any("TASK_ELEMENTS" in task.env for task in tasks.values())


@pytest.mark.parametrize(
    "usage, use_gpu, expected",
    [
        (FeatureUsage.Required, False, True),
        (FeatureUsage.Supported, True, True),
        (FeatureUsage.Supported, False, False),
        (FeatureUsage.Disabled, True, False),
    ],
)
def test_start_gpu(user_client, process, usage, use_gpu, expected):
    process.use_gpu = use_gpu
    process.save()
    make_run(process, make_version("gpu", gpu_usage=usage))
    assert start(user_client, process).status_code == 200
    assert tasks_by_slug(process)["gpu"].requires_gpu is expected


def test_same_worker_twice_gets_distinct_slugs(user_client, process):
    version = make_version("ocr")
    first = make_run(process, version)
    second = make_run(process, make_version("ocr-2", docker_image_iid="x"))
    second.version.worker.slug = "ocr"
    second.version.worker.save()
    assert start(user_client, process).status_code == 200
    slugs = set(tasks_by_slug(process))
    assert slugs == {"initialisation", f"ocr-{first.id.hex[:8]}", f"ocr-{second.id.hex[:8]}"}


def test_worker_named_initialisation(user_client, process):
    run = make_run(process, make_version("initialisation"))
    assert start(user_client, process).status_code == 200
    assert set(tasks_by_slug(process)) == {"initialisation", f"initialisation-{run.id.hex[:8]}"}


def test_start_with_activities(user_client, process, runs, django_capture_on_commit_callbacks):
    process.activity_state = ActivityState.Ready  # "on", whatever it was before starting
    process.save()
    with django_capture_on_commit_callbacks(execute=True):
        response = start(user_client, process)
    assert response.status_code == 200
    assert response.json()["activity_state"] == "pending"
    process.refresh_from_db()
    assert process.activity_state == ActivityState.Pending
    queue = django_rq.get_queue("default")
    job, scheduling = queue.get_jobs()
    assert scheduling.func_name == "ponos.scheduler.schedule_process"
    # The initialisation is a durable job, recorded with the start.
    recorded = Job.objects.get()
    assert job.args == (str(recorded.id),)
    assert (recorded.function, recorded.arguments, recorded.keywords) == (
        "processes.jobs.initialise_activities",
        [str(process.id)],
        {"reset": False},
    )


def test_start_on_farm(user_client, process, runs):
    farm = Farm.objects.create(name="gpus")
    response = start(user_client, process, farm_id=str(farm.id))
    assert response.status_code == 200, response.json()
    process.refresh_from_db()
    assert process.farm == farm


def test_start_keeps_chosen_farm(user_client, process, runs):
    farm = Farm.objects.create(name="gpus")
    process.farm = farm
    process.save()
    assert start(user_client, process).status_code == 200
    process.refresh_from_db()
    assert process.farm == farm


def test_start_unknown_farm(user_client, process, runs):
    response = start(user_client, process, farm_id=MISSING)
    assert response.status_code == 400
    assert list(response.json()) == ["farm_id"]
    process.refresh_from_db()
    assert process.started is None


def test_start_errors_answer_400_and_write_nothing(user_client, process):
    process.name_contains = "nothing matches this"
    process.save()
    run = make_run(process, make_version("ocr", state=WorkerVersionState.Created, model_usage=FeatureUsage.Required))
    response = start(user_client, process)
    assert response.status_code == 400
    data = response.json()
    assert set(data) == {"worker_runs", "elements"}
    assert len(data["worker_runs"][str(run.id)]) == 2
    process.refresh_from_db()
    assert process.started is None
    assert not Task.objects.exists()


def test_start_template_is_400(user_client, corpus, user):
    process = ProcessFactory(corpus=corpus, creator=user, mode=ProcessMode.Template)
    response = start(user_client, process)
    assert response.status_code == 400
    assert list(response.json()) == ["mode"]


def test_start_twice(user_client, process, runs):
    assert start(user_client, process).status_code == 200
    response = start(user_client, process)
    assert response.status_code == 409
    assert response.json()["errors"][0]["detail"] == "This process has already been started."
    assert Task.objects.filter(process=process).count() == 4


def test_start_needs_contributor(process, runs, make_user):
    guest = make_user()
    grant(process.corpus, Role.GUEST, user=guest)
    assert start(token_client(guest), process).status_code == 403
    process.refresh_from_db()
    assert process.started is None


def test_start_hidden_or_missing(other_client, user_client, process, runs, anonymous_client):
    assert start(other_client, process).status_code == 404
    assert user_client.post(start_url(MISSING)).status_code == 404
    assert start(anonymous_client, process).status_code == 401
    process.refresh_from_db()
    assert process.started is None


def count_start_queries(client, process):
    with CaptureQueriesContext(connection) as captured:
        response = start(client, process)
    assert response.status_code == 200, response.json()
    return len(captured.captured_queries)


def test_start_queries_do_not_depend_on_elements_nor_worker_runs(user, corpus, page_type, elements):
    client = token_client(user)
    small = ProcessFactory(corpus=corpus, creator=user, mode=ProcessMode.Workers)
    make_run(small, make_version("small"))
    client.post(start_url(MISSING))  # the token's first use is recorded once
    small_count = count_start_queries(client, small)

    for index in range(50):
        ElementFactory(corpus=corpus, type=page_type, name=f"More {index}")
    large = ProcessFactory(corpus=corpus, creator=user, mode=ProcessMode.Workers, chunks=3)
    first = make_run(large, make_version("first"))
    for index in range(6):
        make_run(large, make_version(f"next-{index}"), parents=[first])
    assert count_start_queries(client, large) == small_count
    assert Task.objects.filter(process=large).count() == 1 + 7 * 3


@pytest.mark.django_db(transaction=True)
def test_concurrent_starts_build_one_dag(make_user):
    """Two StartProcess at once: the process lock lets one build the DAG, the other gets a 409."""

    owner = make_user("owner@example.com")
    corpus = CorpusFactory(name="Concurrent")
    grant(corpus, Role.CONTRIBUTOR, user=owner)
    page = ElementTypeFactory(corpus=corpus, slug="page", display_name="Page")
    ElementFactory(corpus=corpus, type=page, name="Page")
    process = ProcessFactory(corpus=corpus, creator=owner, mode=ProcessMode.Workers)
    a = make_run(process, make_version("a"))
    make_run(process, make_version("b"), parents=[a])

    results = []
    barrier = threading.Barrier(3)

    def post():
        try:
            client = token_client(owner)
            barrier.wait()
            results.append(start(client, process).status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=post) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [200, 409, 409]
    assert Task.objects.filter(process=process).count() == 3
    assert Task.objects.filter(process=process).values("run").distinct().count() == 1


def test_start_response_tasks_match_database(user_client, process, runs):
    data = start(user_client, process).json()
    for task in data["tasks"]:
        stored = Task.objects.get(id=task["id"])
        assert {str(parent.id) for parent in stored.parents.all()} == set(task["parents"])
        assert uuid.UUID(task["id"]) == stored.id
