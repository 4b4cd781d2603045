"""
The task API: RetrieveTask, PartialUpdateTask (stop), the task's own view of itself
(RetrieveTaskFromAgent / PartialUpdateTaskFromAgent), RestartTask and the task log.
"""

# The fixtures imported from task_fixtures are redefined as test arguments, as pytest intends.
# ruff: noqa: F811

import uuid

import django_rq
import pytest
from django.utils import timezone

from arkindex.rq import DEFAULT_QUEUE
from ponos import logs
from ponos.models import GPU, TaskState
from ponos.tests.factories import make_task
from ponos.tests.task_fixtures import (  # noqa: F401 (fixtures)
    agent,
    guest,
    guest_client,
    media_root,
    other_process,
    process,
    task,
)
from processes.models import Process
from tests.tokens import task_client, token_client

pytestmark = pytest.mark.django_db

TASK_FIELDS = {
    "id",
    "process_id",
    "run",
    "depth",
    "slug",
    "state",
    "parents",
    "worker_run_id",
    "chunk",
    "agent_id",
    "gpu_id",
    "requires_gpu",
    "shm_size",
    "image",
    "command",
    "env",
    "attempt",
    "started",
    "finished",
    "created",
    "updated",
}


def scheduler_jobs():
    """The scheduler jobs waiting on the default queue, as the process IDs they were given."""
    queue = django_rq.get_queue(DEFAULT_QUEUE)
    return [job.args[0] for job in queue.get_jobs() if job.func_name == "ponos.scheduler.schedule_process"]


# RetrieveTask


def test_retrieve_task(guest_client, process, task, django_assert_num_queries):
    first = make_task(process, "first", state=TaskState.Completed)
    second = make_task(process, "second", state=TaskState.Completed)
    task.parents.set([first, second])
    task.env["ARKINDEX_TASK_TOKEN"] = "leaked"
    task.save()

    guest_client.get(f"/api/v1/task/{task.id}/")
    # Token, then the task with its parents, filtered by the caller's rights, in one query.
    with django_assert_num_queries(2):
        response = guest_client.get(f"/api/v1/task/{task.id}/")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert set(body) == TASK_FIELDS
    assert sorted(body["parents"]) == sorted([str(first.id), str(second.id)])
    assert body["process_id"] == str(process.id)
    assert body["state"] == "running"
    assert body["attempt"] == 0
    # Never the token, never a URL (seed 002)
    assert body["env"] == {"ARKINDEX_PROCESS_ID": str(process.id)}
    assert task.token not in response.content.decode()
    assert "url" not in " ".join(body)


def test_retrieve_task_without_parents(user_client, task):
    response = user_client.get(f"/api/v1/task/{task.id}/")
    assert response.status_code == 200
    assert response.json()["parents"] == []


def test_retrieve_task_hidden(other_client, task):
    response = other_client.get(f"/api/v1/task/{task.id}/")
    assert response.status_code == 404
    assert other_client.get(f"/api/v1/task/{uuid.uuid4()}/").status_code == 404


def test_retrieve_task_anonymous(anonymous_client, task):
    assert anonymous_client.get(f"/api/v1/task/{task.id}/").status_code == 401


def test_retrieve_task_with_task_token(process, other_process, task):
    sibling = make_task(process, "sibling", state=TaskState.Completed)
    response = task_client(task).get(f"/api/v1/task/{sibling.id}/")
    assert response.status_code == 200
    assert response.json()["id"] == str(sibling.id)

    # The creator reads both processes, but a task token reaches only its own.
    stranger = make_task(other_process, "stranger", state=TaskState.Running)
    response = task_client(stranger).get(f"/api/v1/task/{task.id}/")
    assert response.status_code == 404


@pytest.mark.parametrize("state", [TaskState.Completed, TaskState.Unscheduled, TaskState.Pending])
def test_task_token_only_while_running(process, state):
    ended = make_task(process, "ended", state=state)
    response = task_client(ended).get(f"/api/v1/task/{ended.id}/")
    assert response.status_code == 401
    assert state in response.json()["detail"]


# PartialUpdateTask (stop)


def test_stop_running_task(user_client, process, task, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = user_client.patch(f"/api/v1/task/{task.id}/", {"state": "stopping"}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["state"] == "stopping"
    task.refresh_from_db()
    assert task.state == TaskState.Stopping
    assert task.finished is None
    assert scheduler_jobs() == [str(process.id)]

    # Asking again while it stops changes nothing.
    response = user_client.patch(f"/api/v1/task/{task.id}/", {"state": "stopping"}, format="json")
    assert response.status_code == 200
    assert response.json()["state"] == "stopping"


@pytest.mark.parametrize("state", [TaskState.Unscheduled, TaskState.Pending])
def test_stop_task_not_started(user_client, process, state):
    waiting = make_task(process, "waiting", state=state)
    response = user_client.patch(f"/api/v1/task/{waiting.id}/", {"state": "stopping"}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["state"] == "stopped"
    waiting.refresh_from_db()
    assert waiting.state == TaskState.Stopped
    assert waiting.finished is not None
    # It was the process's only task: the process ended with it.
    process.refresh_from_db()
    assert process.finished is not None


@pytest.mark.parametrize("state", [TaskState.Completed, TaskState.Failed, TaskState.Error, TaskState.Stopped])
def test_stop_ended_task(user_client, process, state):
    ended = make_task(process, "ended", state=state)
    response = user_client.patch(f"/api/v1/task/{ended.id}/", {"state": "stopping"}, format="json")
    assert response.status_code == 409
    ended.refresh_from_db()
    assert ended.state == state


@pytest.mark.parametrize(
    "body",
    [{"state": "completed"}, {"state": "stopped"}, {}, {"state": "stopping", "slug": "other"}, {"slug": "other"}],
)
def test_stop_task_bad_body(user_client, task, body):
    response = user_client.patch(f"/api/v1/task/{task.id}/", body, format="json")
    assert response.status_code == 400
    assert set(response.json()) <= {"state", "slug"}
    task.refresh_from_db()
    assert task.state == TaskState.Running


def test_stop_task_rights(guest_client, other_client, anonymous_client, process, task):
    url = f"/api/v1/task/{task.id}/"
    assert guest_client.patch(url, {"state": "stopping"}, format="json").status_code == 403
    assert other_client.patch(url, {"state": "stopping"}, format="json").status_code == 404
    assert anonymous_client.patch(url, {"state": "stopping"}, format="json").status_code == 401
    # A task token acts as the creator, a contributor, yet cannot stop tasks.
    assert task_client(task).patch(url, {"state": "stopping"}, format="json").status_code == 403
    task.refresh_from_db()
    assert task.state == TaskState.Running


# RetrieveTaskFromAgent / PartialUpdateTaskFromAgent


def test_task_reads_itself(process, task, django_assert_num_queries):
    client = task_client(task)
    with django_assert_num_queries(2):
        response = client.get(f"/api/v1/task/{task.id}/from-agent/")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == TASK_FIELDS
    assert body["id"] == str(task.id)


def test_task_from_agent_only_own_token(user_client, anonymous_client, process, task):
    sibling = make_task(process, "sibling", state=TaskState.Running)
    url = f"/api/v1/task/{task.id}/from-agent/"
    # Another task gets the answer of a task that does not exist; a person is told who may call.
    assert task_client(sibling).get(url).status_code == 404
    assert user_client.get(url).status_code == 403
    assert anonymous_client.get(url).status_code == 401
    assert task_client(sibling).patch(url, {"state": "completed"}, format="json").status_code == 404
    assert user_client.patch(url, {"state": "completed"}, format="json").status_code == 403
    assert anonymous_client.patch(url, {"state": "completed"}, format="json").status_code == 401
    task.refresh_from_db()
    assert task.state == TaskState.Running


@pytest.mark.parametrize("state", [TaskState.Completed, TaskState.Failed, TaskState.Error])
def test_task_reports_its_end(process, task, state, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = task_client(task).patch(f"/api/v1/task/{task.id}/from-agent/", {"state": state}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["state"] == state
    task.refresh_from_db()
    assert task.state == state
    assert task.finished is not None
    assert scheduler_jobs() == [str(process.id)]
    # The token died with the running task.
    assert task_client(task).get(f"/api/v1/task/{task.id}/from-agent/").status_code == 401


@pytest.mark.parametrize(
    "body", [{"state": "stopped"}, {"state": "running"}, {"state": "completed", "command": "rm -rf /"}, {}]
)
def test_task_report_bad_body(task, body):
    response = task_client(task).patch(f"/api/v1/task/{task.id}/from-agent/", body, format="json")
    assert response.status_code == 400
    task.refresh_from_db()
    assert task.state == TaskState.Running


def test_stopping_task_cannot_report(process):
    stopping = make_task(process, "stopping", state=TaskState.Stopping)
    response = task_client(stopping).patch(
        f"/api/v1/task/{stopping.id}/from-agent/", {"state": "completed"}, format="json"
    )
    assert response.status_code == 409
    stopping.refresh_from_db()
    assert stopping.state == TaskState.Stopping


# RestartTask


@pytest.fixture
def dag(process, agent):
    """
    A → B → C, and A → D → E: B failed (so C never ran), the other branch completed.
    """
    gpu = GPU.objects.create(id="GPU-1", agent=agent, index=0, name="A GPU")
    now = timezone.now()
    done = {"agent": agent, "started": now, "finished": now}
    a = make_task(process, "a", state=TaskState.Completed, depth=0, **done)
    b = make_task(process, "b", state=TaskState.Failed, depth=1, parents=[a], gpu=gpu, requires_gpu=True, **done)
    c = make_task(process, "c", state=TaskState.Unscheduled, depth=2, parents=[b])
    d = make_task(process, "d", state=TaskState.Completed, depth=1, parents=[a], **done)
    e = make_task(process, "e", state=TaskState.Completed, depth=2, parents=[d], **done)
    Process.objects.filter(pk=process.pk).update(finished=now)
    return {"a": a, "b": b, "c": c, "d": d, "e": e}


def snapshot(task):
    task.refresh_from_db()
    return task.state, task.attempt, task.token, task.agent_id, task.gpu_id, task.started, task.finished


def test_restart_task(user_client, process, dag, django_capture_on_commit_callbacks):
    b = dag["b"]
    old_token = b.token
    before = {slug: snapshot(dag[slug]) for slug in "acde"}
    with django_capture_on_commit_callbacks(execute=True):
        response = user_client.post(f"/api/v1/task/{b.id}/restart/")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["state"], body["attempt"], body["agent_id"], body["gpu_id"]) == ("unscheduled", 1, None, None)
    assert body["started"] is None and body["finished"] is None

    state, attempt, token, agent_id, gpu_id, started, finished = snapshot(b)
    assert (state, attempt, agent_id, gpu_id, started, finished) == (TaskState.Unscheduled, 1, None, None, None, None)
    assert token != old_token and len(token) == 64
    # C had not run: it simply waits for B again. The other branch is untouched.
    assert {slug: snapshot(dag[slug]) for slug in "acde"} == before
    process.refresh_from_db()
    assert process.finished is None
    assert scheduler_jobs() == [str(process.id)]


def test_restart_task_resets_descendants(user_client, process, dag):
    response = user_client.post(f"/api/v1/task/{dag['a'].id}/restart/")
    assert response.status_code == 200, response.json()
    states = {slug: snapshot(task)[:2] for slug, task in dag.items()}
    assert states == {
        "a": (TaskState.Unscheduled, 1),
        "b": (TaskState.Unscheduled, 1),
        "c": (TaskState.Unscheduled, 0),
        "d": (TaskState.Unscheduled, 1),
        "e": (TaskState.Unscheduled, 1),
    }
    tokens = {snapshot(task)[2] for task in dag.values()}
    assert len(tokens) == 5
    for slug in "abde":
        assert snapshot(dag[slug])[3:] == (None, None, None, None)


def test_restart_task_not_ended(user_client, process, dag, task):
    response = user_client.post(f"/api/v1/task/{task.id}/restart/")
    assert response.status_code == 409
    response = user_client.post(f"/api/v1/task/{dag['c'].id}/restart/")
    assert response.status_code == 409


def test_restart_task_with_running_descendant(user_client, process, dag):
    dag["e"].state = TaskState.Running
    dag["e"].save()
    before = snapshot(dag["a"])
    response = user_client.post(f"/api/v1/task/{dag['a'].id}/restart/")
    assert response.status_code == 409
    assert str(dag["e"].id) in response.json()["errors"][0]["detail"]
    assert snapshot(dag["a"]) == before


def test_restart_task_of_earlier_run(user_client, process, dag):
    make_task(process, "a", state=TaskState.Running, run=1)
    response = user_client.post(f"/api/v1/task/{dag['a'].id}/restart/")
    assert response.status_code == 409
    assert "run 1" in response.json()["errors"][0]["detail"]


def test_restart_task_rights(guest_client, other_client, anonymous_client, process, dag, task):
    url = f"/api/v1/task/{dag['b'].id}/restart/"
    assert guest_client.post(url).status_code == 403
    assert other_client.post(url).status_code == 404
    assert anonymous_client.post(url).status_code == 401
    assert task_client(task).post(url).status_code == 403
    assert guest_client.post(f"/api/v1/task/{uuid.uuid4()}/restart/").status_code == 404
    assert snapshot(dag["b"])[:2] == (TaskState.Failed, 0)


# The task log


def test_log_missing(user_client, task):
    response = user_client.get(f"/api/v1/task/{task.id}/log/")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    assert response.content == b""


def test_log_zero_bytes(user_client, media_root, task):
    # Seed 002: a zero-byte log was a 500.
    path = media_root / "ponos" / "logs" / str(task.id) / "0.log"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"")
    response = user_client.get(f"/api/v1/task/{task.id}/log/")
    assert response.status_code == 200
    assert response.content == b""


def test_log_followed_live(guest_client, media_root, task):
    url = f"/api/v1/task/{task.id}/log/"
    logs.append_log(task, "Starting…\n")
    assert guest_client.get(url).content.decode() == "Starting…\n"
    logs.append_log(task, b"Done\n")
    response = guest_client.get(url, HTTP_ACCEPT="text/plain")
    assert response.status_code == 200
    assert response.content.decode() == "Starting…\nDone\n"
    assert (media_root / "ponos" / "logs" / str(task.id) / "0.log").read_text() == "Starting…\nDone\n"


def test_log_written_from_file(user_client, task, tmp_path):
    source = tmp_path / "task.log"
    source.write_text("line 1\nline 2\n")
    logs.write_log(task, source)
    assert user_client.get(f"/api/v1/task/{task.id}/log/").content == b"line 1\nline 2\n"


def test_log_size_limit(settings, user_client, task, tmp_path):
    settings.PONOS_LOG_MAX_SIZE = 10
    logs.append_log(task, "0123456789abcdef")
    response = user_client.get(f"/api/v1/task/{task.id}/log/")
    assert response.content == logs.TRUNCATION_NOTICE + b"6789abcdef"

    source = tmp_path / "task.log"
    source.write_text("x" * 100 + "the end!!!")
    logs.write_log(task, source)
    assert user_client.get(f"/api/v1/task/{task.id}/log/").content == logs.TRUNCATION_NOTICE + b"the end!!!"


def test_log_read_limits_large_files(settings, user_client, media_root, task):
    """A log stored by other means than the agent is still cut at the limit when read."""
    path = media_root / "ponos" / "logs" / str(task.id) / "0.log"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"a" * 50 + b"0123456789")
    settings.PONOS_LOG_MAX_SIZE = 10
    assert user_client.get(f"/api/v1/task/{task.id}/log/").content == logs.TRUNCATION_NOTICE + b"0123456789"


def test_log_attempts(user_client, process, dag):
    b = dag["b"]
    logs.append_log(b, "first attempt failed\n")
    assert user_client.post(f"/api/v1/task/{b.id}/restart/").status_code == 200
    b.refresh_from_db()
    logs.append_log(b, "second attempt\n")

    url = f"/api/v1/task/{b.id}/log/"
    assert user_client.get(url).content == b"second attempt\n"
    assert user_client.get(url, {"attempt": 1}).content == b"second attempt\n"
    assert user_client.get(url, {"attempt": 0}).content == b"first attempt failed\n"
    for attempt in (2, -1, "last"):
        response = user_client.get(url, {"attempt": attempt})
        assert response.status_code == 400
        assert "attempt" in response.json()


def test_log_access(other_client, anonymous_client, process, other_process, task):
    logs.append_log(task, "secret output\n")
    url = f"/api/v1/task/{task.id}/log/"
    assert other_client.get(url).status_code == 404
    assert anonymous_client.get(url).status_code == 401
    sibling = make_task(process, "sibling", state=TaskState.Running)
    assert task_client(sibling).get(url).content == b"secret output\n"
    stranger = make_task(other_process, "stranger", state=TaskState.Running)
    assert task_client(stranger).get(url).status_code == 404
    assert token_client(process.creator).get(f"/api/v1/task/{uuid.uuid4()}/log/").status_code == 404
