"""
Durable jobs (`arkindex.jobs`) on the real PostgreSQL and Redis, run by in-process RQ workers: the
row recorded with the request, retries with their delay, the failure recorded and announced, the
recovery of what nobody runs, and ListJobs / RetrieveJob.

The deaths of real workers (SIGKILL) are in `tests/test_durability.py`.
"""

import threading
import uuid

import django_rq
import pytest
from django.db import connection, connections
from django.dispatch import receiver
from rq import SimpleWorker

from arkindex import jobs
from arkindex.models import Job, JobState
from arkindex.rq import DEFAULT_QUEUE
from tests.tokens import token_client

pytestmark = pytest.mark.django_db

CALLS = []


def record_call(*args, **kwargs):
    CALLS.append((args, kwargs))
    return len(CALLS)


def always_fails(reason):
    raise ValueError(reason)


@receiver(jobs.job_failed, sender=always_fails)
def remember_failure(sender, job, **kwargs):
    CALLS.append(("failed", job.id))


@pytest.fixture(autouse=True)
def _calls():
    CALLS.clear()


def work():
    """Run what is queued, in this process: the jobs see the test's transaction."""
    return django_rq.get_worker(DEFAULT_QUEUE, worker_class=SimpleWorker).work(burst=True)


def record(function, *args, capture, **kwargs):
    with capture(execute=True):
        return jobs.enqueue_job(f"arkindex.tests.test_jobs.{function}", *args, description="A test job", **kwargs)


def test_recorded_then_run(user, django_capture_on_commit_callbacks):
    job_id = uuid.uuid4()
    job = record("record_call", job_id, "text", capture=django_capture_on_commit_callbacks, user=user, flag=True)
    assert (job.state, job.attempts, job.user) == (JobState.Pending, 0, user)
    assert work()
    # Ids are given to the function as their text, as they were sent.
    assert CALLS == [((str(job_id), "text"), {"flag": True})]
    job.refresh_from_db()
    assert (job.state, job.attempts, job.last_error) == (JobState.Done, 1, "")
    assert job.started is not None and job.finished is not None


def test_not_queued_before_commit(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        jobs.enqueue_job("arkindex.tests.test_jobs.record_call", description="x")
    assert django_rq.get_queue(DEFAULT_QUEUE).count == 0
    assert len(callbacks) == 1


def test_same_key_is_one_job(django_capture_on_commit_callbacks):
    first = record("record_call", capture=django_capture_on_commit_callbacks, key="only-once")
    second = record("record_call", capture=django_capture_on_commit_callbacks, key="only-once")
    assert first.id == second.id
    assert Job.objects.count() == 1
    assert django_rq.get_queue(DEFAULT_QUEUE).count == 1


def test_a_done_job_does_not_run_again(django_capture_on_commit_callbacks):
    job = record("record_call", capture=django_capture_on_commit_callbacks)
    work()
    assert jobs.run_job(str(job.id)) is None
    assert len(CALLS) == 1


def test_failures_are_retried_then_failed_and_announced(settings, django_capture_on_commit_callbacks):
    settings.JOB_MAX_ATTEMPTS = 2
    job = record("always_fails", "out of disk", capture=django_capture_on_commit_callbacks)
    work()
    job.refresh_from_db()
    assert (job.state, job.attempts, job.last_error) == (JobState.Pending, 1, "ValueError: out of disk")
    # Retried after a delay, not at once.
    assert job.not_before is not None
    assert jobs.recover_jobs() == 0

    Job.objects.filter(pk=job.pk).update(not_before=None)
    assert jobs.recover_jobs() == 1
    work()
    job.refresh_from_db()
    assert (job.state, job.attempts) == (JobState.Failed, 2)
    assert CALLS == [("failed", job.id)]
    # Nothing more to recover: a failed job stays failed.
    assert jobs.recover_jobs() == 0


def test_recovery_enqueues_what_never_reached_redis(django_capture_on_commit_callbacks):
    job = record("record_call", capture=django_capture_on_commit_callbacks)
    # Redis lost the job (restarted, flushed): the row remembers it.
    django_rq.get_queue(DEFAULT_QUEUE).connection.flushdb()
    # Just recorded: its enqueue may still be on the way.
    assert jobs.recover_jobs() == 0
    Job.objects.filter(pk=job.pk).update(updated=job.updated - jobs.SUBMISSION_GRACE * 2)
    assert jobs.recover_jobs() == 1
    assert work()
    job.refresh_from_db()
    assert job.state == JobState.Done


def test_recovery_leaves_queued_jobs_alone(django_capture_on_commit_callbacks):
    job = record("record_call", capture=django_capture_on_commit_callbacks)
    Job.objects.filter(pk=job.pk).update(updated=job.updated - jobs.SUBMISSION_GRACE * 2)
    assert jobs.recover_jobs() == 0
    assert django_rq.get_queue(DEFAULT_QUEUE).count == 1


def test_running_job_whose_worker_died_runs_again(django_capture_on_commit_callbacks):
    """Running, but nobody holds its lock: its worker died; the recovery enqueues it again."""
    job = record("record_call", capture=django_capture_on_commit_callbacks)
    django_rq.get_queue(DEFAULT_QUEUE).empty()
    Job.objects.filter(pk=job.pk).update(state=JobState.Running, attempts=1)
    assert jobs.recover_jobs() == 1
    assert work()
    job.refresh_from_db()
    assert (job.state, job.attempts) == (JobState.Done, 2)


def test_running_job_with_a_live_worker_is_left_alone(django_capture_on_commit_callbacks):
    """Another session holds the job's lock: an attempt is running, nothing is enqueued nor run twice."""
    job = record("record_call", capture=django_capture_on_commit_callbacks)
    django_rq.get_queue(DEFAULT_QUEUE).empty()
    Job.objects.filter(pk=job.pk).update(state=JobState.Running, attempts=1)
    locked, release = threading.Event(), threading.Event()

    def hold_the_lock():
        other = connections.create_connection("default")
        try:
            with other.cursor() as cursor:
                cursor.execute(jobs._lock_sql("pg_advisory_lock"), [str(job.id)])
                locked.set()
                release.wait(10)
        finally:
            other.close()

    thread = threading.Thread(target=hold_the_lock)
    thread.start()
    try:
        assert locked.wait(10)
        assert jobs.recover_jobs() == 0
        assert jobs.run_job(str(job.id)) is None
        assert CALLS == []
    finally:
        release.set()
        thread.join()


def test_a_worker_dying_at_each_attempt_fails_the_job(settings, django_capture_on_commit_callbacks):
    settings.JOB_MAX_ATTEMPTS = 2
    job = record("always_fails", "never run", capture=django_capture_on_commit_callbacks)
    django_rq.get_queue(DEFAULT_QUEUE).empty()
    Job.objects.filter(pk=job.pk).update(state=JobState.Running, attempts=2)
    assert jobs.recover_jobs() == 0
    job.refresh_from_db()
    assert job.state == JobState.Failed
    assert job.last_error == "The worker running this job died during each of its 2 attempts."
    assert CALLS == [("failed", job.id)]


def test_redis_down_at_commit_loses_nothing(monkeypatch, django_capture_on_commit_callbacks):
    """The request commits with the job recorded; the recovery enqueues it once Redis answers."""
    monkeypatch.setitem(django_rq.settings.QUEUES[DEFAULT_QUEUE], "URL", "redis://127.0.0.1:1/0")
    job = record("record_call", capture=django_capture_on_commit_callbacks)
    assert Job.objects.filter(pk=job.pk, state=JobState.Pending).exists()
    assert jobs.recover_jobs() == 0
    monkeypatch.undo()
    Job.objects.filter(pk=job.pk).update(updated=job.updated - jobs.SUBMISSION_GRACE * 2)
    assert jobs.recover_jobs() == 1
    assert work()


def test_the_lock_is_released_after_each_attempt(django_capture_on_commit_callbacks):
    job = record("record_call", capture=django_capture_on_commit_callbacks)
    work()
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()")
        assert cursor.fetchone()[0] == 0
    assert not jobs._runner_alive(job.id)


# ListJobs, RetrieveJob


@pytest.fixture
def users_jobs(user, other_user):
    def make(owner, description, state=JobState.Pending):
        return Job.objects.create(function="x.y", description=description, user=owner, state=state)

    return {
        "mine": make(user, "Delete corpus A", JobState.Failed),
        "mine_too": make(user, "Export corpus B", JobState.Done),
        "theirs": make(other_user, "Delete process C"),
    }


def test_list_jobs(user_client, users_jobs):
    response = user_client.get("/api/v1/jobs/")
    assert response.status_code == 200
    assert [job["description"] for job in response.json()["results"]] == ["Export corpus B", "Delete corpus A"]
    assert set(response.json()["results"][0]) == {
        "id",
        "description",
        "state",
        "attempts",
        "last_error",
        "created",
        "updated",
        "started",
        "finished",
    }
    failed = user_client.get("/api/v1/jobs/?state=failed").json()["results"]
    assert [job["id"] for job in failed] == [str(users_jobs["mine"].id)]


@pytest.mark.parametrize("count", [2, 5])
def test_list_jobs_queries(user, count, django_assert_num_queries):
    for index in range(count):
        Job.objects.create(function="x.y", description=f"Job {index}", user=user)
    client = token_client(user)
    client.get("/api/v1/jobs/")
    # Token, count, page.
    with django_assert_num_queries(3):
        assert len(client.get("/api/v1/jobs/").json()["results"]) == count


def test_list_jobs_bad_state(user_client):
    response = user_client.get("/api/v1/jobs/?state=nope")
    assert response.status_code == 400
    assert "state" in response.json()


def test_instance_administrators_see_every_job(superuser_client, users_jobs):
    assert superuser_client.get("/api/v1/jobs/").json()["count"] == 3


def test_retrieve_job(user_client, users_jobs):
    response = user_client.get(f"/api/v1/jobs/{users_jobs['mine'].id}/")
    assert response.status_code == 200
    assert response.json()["state"] == "failed"
    # Someone else's job is hidden; so is one that does not exist.
    assert user_client.get(f"/api/v1/jobs/{users_jobs['theirs'].id}/").status_code == 404
    assert user_client.get(f"/api/v1/jobs/{uuid.uuid4()}/").status_code == 404


def test_jobs_anonymous(anonymous_client, users_jobs):
    assert anonymous_client.get("/api/v1/jobs/").status_code == 401
    assert anonymous_client.get(f"/api/v1/jobs/{users_jobs['mine'].id}/").status_code == 401


def test_admin_runs_failed_jobs_again(superuser, django_capture_on_commit_callbacks):
    from django.test import Client

    failed = Job.objects.create(
        function="arkindex.tests.test_jobs.record_call", description="Failed", state=JobState.Failed, attempts=3
    )
    done = Job.objects.create(function="arkindex.tests.test_jobs.record_call", description="Done", state=JobState.Done)
    client = Client()
    client.force_login(superuser)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/admin/arkindex/job/", {"action": "run_again", "_selected_action": [failed.id, done.id]}
        )
    assert response.status_code == 302
    assert work()
    failed.refresh_from_db()
    assert (failed.state, failed.attempts) == (JobState.Done, 1)
    assert len(CALLS) == 1
