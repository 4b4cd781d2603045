"""
The email a process's creator receives when it ends (seed 002), sent through the real path: tasks
end with `set_task_state`, `refresh_process` enqueues the job after the commit, and an in-process
RQ worker runs it (it sees the test's transaction). None for repository or local processes, and
never two for one end (the job is durable, keyed by the process and its end).
"""

# The fixtures imported from task_fixtures are redefined as test arguments, as pytest intends.
# ruff: noqa: F811

import django_rq
import pytest
from django.core import mail
from django.utils import timezone
from rq import SimpleWorker

from arkindex.models import Job
from arkindex.rq import DEFAULT_QUEUE
from ponos import emails, jobs, services
from ponos.models import TaskState
from ponos.tests.factories import make_task
from ponos.tests.task_fixtures import (  # noqa: F401 (fixtures)
    media_root,
    process,
)
from processes.models import Process, ProcessMode
from processes.tests.factories import ProcessFactory

pytestmark = pytest.mark.django_db

FRONTEND_URL = "https://arkindex.example.com"


@pytest.fixture(autouse=True)
def frontend_url(settings):
    settings.FRONTEND_URL = FRONTEND_URL


def run_jobs():
    """Run what is queued, in this process; the number of jobs that ran without failing."""
    queue = django_rq.get_queue(DEFAULT_QUEUE)
    count = queue.count
    django_rq.get_worker(DEFAULT_QUEUE, worker_class=SimpleWorker).work(burst=True)
    assert queue.failed_job_registry.count == 0
    return count


def end_tasks(tasks_and_states, capture):
    """End each task with the compare-and-set transitions an agent uses, committing each time."""
    for task, state in tasks_and_states:
        with capture(execute=True):
            assert services.set_task_state(task, state)


def test_email_when_a_process_ends(process, user, django_capture_on_commit_callbacks):
    process.name = "Transcribe\nregisters"
    process.save()
    init = make_task(process, "initialisation", state=TaskState.Running)
    ocr = make_task(process, "ocr", state=TaskState.Running, depth=1, parents=[init])
    ner = make_task(process, "ner", state=TaskState.Unscheduled, depth=2, parents=[ocr])

    with django_capture_on_commit_callbacks(execute=True):
        assert services.set_task_state(init, TaskState.Completed)
    # Not ended yet: no email job.
    assert run_jobs() == 0
    assert mail.outbox == []

    end_tasks([(ocr, TaskState.Failed)], django_capture_on_commit_callbacks)
    process.refresh_from_db()
    assert process.finished is not None
    assert run_jobs() == 1

    assert len(mail.outbox) == 1
    email = mail.outbox[0]
    assert email.to == [user.email]
    assert email.subject == "Transcribe registers: failed"
    assert "ended: failed" in email.body
    assert "initialisation: completed" in email.body
    assert "ocr: failed" in email.body
    # A task behind a failed parent never ran: the email says so.
    assert "ner: unscheduled" in email.body
    assert f"{FRONTEND_URL}/process/{process.id}" in email.body
    assert ner.token not in email.body


def test_email_lists_the_last_run(process, django_capture_on_commit_callbacks):
    make_task(process, "first-run-only", state=TaskState.Failed, run=0)
    retried = make_task(process, "worker", state=TaskState.Running, run=1)
    end_tasks([(retried, TaskState.Completed)], django_capture_on_commit_callbacks)
    run_jobs()
    assert len(mail.outbox) == 1
    assert mail.outbox[0].subject.endswith(": completed")
    assert "worker: completed" in mail.outbox[0].body
    assert "first-run-only" not in mail.outbox[0].body


def test_email_after_a_stop(process, user_client, django_capture_on_commit_callbacks):
    make_task(process, "initialisation", state=TaskState.Completed)
    make_task(process, "worker", state=TaskState.Pending, depth=1)
    with django_capture_on_commit_callbacks(execute=True):
        assert user_client.post(f"/api/v1/process/{process.id}/stop/").status_code == 200
    run_jobs()
    assert len(mail.outbox) == 1
    assert "worker: stopped" in mail.outbox[0].body
    assert mail.outbox[0].subject.endswith(": stopped")


def test_no_second_email(process, django_capture_on_commit_callbacks):
    task = make_task(process, "worker", state=TaskState.Running)
    end_tasks([(task, TaskState.Completed)], django_capture_on_commit_callbacks)
    assert run_jobs() == 1
    assert len(mail.outbox) == 1

    # The scheduler refreshes the process again: it has already finished, nothing is enqueued.
    with django_capture_on_commit_callbacks(execute=True):
        assert not services.refresh_process(process.id)
    assert run_jobs() == 0
    # The same end asked again is the same, done, job: it is not queued again.
    with django_capture_on_commit_callbacks(execute=True):
        emails.enqueue_process_finished_email(Process.objects.get(pk=process.pk))
    assert run_jobs() == 0
    assert len(mail.outbox) == 1
    assert Job.objects.get().attempts == 1


def test_email_again_after_a_retry(process, django_capture_on_commit_callbacks):
    """A new end is a new email: each end of a retried process is reported."""
    first = make_task(process, "worker", state=TaskState.Running)
    end_tasks([(first, TaskState.Failed)], django_capture_on_commit_callbacks)
    run_jobs()
    Process.objects.filter(pk=process.pk).update(finished=None)
    second = make_task(process, "worker", state=TaskState.Running, run=1)
    end_tasks([(second, TaskState.Completed)], django_capture_on_commit_callbacks)
    run_jobs()
    assert [email.subject.split(": ")[-1] for email in mail.outbox] == ["failed", "completed"]


def test_no_email_for_repository_processes(user, django_capture_on_commit_callbacks):
    process = ProcessFactory(mode=ProcessMode.Repository, creator=user, started=timezone.now())
    task = make_task(process, "import", state=TaskState.Running)
    end_tasks([(task, TaskState.Completed)], django_capture_on_commit_callbacks)
    process.refresh_from_db()
    assert process.finished is not None
    assert run_jobs() == 0
    assert mail.outbox == []
    assert not Job.objects.exists()


def test_no_email_for_local_processes(user):
    # A local process only holds a user's worker runs: it never runs, even if marked finished.
    process = ProcessFactory(mode=ProcessMode.Local, creator=user, started=timezone.now(), finished=timezone.now())
    assert jobs.send_process_finished_email(str(process.id)) is False
    assert mail.outbox == []


def test_no_email_for_a_process_not_finished(process):
    make_task(process, "worker", state=TaskState.Running)
    assert jobs.send_process_finished_email(str(process.id)) is False
    assert mail.outbox == []
