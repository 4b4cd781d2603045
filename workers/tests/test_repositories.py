"""
Git repositories: the API (list, create, retrieve, credentials), credentials sealed at rest and
shown nowhere, the admin, and the import of a `.arkindex.yml` into worker versions.
"""

import logging

import pytest
from django.test import Client
from rest_framework.test import APIClient

from ponos.models import TaskState
from ponos.tests.factories import TaskFactory
from processes.models import ProcessMode
from processes.tests.factories import ProcessFactory
from users.models import Group, Membership, Right, Role
from users.rights import get_max_level
from users.tests.factories import grant
from workers.arkindex_yml import ArkindexYmlError
from workers.models import Repository, Worker, WorkerVersion
from workers.services.repositories import (
    CredentialsError,
    open_credentials,
    repository_create,
    repository_import_versions,
    revision_url,
)
from workers.tests.factories import WorkerFactory, WorkerVersionFactory, assert_list_queries

pytestmark = pytest.mark.django_db

REPOSITORIES = "/api/v1/process/repos/"
PASSWORD = "glpat-very-secret-token"
COMMIT = "a" * 40
ARKINDEX_YML = """
version: 2
workers:
  - slug: demo
    name: Demo
    type: classifier
    description: Labels pages
    model_usage: supported
    docker:
      build: Dockerfile
      command: worker-demo
    user_configuration:
      threshold: {title: Threshold, type: float, default: 0.5}
  - slug: ocr
    name: OCR
    type: recognizer
    docker:
      build: Dockerfile
"""


@pytest.fixture
def repository(user):
    return repository_create(
        user=user, url="https://git.example.com/team/workers", credentials={"username": "ci", "password": PASSWORD}
    )


def detail(repository):
    return f"{REPOSITORIES}{repository.id}/"


# --- CreateRepository ----------------------------------------------------------------------------


def test_create(user, user_client, caplog):
    caplog.set_level(logging.DEBUG)
    response = user_client.post(
        REPOSITORIES,
        {"url": "https://git.example.com/team/workers/", "credentials": {"username": "ci", "password": PASSWORD}},
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["url"] == "https://git.example.com/team/workers"
    assert body["has_credentials"] is True
    assert set(body) == {"id", "url", "has_credentials", "created", "updated"}
    assert PASSWORD not in response.content.decode()
    assert PASSWORD not in caplog.text

    repository = Repository.objects.get(pk=body["id"])
    assert repository.creator == user
    assert get_max_level(user, repository) == Role.ADMIN
    # Sealed at rest, opened with the repository's own id.
    assert PASSWORD.encode() not in bytes(repository.credentials)
    assert open_credentials(repository) == {"username": "ci", "password": PASSWORD}


def test_create_without_credentials(user_client):
    response = user_client.post(REPOSITORIES, {"url": "https://git.example.com/public"}, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["has_credentials"] is False
    assert open_credentials(Repository.objects.get()) is None


@pytest.mark.parametrize(
    "url, message",
    [
        ("ssh://git@git.example.com/team/workers", "with a scheme among http, https"),
        ("file:///srv/repository", "with a scheme among http, https"),
        ("https://ci:token@git.example.com/team/workers", "Credentials cannot be part of the URL"),
        ("https:///team/workers", "This URL names no host."),
        ("https://git.example.com/team/workers?ref=main", "no query string nor fragment"),
        ("https://git.example.com/" + "a" * 200, "more than 200 characters"),
    ],
)
def test_create_invalid_url(user_client, url, message):
    response = user_client.post(REPOSITORIES, {"url": url}, format="json")
    assert response.status_code == 400
    (error,) = response.json()["url"]
    assert message in error
    assert not Repository.objects.exists()


def test_create_file_url_when_allowed(user_client, settings):
    settings.REPOSITORIES_ALLOW_FILE_URLS = True
    response = user_client.post(REPOSITORIES, {"url": "file:///srv/repository"}, format="json")
    assert response.status_code == 201, response.json()
    response = user_client.post(REPOSITORIES, {"url": "file://other-host/srv/repository"}, format="json")
    assert response.status_code == 400


def test_create_invalid_credentials(user_client):
    response = user_client.post(
        REPOSITORIES, {"url": "https://git.example.com/a", "credentials": {"username": "ci"}}, format="json"
    )
    assert response.status_code == 400
    assert response.json() == {"credentials": {"password": ["This field is required."]}}


def test_create_existing_url(repository, user_client, other_client):
    response = user_client.post(REPOSITORIES, {"url": repository.url + "/"}, format="json")
    assert response.status_code == 409
    assert response.json()["existing_id"] == str(repository.id)
    # Someone who cannot see it learns that it exists, not its id.
    response = other_client.post(REPOSITORIES, {"url": repository.url}, format="json")
    assert response.status_code == 409
    assert "existing_id" not in response.json()
    assert Repository.objects.count() == 1


def test_create_needs_a_person(repository, user):
    """A task token (here of a repository process) neither creates nor lists repositories."""
    process = ProcessFactory(mode=ProcessMode.Repository, creator=user)
    task = TaskFactory(process=process, slug="import", state=TaskState.Running)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Ponos {task.token}")
    assert client.post(REPOSITORIES, {"url": "https://git.example.com/b"}, format="json").status_code == 403
    assert client.get(REPOSITORIES).status_code == 403


def test_anonymous(anonymous_client, repository):
    assert anonymous_client.get(REPOSITORIES).status_code in (401, 403)
    assert anonymous_client.post(REPOSITORIES, {"url": "https://git.example.com/b"}).status_code in (401, 403)
    assert anonymous_client.get(detail(repository)).status_code in (401, 403)


# --- ListRepositories / RetrieveRepository -------------------------------------------------------


def test_list_with_rights(user, other_user, user_client, superuser_client):
    own = repository_create(user=user, url="https://git.example.com/own")
    team = Group.objects.create(name="team")
    Membership.objects.create(user=user, group=team, level=Role.GUEST)
    shared = repository_create(user=other_user, url="https://git.example.com/shared")
    grant(shared, Role.GUEST, group=team)
    hidden = repository_create(user=other_user, url="https://git.example.com/hidden")

    response = user_client.get(REPOSITORIES)
    assert response.status_code == 200
    assert [item["url"] for item in response.json()["results"]] == [own.url, shared.url]
    assert PASSWORD not in response.content.decode()
    response = superuser_client.get(REPOSITORIES)
    assert response.json()["count"] == 3
    assert str(hidden.id) in response.content.decode()


def test_list_queries(user, user_client, django_assert_num_queries):
    for index in range(6):
        repository_create(user=user, url=f"https://git.example.com/{index}", credentials=None)
    # Token, count, page.
    assert_list_queries(user_client, REPOSITORIES, 3, django_assert_num_queries)


def test_retrieve(repository, user_client):
    response = user_client.get(detail(repository))
    assert response.status_code == 200
    assert response.json()["url"] == repository.url
    assert response.json()["has_credentials"] is True
    assert PASSWORD not in response.content.decode()
    assert "password" not in response.content.decode()


def test_retrieve_hidden_or_missing(repository, other_client, user_client):
    assert other_client.get(detail(repository)).status_code == 404
    assert user_client.get(f"{REPOSITORIES}{Repository().id}/").status_code == 404


# --- PartialUpdateRepository ---------------------------------------------------------------------


def test_update_credentials(repository, user_client):
    response = user_client.patch(
        detail(repository), {"credentials": {"username": "bot", "password": "new-token"}}, format="json"
    )
    assert response.status_code == 200, response.json()
    assert "new-token" not in response.content.decode()
    repository.refresh_from_db()
    assert open_credentials(repository) == {"username": "bot", "password": "new-token"}

    response = user_client.patch(detail(repository), {"credentials": None}, format="json")
    assert response.status_code == 200
    assert response.json()["has_credentials"] is False
    repository.refresh_from_db()
    assert repository.credentials is None and repository.credentials_nonce is None


def test_update_needs_admin(repository, other_user, other_client):
    grant(repository, Role.CONTRIBUTOR, user=other_user)
    response = other_client.patch(detail(repository), {"credentials": None}, format="json")
    assert response.status_code == 403
    assert "admin access" in response.json()["detail"]
    repository.refresh_from_db()
    assert repository.has_credentials


def test_update_hidden(repository, other_client):
    assert other_client.patch(detail(repository), {"credentials": None}, format="json").status_code == 404


def test_update_invalid(repository, user_client):
    assert user_client.patch(detail(repository), {}, format="json").status_code == 400


# --- Sealing -------------------------------------------------------------------------------------


def test_credentials_copied_to_another_repository_do_not_open(repository, user):
    other = repository_create(user=user, url="https://git.example.com/other")
    other.credentials_nonce, other.credentials = repository.credentials_nonce, repository.credentials
    with pytest.raises(CredentialsError):
        open_credentials(other)


def test_credentials_need_the_key(repository, settings):
    settings.SECRETS_KEY = "rotated"
    with pytest.raises(CredentialsError, match="SECRETS_KEY"):
        open_credentials(Repository.objects.get(pk=repository.pk))


# --- Admin ---------------------------------------------------------------------------------------


@pytest.fixture
def admin_site_client(superuser):
    client = Client()
    client.force_login(superuser)
    return client


@pytest.mark.parametrize(
    "url",
    [
        "/admin/workers/repository/",
        "/admin/workers/repository/?q=team",
        "/admin/workers/repository/?credentials=yes",
        "/admin/workers/repository/{id}/change/",
    ],
)
def test_admin_never_shows_credentials(admin_site_client, repository, url):
    response = admin_site_client.get(url.format(id=repository.id))
    assert response.status_code == 200
    content = response.content.decode()
    assert repository.url in content
    assert PASSWORD not in content
    assert bytes(repository.credentials).hex() not in content


def test_admin_removes_credentials(admin_site_client, repository):
    response = admin_site_client.post(
        "/admin/workers/repository/", {"action": "remove_credentials", "_selected_action": [str(repository.id)]}
    )
    assert response.status_code == 302
    repository.refresh_from_db()
    assert not repository.has_credentials


# --- Importing a .arkindex.yml -------------------------------------------------------------------


def test_import_creates_workers_and_versions(repository, user, other_user):
    grant(repository, Role.CONTRIBUTOR, user=other_user)
    result = repository_import_versions(
        repository=repository, user=user, text=ARKINDEX_YML, commit_hash=COMMIT, branch="main", tag="v1.0"
    )
    assert result.version == 2
    assert [(version.worker.slug, created) for version, created in result.versions] == [("demo", True), ("ocr", True)]
    demo = Worker.objects.get(repository_url=repository.url, slug="demo")
    assert (demo.name, demo.type.slug, demo.description) == ("Demo", "classifier", "Labels pages")
    version = demo.versions.get()
    assert version.revision_url == f"{repository.url}/commit/{COMMIT}"
    assert (version.version, version.state, version.tag, version.branch) == (1, "available", "v1.0", "main")
    assert (version.model_usage, version.gpu_usage, version.docker_image_iid) == ("supported", "disabled", None)
    assert version.docker_command == "worker-demo"
    assert version.configuration["user_configuration"] == {
        "threshold": {"title": "Threshold", "type": "float", "default": 0.5}
    }
    # The importer administers the new workers; everyone with a right on the repository keeps it.
    assert get_max_level(user, demo) == Role.ADMIN
    assert get_max_level(other_user, demo) == Role.CONTRIBUTOR


def test_import_again_keeps_the_versions(repository, user):
    first = repository_import_versions(repository=repository, user=user, text=ARKINDEX_YML, commit_hash=COMMIT)
    again = repository_import_versions(repository=repository, user=user, text=ARKINDEX_YML, commit_hash=COMMIT)
    assert [created for _, created in again.versions] == [False, False]
    assert [version.id for version, _ in again.versions] == [version.id for version, _ in first.versions]
    assert WorkerVersion.objects.count() == 2

    later = repository_import_versions(repository=repository, user=user, text=ARKINDEX_YML, commit_hash="b" * 40)
    assert [(version.version, created) for version, created in later.versions] == [(2, True), (2, True)]


def test_import_updates_existing_workers(repository, user):
    """A worker published before by the CLI (same slug and repository URL) gets the new version."""
    worker = WorkerFactory(slug="demo", name="Old name", repository_url=repository.url, description="Old")
    WorkerVersionFactory(worker=worker)
    result = repository_import_versions(repository=repository, user=user, text=ARKINDEX_YML, commit_hash=COMMIT)
    worker.refresh_from_db()
    assert (worker.name, worker.type.slug, worker.description) == ("Demo", "classifier", "Labels pages")
    assert result.versions[0][0].worker_id == worker.id
    assert result.versions[0][0].version == 2
    assert Right.objects.filter(object_id=worker.id).count() == 0


def test_import_version_3_imports_nothing(repository, user):
    result = repository_import_versions(
        repository=repository, user=user, text="version: 3\nworkers:\n  - slug: demo\n", commit_hash=COMMIT
    )
    assert (result.version, result.versions, result.published_by_ci) == (3, [], True)
    assert not Worker.objects.exists()


def test_import_invalid_is_all_or_nothing(repository, user):
    text = ARKINDEX_YML + "  - slug: broken\n    name: Broken\n"
    with pytest.raises(ArkindexYmlError) as info:
        repository_import_versions(repository=repository, user=user, text=text, commit_hash=COMMIT)
    assert info.value.errors == ["workers.2.docker: Required field missing", "workers.2.type: Required field missing"]
    assert not Worker.objects.exists()


def test_revision_url():
    assert revision_url("https://git.example.com/a/b.git", COMMIT) == f"https://git.example.com/a/b/commit/{COMMIT}"
    assert revision_url("file:///srv/repo", COMMIT) == f"file:///srv/repo/commit/{COMMIT}"
