"""Worker versions: list, create (numbered per worker), retrieve, update, and import from a definition YAML."""

import threading

import pytest
from django.db import connection

from users.models import Role
from users.tests.factories import grant
from workers.models import WorkerVersion, WorkerVersionState
from workers.services import worker_version_create
from workers.tests.factories import WorkerFactory, WorkerVersionFactory, assert_list_queries

pytestmark = pytest.mark.django_db

DEFINITION = """slug: demo
display_name: Demo
type: classifier
description: A demo worker
gpu_usage: supported
docker:
  command: worker-demo
  shm_size: 1g
configuration:
  - key: threshold
    display_name: Threshold
    type: float
    default: 0.5
  - key: api_key
    display_name: API key
    type: secret
    required: true
"""


@pytest.fixture
def worker(user):
    worker = WorkerFactory(name="Demo", slug="demo", repository_url="https://git.example.com/demo")
    grant(worker, Role.CONTRIBUTOR, user=user)
    return worker


def versions_url(worker):
    return f"/api/v1/workers/{worker.id}/versions/"


def version_url(version):
    return f"/api/v1/workers/versions/{version.id}/"


# --- ListWorkerVersions ----------------------------------------------------------------------


def test_list_versions(user_client, worker):
    first = WorkerVersionFactory(worker=worker, tag="v1", revision_url="https://git.example.com/demo/commit/1")
    second = WorkerVersionFactory(worker=worker, state=WorkerVersionState.Error)
    WorkerVersionFactory()  # another worker's
    response = user_client.get(versions_url(worker))
    assert response.status_code == 200
    assert response.json()["count"] == 2
    assert [item["id"] for item in response.json()["results"]] == [str(second.id), str(first.id)]
    assert response.json()["results"][1] == {
        "id": str(first.id),
        "worker": {
            "id": str(worker.id),
            "name": "Demo",
            "slug": "demo",
            "type": worker.type.slug,
            "repository_url": "https://git.example.com/demo",
        },
        "version": 1,
        "state": "available",
        "gpu_usage": "disabled",
        "model_usage": "disabled",
        "docker_image_iid": None,
        "revision_url": "https://git.example.com/demo/commit/1",
        "tag": "v1",
        "branch": None,
        "configuration": {},
        "created": response.json()["results"][1]["created"],
        "updated": response.json()["results"][1]["updated"],
    }


def test_list_versions_filters(user_client, worker):
    tagged = WorkerVersionFactory(worker=worker, tag="v1")
    failed = WorkerVersionFactory(worker=worker, state=WorkerVersionState.Error)

    def ids(query):
        response = user_client.get(f"{versions_url(worker)}?{query}")
        assert response.status_code == 200, response.json()
        return [item["id"] for item in response.json()["results"]]

    assert ids("state=error") == [str(failed.id)]
    assert ids("state=available") == [str(tagged.id)]
    assert ids("mode=tagged") == [str(tagged.id)]
    assert ids("mode=all") == [str(failed.id), str(tagged.id)]


@pytest.mark.parametrize("query", ["state=done", "mode=everything"])
def test_list_versions_invalid_filter(user_client, worker, query):
    response = user_client.get(f"{versions_url(worker)}?{query}")
    assert response.status_code == 400
    assert list(response.json()) == [query.split("=")[0]]


def test_list_versions_hidden_worker(user_client):
    assert user_client.get(versions_url(WorkerFactory())).status_code == 404


def test_list_versions_public_worker_anonymously(anonymous_client):
    worker = WorkerFactory(public=True)
    WorkerVersionFactory(worker=worker)
    assert anonymous_client.get(versions_url(worker)).json()["count"] == 1


def test_list_versions_queries(user_client, worker, django_assert_num_queries):
    for _ in range(6):
        WorkerVersionFactory(worker=worker)
    # Token, worker with rights, count, page (worker and type joined).
    assert_list_queries(user_client, versions_url(worker), 4, django_assert_num_queries)


# --- CreateWorkerVersion ---------------------------------------------------------------------


def test_create_version_with_empty_body(user_client, worker):
    response = user_client.post(versions_url(worker), {})
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["version"], body["state"], body["docker_image_iid"], body["configuration"]) == (
        1,
        "available",
        None,
        {},
    )
    assert body["worker"]["id"] == str(worker.id)
    assert user_client.post(versions_url(worker), {}).json()["version"] == 2


def test_create_version_numbers_are_per_worker(user, user_client, worker):
    other = WorkerFactory()
    grant(other, Role.CONTRIBUTOR, user=user)
    WorkerVersionFactory(worker=worker)
    assert user_client.post(versions_url(worker), {}).json()["version"] == 2
    assert user_client.post(versions_url(other), {}).json()["version"] == 1


def test_create_version_with_every_field(user_client, worker):
    configuration = {
        "docker": {"command": "worker-demo", "shm_size": "512m"},
        "configuration": {"batch_size": 8},
        "user_configuration": {"threshold": {"title": "Threshold", "type": "float", "default": 0.5}},
    }
    response = user_client.post(
        versions_url(worker),
        {
            "docker_image_iid": "registry.example.com/demo:1.0",
            "revision_url": "https://git.example.com/demo/commit/abc",
            "tag": "1.0",
            "branch": "main",
            "configuration": configuration,
            "state": "created",
            "gpu_usage": "required",
            "model_usage": "supported",
        },
    )
    assert response.status_code == 201, response.json()
    version = WorkerVersion.objects.get(id=response.json()["id"])
    assert (version.state, version.gpu_usage, version.model_usage, version.tag, version.branch) == (
        "created",
        "required",
        "supported",
        "1.0",
        "main",
    )
    assert version.configuration == configuration
    assert version.docker_command == "worker-demo"
    assert version.docker_shm_size == "512m"


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({"state": "done"}, {"state": ['"done" is not a valid choice.']}),
        ({"gpu_usage": "always"}, {"gpu_usage": ['"always" is not a valid choice.']}),
        ({"revision_url": "nope"}, {"revision_url": ["Enter a valid URL."]}),
        ({"configuration": {"docker": {"image": "x"}}}, {"configuration": ["docker.image: Unexpected element"]}),
        (
            {"configuration": {"user_configuration": {"a": {"title": "A", "type": "number"}}}},
            {
                "configuration": [
                    "user_configuration.a: type: 'number' not in (bool, corpus_export, dict, element_type, enum, "
                    "float, int, list, model, s3_bucket, secret, string, text, worker_version)."
                ]
            },
        ),
        ({"configuration": ["x"]}, {"configuration": ["['x'] is not a map."]}),
    ],
)
def test_create_version_invalid(user_client, worker, body, errors):
    response = user_client.post(versions_url(worker), body)
    assert response.status_code == 400
    assert response.json() == errors
    assert not WorkerVersion.objects.exists()


def test_create_version_duplicate_revision(user_client, worker):
    existing = WorkerVersionFactory(worker=worker, revision_url="https://git.example.com/demo/commit/abc")
    response = user_client.post(versions_url(worker), {"revision_url": "https://git.example.com/demo/commit/abc"})
    assert response.status_code == 409
    assert response.json()["existing_id"] == str(existing.id)
    assert response.json()["type"] == "client_error"
    # Another worker may have a version of the same revision.
    other = WorkerFactory(public=True)
    other_response = user_client.post(versions_url(other), {"revision_url": "https://git.example.com/demo/commit/abc"})
    assert other_response.status_code == 403


def test_create_version_guest_forbidden(user, user_client):
    worker = WorkerFactory()
    grant(worker, Role.GUEST, user=user)
    response = user_client.post(versions_url(worker), {})
    assert response.status_code == 403
    assert "contributor access" in response.json()["detail"]


def test_create_version_hidden_worker(user_client):
    assert user_client.post(versions_url(WorkerFactory()), {}).status_code == 404


def test_create_version_anonymous(anonymous_client):
    assert anonymous_client.post(versions_url(WorkerFactory(public=True)), {}).status_code == 401


@pytest.mark.django_db(transaction=True)
def test_concurrent_versions_get_distinct_numbers():
    worker = WorkerFactory()
    barrier = threading.Barrier(4)
    errors = []

    def create():
        try:
            barrier.wait()
            worker_version_create(worker=worker)
        except Exception as e:  # reported below: a thread's exception would be lost
            errors.append(e)
        finally:
            connection.close()

    threads = [threading.Thread(target=create) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(WorkerVersion.objects.filter(worker=worker).values_list("version", flat=True)) == [1, 2, 3, 4]


# --- RetrieveWorkerVersion -------------------------------------------------------------------


def test_retrieve_version(user_client, worker, django_assert_num_queries):
    version = WorkerVersionFactory(worker=worker, tag="v1", branch="main")
    user_client.get(version_url(version))
    # Token, then the version with its worker, type and the user's level on the worker.
    with django_assert_num_queries(2):
        response = user_client.get(version_url(version))
    assert response.status_code == 200
    assert (response.json()["id"], response.json()["tag"], response.json()["branch"]) == (str(version.id), "v1", "main")
    assert response.json()["worker"]["slug"] == "demo"


def test_retrieve_version_hidden(user_client):
    """A version of a worker the user cannot see gets the answer of a version that does not exist."""
    version = WorkerVersionFactory()
    response = user_client.get(version_url(version))
    assert response.status_code == 404
    assert response.json() == {"detail": f"Worker version {version.id} not found, or you have no access to it."}


def test_retrieve_version_unknown(user_client):
    response = user_client.get("/api/v1/workers/versions/aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa/")
    assert response.status_code == 404
    assert response.json() == {
        "detail": "Worker version aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa not found, or you have no access to it."
    }


def test_retrieve_version_instance_admin(superuser_client):
    assert superuser_client.get(version_url(WorkerVersionFactory())).status_code == 200


# --- PartialUpdateWorkerVersion --------------------------------------------------------------


def test_update_version(user_client, worker):
    version = WorkerVersionFactory(worker=worker, state=WorkerVersionState.Created)
    response = user_client.patch(
        version_url(version),
        {
            "tag": "v2",
            "branch": "dev",
            "state": "available",
            "docker_image_iid": "registry.example.com/demo:2",
            "gpu_usage": "supported",
            "model_usage": "required",
        },
    )
    assert response.status_code == 200, response.json()
    version.refresh_from_db()
    assert (
        version.tag,
        version.branch,
        version.state,
        version.docker_image_iid,
        version.gpu_usage,
        version.model_usage,
    ) == ("v2", "dev", "available", "registry.example.com/demo:2", "supported", "required")


def test_update_version_ignores_configuration(user_client, worker):
    version = WorkerVersionFactory(worker=worker, configuration={"configuration": {"a": 1}})
    response = user_client.patch(version_url(version), {"configuration": {}, "tag": "v1"})
    assert response.status_code == 200
    version.refresh_from_db()
    assert version.configuration == {"configuration": {"a": 1}}


def test_update_version_image_of_available_version_is_fixed(user_client, worker):
    version = WorkerVersionFactory(worker=worker, docker_image_iid="registry.example.com/demo:1")
    response = user_client.patch(version_url(version), {"docker_image_iid": "registry.example.com/demo:2"})
    assert response.status_code == 400
    assert response.json() == {
        "docker_image_iid": [
            "The Docker image of an available version cannot change: create a new version for this image."
        ]
    }
    # Sending the same image again is no change.
    same = user_client.patch(version_url(version), {"docker_image_iid": "registry.example.com/demo:1"})
    assert same.status_code == 200


@pytest.mark.parametrize(
    "current, target, allowed",
    [
        ("available", "processing", "none"),
        ("available", "created", "none"),
        ("processing", "created", "available, error"),
        ("error", "created", "available, processing"),
    ],
)
def test_update_version_state_transitions_refused(user_client, worker, current, target, allowed):
    version = WorkerVersionFactory(worker=worker, state=current)
    response = user_client.patch(version_url(version), {"state": target, "tag": "v9"})
    assert response.status_code == 409
    assert response.json()["errors"] == [
        {
            "attr": None,
            "code": "state_transition",
            "detail": f"A {current} worker version cannot become {target} (allowed: {allowed}).",
        }
    ]
    version.refresh_from_db()
    assert (version.state, version.tag) == (current, None)


def test_update_version_state_follows_its_build(user_client, worker):
    version = WorkerVersionFactory(worker=worker, state=WorkerVersionState.Created)
    for state in ("processing", "error", "processing", "available", "available"):
        response = user_client.patch(version_url(version), {"state": state})
        assert response.status_code == 200, response.json()
        assert response.json()["state"] == state
    version.refresh_from_db()
    assert version.state == "available"


def test_update_version_state_compare_and_set(worker):
    """Two requests read the version created; the first moves it, the second is told it changed."""
    from arkindex.api.exceptions import Conflict
    from workers import services
    from workers.models import WorkerVersion

    version = WorkerVersionFactory(worker=worker, state=WorkerVersionState.Created)
    first, second = WorkerVersion.objects.get(pk=version.pk), WorkerVersion.objects.get(pk=version.pk)
    services.worker_version_update(version=first, state=WorkerVersionState.Available, tag="v1")
    with pytest.raises(Conflict, match="changed state meanwhile"):
        services.worker_version_update(version=second, state=WorkerVersionState.Error, tag="v2")
    version.refresh_from_db()
    assert (version.state, version.tag) == ("available", "v1")


def test_update_version_invalid(user_client, worker):
    version = WorkerVersionFactory(worker=worker)
    response = user_client.patch(version_url(version), {"state": "done", "tag": "t" * 51})
    assert response.status_code == 400
    assert set(response.json()) == {"state", "tag"}


def test_update_version_guest_forbidden(user, user_client):
    version = WorkerVersionFactory(worker=WorkerFactory(public=True))
    response = user_client.patch(version_url(version), {"tag": "v2"})
    assert response.status_code == 403
    assert response.json() == {
        "detail": "You need contributor access to the worker to update its versions; ask one of its administrators."
    }


def test_update_version_hidden(user_client):
    assert user_client.patch(version_url(WorkerVersionFactory()), {"tag": "v2"}).status_code == 404


# --- ImportWorkerVersion ---------------------------------------------------------------------


def import_url(worker):
    return f"/api/v1/workers/{worker.id}/versions/import/"


def test_import_version(user_client, worker):
    response = user_client.post(
        import_url(worker),
        {
            "yaml": DEFINITION,
            "revision_url": "https://git.example.com/demo/commit/abc",
            "docker_image_iid": "registry.example.com/demo:abc",
            "branch": "main",
            "tag": "1.0.0",
        },
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["version"], body["state"], body["gpu_usage"], body["model_usage"]) == (
        1,
        "available",
        "supported",
        "disabled",
    )
    assert (body["tag"], body["branch"], body["docker_image_iid"], body["revision_url"]) == (
        "1.0.0",
        "main",
        "registry.example.com/demo:abc",
        "https://git.example.com/demo/commit/abc",
    )
    assert body["configuration"] == {
        "docker": {"command": "worker-demo", "shm_size": "1g"},
        "user_configuration": {
            "threshold": {"title": "Threshold", "type": "float", "default": 0.5},
            "api_key": {"title": "API key", "type": "secret", "required": True},
        },
    }


def test_import_version_duplicate_revision(user_client, worker):
    body = {"yaml": DEFINITION, "revision_url": "https://git.example.com/demo/commit/abc", "docker_image_iid": "x"}
    first = user_client.post(import_url(worker), body)
    second = user_client.post(import_url(worker), body)
    assert second.status_code == 409
    assert second.json() == {
        "type": "client_error",
        "errors": [
            {
                "attr": None,
                "code": "unique",
                "detail": "A version of this worker already exists for the revision "
                "https://git.example.com/demo/commit/abc: use it, or import another revision.",
            }
        ],
        "existing_id": first.json()["id"],
    }


def test_import_version_unexpected_element(user_client, worker):
    response = user_client.post(import_url(worker), {"yaml": DEFINITION + "unknown: 1\n", "docker_image_iid": "x"})
    assert response.status_code == 400
    assert response.json() == {
        "type": "validation_error",
        "errors": [{"attr": "yaml", "code": "invalid", "detail": "unknown: Unexpected element"}],
    }
    assert not WorkerVersion.objects.exists()


def test_import_version_reports_every_error(user_client, worker):
    yaml = DEFINITION.replace("type: float\n    default: 0.5", "type: float\n    default: high\n    many: true")
    response = user_client.post(import_url(worker), {"yaml": yaml.replace("gpu_usage: supported", "gpu_usage: yes")})
    assert response.status_code == 400
    assert [error["detail"] for error in response.json()["errors"]] == [
        "gpu_usage: True not in ('supported', 'required', 'disabled').",
        "configuration.threshold: Default value must be a list",
    ]


def test_import_version_yaml_syntax_error(user_client, worker):
    response = user_client.post(import_url(worker), {"yaml": "slug: [demo"})
    assert response.status_code == 400
    assert response.json()["errors"][0]["attr"] == "yaml"
    assert response.json()["errors"][0]["detail"].startswith("The YAML could not be parsed")


def test_import_version_other_slug(user_client, worker):
    response = user_client.post(import_url(worker), {"yaml": DEFINITION.replace("slug: demo", "slug: other")})
    assert response.status_code == 400
    assert response.json()["errors"] == [
        {
            "attr": "yaml",
            "code": "invalid",
            "detail": "This definition describes the worker 'other', but this worker's slug is 'demo': "
            "import it on the worker with that slug.",
        }
    ]


def test_import_version_missing_yaml(user_client, worker):
    response = user_client.post(import_url(worker), {"revision_url": "not a url"})
    assert response.status_code == 400
    assert response.json() == {
        "type": "validation_error",
        "errors": [
            {"attr": "yaml", "code": "required", "detail": "This field is required."},
            {"attr": "revision_url", "code": "invalid", "detail": "Enter a valid URL."},
        ],
    }


def test_import_version_guest_forbidden(user, user_client):
    worker = WorkerFactory(slug="demo")
    grant(worker, Role.GUEST, user=user)
    assert user_client.post(import_url(worker), {"yaml": DEFINITION}).status_code == 403


def test_import_version_hidden(user_client):
    assert user_client.post(import_url(WorkerFactory(slug="demo")), {"yaml": DEFINITION}).status_code == 404
