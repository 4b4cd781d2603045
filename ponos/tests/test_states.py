"""
Task transitions (`set_task_state`) and the end of a process (`refresh_process`): `finished` is set
once the last run can make no more progress, including a failed run whose remaining tasks stay
unscheduled behind a failed parent (seed 002), and never before.
"""

# ruff: noqa: F811 (pytest fixtures imported from processes.tests.start_fixtures)

import pytest
from django.db import connection

from documents import services as documents_services
from ponos import services
from ponos.deletion import delete_process_tasks
from ponos.models import Artifact, Task, TaskState
from processes.models import Process
from processes.services.activities import activities_initialise
from processes.tests.factories import ProcessFactory, make_run
from processes.tests.start_fixtures import (  # noqa: F401
    elements,
    make_version,
    page_type,
    process,
    runs,
)

U, P, R, C, F, E, S = "unscheduled", "pending", "running", "completed", "failed", "error", "stopped"


@pytest.fixture
def started(process, runs):
    process, tasks = services.process_start(process=process)
    return process


def set_states(process, **states):
    for slug, state in states.items():
        assert Task.objects.filter(process=process, slug=slug).update(state=state) == 1


def finished(process):
    process.refresh_from_db()
    return process.finished is not None


@pytest.mark.parametrize(
    "states, expected",
    [
        ({"initialisation": U, "a": U, "b": U, "c": U}, False),
        ({"initialisation": P, "a": U, "b": U, "c": U}, False),
        ({"initialisation": R, "a": U, "b": U, "c": U}, False),
        # `a` has all its parents completed: the scheduler is about to queue it.
        ({"initialisation": C, "a": U, "b": U, "c": U}, False),
        ({"initialisation": C, "a": C, "b": R, "c": U}, False),
        ({"initialisation": C, "a": C, "b": C, "c": C}, True),
        # Seed 002: a failed run ends even though tasks stay unscheduled behind the failure.
        ({"initialisation": F, "a": U, "b": U, "c": U}, True),
        ({"initialisation": C, "a": F, "b": U, "c": U}, True),
        ({"initialisation": C, "a": C, "b": E, "c": U}, True),
        ({"initialisation": C, "a": C, "b": C, "c": F}, True),
        ({"initialisation": S, "a": S, "b": S, "c": S}, True),
        ({"initialisation": C, "a": C, "b": C, "c": "stopping"}, False),
    ],
)
def test_refresh_process(started, states, expected):
    set_states(started, **states)
    assert services.refresh_process(started.id) is expected
    assert finished(started) is expected


def test_refresh_waits_for_an_independent_branch(process, runs):
    """A failure on one branch does not end the run while another branch can still run."""
    d = make_run(process, make_version("d"))
    started, _ = services.process_start(process=process)
    set_states(started, initialisation=C, a=F, b=U, c=U, d=U)
    assert services.refresh_process(started.id) is False
    set_states(started, d=R)
    assert services.refresh_process(started.id) is False
    set_states(started, d=C)
    assert services.refresh_process(started.id) is True
    assert d.tasks.get().state == C


def test_refresh_needs_a_started_process(started):
    set_states(started, initialisation=C, a=C, b=C, c=C)
    Process.objects.filter(id=started.id).update(started=None)
    assert services.refresh_process(started.id) is False


def test_refresh_keeps_the_first_finished(started):
    set_states(started, initialisation=C, a=C, b=C, c=C)
    assert services.refresh_process(started.id) is True
    first = Process.objects.get(id=started.id).finished
    assert services.refresh_process(started.id) is False
    assert Process.objects.get(id=started.id).finished == first


def test_refresh_never_clears_finished(started):
    set_states(started, initialisation=C, a=C, b=C, c=C)
    services.refresh_process(started.id)
    set_states(started, c=R)
    assert services.refresh_process(started.id) is False
    assert finished(started)


def test_set_task_state_is_a_compare_and_set(started):
    task = Task.objects.get(process=started, slug="initialisation")
    stale = Task.objects.get(pk=task.pk)
    assert services.set_task_state(task, TaskState.Pending) is True
    assert task.state == TaskState.Pending
    # Applied twice: nothing changes.
    assert services.set_task_state(task, TaskState.Pending) is False
    # From a state the task has left meanwhile: nothing changes.
    assert services.set_task_state(stale, TaskState.Pending) is False
    assert services.set_task_state(stale, TaskState.Error) is False
    assert Task.objects.get(pk=task.pk).state == TaskState.Pending


def test_set_task_state_timestamps_and_final_states(started):
    task = Task.objects.get(process=started, slug="initialisation")
    assert services.set_task_state(task, TaskState.Pending)
    assert services.set_task_state(task, TaskState.Running)
    stored = Task.objects.get(pk=task.pk)
    assert stored.started is not None
    assert stored.finished is None
    assert services.set_task_state(task, TaskState.Completed)
    stored = Task.objects.get(pk=task.pk)
    assert stored.finished is not None
    # A final state is never left.
    for state in (TaskState.Running, TaskState.Pending, TaskState.Failed, TaskState.Unscheduled):
        assert services.set_task_state(task, state) is False
    assert Task.objects.get(pk=task.pk).state == TaskState.Completed


def test_unscheduled_cannot_run_directly(started):
    task = Task.objects.get(process=started, slug="a")
    assert services.set_task_state(task, TaskState.Running) is False
    assert services.set_task_state(task, TaskState.Completed) is False


def test_last_task_ending_finishes_the_process(started):
    set_states(started, initialisation=C, a=C, b=C, c=R)
    task = Task.objects.get(process=started, slug="c")
    assert services.set_task_state(task, TaskState.Failed)
    assert finished(started)


def test_failed_initialisation_finishes_the_process(started):
    task = Task.objects.get(process=started, slug="initialisation")
    services.set_task_state(task, TaskState.Pending)
    services.set_task_state(task, TaskState.Running)
    assert not finished(started)
    services.set_task_state(task, TaskState.Failed)
    assert finished(started)
    assert started.state == "failed"


# Deletion


def test_process_deletion_hook_deletes_tasks(started, user, corpus):
    other = ProcessFactory(corpus=corpus, creator=user, mode="workers")
    make_run(other)
    services.process_start(process=other)
    task = Task.objects.get(process=started, slug="c")
    Artifact.objects.create(task=task, path="out.json", size=2)
    with connection.cursor() as cursor:
        delete_process_tasks(sender=Process, cursor=cursor, process_id=started.id)
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    assert not Task.objects.filter(process=started).exists()
    assert not Artifact.objects.exists()
    assert not Task.parents.through.objects.filter(from_task__process=started).exists()
    assert Task.objects.filter(process=other).count() == 2


def test_corpus_deletion_deletes_tasks(started, corpus, django_capture_on_commit_callbacks):
    Process.objects.filter(id=started.id).update(activity_state="pending")
    activities_initialise(process_id=started.id)
    documents_services.corpus_delete(corpus_id=corpus.id)
    with connection.cursor() as cursor:
        # Foreign keys are deferred: check them now, as the commit would.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    assert not Process.objects.filter(id=started.id).exists()
    assert not Task.objects.exists()
