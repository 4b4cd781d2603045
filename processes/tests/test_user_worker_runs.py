"""User worker runs: personal, one per worker version, and what a worker reads about its run."""

import pytest

from processes.models import Process, ProcessMode, WorkerRun
from users.models import Right, Role
from users.tests.factories import grant
from workers.models import FeatureUsage, Model, ModelVersion, WorkerVersionState
from workers.tests.factories import (
    WorkerConfigurationFactory,
    WorkerFactory,
    WorkerVersionFactory,
    assert_list_queries,
)

URL = "/api/v1/process/workers/"

VERSION_CONFIGURATION = {
    "docker": {"command": "python -m demo"},
    "user_configuration": {
        "threshold": {"title": "Threshold", "type": "float", "default": 0.5},
        "mode": {"title": "Mode", "type": "enum", "choices": ["fast", "accurate"], "default": "fast"},
        "api_key": {"title": "API key", "type": "secret"},
    },
}


@pytest.fixture
def worker(user):
    worker = WorkerFactory(name="Demo")
    grant(worker, Role.GUEST, user=user)
    return worker


@pytest.fixture
def version(worker):
    return WorkerVersionFactory(worker=worker, tag="1a2b3c", configuration=VERSION_CONFIGURATION)


@pytest.fixture
def model_version(user):
    model = Model.objects.create(name="Layout")
    grant(model, Role.GUEST, user=user)
    return ModelVersion.objects.create(
        model=model, tag="v2", state="available", configuration={"batch_size": 4}, size=10, archive_hash="0" * 32
    )


@pytest.fixture
def worker_configuration(worker):
    return WorkerConfigurationFactory(worker=worker, name="Accurate", configuration={"mode": "accurate"})


def create(client, **body):
    return client.post(URL, body, format="json")


def test_create_minimal(user_client, user, version):
    response = create(user_client, worker_version_id=str(version.id))
    assert response.status_code == 201, response.json()
    data = response.json()
    run = WorkerRun.objects.get(id=data["id"])
    assert run.process.mode == ProcessMode.Local
    assert run.process.creator == user
    assert data["summary"] == "Worker Demo @ 1a2b3c"
    assert data["model_version"] is None
    assert data["configuration"] is None
    assert data["parents"] == []
    assert data["process"]["id"] == str(run.process.id)
    assert data["process"]["mode"] == "local"
    assert data["process"]["corpus"] is None
    assert data["worker_version"]["id"] == str(version.id)
    assert data["worker_version"]["worker"]["name"] == "Demo"


def test_create_with_model_and_configuration(user_client, version, model_version, worker_configuration):
    version.model_usage = FeatureUsage.Supported
    version.save()
    response = create(
        user_client,
        worker_version_id=str(version.id),
        model_version_id=str(model_version.id),
        configuration_id=str(worker_configuration.id),
    )
    assert response.status_code == 201, response.json()
    data = response.json()
    assert data["summary"] == "Worker Demo @ 1a2b3c with model Layout @ v2 using configuration 'Accurate'"
    assert data["model_version"]["model"] == {"id": str(model_version.model.id), "name": "Layout"}
    assert data["model_version"]["configuration"] == {"batch_size": 4}
    assert data["configuration"]["configuration"] == {"mode": "accurate"}


def test_one_local_process_per_user(user_client, user, worker):
    first, second = WorkerVersionFactory(worker=worker), WorkerVersionFactory(worker=worker)
    assert create(user_client, worker_version_id=str(first.id)).status_code == 201
    assert create(user_client, worker_version_id=str(second.id)).status_code == 201
    assert Process.objects.filter(creator=user, mode=ProcessMode.Local).count() == 1
    assert WorkerRun.objects.filter(process__creator=user).count() == 2


def test_one_run_per_version(user_client, version, worker_configuration):
    assert create(user_client, worker_version_id=str(version.id)).status_code == 201
    response = create(user_client, worker_version_id=str(version.id), configuration_id=str(worker_configuration.id))
    assert response.status_code == 400
    assert "create a new version" in response.json()["worker_version_id"][0]


def test_other_users_have_their_own(user_client, other_client, other_user, version):
    grant(version.worker, Role.GUEST, user=other_user)
    assert create(user_client, worker_version_id=str(version.id)).status_code == 201
    assert create(other_client, worker_version_id=str(version.id)).status_code == 201


@pytest.mark.parametrize(
    "body, field",
    [
        ({}, "worker_version_id"),
        ({"worker_version_id": "not-a-uuid"}, "worker_version_id"),
        ({"worker_version_id": "00000000-0000-0000-0000-000000000000"}, "worker_version_id"),
    ],
)
def test_create_bad_input(user_client, version, body, field):
    response = create(user_client, **body)
    assert response.status_code == 400
    assert field in response.json()


def test_create_needs_a_local_worker(user, user_client):
    """Seed 000: a user worker run is of a local worker; a repository's worker runs in processes."""
    worker = WorkerFactory(repository_url="https://git.example.com/ocr")
    grant(worker, Role.GUEST, user=user)
    version = WorkerVersionFactory(worker=worker)
    response = create(user_client, worker_version_id=str(version.id))
    assert response.status_code == 400
    assert "needs a version of a local worker" in response.json()["worker_version_id"][0]


def test_create_hidden_worker(user_client):
    hidden = WorkerVersionFactory()
    response = create(user_client, worker_version_id=str(hidden.id))
    assert response.status_code == 400
    assert "worker_version_id" in response.json()


def test_create_unavailable_version(user_client, worker):
    version = WorkerVersionFactory(worker=worker, state=WorkerVersionState.Error)
    response = create(user_client, worker_version_id=str(version.id))
    assert response.status_code == 400
    assert "available" in response.json()["worker_version_id"][0]


def test_create_model_rules(user_client, version, model_version):
    # The version does not use models.
    response = create(user_client, worker_version_id=str(version.id), model_version_id=str(model_version.id))
    assert response.status_code == 400
    assert "model_version_id" in response.json()

    version.model_usage = FeatureUsage.Required
    version.save()
    response = create(user_client, worker_version_id=str(version.id))
    assert response.status_code == 400
    assert "requires a model version" in response.json()["model_version_id"][0]

    hidden = ModelVersion.objects.create(model=Model.objects.create(name="Hidden"), state="available")
    response = create(user_client, worker_version_id=str(version.id), model_version_id=str(hidden.id))
    assert response.status_code == 400
    assert "model_version_id" in response.json()

    model_version.state = "created"
    model_version.save()
    response = create(user_client, worker_version_id=str(version.id), model_version_id=str(model_version.id))
    assert response.status_code == 400
    # A guest of the model does not even see a version still being uploaded.
    assert "model you can use" in response.json()["model_version_id"][0]
    assert not WorkerRun.objects.exists()


def test_create_configuration_rules(user_client, version, worker_configuration):
    worker_configuration.archived = True
    worker_configuration.save()
    response = create(user_client, worker_version_id=str(version.id), configuration_id=str(worker_configuration.id))
    assert response.status_code == 400
    assert "archived" in response.json()["configuration_id"][0]

    elsewhere = WorkerConfigurationFactory()
    response = create(user_client, worker_version_id=str(version.id), configuration_id=str(elsewhere.id))
    assert response.status_code == 400
    assert "configuration_id" in response.json()


def test_create_anonymous(anonymous_client, version):
    response = create(anonymous_client, worker_version_id=str(version.id))
    assert response.status_code in (401, 403)
    assert not WorkerRun.objects.exists()


def test_list_own_runs_only(user_client, other_client, other_user, worker, django_assert_num_queries):
    grant(worker, Role.GUEST, user=other_user)
    for _ in range(6):
        create(user_client, worker_version_id=str(WorkerVersionFactory(worker=worker).id))
    create(other_client, worker_version_id=str(WorkerVersionFactory(worker=worker).id))

    response = user_client.get(URL)
    assert response.status_code == 200
    assert response.json()["count"] == 6
    assert other_client.get(URL).json()["count"] == 1
    # token, count, page
    assert_list_queries(user_client, URL, 3, django_assert_num_queries)


def test_list_anonymous(anonymous_client, db):
    assert anonymous_client.get(URL).status_code in (401, 403)


def test_retrieve_personal(user_client, other_client, superuser_client, version):
    run_id = create(user_client, worker_version_id=str(version.id)).json()["id"]
    response = user_client.get(f"{URL}{run_id}/")
    assert response.status_code == 200
    assert response.json()["id"] == run_id
    for client in (other_client, superuser_client):
        assert client.get(f"{URL}{run_id}/").status_code == 404
        assert client.get(f"/api/v1/workers/runs/{run_id}/configuration/").status_code == 404


def test_retrieve_missing(user_client, db):
    assert user_client.get(f"{URL}00000000-0000-0000-0000-000000000000/").status_code == 404


def test_retrieve_queries(user_client, version, model_version, worker_configuration, django_assert_num_queries):
    version.model_usage = FeatureUsage.Supported
    version.save()
    run_id = create(
        user_client,
        worker_version_id=str(version.id),
        model_version_id=str(model_version.id),
        configuration_id=str(worker_configuration.id),
    ).json()["id"]
    user_client.get(f"{URL}{run_id}/")
    # token, worker run with every relation
    with django_assert_num_queries(2):
        assert user_client.get(f"{URL}{run_id}/").status_code == 200


def test_runtime_configuration(user_client, version, worker_configuration):
    plain = create(user_client, worker_version_id=str(version.id)).json()["id"]
    response = user_client.get(f"/api/v1/workers/runs/{plain}/configuration/")
    assert response.status_code == 200
    assert response.json() == {
        "configuration": [
            {"key": "api_key", "value": None, "secret": True},
            {"key": "mode", "value": "fast", "secret": False},
            {"key": "threshold", "value": 0.5, "secret": False},
        ]
    }

    configured_version = WorkerVersionFactory(worker=version.worker, configuration=VERSION_CONFIGURATION)
    configured = create(
        user_client, worker_version_id=str(configured_version.id), configuration_id=str(worker_configuration.id)
    ).json()["id"]
    values = {
        item["key"]: item["value"]
        for item in user_client.get(f"/api/v1/workers/runs/{configured}/configuration/").json()["configuration"]
    }
    assert values == {"api_key": None, "mode": "accurate", "threshold": 0.5}


def test_protected_from_deletion(user_client, version, worker_configuration):
    from django.db.models import ProtectedError

    create(user_client, worker_version_id=str(version.id), configuration_id=str(worker_configuration.id))
    with pytest.raises(ProtectedError):
        version.delete()
    with pytest.raises(ProtectedError):
        worker_configuration.delete()


def test_admin_lists_user_worker_runs(superuser, user_client, version):
    from django.test import Client

    create(user_client, worker_version_id=str(version.id))
    client = Client()
    client.force_login(superuser)
    response = client.get("/admin/processes/workerrun/?kind=user")
    assert response.status_code == 200
    assert b"Worker Demo @ 1a2b3c" in response.content
    assert client.get("/admin/processes/workerrun/?kind=process").content.count(b"Worker Demo @ 1a2b3c") == 0
    assert client.get("/admin/processes/process/?q=user%40example.com").status_code == 200


def test_destroy_unused_version_and_configuration(user_client, user, version, worker_configuration):
    Right.objects.filter(user=user).update(level=Role.ADMIN)
    assert user_client.delete(f"/api/v1/workers/configurations/{worker_configuration.id}/").status_code == 204
    assert user_client.delete(f"/api/v1/workers/versions/{version.id}/").status_code == 204
    assert not version.worker.versions.exists()
    assert not version.worker.configurations.exists()


def test_destroy_used_version_and_configuration(user_client, user, version, worker_configuration):
    Right.objects.filter(user=user).update(level=Role.ADMIN)
    create(user_client, worker_version_id=str(version.id), configuration_id=str(worker_configuration.id))
    for url in (
        f"/api/v1/workers/configurations/{worker_configuration.id}/",
        f"/api/v1/workers/versions/{version.id}/",
    ):
        response = user_client.delete(url)
        assert response.status_code == 409
        assert "archive" in response.json()["errors"][0]["detail"]
    assert version.worker.versions.exists()
    assert version.worker.configurations.exists()


def test_destroy_needs_admin(user_client, version, worker_configuration):
    # `user` is a guest of the worker
    assert user_client.delete(f"/api/v1/workers/configurations/{worker_configuration.id}/").status_code == 403
    assert user_client.delete(f"/api/v1/workers/versions/{version.id}/").status_code == 403


def test_destroy_hidden_or_missing(other_client, version, worker_configuration):
    assert other_client.delete(f"/api/v1/workers/versions/{version.id}/").status_code == 404
    assert other_client.delete(f"/api/v1/workers/configurations/{worker_configuration.id}/").status_code == 404
    missing = "00000000-0000-0000-0000-000000000000"
    assert other_client.delete(f"/api/v1/workers/versions/{missing}/").status_code == 404
