"""
StopProcess (running tasks to stopping, the others to stopped, twice changes nothing, 409 when not
running) and ListProcessTasks, the tasks of a run as the process status page shows them.
"""

# The fixtures imported from task_fixtures are redefined as test arguments, as pytest intends.
# ruff: noqa: F811

import uuid

import django_rq
import pytest
from django.utils import timezone

from arkindex.api.exceptions import Conflict
from arkindex.models import Job
from arkindex.rq import DEFAULT_QUEUE
from ponos import services
from ponos.models import GPU, TaskState
from ponos.tests.factories import make_task
from ponos.tests.task_fixtures import (  # noqa: F401 (fixtures)
    agent,
    guest,
    guest_client,
    media_root,
    other_process,
    process,
)
from processes.models import ProcessMode
from processes.tests.factories import ProcessFactory
from tests.tokens import task_client

pytestmark = pytest.mark.django_db


def stop_url(process_id):
    return f"/api/v1/process/{process_id}/stop/"


def tasks_url(process_id, query=""):
    return f"/api/v1/process/{process_id}/tasks/{query}"


def states(process, run=0):
    return dict(process.tasks.filter(run=run).values_list("slug", "state"))


def queued_jobs():
    """What was queued, durable jobs by the function they run."""
    recorded = dict(Job.objects.values_list("id", "function"))
    return [
        recorded[uuid.UUID(job.args[0])] if job.func_name == "arkindex.jobs.run_job" else job.func_name
        for job in django_rq.get_queue(DEFAULT_QUEUE).get_jobs()
    ]


@pytest.fixture
def dag(process, agent):
    """A run in progress: initialisation completed, `a` running, `b` pending, `c` waiting for `a` and `b`."""
    init = make_task(process, "initialisation", state=TaskState.Completed, finished=timezone.now())
    a = make_task(process, "a", state=TaskState.Running, depth=1, parents=[init], agent=agent)
    b = make_task(process, "b", state=TaskState.Pending, depth=1, parents=[init])
    c = make_task(process, "c", depth=2, parents=[init, a, b])
    return init, a, b, c


# StopProcess


def test_stop_process(user_client, process, dag, django_capture_on_commit_callbacks):
    init, a, b, c = dag
    with django_capture_on_commit_callbacks(execute=True):
        response = user_client.post(stop_url(process.id))
    assert response.status_code == 200, response.json()
    data = response.json()
    assert data["id"] == str(process.id)
    assert data["state"] == "stopping"
    assert data["finished"] is None
    assert [(task["slug"], task["state"]) for task in data["tasks"]] == [
        ("initialisation", "completed"),
        ("a", "stopping"),
        ("b", "stopped"),
        ("c", "stopped"),
    ]
    assert states(process) == {"initialisation": "completed", "a": "stopping", "b": "stopped", "c": "stopped"}
    b.refresh_from_db()
    c.refresh_from_db()
    assert b.finished is not None and c.finished is not None
    a.refresh_from_db()
    assert a.finished is None and a.agent_id is not None
    # The process ends once the agent has stopped its last task, not before.
    process.refresh_from_db()
    assert process.finished is None
    assert queued_jobs() == []

    # The agent ends the command and sets the task stopped: the process ends with it.
    with django_capture_on_commit_callbacks(execute=True):
        assert services.set_task_state(a, TaskState.Stopped)
    process.refresh_from_db()
    assert process.state == "stopped"
    assert process.finished is not None
    assert queued_jobs() == ["ponos.jobs.send_process_finished_email"]


def test_stop_process_without_running_tasks(user_client, process, django_capture_on_commit_callbacks):
    make_task(process, "initialisation", state=TaskState.Completed)
    make_task(process, "a", state=TaskState.Pending, depth=1)
    make_task(process, "b", depth=1)
    with django_capture_on_commit_callbacks(execute=True):
        response = user_client.post(stop_url(process.id))
    assert response.status_code == 200, response.json()
    assert response.json()["state"] == "stopped"
    assert response.json()["finished"] is not None
    process.refresh_from_db()
    assert process.finished is not None
    assert states(process) == {"initialisation": "completed", "a": "stopped", "b": "stopped"}
    assert queued_jobs() == ["ponos.jobs.send_process_finished_email"]


def test_stop_process_twice_changes_nothing(user_client, process, dag):
    assert user_client.post(stop_url(process.id)).status_code == 200
    before = {task.slug: (task.state, task.updated, task.finished) for task in process.tasks.all()}

    # Still stopping: asking again is accepted and changes nothing.
    response = user_client.post(stop_url(process.id))
    assert response.status_code == 200, response.json()
    assert response.json()["state"] == "stopping"
    assert {task.slug: (task.state, task.updated, task.finished) for task in process.tasks.all()} == before

    # Stopped: there is nothing left to stop.
    _, a, _, _ = dag
    a.refresh_from_db()
    assert services.set_task_state(a, TaskState.Stopped)
    response = user_client.post(stop_url(process.id))
    assert response.status_code == 409
    assert "already ended (stopped)" in response.json()["errors"][0]["detail"]


def test_stop_keeps_the_end_a_task_reached(process, dag):
    """A task that ends while the process stops keeps its own final state; a late report changes nothing."""
    _, a, b, _ = dag
    services.process_stop(process=process)
    # The agent read `a` running before the stop, and reports its end: the compare-and-set refuses it.
    assert a.state == TaskState.Running
    assert not services.set_task_state(a, TaskState.Completed)
    # A stopped task is never run: an agent claiming its job finds it no longer pending.
    assert b.state == TaskState.Pending
    assert not services.set_task_state(b, TaskState.Running)
    assert states(process)["a"] == "stopping"
    assert states(process)["b"] == "stopped"


def test_stop_only_touches_the_last_run(user_client, process):
    make_task(process, "a", state=TaskState.Failed, run=0)
    make_task(process, "b", state=TaskState.Unscheduled, run=0, depth=1)
    make_task(process, "a", state=TaskState.Running, run=1)
    make_task(process, "b", state=TaskState.Unscheduled, run=1, depth=1)
    response = user_client.post(stop_url(process.id))
    assert response.status_code == 200, response.json()
    assert {task["run"] for task in response.json()["tasks"]} == {1}
    assert states(process, run=0) == {"a": "failed", "b": "unscheduled"}
    assert states(process, run=1) == {"a": "stopping", "b": "stopped"}


def test_stop_process_not_started(user_client, corpus, user):
    process = ProcessFactory(mode=ProcessMode.Workers, corpus=corpus, creator=user)
    response = user_client.post(stop_url(process.id))
    assert response.status_code == 409
    assert "has not started" in response.json()["errors"][0]["detail"]


@pytest.mark.parametrize(
    "task_states, state",
    [
        ((TaskState.Completed, TaskState.Completed), "completed"),
        ((TaskState.Error, TaskState.Completed), "error"),
        # A failed parent leaves its child unscheduled for ever: the process has ended.
        ((TaskState.Failed, TaskState.Unscheduled), "failed"),
        ((TaskState.Stopped, TaskState.Stopped), "stopped"),
    ],
)
def test_stop_ended_process(user_client, process, task_states, state):
    parent = make_task(process, "parent", state=task_states[0])
    make_task(process, "child", state=task_states[1], depth=1, parents=[parent])
    response = user_client.post(stop_url(process.id))
    assert response.status_code == 409
    assert f"already ended ({state})" in response.json()["errors"][0]["detail"]
    assert states(process) == {"parent": task_states[0], "child": task_states[1]}
    with pytest.raises(Conflict):
        services.process_stop(process=process)


def test_stop_process_rights(guest_client, other_client, anonymous_client, process, dag):
    url = stop_url(process.id)
    response = guest_client.post(url)
    assert response.status_code == 403
    assert (
        response.json()["detail"]
        == "You need contributor access to its corpus to stop it; ask one of its administrators."
    )
    assert other_client.post(url).status_code == 404
    assert anonymous_client.post(url).status_code == 401
    assert anonymous_client.post(stop_url(uuid.uuid4())).status_code == 401
    # A task token acts as the creator, a contributor, yet cannot stop its process.
    _, a, _, _ = dag
    response = task_client(a).post(url)
    assert response.status_code == 403
    assert response.json()["detail"].startswith("Task tokens cannot call StopProcess")
    assert task_client(a).post(f"/api/v1/process/{process.id}/retry/").status_code == 403
    assert task_client(a).post(f"/api/v1/process/{process.id}/start/").status_code == 403
    assert states(process)["a"] == "running"


def test_stop_missing_process(user_client):
    assert user_client.post(stop_url(uuid.uuid4())).status_code == 404


# ListProcessTasks

TASK_FIELDS = {
    "id",
    "slug",
    "run",
    "depth",
    "chunk",
    "state",
    "parents",
    "worker_run_id",
    "agent_id",
    "gpu_id",
    "requires_gpu",
    "started",
    "finished",
    "attempt",
}


def test_list_process_tasks(guest_client, process, dag, agent):
    init, a, b, c = dag
    gpu = GPU.objects.create(id="GPU-1", agent=agent, index=0, name="Tesla")
    a.gpu = gpu
    a.requires_gpu = True
    a.started = timezone.now()
    a.attempt = 2
    a.save()
    response = guest_client.get(tasks_url(process.id))
    assert response.status_code == 200, response.json()
    data = response.json()
    assert [task["slug"] for task in data] == ["initialisation", "a", "b", "c"]
    assert all(set(task) == TASK_FIELDS for task in data)
    by_slug = {task["slug"]: task for task in data}
    assert by_slug["a"] == {
        "id": str(a.id),
        "slug": "a",
        "run": 0,
        "depth": 1,
        "chunk": None,
        "state": "running",
        "parents": [str(init.id)],
        "worker_run_id": None,
        "agent_id": str(agent.id),
        "gpu_id": "GPU-1",
        "requires_gpu": True,
        "started": a.started.isoformat().replace("+00:00", "Z"),
        "finished": None,
        "attempt": 2,
    }
    assert sorted(by_slug["c"]["parents"]) == sorted(str(task.id) for task in (init, a, b))
    assert by_slug["initialisation"]["parents"] == []
    # The task's credential never appears.
    assert a.token not in response.content.decode()


def test_list_process_tasks_runs(guest_client, process):
    make_task(process, "a", state=TaskState.Failed, run=0)
    make_task(process, "a", state=TaskState.Failed, run=1)
    make_task(process, "b", state=TaskState.Completed, run=2)
    make_task(process, "a", state=TaskState.Completed, run=2)
    response = guest_client.get(tasks_url(process.id))
    assert [(task["slug"], task["run"]) for task in response.json()] == [("a", 2), ("b", 2)]
    response = guest_client.get(tasks_url(process.id, "?run=1"))
    assert [(task["slug"], task["run"]) for task in response.json()] == [("a", 1)]
    response = guest_client.get(tasks_url(process.id, "?run=0"))
    assert [(task["slug"], task["run"], task["state"]) for task in response.json()] == [("a", 0, "failed")]
    # A run that never existed has no tasks.
    assert guest_client.get(tasks_url(process.id, "?run=7")).json() == []


@pytest.mark.parametrize("run", ["-1", "last", "1.5"])
def test_list_process_tasks_bad_run(guest_client, process, run):
    response = guest_client.get(tasks_url(process.id, f"?run={run}"))
    assert response.status_code == 400
    assert "run" in response.json()


def test_list_process_tasks_not_started(guest_client, corpus, user):
    process = ProcessFactory(mode=ProcessMode.Workers, corpus=corpus, creator=user)
    response = guest_client.get(tasks_url(process.id))
    assert response.status_code == 200
    assert response.json() == []


def test_list_process_tasks_rights(other_client, anonymous_client, process, other_process, dag):
    url = tasks_url(process.id)
    assert other_client.get(url).status_code == 404
    assert anonymous_client.get(url).status_code == 401
    # A task reads the tasks of its own process, not those of another process of the same creator.
    _, a, _, _ = dag
    response = task_client(a).get(url)
    assert response.status_code == 200
    assert len(response.json()) == 4
    assert task_client(a).get(tasks_url(other_process.id)).status_code == 404
    other_task = make_task(other_process, "other", state=TaskState.Running)
    assert task_client(other_task).get(url).status_code == 404


@pytest.mark.parametrize("count", [2, 6])
def test_list_process_tasks_queries(guest_client, process, count, django_assert_num_queries):
    """Token, process with the caller's level, tasks with their parents: three queries whatever their number."""
    previous = make_task(process, "initialisation", state=TaskState.Completed)
    for index in range(1, count):
        previous = make_task(process, f"task-{index}", depth=index, parents=[previous])
    guest_client.get(tasks_url(process.id))
    with django_assert_num_queries(3):
        response = guest_client.get(tasks_url(process.id))
    assert response.status_code == 200
    assert len(response.json()) == count
    assert all(len(task["parents"]) == (1 if task["depth"] else 0) for task in response.json())
