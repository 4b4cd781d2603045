"""
The configuration table of a process: creating, listing, changing and deleting its worker runs,
with every rule of `processes.services.worker_runs` and the access levels on the process's corpus.
"""

import threading
import uuid

import pytest
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from documents.models import Element
from documents.tests.factories import CorpusFactory, ElementTypeFactory
from ponos.models import TaskState
from ponos.tests.factories import TaskFactory
from processes.models import Process, ProcessMode, WorkerRun
from processes.tests.factories import ProcessFactory, make_run
from tests.tokens import token_client
from users.models import Right, Role
from users.tests.factories import grant
from workers.models import FeatureUsage, Model, ModelVersion, WorkerVersionState
from workers.tests.factories import (
    WorkerConfigurationFactory,
    WorkerFactory,
    WorkerVersionFactory,
    assert_list_queries,
)

MISSING = "00000000-0000-0000-0000-000000000000"


@pytest.fixture
def process(corpus, user):
    return ProcessFactory(corpus=corpus, creator=user, mode=ProcessMode.Workers, name="Process")


@pytest.fixture
def worker(user):
    worker = WorkerFactory(name="Demo")
    grant(worker, Role.GUEST, user=user)
    return worker


@pytest.fixture
def version(worker):
    return WorkerVersionFactory(worker=worker, tag="1a2b3c", model_usage=FeatureUsage.Supported)


@pytest.fixture
def model(user):
    model = Model.objects.create(name="Layout")
    grant(model, Role.GUEST, user=user)
    return model


@pytest.fixture
def model_version(model):
    return ModelVersion.objects.create(model=model, tag="v2", state="available")


@pytest.fixture
def configuration(worker):
    return WorkerConfigurationFactory(worker=worker, name="Fast", configuration={"mode": "fast"})


def runs_url(process_id):
    return f"/api/v1/process/{process_id}/workers/"


def run_url(run_id):
    return f"/api/v1/process/workers/{run_id}/"


def create(client, process, **body):
    body = {key: str(value) if isinstance(value, uuid.UUID) else value for key, value in body.items()}
    return client.post(runs_url(process.id), body, format="json")


def guest_client(corpus, make_user):
    guest = make_user()
    grant(corpus, Role.GUEST, user=guest)
    return token_client(guest)


# CreateWorkerRun


def test_create_minimal(user_client, process, version):
    response = create(user_client, process, worker_version_id=version.id)
    assert response.status_code == 201, response.json()
    data = response.json()
    run = WorkerRun.objects.get(id=data["id"])
    assert run.process == process
    assert data["summary"] == "Worker Demo @ 1a2b3c"
    assert data["parents"] == []
    assert data["use_gpu"] is False
    assert data["model_version"] is None
    assert data["configuration"] is None
    assert data["worker_version"]["id"] == str(version.id)
    assert data["process"]["id"] == str(process.id)
    assert data["process"]["state"] == "unscheduled"


def test_create_with_everything(user_client, process, version, model_version, configuration):
    parent = make_run(process)
    response = create(
        user_client,
        process,
        worker_version_id=version.id,
        model_version_id=model_version.id,
        configuration_id=configuration.id,
        parents=[str(parent.id)],
    )
    assert response.status_code == 201, response.json()
    data = response.json()
    assert data["summary"] == "Worker Demo @ 1a2b3c with model Layout @ v2 using configuration 'Fast'"
    assert data["parents"] == [str(parent.id)]
    assert data["model_version"]["model"] == {"id": str(model_version.model_id), "name": "Layout"}
    assert data["configuration"]["id"] == str(configuration.id)


@pytest.mark.parametrize("mode", [ProcessMode.Dataset, ProcessMode.Template])
def test_create_in_other_configurable_modes(user_client, process, version, mode):
    process.mode = mode
    process.save()
    assert create(user_client, process, worker_version_id=version.id).status_code == 201


@pytest.mark.parametrize("mode", [ProcessMode.Files, ProcessMode.Export, ProcessMode.S3])
def test_create_refused_in_other_modes(user_client, process, version, mode):
    process.mode = mode
    process.save()
    response = create(user_client, process, worker_version_id=version.id)
    assert response.status_code == 400
    assert "workers, dataset, training and template" in response.json()["process"][0]
    assert not WorkerRun.objects.exists()


def test_create_refused_in_local_process(user_client, user, version):
    local = ProcessFactory(creator=user, mode=ProcessMode.Local)
    response = create(user_client, local, worker_version_id=version.id)
    assert response.status_code == 400
    assert "process" in response.json()


@pytest.mark.parametrize(
    "gpu_usage, process_gpu, expected",
    [
        (FeatureUsage.Required, False, True),
        (FeatureUsage.Disabled, True, False),
        (FeatureUsage.Supported, True, True),
        (FeatureUsage.Supported, False, False),
    ],
)
def test_create_use_gpu(user_client, process, worker, gpu_usage, process_gpu, expected):
    process.use_gpu = process_gpu
    process.save()
    version = WorkerVersionFactory(worker=worker, gpu_usage=gpu_usage)
    response = create(user_client, process, worker_version_id=version.id)
    assert response.status_code == 201
    assert response.json()["use_gpu"] is expected


def test_create_after_start(user_client, process, version):
    process.started = timezone.now()
    process.save()
    response = create(user_client, process, worker_version_id=version.id)
    assert response.status_code == 409
    assert "started" in response.json()["errors"][0]["detail"]


def test_create_access(user_client, other_client, anonymous_client, make_user, process, corpus, version):
    assert create(anonymous_client, process, worker_version_id=version.id).status_code in (401, 403)
    assert create(other_client, process, worker_version_id=version.id).status_code == 404
    assert create(guest_client(corpus, make_user), process, worker_version_id=version.id).status_code == 403
    missing = Process(id=MISSING)
    assert create(user_client, missing, worker_version_id=version.id).status_code == 404
    assert not WorkerRun.objects.exists()


def test_create_version_rules(user_client, process, worker):
    response = create(user_client, process, worker_version_id=WorkerVersionFactory().id)
    assert response.status_code == 400
    assert "worker you can use" in response.json()["worker_version_id"][0]

    response = create(user_client, process, worker_version_id=MISSING)
    assert response.status_code == 400

    unavailable = WorkerVersionFactory(worker=worker, state=WorkerVersionState.Processing)
    response = create(user_client, process, worker_version_id=unavailable.id)
    assert response.status_code == 400
    assert "available" in response.json()["worker_version_id"][0]

    assert create(user_client, process).status_code == 400
    assert not WorkerRun.objects.exists()


def test_create_unavailable_model_version_contributor(user, user_client, process, worker, model):
    """A contributor of the model sees its versions being uploaded, and is told why one cannot run yet."""
    Right.objects.filter(user=user, object_id=model.id).update(level=Role.CONTRIBUTOR)
    required = WorkerVersionFactory(worker=worker, model_usage=FeatureUsage.Required)
    pending = ModelVersion.objects.create(model=model, tag="v3", state="created")
    response = create(user_client, process, worker_version_id=required.id, model_version_id=pending.id)
    assert response.status_code == 400
    assert response.json()["model_version_id"] == [
        "This model version is created: only an available version can be used."
    ]


def test_create_model_rules(user_client, process, worker, model, model_version):
    disabled = WorkerVersionFactory(worker=worker, model_usage=FeatureUsage.Disabled)
    response = create(user_client, process, worker_version_id=disabled.id, model_version_id=model_version.id)
    assert response.status_code == 400
    assert "leave the model version out" in response.json()["model_version_id"][0]

    required = WorkerVersionFactory(worker=worker, model_usage=FeatureUsage.Required)
    response = create(user_client, process, worker_version_id=required.id)
    assert response.status_code == 400
    assert "requires a model version" in response.json()["model_version_id"][0]

    hidden = ModelVersion.objects.create(model=Model.objects.create(name="Hidden"), state="available")
    response = create(user_client, process, worker_version_id=required.id, model_version_id=hidden.id)
    assert response.status_code == 400
    assert "model you can use" in response.json()["model_version_id"][0]

    pending = ModelVersion.objects.create(model=model, tag="v3", state="created")
    response = create(user_client, process, worker_version_id=required.id, model_version_id=pending.id)
    assert response.status_code == 400
    # A guest of the model does not even see a version still being uploaded.
    assert "model you can use" in response.json()["model_version_id"][0]
    assert not WorkerRun.objects.exists()

    response = create(user_client, process, worker_version_id=required.id, model_version_id=model_version.id)
    assert response.status_code == 201


def test_create_configuration_rules(user_client, process, version, configuration):
    elsewhere = WorkerConfigurationFactory()
    response = create(user_client, process, worker_version_id=version.id, configuration_id=elsewhere.id)
    assert response.status_code == 400
    assert "worker of this version" in response.json()["configuration_id"][0]

    configuration.archived = True
    configuration.save()
    response = create(user_client, process, worker_version_id=version.id, configuration_id=configuration.id)
    assert response.status_code == 400
    assert "archived" in response.json()["configuration_id"][0]
    assert not WorkerRun.objects.exists()


def test_create_every_error_at_once(user_client, process, worker, configuration):
    version = WorkerVersionFactory(worker=worker, state=WorkerVersionState.Error, model_usage=FeatureUsage.Required)
    configuration.archived = True
    configuration.save()
    response = create(user_client, process, worker_version_id=version.id, configuration_id=configuration.id)
    assert response.status_code == 400
    assert set(response.json()) == {"worker_version_id", "model_version_id", "configuration_id"}


def test_create_parents_rules(user_client, process, corpus, user, version):
    parent = make_run(process)
    elsewhere = make_run(ProcessFactory(corpus=corpus, creator=user, mode=ProcessMode.Workers))

    response = create(user_client, process, worker_version_id=version.id, parents=[str(parent.id), str(parent.id)])
    assert response.status_code == 400
    assert "at most once" in response.json()["parents"][0]

    response = create(user_client, process, worker_version_id=version.id, parents=[str(elsewhere.id)])
    assert response.status_code == 400
    assert "in this process" in response.json()["parents"][0]

    response = create(user_client, process, worker_version_id=version.id, parents=["not-a-uuid"])
    assert response.status_code == 400
    assert "parents" in response.json()
    assert process.worker_runs.count() == 1


def test_create_unique_combination(user_client, process, version, model_version, configuration):
    assert create(user_client, process, worker_version_id=version.id).status_code == 201
    response = create(user_client, process, worker_version_id=version.id)
    assert response.status_code == 400
    assert "already has a worker run" in response.json()["non_field_errors"][0]

    # The same version with another model version or configuration is another worker run.
    with_model = {"worker_version_id": version.id, "model_version_id": model_version.id}
    assert create(user_client, process, **with_model).status_code == 201
    assert (
        create(user_client, process, worker_version_id=version.id, configuration_id=configuration.id).status_code == 201
    )
    both = {**with_model, "configuration_id": configuration.id}
    assert create(user_client, process, **both).status_code == 201
    assert create(user_client, process, **both).status_code == 400
    assert create(user_client, process, **with_model).status_code == 400
    assert process.worker_runs.count() == 4


@pytest.mark.django_db(transaction=True)
def test_concurrent_identical_creations(process, version, user):
    """Two identical creations at once: the process lock makes the second one a 400, never a 500."""
    results = []
    barrier = threading.Barrier(4)

    def post():
        try:
            client = token_client(user)
            barrier.wait()
            results.append(create(client, process, worker_version_id=version.id).status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=post) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [201, 400, 400, 400]
    assert process.worker_runs.count() == 1


# ListWorkerRuns


def test_list(user_client, process, version, model_version, configuration):
    first = make_run(process, version)
    second = make_run(process, version, model_version=model_version, configuration=configuration, parents=[first.id])
    make_run(ProcessFactory(corpus=process.corpus, creator=process.creator, mode=ProcessMode.Workers))

    response = user_client.get(runs_url(process.id))
    assert response.status_code == 200
    data = response.json()
    assert data["count"] == 2
    assert [run["id"] for run in data["results"]] == [str(first.id), str(second.id)]
    item = data["results"][1]
    assert item["parents"] == [str(first.id)]
    assert item["summary"] == second.summary
    assert item["worker_version"]["worker"]["name"] == "Demo"
    assert item["model_version"]["model"]["name"] == "Layout"
    assert item["configuration"]["name"] == "Fast"
    assert item["process"]["id"] == str(process.id)


def test_list_after_start_and_for_guests(make_user, process, corpus):
    make_run(process)
    process.started = timezone.now()
    process.save()
    response = guest_client(corpus, make_user).get(runs_url(process.id))
    assert response.status_code == 200
    assert response.json()["count"] == 1


def test_list_hidden(other_client, anonymous_client, user_client, process):
    assert other_client.get(runs_url(process.id)).status_code == 404
    assert anonymous_client.get(runs_url(process.id)).status_code in (401, 403)
    assert user_client.get(runs_url(MISSING)).status_code == 404


def test_list_queries(user_client, process, version, model_version, configuration, django_assert_num_queries):
    for _ in range(6):
        make_run(process, model_version=model_version, configuration=configuration)
    # token, process with the user's level, count, page
    assert_list_queries(user_client, runs_url(process.id), 4, django_assert_num_queries)


# ListCorpusWorkerRuns


def corpus_runs_url(corpus_id):
    return f"/api/v1/corpus/{corpus_id}/worker-runs/"


def test_list_corpus_worker_runs(user_client, user, process, corpus, version, model_version, configuration):
    first = make_run(process, version)
    second = make_run(process, version, model_version=model_version, configuration=configuration, parents=[first.id])
    later = ProcessFactory(corpus=corpus, creator=user, mode=ProcessMode.Workers, started=timezone.now())
    third = make_run(later)
    # Neither a template, nor a process being deleted, nor another corpus's, nor a personal run.
    make_run(ProcessFactory(corpus=corpus, creator=user, mode=ProcessMode.Template))
    make_run(ProcessFactory(corpus=corpus, creator=user, mode=ProcessMode.Workers, deleting=timezone.now()))
    make_run(ProcessFactory(corpus=CorpusFactory(name="Other"), creator=user, mode=ProcessMode.Workers))
    make_run(ProcessFactory(creator=user, mode=ProcessMode.Local))

    response = user_client.get(corpus_runs_url(corpus.id))

    assert response.status_code == 200, response.json()
    data = response.json()
    assert data["count"] == 3
    assert [run["id"] for run in data["results"]] == [str(third.id), str(second.id), str(first.id)]
    item = data["results"][1]
    assert item["summary"] == "Worker Demo @ 1a2b3c with model Layout @ v2 using configuration 'Fast'"
    assert item["parents"] == [str(first.id)]
    assert item["worker_version"]["id"] == str(version.id)
    assert item["model_version"]["id"] == str(model_version.id)
    assert item["configuration"]["id"] == str(configuration.id)
    assert item["process"]["id"] == str(process.id)
    assert data["results"][0]["process"]["state"] == "unscheduled"


def test_list_corpus_worker_runs_guest(make_user, process, corpus):
    make_run(process)
    response = guest_client(corpus, make_user).get(corpus_runs_url(corpus.id))
    assert response.status_code == 200
    assert response.json()["count"] == 1


def test_list_corpus_worker_runs_hidden(other_client, anonymous_client, user_client, corpus, process):
    assert other_client.get(corpus_runs_url(corpus.id)).status_code == 404
    assert anonymous_client.get(corpus_runs_url(corpus.id)).status_code == 401
    assert user_client.get(corpus_runs_url(MISSING)).status_code == 404
    task = TaskFactory(process=process, slug="t", state=TaskState.Running)
    response = APIClient().get(corpus_runs_url(corpus.id), HTTP_AUTHORIZATION=f"Ponos {task.token}")
    assert response.status_code == 403
    assert response.json()["detail"].startswith("Task tokens cannot call ListCorpusWorkerRuns")


def test_list_corpus_worker_runs_queries(
    user_client, process, corpus, model_version, configuration, django_assert_num_queries
):
    for _ in range(6):
        make_run(process, model_version=model_version, configuration=configuration)
    # token, corpus with the user's level, count, page
    assert_list_queries(user_client, corpus_runs_url(corpus.id), 4, django_assert_num_queries)


# PartialUpdateWorkerRun / UpdateWorkerRun


def test_partial_update_model_and_configuration(user_client, process, version, model_version, configuration):
    run = make_run(process, version)
    response = user_client.patch(
        run_url(run.id),
        {"model_version_id": str(model_version.id), "configuration_id": str(configuration.id)},
        format="json",
    )
    assert response.status_code == 200, response.json()
    assert response.json()["summary"] == "Worker Demo @ 1a2b3c with model Layout @ v2 using configuration 'Fast'"
    run.refresh_from_db()
    assert (run.model_version, run.configuration) == (model_version, configuration)

    # Left out: kept.
    response = user_client.patch(run_url(run.id), {"configuration_id": None}, format="json")
    assert response.status_code == 200
    run.refresh_from_db()
    assert (run.model_version, run.configuration) == (model_version, None)


def test_update_resets_what_is_left_out(user_client, process, version, model_version, configuration):
    parent = make_run(process)
    run = make_run(process, version, model_version=model_version, configuration=configuration, parents=[parent.id])
    response = user_client.put(run_url(run.id), {"configuration_id": str(configuration.id)}, format="json")
    assert response.status_code == 200, response.json()
    run.refresh_from_db()
    assert (run.model_version, run.configuration, run.parents) == (None, configuration, [])


def test_partial_update_rules(user_client, process, worker, model, model_version, configuration):
    required = WorkerVersionFactory(worker=worker, model_usage=FeatureUsage.Required)
    run = make_run(process, required, model_version=model_version)
    response = user_client.patch(run_url(run.id), {"model_version_id": None}, format="json")
    assert response.status_code == 400
    assert "requires a model version" in response.json()["model_version_id"][0]

    pending = ModelVersion.objects.create(model=model, tag="v3", state="created")
    response = user_client.patch(run_url(run.id), {"model_version_id": str(pending.id)}, format="json")
    assert response.status_code == 400
    # A guest of the model does not even see a version still being uploaded.
    assert "model you can use" in response.json()["model_version_id"][0]

    hidden = ModelVersion.objects.create(model=Model.objects.create(name="Hidden"), state="available")
    response = user_client.patch(run_url(run.id), {"model_version_id": str(hidden.id)}, format="json")
    assert response.status_code == 400

    response = user_client.patch(run_url(run.id), {"configuration_id": str(WorkerConfigurationFactory().id)})
    assert response.status_code == 400
    assert "configuration_id" in response.json()

    configuration.archived = True
    configuration.save()
    response = user_client.patch(run_url(run.id), {"configuration_id": str(configuration.id)}, format="json")
    assert response.status_code == 400
    assert "archived" in response.json()["configuration_id"][0]

    run.refresh_from_db()
    assert (run.model_version, run.configuration) == (model_version, None)


def test_partial_update_duplicate(user_client, process, version, configuration):
    make_run(process, version, configuration=configuration)
    run = make_run(process, version)
    response = user_client.patch(run_url(run.id), {"configuration_id": str(configuration.id)}, format="json")
    assert response.status_code == 400
    assert "already has a worker run" in response.json()["non_field_errors"][0]


def test_partial_update_parents(user_client, process, corpus, user):
    first = make_run(process)
    second = make_run(process, parents=[first.id])
    third = make_run(process, parents=[second.id])

    def patch_parents(run, parents):
        return user_client.patch(run_url(run.id), {"parents": [str(parent.id) for parent in parents]}, format="json")

    response = patch_parents(first, [third])
    assert response.status_code == 400
    assert "cycle" in response.json()["parents"][0]
    response = patch_parents(first, [first])
    assert response.status_code == 400
    assert "its own parent" in response.json()["parents"][0]
    response = patch_parents(third, [first, first])
    assert response.status_code == 400
    assert "at most once" in response.json()["parents"][0]
    elsewhere = make_run(ProcessFactory(corpus=corpus, creator=user, mode=ProcessMode.Workers))
    assert patch_parents(third, [elsewhere]).status_code == 400

    response = patch_parents(third, [first, second])
    assert response.status_code == 200
    assert response.json()["parents"] == [str(first.id), str(second.id)]
    # Moving the first run behind the third cuts no cycle once the others no longer depend on it.
    assert patch_parents(second, []).status_code == 200
    assert patch_parents(third, []).status_code == 200
    assert patch_parents(first, [third]).status_code == 200


def test_update_after_start(user_client, process):
    run = make_run(process)
    process.started = timezone.now()
    process.save()
    assert user_client.patch(run_url(run.id), {"parents": []}, format="json").status_code == 409
    assert user_client.put(run_url(run.id), {}, format="json").status_code == 409


def test_update_access(other_client, make_user, corpus, process):
    run = make_run(process)
    assert other_client.patch(run_url(run.id), {"parents": []}, format="json").status_code == 404
    assert guest_client(corpus, make_user).patch(run_url(run.id), {"parents": []}, format="json").status_code == 403
    assert other_client.patch(run_url(MISSING), {"parents": []}, format="json").status_code == 404


def test_update_user_worker_run(user_client, user, version, configuration):
    local = ProcessFactory(creator=user, mode=ProcessMode.Local)
    run = make_run(local, version)
    response = user_client.patch(run_url(run.id), {"configuration_id": str(configuration.id)}, format="json")
    assert response.status_code == 400
    assert "User worker runs cannot be changed" in response.json()["non_field_errors"][0]


# DestroyWorkerRun


def test_destroy_cleans_parents(user_client, process):
    first = make_run(process)
    second = make_run(process, parents=[first.id])
    third = make_run(process, parents=[second.id, first.id])
    response = user_client.delete(run_url(first.id))
    assert response.status_code == 204
    assert not WorkerRun.objects.filter(id=first.id).exists()
    second.refresh_from_db()
    third.refresh_from_db()
    assert second.parents == []
    assert third.parents == [second.id]


def test_destroy_after_start(user_client, process):
    run = make_run(process)
    process.started = timezone.now()
    process.save()
    assert user_client.delete(run_url(run.id)).status_code == 409
    assert WorkerRun.objects.filter(id=run.id).exists()


def test_destroy_access(other_client, make_user, corpus, process):
    run = make_run(process)
    assert other_client.delete(run_url(run.id)).status_code == 404
    assert guest_client(corpus, make_user).delete(run_url(run.id)).status_code == 403
    assert WorkerRun.objects.filter(id=run.id).exists()


def test_destroy_user_worker_run(user_client, other_client, user, version, corpus):
    local = ProcessFactory(creator=user, mode=ProcessMode.Local)
    used = make_run(local, version)
    unused = make_run(local)
    page = ElementTypeFactory(corpus=corpus, slug="page", display_name="Page")
    Element.objects.create(corpus=corpus, type=page, name="Page", worker_run=used)

    assert other_client.delete(run_url(unused.id)).status_code == 404
    response = user_client.delete(run_url(used.id))
    assert response.status_code == 409
    assert "delete its results" in response.json()["errors"][0]["detail"]
    assert WorkerRun.objects.filter(id=used.id).exists()
    assert user_client.delete(run_url(unused.id)).status_code == 204


# Task tokens


def test_task_token(process, corpus, user, version):
    own = make_run(process, version)
    other_process = ProcessFactory(corpus=corpus, creator=user, mode=ProcessMode.Workers)
    other = make_run(other_process)
    task = TaskFactory(process=process, slug="task", state=TaskState.Running)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Ponos {task.token}")

    assert client.get(run_url(own.id)).status_code == 200
    assert client.get(f"/api/v1/workers/runs/{own.id}/configuration/").status_code == 200
    # The creator could read it, but this credential reaches only its own process (seed 002).
    # Hidden, as if it did not exist.
    response = client.get(run_url(other.id))
    assert response.status_code == 404
    assert client.get(f"/api/v1/workers/runs/{other.id}/configuration/").status_code == 404
    # Listing a process's runs is for people.
    assert client.get(runs_url(process.id)).status_code == 403
    assert client.patch(run_url(own.id), {"parents": []}, format="json").status_code == 403
    assert client.delete(run_url(other.id)).status_code == 403
    assert create(client, other_process, worker_version_id=version.id).status_code == 403
