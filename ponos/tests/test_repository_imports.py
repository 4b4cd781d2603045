"""
Repository imports through the API, without agents: CreateRepositoryImport builds the process and
its single task; the task (by its token) reads what it imports (RetrieveRepositoryImport) and sends
the `.arkindex.yml` it found (ImportRepositoryWorkerVersions); retrying recreates the one task.
The runs with real agents and Git repositories are in `test_repository_run.py`.
"""

import django_rq
import pytest
from django.core import mail
from rest_framework.test import APIClient

from documents.tests.factories import CorpusFactory
from ponos import services
from ponos.models import Farm, Task, TaskState
from ponos.tests.factories import TaskFactory
from processes.models import Process, ProcessMode, ProcessState
from processes.tests.factories import ProcessFactory
from users.models import Right, Role
from users.tests.factories import grant
from workers.models import Worker, WorkerVersion
from workers.services.repositories import repository_create

pytestmark = pytest.mark.django_db

PASSWORD = "glpat-very-secret-token"
COMMIT = "c0ffee" + "0" * 34
ARKINDEX_YML = """
version: 2
workers:
  - slug: demo
    name: Demo
    type: classifier
    docker:
      build: Dockerfile
      command: worker-demo
"""


@pytest.fixture
def repository(user):
    return repository_create(
        user=user, url="https://git.example.com/team/workers", credentials={"username": "ci", "password": PASSWORD}
    )


def import_url(repository):
    return f"/api/v1/process/repos/{repository.id}/import/"


def task_url(process_id):
    return f"/api/v1/process/{process_id}/repository-import/"


def task_client(task):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Ponos {task.token}")
    return client


@pytest.fixture
def started(user_client, repository):
    """A repository process whose import task runs."""
    response = user_client.post(import_url(repository), {"revision": "v1.0"}, format="json")
    assert response.status_code == 201, response.json()
    process = Process.objects.get(pk=response.json()["id"])
    Task.objects.filter(process=process).update(state=TaskState.Running)
    return process


@pytest.fixture
def task(started):
    return Task.objects.get(process=started)


# --- CreateRepositoryImport ----------------------------------------------------------------------


def test_create_import(user, user_client, repository, settings, django_capture_on_commit_callbacks):
    settings.PONOS_REPOSITORY_IMPORT_COMMAND = "import-command"
    settings.PONOS_REPOSITORY_IMPORT_IMAGE = "registry.example.com/import:1"
    with django_capture_on_commit_callbacks(execute=True):
        response = user_client.post(import_url(repository), {"revision": "feature/new-model"}, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["mode"], body["state"], body["activity_state"]) == ("repository", "unscheduled", "disabled")
    assert body["name"] == f"Import of {repository.url} @ feature/new-model"
    (task_body,) = body["tasks"]
    assert (task_body["slug"], task_body["depth"], task_body["parents"]) == ("import", 0, [])
    assert PASSWORD not in response.content.decode()

    process = Process.objects.get(pk=body["id"])
    assert (process.mode, process.corpus, process.creator, process.started is not None) == (
        ProcessMode.Repository,
        None,
        user,
        True,
    )
    assert process.farm == Farm.objects.get(name="default")
    task = process.tasks.get()
    assert (task.command, task.image) == ("import-command", "registry.example.com/import:1")
    assert task.env == {
        "ARKINDEX_PROCESS_ID": str(process.id),
        "ARKINDEX_REPOSITORY_ID": str(repository.id),
        "ARKINDEX_REPOSITORY_REVISION": "feature/new-model",
    }
    assert [job.func_name for job in django_rq.get_queue("default").get_jobs()] == ["ponos.scheduler.schedule_process"]


def test_create_import_of_the_default_branch(user_client, repository):
    response = user_client.post(import_url(repository), {}, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["name"] == f"Import of {repository.url}"
    assert Task.objects.get().env["ARKINDEX_REPOSITORY_REVISION"] == ""


def test_create_import_on_a_farm(user_client, repository):
    farm = Farm.objects.create(name="gpus")
    response = user_client.post(import_url(repository), {"farm_id": str(farm.id)}, format="json")
    assert response.status_code == 201
    assert Process.objects.get().farm == farm


@pytest.mark.parametrize("revision", ["--upload-pack=touch /tmp/x", "a..b", "main.lock", "a b", "branch/", "ré"])
def test_create_import_invalid_revision(user_client, repository, revision):
    response = user_client.post(import_url(repository), {"revision": revision}, format="json")
    assert response.status_code == 400
    assert "Not a Git revision" in response.json()["revision"][0]
    assert not Process.objects.exists()


def test_create_import_of_a_file_url_only_while_allowed(user, user_client, settings):
    settings.REPOSITORIES_ALLOW_FILE_URLS = True
    repository = repository_create(user=user, url="file:///srv/workers")
    assert user_client.post(import_url(repository), {}, format="json").status_code == 201
    settings.REPOSITORIES_ALLOW_FILE_URLS = False
    response = user_client.post(import_url(repository), {}, format="json")
    assert response.status_code == 400
    assert "url" in response.json()
    assert Process.objects.count() == 1


def test_create_import_unknown_farm(user_client, repository):
    response = user_client.post(import_url(repository), {"farm_id": str(Farm().id)}, format="json")
    assert response.status_code == 400
    assert "farm_id" in response.json()


def test_create_import_needs_contributor(repository, other_user, other_client):
    grant(repository, Role.GUEST, user=other_user)
    response = other_client.post(import_url(repository), {}, format="json")
    assert response.status_code == 403
    assert "contributor access" in response.json()["detail"]
    Right.objects.filter(user=other_user).update(level=Role.CONTRIBUTOR)
    assert other_client.post(import_url(repository), {}, format="json").status_code == 201


def test_create_import_hidden_or_missing(repository, other_client, user_client):
    assert other_client.post(import_url(repository), {}, format="json").status_code == 404
    assert user_client.post(f"/api/v1/process/repos/{Farm().id}/import/", {}, format="json").status_code == 404


def test_create_import_not_with_a_task_token(task, repository):
    response = task_client(task).post(import_url(repository), {}, format="json")
    assert response.status_code == 403


def test_repository_process_cannot_be_started_again(user_client, started):
    response = user_client.post(f"/api/v1/process/{started.id}/start/", format="json")
    assert response.status_code == 409


# --- RetrieveProcess and ListProcesses ----------------------------------------------------------


def test_process_shows_its_repository_and_revision(user_client, started, repository, django_assert_num_queries):
    user_client.get(f"/api/v1/process/{started.id}/")
    # Token, process with its relations, state and level: the repository is joined.
    with django_assert_num_queries(2):
        response = user_client.get(f"/api/v1/process/{started.id}/")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["repository"] == {"id": str(repository.id), "url": repository.url}
    assert (body["repository_id"], body["revision"]) == (str(repository.id), "v1.0")
    assert (body["files"], body["folder_type"]) == ([], None)
    assert PASSWORD not in response.content.decode()
    (row,) = user_client.get("/api/v1/process/").json()["results"]
    assert (row["repository_id"], row["revision"]) == (str(repository.id), "v1.0")


def test_process_of_the_default_branch_has_no_revision(user_client, repository):
    process_id = user_client.post(import_url(repository), {}, format="json").json()["id"]
    assert Process.objects.get(pk=process_id).revision is None
    body = user_client.get(f"/api/v1/process/{process_id}/").json()
    assert (body["repository"]["id"], body["revision"]) == (str(repository.id), None)


def test_list_processes_of_a_repository(user, user_client, repository, started):
    other = repository_create(user=user, url="https://git.example.com/team/other")
    other_id = user_client.post(import_url(other), {"revision": "main"}, format="json").json()["id"]

    def ids(query):
        response = user_client.get(f"/api/v1/process/{query}")
        assert response.status_code == 200, response.json()
        return {row["id"] for row in response.json()["results"]}

    assert ids(f"?repository_id={repository.id}") == {str(started.id)}
    assert ids(f"?repository_id={other.id}&mode=repository") == {other_id}
    assert ids(f"?repository_id={Farm().id}") == set()
    assert "repository_id" in user_client.get("/api/v1/process/?repository_id=nope").json()


def test_process_outlives_its_repository(user_client, started, repository):
    repository.delete()
    started.refresh_from_db()
    assert (started.repository, started.revision) == (None, "v1.0")
    body = user_client.get(f"/api/v1/process/{started.id}/").json()
    assert (body["repository"], body["repository_id"], body["revision"]) == (None, None, "v1.0")


def test_migration_copies_repository_and_revision_from_the_task(user, user_client, repository, started):
    from importlib import import_module

    from django.apps import apps

    migration = import_module("processes.migrations.0006_process_repository_revision")
    default_branch_id = user_client.post(import_url(repository), {}, format="json").json()["id"]
    gone = repository_create(user=user, url="https://git.example.com/team/gone")
    gone_id = user_client.post(import_url(gone), {"revision": "main"}, format="json").json()["id"]
    Process.objects.update(repository=None, revision=None)
    gone.delete()

    migration.from_task_environments(apps, None)
    assert {str(process.id): (process.repository_id, process.revision) for process in Process.objects.all()} == {
        str(started.id): (repository.id, "v1.0"),
        default_branch_id: (repository.id, None),
        gone_id: (None, "main"),
    }


# --- RetrieveRepositoryImport --------------------------------------------------------------------


def test_task_reads_its_import(task, repository):
    response = task_client(task).get(task_url(task.process_id))
    assert response.status_code == 200, response.json()
    assert response.json() == {
        "repository_id": str(repository.id),
        "url": repository.url,
        "revision": "v1.0",
        "credentials": {"username": "ci", "password": PASSWORD},
    }


def test_task_reads_an_import_without_credentials(user, user_client):
    repository = repository_create(user=user, url="https://git.example.com/public")
    process_id = user_client.post(import_url(repository), {}, format="json").json()["id"]
    task = Task.objects.get(process_id=process_id)
    Task.objects.filter(pk=task.pk).update(state=TaskState.Running)
    response = task_client(task).get(task_url(process_id))
    assert response.json()["credentials"] is None


def test_people_never_read_the_credentials(started, user_client, superuser_client, other_client):
    response = user_client.get(task_url(started.id))
    assert response.status_code == 403
    assert PASSWORD not in response.content.decode()
    # Another user's repository process is hidden from a person without rights.
    assert other_client.get(task_url(started.id)).status_code == 404
    assert superuser_client.get(task_url(started.id)).status_code == 403
    # Nor through the task's details.
    task = started.tasks.get()
    response = user_client.get(f"/api/v1/task/{task.id}/")
    assert response.status_code == 200
    assert PASSWORD not in response.content.decode()


def test_task_of_another_process(task, user, user_client, repository):
    other_id = user_client.post(import_url(repository), {}, format="json").json()["id"]
    # Hidden from the task, as if it did not exist.
    assert task_client(task).get(task_url(other_id)).status_code == 404


def test_task_of_a_workers_process(user):

    process = ProcessFactory(mode=ProcessMode.Workers, corpus=CorpusFactory(name="C"), creator=user)
    task = TaskFactory(process=process, slug="initialisation", state=TaskState.Running)
    response = task_client(task).get(task_url(process.id))
    # Reading an import is none of the operations of a workers process's tasks.
    assert response.status_code == 403


def test_repository_deleted_since(task, repository):
    repository.delete()
    assert task_client(task).get(task_url(task.process_id)).status_code == 404


def test_ended_task_reads_nothing(task):
    Task.objects.filter(pk=task.pk).update(state=TaskState.Completed)
    assert task_client(task).get(task_url(task.process_id)).status_code == 401


# --- ImportRepositoryWorkerVersions --------------------------------------------------------------


def publish(task, yaml=ARKINDEX_YML, **fields):
    body = {"yaml": yaml, "commit_hash": COMMIT, "branch": None, "tag": "v1.0", **fields}
    return task_client(task).post(task_url(task.process_id), body, format="json")


def test_publish_version_2(task, repository, user):
    response = publish(task)
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["version"], body["stopped"]) == (2, False)
    assert body["detail"] == "1 worker version(s) imported, 0 already imported."
    (item,) = body["worker_versions"]
    assert item["created"] is True
    version = WorkerVersion.objects.get()
    assert item["worker_version"]["id"] == str(version.id)
    assert (version.worker.slug, version.worker.repository_url, version.tag) == ("demo", repository.url, "v1.0")
    assert version.revision_url == f"{repository.url}/commit/{COMMIT}"
    assert version.worker.creator == user

    again = publish(task)
    assert again.status_code == 201
    assert again.json()["worker_versions"][0]["created"] is False
    assert WorkerVersion.objects.count() == 1


def test_publish_version_3_stops_the_process(task, django_capture_on_commit_callbacks):
    response = publish(task, yaml="version: 3\nworkers:\n  - slug: demo\n    name: Demo\n")
    assert response.status_code == 200, response.json()
    assert response.json()["stopped"] is True
    assert "version 3" in response.json()["detail"]
    assert response.json()["worker_versions"] == []
    assert not Worker.objects.exists()
    task.refresh_from_db()
    assert task.state == TaskState.Stopping
    # Its agent then sets it stopped: the process ends stopped, and nobody gets an email.
    with django_capture_on_commit_callbacks(execute=True):
        task.state = TaskState.Stopping
        assert services.set_task_state(task, TaskState.Stopped)
    process = Process.objects.get(pk=task.process_id)
    assert process.state == ProcessState.Stopped
    assert process.finished is not None
    for job in django_rq.get_queue("default").get_jobs():
        job.perform()
    assert mail.outbox == []


def test_publish_invalid_yaml(task):
    response = publish(task, yaml="version: 2\nworkers:\n  - slug: demo\n    name: Demo\n")
    assert response.status_code == 400
    assert response.json() == {
        "yaml": ["workers.0.docker: Required field missing", "workers.0.type: Required field missing"]
    }
    assert not Worker.objects.exists()


@pytest.mark.parametrize(
    "fields, error",
    [({"commit_hash": "main"}, "commit_hash"), ({"tag": "t" * 51}, "tag"), ({"yaml": None}, "yaml")],
)
def test_publish_invalid_body(task, fields, error):
    response = publish(task, **fields)
    assert response.status_code == 400
    assert error in response.json()


def test_publish_while_stopping(task):
    Task.objects.filter(pk=task.pk).update(state=TaskState.Stopping)
    response = publish(task)
    assert response.status_code == 409
    assert not Worker.objects.exists()


def test_publish_after_the_creator_lost_access(task, repository, user):
    Right.objects.filter(object_id=repository.id, user=user).update(level=Role.GUEST)
    response = publish(task)
    assert response.status_code == 403
    assert "no longer a contributor" in response.json()["detail"]
    assert not Worker.objects.exists()


def test_people_cannot_publish(started, user_client):
    response = user_client.post(task_url(started.id), {"yaml": ARKINDEX_YML, "commit_hash": COMMIT}, format="json")
    assert response.status_code == 403
    assert not Worker.objects.exists()


# --- RetryProcess --------------------------------------------------------------------------------


def test_retry_recreates_only_the_import_task(task, user_client):
    Task.objects.filter(pk=task.pk).update(state=TaskState.Failed)
    assert services.refresh_process(task.process_id)
    response = user_client.post(f"/api/v1/process/{task.process_id}/retry/")
    assert response.status_code == 200, response.json()
    (retried,) = Task.objects.filter(process_id=task.process_id, run=1)
    assert (retried.slug, retried.depth, retried.command, retried.env) == ("import", 0, task.command, task.env)
    assert retried.token != task.token
    assert Task.objects.filter(process_id=task.process_id).count() == 2
