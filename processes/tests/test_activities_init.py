"""
Worker activities: the initialisation job run by a real RQ worker (one activity per worker run and
element, set-based, idempotent, guarded by the process's `activity_state`), the reset of a retry,
and the deletion hooks of processes, elements and corpora.
"""

# ruff: noqa: F811 (pytest fixtures imported from processes.tests.start_fixtures)

import django_rq
import pytest
from django.db import connection
from rq import SimpleWorker

from arkindex.jobs import recover_jobs
from arkindex.models import Job, JobState
from documents import services as documents_services
from documents.tests.factories import CorpusFactory, ElementFactory, ElementTypeFactory
from ponos.services import enqueue_initialise_activities
from processes import jobs
from processes.models import ActivityState, Process, WorkerActivity, WorkerActivityState
from processes.services import activities
from processes.tests.factories import ProcessFactory, make_run
from processes.tests.start_fixtures import (  # noqa: F401
    ELEMENT_COUNT,
    elements,
    page_type,
    process,
    runs,
)


@pytest.fixture
def pending(process, runs):
    process.activity_state = ActivityState.Pending
    process.save()
    return process


def run_job(process, django_capture_on_commit_callbacks, reset=False):
    """Record the job as StartProcess does, enqueued after commit, and run it with an in-process worker."""
    with django_capture_on_commit_callbacks(execute=True):
        job = enqueue_initialise_activities(process, run=0, reset=reset)
    queue = django_rq.get_queue("default")
    assert queue.count == 1
    # In-process worker: the job must see this test's transaction.
    assert django_rq.get_worker("default", worker_class=SimpleWorker).work(burst=True)
    job.refresh_from_db()
    return job


def activity_keys(process):
    return list(WorkerActivity.objects.filter(process=process).values_list("worker_run_id", "element_id"))


def test_job_creates_one_activity_per_run_and_element(pending, runs, elements, django_capture_on_commit_callbacks):
    job = run_job(pending, django_capture_on_commit_callbacks)
    assert (job.state, job.attempts) == (JobState.Done, 1)
    keys = activity_keys(pending)
    assert len(keys) == len(set(keys)) == 3 * ELEMENT_COUNT
    assert set(keys) == {(run.id, element.id) for run in runs for element in elements}
    assert set(WorkerActivity.objects.values_list("state", flat=True)) == {WorkerActivityState.Queued}
    assert not WorkerActivity.objects.filter(started__isnull=False).exists()
    pending.refresh_from_db()
    assert pending.activity_state == ActivityState.Ready


def test_job_follows_element_filters(pending, corpus, page_type, elements, django_capture_on_commit_callbacks):
    pending.name_contains = "Page 1"
    pending.save()
    run_job(pending, django_capture_on_commit_callbacks)
    assert {element_id for _, element_id in activity_keys(pending)} == {elements[1].id}


def test_one_statement_per_worker_run(pending, django_assert_num_queries):
    # The process, its worker runs, the explicit element list; a savepoint; one INSERT per run; ready.
    with django_assert_num_queries(3 + 1 + 3 + 1 + 1):
        assert activities.activities_initialise(process_id=pending.id) == 3 * ELEMENT_COUNT


def test_job_is_idempotent(pending, corpus, page_type):
    assert jobs.initialise_activities(str(pending.id)) == 3 * ELEMENT_COUNT
    # Once ready, the job does nothing.
    assert jobs.initialise_activities(str(pending.id)) is None
    # Pending again with a new element: only what is missing is added.
    ElementFactory(corpus=corpus, type=page_type, name="New page")
    Process.objects.filter(id=pending.id).update(activity_state=ActivityState.Pending)
    assert jobs.initialise_activities(str(pending.id)) == 3
    assert WorkerActivity.objects.filter(process=pending).count() == 3 * (ELEMENT_COUNT + 1)


@pytest.mark.parametrize("state", [ActivityState.Disabled, ActivityState.Ready, ActivityState.Error])
def test_job_needs_pending(process, runs, state):
    process.activity_state = state
    process.save()
    assert jobs.initialise_activities(str(process.id)) is None
    assert not WorkerActivity.objects.exists()
    process.refresh_from_db()
    assert process.activity_state == state


def test_job_on_a_deleted_process(pending):
    process_id = pending.id
    WorkerActivity.objects.all().delete()
    pending.worker_runs.all().delete()
    pending.delete()
    assert jobs.initialise_activities(str(process_id)) is None


def test_job_failure_is_retried_then_sets_error(pending, monkeypatch, settings, django_capture_on_commit_callbacks):
    def broken(process, *, reset):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(activities, "_insert_activities", broken)
    job = run_job(pending, django_capture_on_commit_callbacks)
    # A failed attempt is tried again later: workers are not told anything yet.
    assert (job.state, job.attempts, job.last_error) == (JobState.Pending, 1, "RuntimeError: the database went away")
    assert job.not_before is not None
    pending.refresh_from_db()
    assert pending.activity_state == ActivityState.Pending

    # The last attempt fails too: the job is failed, and the process says so to its workers.
    settings.JOB_MAX_ATTEMPTS = 2
    Job.objects.filter(pk=job.pk).update(not_before=None)
    assert recover_jobs() == 1
    assert django_rq.get_worker("default", worker_class=SimpleWorker).work(burst=True)
    job.refresh_from_db()
    assert (job.state, job.attempts) == (JobState.Failed, 2)
    pending.refresh_from_db()
    assert pending.activity_state == ActivityState.Error


def test_reset_keeps_processed_activities(pending, runs, elements):
    activities.activities_initialise(process_id=pending.id)
    a = runs[0]
    states = {
        elements[0]: WorkerActivityState.Processed,
        elements[1]: WorkerActivityState.Error,
        elements[2]: WorkerActivityState.Started,
    }
    for element, state in states.items():
        WorkerActivity.objects.filter(worker_run=a, element=element).update(state=state, started="2026-01-01T00:00Z")
    Process.objects.filter(id=pending.id).update(activity_state=ActivityState.Pending)

    assert activities.activities_initialise(process_id=pending.id, reset=True) == 0
    by_element = dict(WorkerActivity.objects.filter(worker_run=a).values_list("element_id", "state"))
    assert by_element[elements[0].id] == WorkerActivityState.Processed
    assert by_element[elements[1].id] == WorkerActivityState.Queued
    assert by_element[elements[2].id] == WorkerActivityState.Queued
    assert WorkerActivity.objects.get(worker_run=a, element=elements[0]).started is not None
    assert WorkerActivity.objects.get(worker_run=a, element=elements[1]).started is None


# Deletion hooks


def test_process_deletion_hook(pending, corpus, user):
    other = ProcessFactory(corpus=corpus, creator=user, mode="workers", activity_state="pending")
    make_run(other)
    activities.activities_initialise(process_id=pending.id)
    activities.activities_initialise(process_id=other.id)
    with connection.cursor() as cursor:
        activities.delete_process_activities(sender=Process, cursor=cursor, process_id=pending.id)
    assert not WorkerActivity.objects.filter(process=pending).exists()
    assert WorkerActivity.objects.filter(process=other).count() == ELEMENT_COUNT


def test_receivers_are_connected():
    from documents.models import Element
    from documents.signals import elements_deleting
    from processes.signals import process_deleting

    # Django's own list of what a send would call (sync receivers first).
    assert activities.delete_process_activities in process_deleting._live_receivers(Process)[0]
    assert activities.delete_element_activities in elements_deleting._live_receivers(Element)[0]


def test_element_deletion_deletes_its_activities(pending, elements):
    activities.activities_initialise(process_id=pending.id)
    documents_services.element_delete(element_id=elements[0].id)
    assert not WorkerActivity.objects.filter(element_id=elements[0].id).exists()
    assert WorkerActivity.objects.filter(process=pending).count() == 3 * (ELEMENT_COUNT - 1)


def test_corpus_deletion_deletes_activities(pending, corpus, user, django_capture_on_commit_callbacks):

    other_corpus = CorpusFactory(name="Kept")
    page = ElementTypeFactory(corpus=other_corpus, slug="page", display_name="Page")
    ElementFactory(corpus=other_corpus, type=page, name="Kept page")
    kept = ProcessFactory(corpus=other_corpus, creator=user, mode="workers", activity_state="pending")
    make_run(kept)
    activities.activities_initialise(process_id=pending.id)
    activities.activities_initialise(process_id=kept.id)

    documents_services.corpus_delete(corpus_id=corpus.id)
    assert not Process.objects.filter(id=pending.id).exists()
    assert not WorkerActivity.objects.filter(process_id=pending.id).exists()
    assert WorkerActivity.objects.filter(process=kept).count() == 1
