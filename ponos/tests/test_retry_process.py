"""
RetryProcess: a new run of the same DAG for an ended process, previous runs kept; 409 while the
process did not start or still runs, 400 for modes without tasks; activities queued again.
"""

# ruff: noqa: F811 (pytest fixtures imported from processes.tests.start_fixtures)

import django_rq
import pytest

from arkindex.models import Job
from ponos import services
from ponos.models import Task, TaskState
from ponos.tests.factories import TaskFactory
from processes.models import ActivityState, Process, ProcessMode
from processes.tests.factories import ProcessFactory
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


def retry_url(process_id):
    return f"/api/v1/process/{process_id}/retry/"


@pytest.fixture
def started(process, runs):
    process, _ = services.process_start(process=process)
    return process


def end(process, state=TaskState.Completed):
    Task.objects.filter(process=process).update(state=state)
    assert services.refresh_process(process.id)


def dag(process, run):
    """Each task of a run as (slug, depth, chunk, worker run, parent slugs)."""
    return {
        (task.slug, task.depth, task.chunk, task.worker_run_id, frozenset(parent.slug for parent in task.parents.all()))
        for task in Task.objects.filter(process=process, run=run).prefetch_related("parents")
    }


def test_retry_creates_a_new_run(user_client, started):
    end(started, TaskState.Failed)
    old = {task.id: task for task in Task.objects.filter(process=started)}

    response = user_client.post(retry_url(started.id))
    assert response.status_code == 200, response.json()
    data = response.json()
    assert data["state"] == "unscheduled"
    assert data["finished"] is None
    assert {task["run"] for task in data["tasks"]} == {1}
    assert len(data["tasks"]) == 4

    started.refresh_from_db()
    assert started.finished is None
    assert started.state == "unscheduled"
    # The previous run is kept as it was.
    assert {task.id: task.state for task in Task.objects.filter(process=started, run=0)} == {
        task_id: TaskState.Failed for task_id in old
    }
    assert dag(started, 1) == dag(started, 0)
    new = {task.slug: task for task in Task.objects.filter(process=started, run=1)}
    assert not set(task.id for task in new.values()) & set(old)
    assert not {task.token for task in new.values()} & {task.token for task in old.values()}
    assert all(task.state == TaskState.Unscheduled for task in new.values())
    # Workers read the elements list of the new initialisation task.
    init = new["initialisation"]
    assert new["c"].env["TASK_ELEMENTS"] == f"$PONOS_DATA/{init.id}/elements.json"
    assert new["c"].env["ARKINDEX_WORKER_RUN_ID"] == str(runs_of(started)["c"])


def runs_of(process):
    return {run.version.worker.slug: run.id for run in process.worker_runs.select_related("version__worker")}


def test_retry_with_chunks(user_client, process, runs):
    process.chunks = 2
    process.save()
    started, _ = services.process_start(process=process)
    end(started)
    assert user_client.post(retry_url(started.id)).status_code == 200
    assert dag(started, 1) == dag(started, 0)
    assert len(dag(started, 1)) == 7


def test_retry_twice(user_client, started):
    end(started)
    assert user_client.post(retry_url(started.id)).status_code == 200
    # The new run has not ended.
    response = user_client.post(retry_url(started.id))
    assert response.status_code == 409
    end(started)
    assert user_client.post(retry_url(started.id)).status_code == 200
    assert sorted(set(Task.objects.filter(process=started).values_list("run", flat=True))) == [0, 1, 2]


def test_retry_a_process_failed_behind_unscheduled_tasks(user_client, started):
    Task.objects.filter(process=started, slug="initialisation").update(state=TaskState.Failed)
    assert services.refresh_process(started.id)
    assert user_client.post(retry_url(started.id)).status_code == 200


def test_retry_running_process(user_client, started):
    Task.objects.filter(process=started, slug="initialisation").update(state=TaskState.Running)
    response = user_client.post(retry_url(started.id))
    assert response.status_code == 409
    assert "running" in response.json()["errors"][0]["detail"]
    assert not Task.objects.filter(process=started, run=1).exists()


def test_retry_not_started(user_client, process, runs):
    assert user_client.post(retry_url(process.id)).status_code == 409


@pytest.mark.parametrize("mode", [ProcessMode.Template])
def test_retry_mode_without_tasks(user_client, corpus, user, mode):
    process = ProcessFactory(corpus=corpus, creator=user, mode=mode)
    response = user_client.post(retry_url(process.id))
    assert response.status_code == 400
    assert list(response.json()) == ["mode"]


def test_retry_local_process(user_client, user):
    process = ProcessFactory(creator=user, mode=ProcessMode.Local)
    assert user_client.post(retry_url(process.id)).status_code == 400


def test_retry_with_activities(user_client, started, django_capture_on_commit_callbacks):
    Process.objects.filter(id=started.id).update(activity_state=ActivityState.Ready)
    end(started)
    with django_capture_on_commit_callbacks(execute=True):
        response = user_client.post(retry_url(started.id))
    assert response.status_code == 200
    assert response.json()["activity_state"] == "pending"
    job, scheduling = django_rq.get_queue("default").get_jobs()
    assert scheduling.func_name == "ponos.scheduler.schedule_process"
    # The initialisation is a durable job, recorded with the retry.
    recorded = Job.objects.get(key=f"process-activities-{started.id}-1")
    assert job.args == (str(recorded.id),)
    assert (recorded.function, recorded.keywords) == ("processes.jobs.initialise_activities", {"reset": True})
    assert recorded.key == f"process-activities-{started.id}-1"


def test_retry_without_activities(user_client, started, django_capture_on_commit_callbacks):
    end(started)
    with django_capture_on_commit_callbacks(execute=True):
        assert user_client.post(retry_url(started.id)).status_code == 200
    assert [job.func_name for job in django_rq.get_queue("default").get_jobs()] == ["ponos.scheduler.schedule_process"]
    started.refresh_from_db()
    assert started.activity_state == ActivityState.Disabled


def test_retry_repository_process_recreates_only_its_initial_task(user_client, user):
    """Seed 002: a repository process's import task builds the rest; only it is recreated."""
    process = ProcessFactory(creator=user, mode=ProcessMode.Repository, started="2026-01-01T00:00Z")
    initial = TaskFactory(process=process, slug="import", depth=0, env={"X": "1"}, command="import")
    child = TaskFactory(process=process, slug="build", depth=1)
    child.parents.add(initial)
    end(process)

    response = user_client.post(retry_url(process.id))
    assert response.status_code == 200, response.json()
    (task,) = Task.objects.filter(process=process, run=1)
    assert (task.slug, task.depth, task.command, task.env) == ("import", 0, "import", {"X": "1"})
    assert task.parents.count() == 0


def test_retry_needs_contributor(started, make_user):
    end(started)
    guest = make_user()
    grant(started.corpus, Role.GUEST, user=guest)
    assert token_client(guest).post(retry_url(started.id)).status_code == 403
    assert not Task.objects.filter(process=started, run=1).exists()


def test_retry_hidden(other_client, started):
    end(started)
    assert other_client.post(retry_url(started.id)).status_code == 404


def test_retry_checks_the_rules_of_starting(user_client, started, runs):
    """A configuration archived since the run: the retry is refused, as a start would be."""
    from workers.models import WorkerConfiguration

    end(started, TaskState.Failed)
    run = runs[0]
    configuration = WorkerConfiguration.objects.create(
        worker=run.version.worker, name="Archived since", configuration={"x": 1}, archived=True
    )
    type(run).objects.filter(pk=run.pk).update(configuration=configuration)
    response = user_client.post(retry_url(started.id))
    assert response.status_code == 400
    assert "archived" in str(response.json()["worker_runs"][str(run.id)])
    assert Task.objects.filter(process=started).values("run").distinct().count() == 1
