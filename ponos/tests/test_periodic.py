"""
The pieces of `ponos.scheduler.periodic()`, each on real RQ queues: `schedule_process` (ready tasks
to pending, enqueued on their farm's queue), `requeue_pending` (a pending task whose job vanished),
`check_failed_jobs` (a task whose job RQ gave up on), `check_agents` (the tasks of a silent agent),
and `periodic` itself. Each is run twice where it matters: the second run changes nothing.
"""

# The fixtures imported from task_fixtures are redefined as test arguments, as pytest intends.
# ruff: noqa: F811

from datetime import timedelta

import django_rq
import pytest
from django.utils import timezone
from rq import SimpleWorker
from rq.job import Job
from rq.registry import FailedJobRegistry

from arkindex.rq import DEFAULT_QUEUE
from ponos import logs, scheduler
from ponos.models import GPU, Agent, Farm, TaskState
from ponos.tests.factories import make_task
from ponos.tests.task_fixtures import (  # noqa: F401 (fixtures)
    agent,
    media_root,
    process,
)
from processes.models import Process, ProcessMode
from processes.tests.factories import ProcessFactory

pytestmark = pytest.mark.django_db

RUN_TASK = "ponos.agent.execution.run_task"


def redis():
    return django_rq.get_connection(DEFAULT_QUEUE)


def queued(name):
    """The task IDs waiting on the RQ queue `name`, as `run_task` jobs."""
    queue = scheduler.task_queue(*name) if isinstance(name, tuple) else scheduler.task_queue(name)
    return [job.args[0] for job in queue.get_jobs() if job.func_name == RUN_TASK]


def scheduler_jobs():
    queue = django_rq.get_queue(DEFAULT_QUEUE)
    return [job.args[0] for job in queue.get_jobs() if job.func_name.endswith("schedule_process")]


def crash(task_id):
    raise RuntimeError("The worker running this job died")


@pytest.fixture
def gpu_farm():
    return Farm.objects.create(name="gpus")


# schedule_process


def test_schedule_process_enqueues_ready_tasks(process, gpu_farm, django_capture_on_commit_callbacks):
    process.farm = gpu_farm
    process.save()
    init = make_task(process, "initialisation", state=TaskState.Completed)
    cpu = make_task(process, "cpu", depth=1, parents=[init])
    gpu = make_task(process, "gpu", depth=1, parents=[init], requires_gpu=True)
    waiting = make_task(process, "waiting", depth=2, parents=[cpu, gpu])

    with django_capture_on_commit_callbacks(execute=True):
        assert scheduler.schedule_process(str(process.id)) == 2
    for task in (cpu, gpu, waiting):
        task.refresh_from_db()
    assert cpu.state == gpu.state == TaskState.Pending
    # Its parents have not completed yet.
    assert waiting.state == TaskState.Unscheduled
    assert scheduler.queue_name("gpus") == "ponos.gpus"
    assert scheduler.queue_name("gpus", gpu=True) == "ponos.gpus.gpu"
    assert queued("gpus") == [str(cpu.id)]
    assert queued(("gpus", True)) == [str(gpu.id)]
    job = Job.fetch(scheduler.task_job_id(cpu.id, cpu.attempt), connection=redis())
    assert job.meta == {"task_id": str(cpu.id)}

    # Run again: nothing is ready any more, nothing is enqueued twice.
    with django_capture_on_commit_callbacks(execute=True):
        assert scheduler.schedule_process(str(process.id)) == 0
    assert queued("gpus") == [str(cpu.id)]
    assert queued(("gpus", True)) == [str(gpu.id)]

    # The parents completed: the last task is ready.
    cpu.__class__.objects.filter(pk__in=[cpu.pk, gpu.pk]).update(state=TaskState.Completed)
    with django_capture_on_commit_callbacks(execute=True):
        assert scheduler.schedule_process(str(process.id)) == 1
    assert queued("gpus") == [str(cpu.id), str(waiting.id)]


def test_schedule_process_default_farm(process, django_capture_on_commit_callbacks):
    """A process without a farm runs on the default farm's queues."""
    assert process.farm_id is None
    task = make_task(process, "worker")
    with django_capture_on_commit_callbacks(execute=True):
        assert scheduler.schedule_process(str(process.id)) == 1
    assert queued("default") == [str(task.id)]


def test_schedule_process_last_run_only(process, django_capture_on_commit_callbacks):
    old = make_task(process, "worker", run=0)
    new = make_task(process, "worker", run=1)
    with django_capture_on_commit_callbacks(execute=True):
        assert scheduler.schedule_process(str(process.id)) == 1
    old.refresh_from_db()
    assert old.state == TaskState.Unscheduled
    assert queued("default") == [str(new.id)]


def test_schedule_process_not_started(corpus, user, django_capture_on_commit_callbacks):
    process = ProcessFactory(mode=ProcessMode.Workers, corpus=corpus, creator=user)
    task = make_task(process, "worker")
    with django_capture_on_commit_callbacks(execute=True):
        assert scheduler.schedule_process(str(process.id)) == 0
    task.refresh_from_db()
    assert task.state == TaskState.Unscheduled
    assert queued("default") == []


def test_schedule_process_ends_a_blocked_process(process, django_capture_on_commit_callbacks):
    failed = make_task(process, "parent", state=TaskState.Failed, finished=timezone.now())
    child = make_task(process, "child", depth=1, parents=[failed])
    with django_capture_on_commit_callbacks(execute=True):
        assert scheduler.schedule_process(str(process.id)) == 0
    child.refresh_from_db()
    assert child.state == TaskState.Unscheduled
    process.refresh_from_db()
    assert process.state == "failed"
    assert process.finished is not None


# requeue_pending


def test_requeue_pending_vanished_job(process, gpu_farm, django_capture_on_commit_callbacks):
    process.farm = gpu_farm
    process.save()
    vanished = make_task(process, "vanished", state=TaskState.Pending, requires_gpu=True, attempt=1)
    waiting = make_task(process, "waiting", state=TaskState.Pending)
    scheduler.enqueue_task(waiting.id, waiting.attempt, "gpus", False)
    assert queued("gpus") == [str(waiting.id)]

    assert scheduler.requeue_pending() == 1
    assert queued(("gpus", True)) == [str(vanished.id)]
    assert Job.exists(scheduler.task_job_id(vanished.id, 1), redis())
    # The job that was still queued is left alone: not enqueued a second time.
    assert queued("gpus") == [str(waiting.id)]

    assert scheduler.requeue_pending() == 0
    assert queued(("gpus", True)) == [str(vanished.id)]


def test_requeue_pending_ignores_other_states(process):
    for state in (TaskState.Unscheduled, TaskState.Running, TaskState.Completed, TaskState.Stopped):
        make_task(process, state.value, state=state)
    assert scheduler.requeue_pending() == 0
    assert queued("default") == []


# check_failed_jobs


def fail_job(task, farm_name="default", gpu=False):
    """A task's job that RQ gave up on: run by a worker, it raised outside the task's own handling."""
    queue = scheduler.task_queue(farm_name, gpu)
    queue.enqueue(
        crash, str(task.id), job_id=scheduler.task_job_id(task.id, task.attempt), meta={"task_id": str(task.id)}
    )
    SimpleWorker([queue], connection=queue.connection).work(burst=True)
    registry = FailedJobRegistry(queue.name, connection=queue.connection)
    assert registry.get_job_ids() == [scheduler.task_job_id(task.id, task.attempt)]
    return registry


def test_check_failed_jobs(process, gpu_farm, django_capture_on_commit_callbacks):
    process.farm = gpu_farm
    process.save()
    running = make_task(process, "running", state=TaskState.Running, requires_gpu=True)
    other = make_task(process, "other", state=TaskState.Running)
    registry = fail_job(running, "gpus", gpu=True)

    with django_capture_on_commit_callbacks(execute=True):
        assert scheduler.check_failed_jobs() == 1
    running.refresh_from_db()
    assert running.state == TaskState.Error
    assert running.finished is not None
    assert "lost by its worker" in logs.read_log(running).decode()
    # The failed registry no longer holds a task the API calls running, nor its job.
    assert registry.get_job_ids() == []
    assert not Job.exists(scheduler.task_job_id(running.id, running.attempt), redis())
    other.refresh_from_db()
    assert other.state == TaskState.Running
    assert scheduler_jobs() == [str(process.id)]

    assert scheduler.check_failed_jobs() == 0


def test_check_failed_jobs_of_an_ended_task(process):
    """A job that failed after its task ended (it reported its state, then the worker died) changes nothing."""
    task = make_task(process, "done", state=TaskState.Running)
    registry = fail_job(task)
    task.__class__.objects.filter(pk=task.pk).update(state=TaskState.Completed)
    assert scheduler.check_failed_jobs() == 0
    task.refresh_from_db()
    assert task.state == TaskState.Completed
    assert registry.get_job_ids() == []


def test_check_failed_jobs_stopping_task(process):
    """A task that was stopping when its job was lost ends stopped, as its user asked."""
    task = make_task(process, "stopping", state=TaskState.Stopping)
    fail_job(task)
    assert scheduler.check_failed_jobs() == 1
    task.refresh_from_db()
    assert task.state == TaskState.Stopped


# check_agents


@pytest.fixture
def dead_agent(agent, settings):
    settings.PONOS_AGENT_TIMEOUT = 60
    Agent.objects.filter(pk=agent.pk).update(last_ping=timezone.now() - timedelta(seconds=61))
    agent.refresh_from_db()
    return agent


@pytest.fixture
def live_agent(agent):
    return Agent.objects.create(farm=agent.farm, hostname="host-b", pid=1, last_ping=timezone.now())


def test_check_agents(
    superuser_client, process, dead_agent, live_agent, django_capture_on_commit_callbacks, django_assert_num_queries
):
    dead_gpu = GPU.objects.create(id="GPU-dead", agent=dead_agent, index=0, name="Tesla")
    live_gpu = GPU.objects.create(id="GPU-live", agent=live_agent, index=0, name="Tesla")
    lost = make_task(process, "lost", state=TaskState.Running, agent=dead_agent, gpu=dead_gpu, requires_gpu=True)
    stopping = make_task(process, "stopping", state=TaskState.Stopping, agent=dead_agent)
    alive = make_task(process, "alive", state=TaskState.Running, agent=live_agent, gpu=live_gpu, requires_gpu=True)
    ended = make_task(process, "ended", state=TaskState.Completed, agent=dead_agent)

    url = f"/api/v1/agents/{dead_agent.id}/"
    assert superuser_client.get(url).json()["gpus"][0]["busy"] is True

    with django_capture_on_commit_callbacks(execute=True):
        assert scheduler.check_agents() == 2
    for task in (lost, stopping, alive, ended):
        task.refresh_from_db()
    assert lost.state == TaskState.Error
    assert lost.finished is not None
    assert "stopped answering for more than 60 seconds" in logs.read_log(lost).decode()
    assert stopping.state == TaskState.Stopped
    assert ended.state == TaskState.Completed
    # The live agent keeps its task and its GPU.
    assert alive.state == TaskState.Running
    dead_agent.refresh_from_db()
    live_agent.refresh_from_db()
    assert dead_agent.stopped is not None
    assert live_agent.stopped is None
    # The scheduler runs after each end (a job per task: it changes nothing the second time).
    assert set(scheduler_jobs()) == {str(process.id)}

    # The GPU held by the ended task is free again.
    data = superuser_client.get(url).json()
    assert data["gpus"] == [{"id": "GPU-dead", "index": 0, "name": "Tesla", "ram_total": 0, "busy": False}]
    assert data["running_tasks_count"] == 0
    assert superuser_client.get(f"/api/v1/agents/{live_agent.id}/").json()["gpus"][0]["busy"] is True
    # Another task may hold it: the one-busy-task-per-GPU constraint no longer counts the lost one.
    make_task(process, "next", state=TaskState.Running, agent=dead_agent, gpu=dead_gpu)

    # Already found dead: a second check changes nothing.
    with django_assert_num_queries(1):
        assert scheduler.check_agents() == 0


def test_check_agents_all_alive(process, agent):
    task = make_task(process, "alive", state=TaskState.Running, agent=agent)
    assert scheduler.check_agents() == 0
    task.refresh_from_db()
    agent.refresh_from_db()
    assert task.state == TaskState.Running
    assert agent.stopped is None


def test_check_agents_ends_the_process(process, dead_agent, django_capture_on_commit_callbacks):
    make_task(process, "initialisation", state=TaskState.Completed)
    make_task(process, "lost", state=TaskState.Running, depth=1, agent=dead_agent)
    with django_capture_on_commit_callbacks(execute=True):
        scheduler.check_agents()
    process.refresh_from_db()
    assert process.state == "error"
    assert process.finished is not None


# periodic


def test_periodic(process, dead_agent, django_capture_on_commit_callbacks):
    """One pass catches up on everything: a dead agent, a lost job, a ready task, a vanished job."""
    init = make_task(process, "initialisation", state=TaskState.Completed)
    lost = make_task(process, "lost", state=TaskState.Running, depth=1, parents=[init], agent=dead_agent)
    ready = make_task(process, "ready", depth=1, parents=[init])
    vanished = make_task(process, "vanished", state=TaskState.Pending, depth=1, parents=[init])
    crashed = make_task(process, "crashed", state=TaskState.Running, depth=1, parents=[init])
    fail_job(crashed)

    with django_capture_on_commit_callbacks(execute=True):
        scheduler.periodic()
    states = dict(process.tasks.values_list("slug", "state"))
    assert states == {
        "initialisation": "completed",
        "lost": "error",
        "ready": "pending",
        "vanished": "pending",
        "crashed": "error",
    }
    assert sorted(queued("default")) == sorted([str(ready.id), str(vanished.id)])
    process.refresh_from_db()
    assert process.finished is None

    # Nothing left to catch up on: a second pass changes nothing.
    with django_capture_on_commit_callbacks(execute=True):
        scheduler.periodic()
    assert dict(process.tasks.values_list("slug", "state")) == states
    assert sorted(queued("default")) == sorted([str(ready.id), str(vanished.id)])
    lost.refresh_from_db()
    assert "stopped answering" in logs.read_log(lost).decode()


def test_periodic_finishes_forgotten_processes(process):
    """A process whose last task ended without a scheduling job still gets `finished`."""
    make_task(process, "worker", state=TaskState.Completed)
    assert Process.objects.get(pk=process.pk).finished is None
    scheduler.periodic()
    process.refresh_from_db()
    assert process.finished is not None
