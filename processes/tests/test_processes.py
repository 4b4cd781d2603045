"""Process objects: CreateProcess, RetrieveProcess, PartialUpdateProcess, DestroyProcess and ListProcesses."""

from datetime import timedelta

import django_rq
import pytest
from django.db import IntegrityError
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient
from rq import SimpleWorker

from arkindex.models import Job, JobState
from documents.models import Corpus, Element
from documents.tests.factories import CorpusFactory, ElementFactory, ElementTypeFactory
from ponos.models import Farm, Task, TaskState
from ponos.tests.factories import make_task
from processes import services
from processes.models import ActivityState, Process, ProcessMode, WorkerRun
from processes.signals import process_deleting
from processes.tests.factories import ProcessFactory, WorkerRunFactory
from users.models import Right, Role
from users.tests.factories import grant
from workers.models import Repository
from workers.tests.factories import WorkerVersionFactory, assert_list_queries

LIST_URL = "/api/v1/process/"


def create_url(corpus):
    return f"/api/v1/process/corpus/{corpus.id}/"


def detail_url(process):
    return f"/api/v1/process/{process.id}/"


def run_jobs():
    """Run what is queued in this process: the jobs see the test's transaction."""
    django_rq.get_worker("default", worker_class=SimpleWorker).work(burst=True)


@pytest.fixture
def other_corpus():
    return CorpusFactory(name="Other corpus")


@pytest.fixture
def types(corpus):
    return {
        "folder": ElementTypeFactory(corpus=corpus, slug="folder", display_name="Folder", folder=True),
        "page": ElementTypeFactory(corpus=corpus, slug="page", display_name="Page"),
    }


@pytest.fixture
def folder(corpus, types):
    return ElementFactory(corpus=corpus, type=types["folder"], name="Volume 1")


@pytest.fixture
def page(corpus, types, folder):
    return ElementFactory(corpus=corpus, type=types["page"], name="Page 1", parent=folder)


@pytest.fixture
def farm():
    return Farm.objects.create(name="GPU farm")


@pytest.fixture
def process(corpus, user):
    return ProcessFactory(corpus=corpus, creator=user, mode=ProcessMode.Workers, name="My process")


def start(process, *states, finished=None, started=None):
    """Give `process` tasks in `states` and a start date, as StartProcess and the scheduler would."""
    process.started = started or timezone.now() - timedelta(minutes=10)
    process.finished = finished
    process.save()
    for index, state in enumerate(states):
        make_task(process, f"task-{index}", state)
    return process


# CreateProcess


def test_create_minimal(user_client, user, corpus):
    response = user_client.post(create_url(corpus), {}, format="json")
    assert response.status_code == 201, response.json()
    data = response.json()
    process = Process.objects.get(id=data["id"])
    assert process.corpus == corpus
    assert process.creator == user
    assert process.mode == ProcessMode.Workers
    assert data == {
        "id": str(process.id),
        "name": None,
        "mode": "workers",
        "state": "unscheduled",
        "corpus": str(corpus.id),
        "creator": {"id": user.id, "email": user.email, "display_name": user.display_name},
        "created": data["created"],
        "started": None,
        "finished": None,
        "duration": None,
        "repository_id": None,
        "revision": None,
        "element": None,
        "element_type": None,
        "name_contains": None,
        "load_children": False,
        "use_selection": False,
        "has_element_list": False,
        "farm": None,
        "template_id": None,
        "model_id": None,
        "train_folder_id": None,
        "validation_folder_id": None,
        "test_folder_id": None,
        "activity_state": "disabled",
        "use_cache": False,
        "use_gpu": False,
        "chunks": 1,
        "skip_elements_json": False,
        "can_edit": True,
        "can_delete": True,
        "repository": None,
        "files": [],
        "folder_type": None,
    }


def test_create_with_filters_and_options(user_client, corpus, folder, types, farm):
    body = {
        "name": "  Pages of volume 1 ",
        "mode": "workers",
        "element_id": str(folder.id),
        "element_type": "page",
        "name_contains": "Page",
        "load_children": True,
        "chunks": 3,
        "farm_id": str(farm.id),
        "use_cache": True,
        "use_gpu": True,
        "activity_state": "pending",
        "skip_elements_json": True,
    }
    response = user_client.post(create_url(corpus), body, format="json")
    assert response.status_code == 201, response.json()
    data = response.json()
    assert data["name"] == "Pages of volume 1"
    assert data["element"] == {"id": str(folder.id), "name": "Volume 1", "type": "folder"}
    assert data["element_type"] == "page"
    assert data["name_contains"] == "Page"
    assert data["load_children"] is True
    assert data["chunks"] == 3
    assert data["farm"] == {"id": str(farm.id), "name": "GPU farm"}
    assert data["activity_state"] == "pending"
    assert data["skip_elements_json"] is True
    assert (data["use_cache"], data["use_gpu"]) == (True, True)
    process = Process.objects.get(id=data["id"])
    assert process.element_type == types["page"]
    assert process.activity_state == ActivityState.Pending


def test_create_with_element_list(user_client, corpus, folder, page):
    ids = [str(page.id), str(folder.id), str(page.id)]
    response = user_client.post(create_url(corpus), {"element_ids": ids, "load_children": True}, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["has_element_list"] is True
    process = Process.objects.get(id=response.json()["id"])
    assert set(process.elements.values_list("id", flat=True)) == {folder.id, page.id}


@pytest.mark.parametrize("mode", ["dataset", "template"])
def test_create_other_modes(user_client, corpus, mode):
    response = user_client.post(create_url(corpus), {"mode": mode, "name": "Other"}, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["mode"] == mode


@pytest.mark.parametrize("mode", ["local", "repository", "files", "s3", "export"])
def test_create_imported_modes(user_client, corpus, mode):
    response = user_client.post(create_url(corpus), {"mode": mode}, format="json")
    assert response.status_code == 400
    assert "created by their own imports" in response.json()["mode"][0]
    assert not Process.objects.filter(corpus=corpus).exists()


def test_create_unknown_mode(user_client, corpus):
    response = user_client.post(create_url(corpus), {"mode": "magic"}, format="json")
    assert response.status_code == 400
    assert "mode" in response.json()


@pytest.mark.parametrize(
    "body",
    [
        {"element_type": "page"},
        {"name_contains": "Page"},
        {"load_children": True},
        {"use_selection": True},
    ],
)
@pytest.mark.parametrize("mode", ["dataset", "template"])
def test_create_filters_only_on_workers(user_client, corpus, types, mode, body):
    response = user_client.post(create_url(corpus), {"mode": mode, **body}, format="json")
    assert response.status_code == 400
    (field,) = body
    assert "only apply to workers processes" in response.json()[field][0]


def test_create_folder_and_list_on_dataset(user_client, corpus, folder, page):
    body = {"mode": "dataset", "element_id": str(folder.id), "element_ids": [str(page.id)]}
    response = user_client.post(create_url(corpus), body, format="json")
    assert response.status_code == 400
    assert set(response.json()) == {"element_id", "element_ids"}


def test_create_list_exclusive(user_client, corpus, folder, page):
    body = {"element_id": str(folder.id), "use_selection": True, "element_ids": [str(page.id)]}
    response = user_client.post(create_url(corpus), body, format="json")
    assert response.status_code == 400
    errors = response.json()
    assert len(errors["element_ids"]) == 2
    assert "element_id" in errors["element_ids"][0]
    assert "use_selection" in errors["element_ids"][1]
    assert "not both" in errors["use_selection"][0]


def test_create_foreign_elements(user_client, corpus, other_corpus, page):
    other_type = ElementTypeFactory(corpus=other_corpus, slug="page", display_name="Page")
    foreign = ElementFactory(corpus=other_corpus, type=other_type, name="Elsewhere")
    unknown = "00000000-0000-4000-8000-000000000000"
    body = {"element_ids": [str(page.id), str(foreign.id), unknown]}
    response = user_client.post(create_url(corpus), body, format="json")
    assert response.status_code == 400
    (message,) = response.json()["element_ids"]
    assert message.startswith("2 of these elements are not in corpus Private corpus")
    assert str(foreign.id) in message and unknown in message and str(page.id) not in message


def test_create_foreign_elements_named_up_to_a_limit(user_client, corpus):
    ids = [f"00000000-0000-4000-8000-{index:012d}" for index in range(25)]
    response = user_client.post(create_url(corpus), {"element_ids": ids}, format="json")
    assert response.status_code == 400
    assert "and 5 more" in response.json()["element_ids"][0]


def test_create_folder_checks(user_client, corpus, other_corpus, page):
    response = user_client.post(create_url(corpus), {"element_id": str(page.id)}, format="json")
    assert response.status_code == 400
    assert "is a Page, not a folder" in response.json()["element_id"][0]

    other_type = ElementTypeFactory(corpus=other_corpus, slug="folder", display_name="Folder", folder=True)
    foreign = ElementFactory(corpus=other_corpus, type=other_type, name="Elsewhere")
    response = user_client.post(create_url(corpus), {"element_id": str(foreign.id)}, format="json")
    assert response.status_code == 400
    assert response.json()["element_id"] == [f"No element {foreign.id} in corpus Private corpus."]


def test_create_unknown_type_and_farm(user_client, corpus, types):
    unknown = "00000000-0000-4000-8000-000000000000"
    response = user_client.post(create_url(corpus), {"element_type": "line", "farm_id": unknown}, format="json")
    assert response.status_code == 400
    assert response.json() == {
        "element_type": ["No element type with slug 'line' in corpus Private corpus."],
        "farm_id": [f"No farm {unknown}."],
    }


@pytest.mark.parametrize("chunks", [0, 21, -1])
def test_create_chunks_range(user_client, corpus, chunks):
    response = user_client.post(create_url(corpus), {"chunks": chunks}, format="json")
    assert response.status_code == 400
    assert "chunks" in response.json()


def test_create_chunks_setting(user_client, corpus, settings):
    settings.MAX_CHUNKS = 3
    response = user_client.post(create_url(corpus), {"chunks": 4}, format="json")
    assert response.status_code == 400
    assert response.json()["chunks"] == ["Ensure this value is less than or equal to 3."]
    assert user_client.post(create_url(corpus), {"chunks": 3}, format="json").status_code == 201


@pytest.mark.parametrize("state", ["ready", "error"])
def test_create_activity_state_chosen(user_client, corpus, state):
    response = user_client.post(create_url(corpus), {"activity_state": state}, format="json")
    assert response.status_code == 400
    assert "choose disabled or pending" in response.json()["activity_state"][0]


def test_create_activities_only_on_workers(user_client, corpus):
    response = user_client.post(create_url(corpus), {"mode": "dataset", "activity_state": "pending"}, format="json")
    assert response.status_code == 400
    assert "only tracked on workers processes" in response.json()["activity_state"][0]


def test_create_skip_elements_json_needs_activities(user_client, corpus):
    response = user_client.post(create_url(corpus), {"skip_elements_json": True}, format="json")
    assert response.status_code == 400
    assert "set activity_state to pending" in response.json()["skip_elements_json"][0]


def test_create_rights(user_client, other_client, other_user, corpus, anonymous_client):
    assert other_client.post(create_url(corpus), {}, format="json").status_code == 404
    grant(corpus, Role.GUEST, user=other_user)
    response = other_client.post(create_url(corpus), {}, format="json")
    assert response.status_code == 403
    assert "contributor" in response.json()["detail"]
    assert anonymous_client.post(create_url(corpus), {}, format="json").status_code in (401, 403)
    missing = Corpus(id="00000000-0000-4000-8000-000000000000")
    assert user_client.post(create_url(missing), {}, format="json").status_code == 404
    assert not Process.objects.exists()


# RetrieveProcess


def test_retrieve_as_guest(other_client, other_user, process, folder, types, django_assert_num_queries):
    grant(process.corpus, Role.GUEST, user=other_user)
    process.element = folder
    process.element_type = types["page"]
    process.save()
    other_client.get(detail_url(process))
    # Token, process with its relations, state and level.
    with django_assert_num_queries(2):
        response = other_client.get(detail_url(process))
    assert response.status_code == 200
    data = response.json()
    assert data["element"] == {"id": str(folder.id), "name": "Volume 1", "type": "folder"}
    assert data["element_type"] == "page"
    assert data["name"] == "My process"
    assert (data["can_edit"], data["can_delete"]) == (False, False)
    # Neither a repository nor a file import.
    assert (data["repository"], data["repository_id"], data["revision"]) == (None, None, None)
    assert (data["files"], data["folder_type"]) == ([], None)


def test_retrieve_hidden(other_client, process, user):
    assert other_client.get(detail_url(process)).status_code == 404
    local = services.local_process(user)
    assert other_client.get(detail_url(local)).status_code == 404


def test_retrieve_own_local(user_client, user):
    local = services.local_process(user)
    response = user_client.get(detail_url(local))
    assert response.status_code == 200
    assert response.json()["mode"] == "local"


# PartialUpdateProcess


def test_update(user_client, process, folder, farm):
    body = {"name": "Renamed", "element_id": str(folder.id), "chunks": 4, "farm_id": str(farm.id), "use_gpu": True}
    response = user_client.patch(detail_url(process), body, format="json")
    assert response.status_code == 200, response.json()
    data = response.json()
    assert data["name"] == "Renamed"
    assert data["element"]["id"] == str(folder.id)
    assert (data["chunks"], data["farm"]["id"], data["use_gpu"]) == (4, str(farm.id), True)
    process.refresh_from_db()
    assert (process.element_id, process.chunks, process.farm_id) == (folder.id, 4, farm.id)

    response = user_client.patch(detail_url(process), {"element_id": None, "farm_id": None}, format="json")
    assert response.status_code == 200
    assert (response.json()["element"], response.json()["farm"]) == (None, None)


def test_update_checks_whole_configuration(user_client, process, folder, page):
    process.element = folder
    process.save()
    response = user_client.patch(detail_url(process), {"element_ids": [str(page.id)]}, format="json")
    assert response.status_code == 400
    assert "set element_id to null" in response.json()["element_ids"][0]
    assert not process.elements.exists()

    body = {"element_ids": [str(page.id)], "element_id": None}
    response = user_client.patch(detail_url(process), body, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["has_element_list"] is True
    assert list(process.elements.values_list("id", flat=True)) == [page.id]

    # Now the list is there: turning the selection on is refused, a new list replaces the old one.
    response = user_client.patch(detail_url(process), {"use_selection": True}, format="json")
    assert response.status_code == 400
    assert "use_selection" in response.json()["element_ids"][0]
    response = user_client.patch(detail_url(process), {"element_ids": [str(folder.id)]}, format="json")
    assert response.status_code == 200
    assert list(process.elements.values_list("id", flat=True)) == [folder.id]
    response = user_client.patch(detail_url(process), {"element_ids": []}, format="json")
    assert response.json()["has_element_list"] is False
    assert not process.elements.exists()


def test_update_activities(user_client, process):
    response = user_client.patch(detail_url(process), {"skip_elements_json": True}, format="json")
    assert response.status_code == 400
    body = {"skip_elements_json": True, "activity_state": "pending"}
    assert user_client.patch(detail_url(process), body, format="json").status_code == 200
    # Turning activities off alone would leave workers without elements.
    response = user_client.patch(detail_url(process), {"activity_state": "disabled"}, format="json")
    assert response.status_code == 400
    assert "skip_elements_json" in response.json()


def test_update_mode_refused(user_client, process):
    response = user_client.patch(detail_url(process), {"mode": "dataset"}, format="json")
    assert response.status_code == 400
    assert "cannot change" in response.json()["mode"][0]


def test_update_filters_of_dataset(user_client, corpus, user):
    dataset = ProcessFactory(corpus=corpus, creator=user, mode=ProcessMode.Dataset)
    response = user_client.patch(detail_url(dataset), {"name_contains": "x"}, format="json")
    assert response.status_code == 400
    assert "dataset process" in response.json()["name_contains"][0]


def test_update_after_start(user_client, process):
    start(process, TaskState.Completed, finished=timezone.now())
    response = user_client.patch(detail_url(process), {"name": "Still renamable"}, format="json")
    assert response.status_code == 200
    assert response.json()["name"] == "Still renamable"

    response = user_client.patch(detail_url(process), {"name": "Again", "chunks": 2, "use_gpu": True}, format="json")
    assert response.status_code == 409
    detail = response.json()["errors"][0]["detail"]
    assert "has started" in detail and "chunks, use_gpu" in detail
    # The state conflict wins over a bad value.
    assert user_client.patch(detail_url(process), {"chunks": 0}, format="json").status_code == 409
    process.refresh_from_db()
    assert (process.name, process.chunks) == ("Still renamable", 1)


def test_update_rights(other_client, other_user, process):
    assert other_client.patch(detail_url(process), {"name": "x"}, format="json").status_code == 404
    grant(process.corpus, Role.GUEST, user=other_user)
    response = other_client.patch(detail_url(process), {"name": "x"}, format="json")
    assert response.status_code == 403
    Right.objects.filter(user=other_user).update(level=Role.CONTRIBUTOR)
    assert other_client.patch(detail_url(process), {"name": "x"}, format="json").status_code == 200


# DestroyProcess


def test_destroy(user_client, user, process, page, django_capture_on_commit_callbacks):
    process.elements.set([page])
    run = WorkerRunFactory(process=process, version=WorkerVersionFactory())
    applied = ProcessFactory(corpus=process.corpus, creator=user, mode=ProcessMode.Workers, template=process)
    start(process, TaskState.Completed, TaskState.Failed, finished=timezone.now())

    with django_capture_on_commit_callbacks(execute=True):
        response = user_client.delete(detail_url(process))
    assert response.status_code == 204
    # Hidden at once, deleted by the job.
    assert Process.objects.filter(id=process.id).exists()
    assert user_client.get(detail_url(process)).status_code == 404
    assert str(process.id) not in {row["id"] for row in user_client.get(LIST_URL).json()["results"]}
    assert user_client.delete(detail_url(process)).status_code == 404

    run_jobs()
    assert not Process.objects.filter(id=process.id).exists()
    assert not WorkerRun.objects.filter(id=run.id).exists()
    assert not Task.objects.filter(process_id=process.id).exists()
    assert not Process.elements.through.objects.filter(process_id=process.id).exists()
    applied.refresh_from_db()
    assert applied.template_id is None
    assert Element.objects.filter(id=page.id).exists()
    job = Job.objects.get()
    assert (job.state, job.description, job.user) == (JobState.Done, f"Delete process {process.name}", user)


def test_destroy_calls_hooks_first(user_client, process, request, django_capture_on_commit_callbacks):
    calls = []

    def hook(sender, cursor, process_id, **kwargs):
        cursor.execute("SELECT COUNT(*) FROM processes_workerrun WHERE process_id = %s", [process_id])
        calls.append((process_id, cursor.fetchone()[0]))

    WorkerRunFactory(process=process, version=WorkerVersionFactory())
    process_deleting.connect(hook, sender=Process)
    request.addfinalizer(lambda: process_deleting.disconnect(hook, sender=Process))
    with django_capture_on_commit_callbacks(execute=True):
        assert user_client.delete(detail_url(process)).status_code == 204
    # In this process: the burst worker would run the job in a fork, out of reach of `calls`.
    services.process_delete(process_id=process.id)
    # Called with the worker runs still there.
    assert calls == [(str(process.id), 1)]


@pytest.mark.parametrize("state", [TaskState.Running, TaskState.Pending, TaskState.Unscheduled, TaskState.Stopping])
def test_destroy_running(user_client, process, state):
    start(process, TaskState.Completed, state)
    response = user_client.delete(detail_url(process))
    assert response.status_code == 409
    assert "stop it, or wait until it ends" in response.json()["errors"][0]["detail"]
    assert len(django_rq.get_queue("default").jobs) == 0


def test_destroy_with_results(user_client, process, corpus, types):
    run = WorkerRunFactory(process=process, version=WorkerVersionFactory())
    Element.objects.create(corpus=corpus, type=types["page"], name="Made by a worker", worker_run=run)
    response = user_client.delete(detail_url(process))
    assert response.status_code == 409
    assert "signed elements" in response.json()["errors"][0]["detail"]
    assert user_client.get(detail_url(process)).status_code == 200


def test_destroy_job_rolls_back(user_client, process, corpus, types, settings, django_capture_on_commit_callbacks):
    """
    Results signed after the check make the job fail as a whole, attempt after attempt; once it
    failed for good, the process comes back and its user reads why.
    """
    settings.JOB_MAX_ATTEMPTS = 1
    run = WorkerRunFactory(process=process, version=WorkerVersionFactory())
    with django_capture_on_commit_callbacks(execute=True):
        assert user_client.delete(detail_url(process)).status_code == 204
    Element.objects.create(corpus=corpus, type=types["page"], name="Late result", worker_run=run)
    with pytest.raises(IntegrityError):
        services.process_delete(process_id=process.id)
    assert user_client.get(detail_url(process)).status_code == 404

    run_jobs()
    assert WorkerRun.objects.filter(id=run.id).exists()
    assert user_client.get(detail_url(process)).status_code == 200
    (job,) = user_client.get("/api/v1/jobs/").json()["results"]
    assert job["state"] == JobState.Failed
    assert job["last_error"].startswith("IntegrityError")


def test_destroy_job_idempotent(process):
    assert services.process_delete(process_id=process.id) is True
    assert services.process_delete(process_id=process.id) is False


def test_destroy_job_refuses_running(process):
    start(process, TaskState.Running)
    with pytest.raises(RuntimeError, match="stop it before deleting it"):
        services.process_delete(process_id=process.id)
    assert Process.objects.filter(id=process.id).exists()


def test_destroy_rights(
    other_client, other_user, user_client, user, corpus, make_user, django_capture_on_commit_callbacks
):
    theirs = ProcessFactory(corpus=corpus, creator=other_user, mode=ProcessMode.Workers)
    mine = ProcessFactory(corpus=corpus, creator=user, mode=ProcessMode.Workers)
    assert other_client.delete(detail_url(mine)).status_code == 404
    grant(corpus, Role.GUEST, user=other_user)
    # The creator needs to be a contributor; a contributor cannot delete another's process.
    assert other_client.delete(detail_url(theirs)).status_code == 403
    response = user_client.delete(detail_url(theirs))
    assert response.status_code == 403
    assert "Only admins of the corpus" in response.json()["detail"]
    Right.objects.filter(user=other_user).update(level=Role.CONTRIBUTOR)
    with django_capture_on_commit_callbacks(execute=True):
        assert other_client.delete(detail_url(theirs)).status_code == 204
    Right.objects.filter(user=user).update(level=Role.ADMIN)
    with django_capture_on_commit_callbacks(execute=True):
        assert user_client.delete(detail_url(mine)).status_code == 204
    run_jobs()
    assert not Process.objects.filter(id__in=[theirs.id, mine.id]).exists()


# ListProcesses


def list_ids(client, query=""):
    response = client.get(LIST_URL + query)
    assert response.status_code == 200, response.json()
    return [row["id"] for row in response.json()["results"]]


def test_list_visibility(user_client, user, other_user, corpus, other_corpus, superuser_client):
    visible = ProcessFactory(corpus=corpus, creator=other_user, mode=ProcessMode.Workers)
    ProcessFactory(corpus=other_corpus, creator=other_user, mode=ProcessMode.Workers)
    public = CorpusFactory(name="Public", public=True)
    on_public = ProcessFactory(corpus=public, creator=other_user, mode=ProcessMode.Template)
    own_local = services.local_process(user)
    other_local = services.local_process(other_user)
    own_repository = ProcessFactory(creator=user, mode=ProcessMode.Repository)
    other_repository = ProcessFactory(creator=other_user, mode=ProcessMode.Repository)

    assert set(list_ids(user_client)) == {str(p.id) for p in (visible, on_public, own_local, own_repository)}
    admin_ids = set(list_ids(superuser_client))
    assert str(other_repository.id) in admin_ids
    assert str(other_local.id) not in admin_ids


def test_list_rows(user_client, user, corpus):
    old = ProcessFactory(corpus=corpus, creator=user, mode=ProcessMode.Workers, name="Old")
    Process.objects.filter(id=old.id).update(created=timezone.now() - timedelta(days=1))
    new = ProcessFactory(corpus=corpus, creator=user, mode=ProcessMode.Dataset, name="New")
    response = user_client.get(LIST_URL)
    data = response.json()
    assert data["count"] == 2 and data["number"] == 1
    assert [row["id"] for row in data["results"]] == [str(new.id), str(old.id)]
    assert data["results"][0] == {
        "id": str(new.id),
        "name": "New",
        "mode": "dataset",
        "state": "unscheduled",
        "corpus": str(corpus.id),
        "creator": {"id": user.id, "email": user.email, "display_name": user.display_name},
        "created": data["results"][0]["created"],
        "started": None,
        "finished": None,
        "duration": None,
        "repository_id": None,
        "revision": None,
    }


def test_list_duration(user_client, user, corpus):
    now = timezone.now()
    start(
        ProcessFactory(corpus=corpus, creator=user, mode=ProcessMode.Workers, name="finished"),
        TaskState.Completed,
        started=now - timedelta(minutes=5),
        finished=now - timedelta(minutes=2),
    )
    start(
        ProcessFactory(corpus=corpus, creator=user, mode=ProcessMode.Workers, name="running"),
        TaskState.Completed,
        TaskState.Running,
        started=now - timedelta(minutes=10),
    )
    # Ended, but `finished` was never set: no duration to make up.
    start(
        ProcessFactory(corpus=corpus, creator=user, mode=ProcessMode.Workers, name="ended"),
        TaskState.Failed,
        started=now - timedelta(minutes=10),
    )
    rows = {row["name"]: row for row in user_client.get(LIST_URL).json()["results"]}
    assert rows["finished"]["duration"] == pytest.approx(180.0)
    assert rows["finished"]["state"] == "completed"
    assert rows["running"]["state"] == "running"
    assert 600.0 <= rows["running"]["duration"] < 660.0
    assert rows["ended"]["duration"] is None


def test_list_filters(user_client, user, other_user, corpus, other_corpus):
    grant(other_corpus, Role.GUEST, user=user)
    configured = ProcessFactory(corpus=corpus, creator=user, mode=ProcessMode.Workers, name="Configured")
    running = start(
        ProcessFactory(corpus=corpus, creator=other_user, mode=ProcessMode.Workers, name="Running OCR"),
        TaskState.Running,
    )
    failed = start(
        ProcessFactory(corpus=other_corpus, creator=other_user, mode=ProcessMode.Dataset, name="Training"),
        TaskState.Failed,
        finished=timezone.now(),
    )
    template = ProcessFactory(corpus=corpus, creator=user, mode=ProcessMode.Template, name="ocr template")

    def ids(query):
        return set(list_ids(user_client, query))

    assert ids("?mode=workers") == {str(configured.id), str(running.id)}
    assert ids("?mode=template") == {str(template.id)}
    assert ids("?state=running") == {str(running.id)}
    assert ids("?state=failed") == {str(failed.id)}
    assert ids("?state=unscheduled") == {str(configured.id), str(template.id)}
    assert ids("?name=ocr") == {str(running.id), str(template.id)}
    assert ids(f"?creator={other_user.id}") == {str(running.id), str(failed.id)}
    assert ids("?created_by_me=true") == {str(configured.id), str(template.id)}
    assert ids("?created_by_me=False") == {str(running.id), str(failed.id)}
    assert ids(f"?corpus={other_corpus.id}") == {str(failed.id)}
    assert ids("?started=true") == {str(running.id), str(failed.id)}
    assert ids("?started=false") == {str(configured.id), str(template.id)}
    assert ids(f"?started=true&corpus={corpus.id}&state=running") == {str(running.id)}


def test_list_filter_on_repository(user_client, user, corpus):
    repository = Repository.objects.create(url="https://git.example.com/team/workers", creator=user)
    imported = ProcessFactory(creator=user, mode=ProcessMode.Repository, repository=repository, revision="v2")
    ProcessFactory(creator=user, mode=ProcessMode.Repository)
    ProcessFactory(corpus=corpus, creator=user, mode=ProcessMode.Workers)
    response = user_client.get(f"{LIST_URL}?repository_id={repository.id}")
    assert response.status_code == 200, response.json()
    (row,) = response.json()["results"]
    assert (row["id"], row["repository_id"], row["revision"]) == (str(imported.id), str(repository.id), "v2")


@pytest.mark.parametrize(
    "query", ["?state=done", "?mode=magic", "?started=maybe", "?corpus=nope", "?creator=me", "?repository_id=nope"]
)
def test_list_bad_filters(user_client, query):
    response = user_client.get(LIST_URL + query)
    assert response.status_code == 400
    assert set(response.json()) & {"state", "mode", "started", "corpus", "creator", "repository_id"}


def test_list_anonymous(anonymous_client):
    assert anonymous_client.get(LIST_URL).status_code in (401, 403)


def test_list_queries(user_client, user, other_user, corpus, django_assert_num_queries):
    for index in range(6):
        process = ProcessFactory(
            corpus=corpus, creator=other_user if index % 2 else user, mode=ProcessMode.Workers, name=f"P{index}"
        )
        if index % 3 == 0:
            start(process, TaskState.Completed, TaskState.Running)
    # Token, count, page (with states and creators).
    assert_list_queries(user_client, LIST_URL, 3, django_assert_num_queries)
    assert_list_queries(user_client, LIST_URL + "?state=running&started=true", 3, django_assert_num_queries, (1, 2))


# Admin


@pytest.fixture
def admin_site(superuser):
    client = Client()
    client.force_login(superuser)
    return client


def test_admin_changelist_and_change_page(admin_site, process, page, farm):
    process.elements.set([page])
    start(process, TaskState.Running)
    changelist = reverse("admin:processes_process_changelist")
    for params in (
        {"q": "My process"},
        {"q": process.creator.email},
        {"q": str(process.id)[:8]},
        {"farm__id__exact": farm.id},
    ):
        assert admin_site.get(changelist, params).status_code == 200
    response = admin_site.get(changelist, {"mode__exact": "workers", "activity_state__exact": "disabled"})
    assert b"My process" in response.content and b"running" in response.content
    response = admin_site.get(reverse("admin:processes_process_change", args=[process.id]))
    assert response.status_code == 200
    # Raw ids: the page lists no element of the corpus, and the explicit list shows as ids.
    assert b'<option value="%s"' % str(page.id).encode() not in response.content
    assert str(page.id).encode() in response.content


def test_admin_delete_in_background(admin_site, process, user, corpus, django_capture_on_commit_callbacks):
    running = start(ProcessFactory(corpus=corpus, creator=user, mode=ProcessMode.Workers), TaskState.Running)
    changelist = reverse("admin:processes_process_changelist")
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_site.post(
            changelist,
            {"action": "delete_in_background", "_selected_action": [str(process.id), str(running.id)]},
            follow=True,
        )
    assert response.status_code == 200
    text = response.content.decode()
    assert "1 process(es) will be deleted in the background." in text
    assert "stop it, or wait until it ends" in text
    run_jobs()
    assert not Process.objects.filter(id=process.id).exists()
    assert Process.objects.filter(id=running.id).exists()


# Tasks


def test_task_token_reads_its_process_only(user, corpus, process):
    task = make_task(process, "worker", TaskState.Running)
    other = ProcessFactory(corpus=corpus, creator=user, mode=ProcessMode.Workers)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Ponos {task.token}")
    # A task reads its own process (the initialisation task reads its chunks); listing is for people.
    assert client.get(LIST_URL).status_code == 403
    assert client.get(detail_url(process)).status_code == 200
    assert client.get(detail_url(other)).status_code == 404
    assert client.patch(detail_url(process), {"name": "x"}, format="json").status_code == 403
    assert client.delete(detail_url(process)).status_code == 403
    assert client.post(create_url(corpus), {}, format="json").status_code == 403


def test_process_serializer_refuses_a_query_per_process(process):
    """Without the `file_ids` the views read with the process, serialising it is an error, not a query."""
    from django.core.exceptions import ImproperlyConfigured

    from processes.api.process_serializers import ProcessSerializer

    with pytest.raises(ImproperlyConfigured, match="file_ids"):
        ProcessSerializer(Process.objects.get(pk=process.pk)).data  # noqa: B018
