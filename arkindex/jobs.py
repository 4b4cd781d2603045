"""
Durable background jobs: what the API acknowledges is done, whatever dies meanwhile.

An operation that answers before its work is done (a deletion, an export, the initialisation of
a process's activities, the email at the end of a process) records a `Job` row with `enqueue_job`
in the transaction that answers the request; the job goes on RQ once that transaction commits.
The row, not Redis, is what the server remembers, and one mechanism brings back whatever was lost:
`recover_jobs`, run by the periodic scheduler every PONOS_SCHEDULER_INTERVAL seconds, enqueues
again every unfinished job that nobody runs.

- While an attempt runs, it holds a PostgreSQL advisory lock on its worker's database session.
  The session ends with the worker, however it dies (SIGKILL, a lost host), and the lock with it:
  a running job whose lock is free has lost its worker.
- A pending job that RQ does not hold (Redis was unreachable when the request committed, or lost
  its data) is enqueued again. The request itself never fails because Redis is down.
- A failing attempt is retried after a delay (30 s, doubling), up to JOB_MAX_ATTEMPTS attempts;
  then the job is failed, its error kept, `job_failed` sent, and its user sees it (ListJobs).
- Job functions are idempotent: running a job twice, or again after a half-done attempt rolled
  back, is harmless. Two runners of one job never overlap: the second does not get the lock.

A killed worker's database backend does not go on running its statement: every connection asks
PostgreSQL to check, while a query runs, that its client is still there
(`client_connection_check_interval`, see DATABASE_CLIENT_CHECK_INTERVAL), and the backend stops
within seconds, releasing its locks.

Work whose state the database already holds in full (scheduling tasks, for instance) needs no job
row: the periodic scheduler redoes it from that state, and plain `arkindex.rq.enqueue_on_commit` only
makes it happen sooner.
"""

import json
import logging
from datetime import timedelta

from django.conf import settings
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.db.models import Q
from django.dispatch import Signal
from django.utils import timezone
from django.utils.module_loading import import_string
from redis.exceptions import RedisError
from rq.exceptions import NoSuchJobError
from rq.job import Job as RQJob

from arkindex.models import Job, JobState
from arkindex.rq import DEFAULT_QUEUE, get_queue

logger = logging.getLogger(__name__)

# Sent once a job failed for good, with `sender` the job's function and `job` the row.
job_failed = Signal()

# A job recorded this recently may still be on its way to RQ: the recovery leaves it alone.
SUBMISSION_GRACE = timedelta(seconds=10)
RETRY_DELAY = timedelta(seconds=30)
# RQ states in which a job will still run by itself.
WAITING_RQ_STATES = ("queued", "deferred", "scheduled")


def enqueue_job(function, *args, description, user=None, queue=DEFAULT_QUEUE, key=None, timeout=None, **keywords):
    """
    Record the job `function(*args, **keywords)` (a dotted path; JSON arguments) in the current
    transaction, and put it on RQ once the transaction commits. With `key`, the same work asked
    again while the first job exists is that job. Returns the job.
    """
    values = {
        "function": function,
        "arguments": list(args),
        "keywords": keywords,
        "queue": queue,
        "timeout": timeout,
        "description": description,
        "user": user if getattr(user, "pk", None) else None,
    }
    if key is None:
        job = Job.objects.create(**values)
    else:
        try:
            with transaction.atomic():
                job = Job.objects.create(key=key, **values)
        except IntegrityError:
            return Job.objects.get(key=key)
    transaction.on_commit(lambda: submit(job.id, queue, timeout))
    return job


def rq_job_id(job_id):
    return f"arkindex-job-{job_id}"


def submit(job_id, queue_name, timeout):
    """Put a job on its RQ queue, replacing any earlier RQ job of it. Redis down: left to the recovery."""
    try:
        queue = get_queue(queue_name)
        try:
            RQJob.fetch(rq_job_id(job_id), connection=queue.connection).delete()
        except NoSuchJobError:
            pass
        queue.enqueue(
            run_job,
            str(job_id),
            job_id=rq_job_id(job_id),
            job_timeout=timeout or settings.RQ_QUEUES[queue_name]["DEFAULT_TIMEOUT"],
            result_ttl=600,
            failure_ttl=24 * 3600,
        )
    except RedisError as error:
        logger.warning("Job %s could not be put on RQ (%s): the recovery will enqueue it", job_id, error)
        return False
    return True


# Running


def _lock_sql(function):
    return f"SELECT {function}(hashtextextended('arkindex-job:' || %s, 0))"


def _try_lock(job_id):
    with connection.cursor() as cursor:
        cursor.execute(_lock_sql("pg_try_advisory_lock"), [str(job_id)])
        return cursor.fetchone()[0]


def _unlock(job_id):
    try:
        with connection.cursor() as cursor:
            cursor.execute(_lock_sql("pg_advisory_unlock"), [str(job_id)])
    except DatabaseError:
        # The session is gone, and its locks with it.
        connection.close()


def run_job(job_id):
    """The RQ job: one attempt of a recorded job, unless another runner holds it or it already ended."""
    if not _try_lock(job_id):
        logger.info("Job %s is already running elsewhere", job_id)
        return None
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                f"""
                UPDATE {Job._meta.db_table}
                SET state = %s, attempts = attempts + 1, started = now(), updated = now(), not_before = NULL
                WHERE id = %s AND state IN (%s, %s)
                RETURNING function, arguments, keywords, attempts
                """,
                [JobState.Running, str(job_id), JobState.Pending, JobState.Running],
            )
            row = cursor.fetchone()
        if row is None:
            logger.info("Job %s already ended", job_id)
            return None
        function, arguments, keywords, attempts = row
        # Raw SQL hands jsonb over as text (the ORM's JSONField decodes it otherwise).
        arguments, keywords = (
            json.loads(value) if isinstance(value, str) else value for value in (arguments, keywords)
        )
        try:
            result = import_string(function)(*arguments, **keywords)
        except Exception as error:
            logger.exception("Attempt %d of job %s (%s) failed", attempts, job_id, function)
            _attempt_failed(job_id, attempts, f"{type(error).__name__}: {error}")
            return None
        _update(job_id, state=JobState.Done, finished=timezone.now(), last_error="")
        return result
    finally:
        _unlock(job_id)


def _update(job_id, **values):
    """Record the outcome of an attempt, on a fresh connection if the work broke the one it had."""
    for _ in range(2):
        try:
            return Job.objects.filter(pk=job_id).update(updated=timezone.now(), **values)
        except DatabaseError:
            connection.close()
    return 0


def _attempt_failed(job_id, attempts, error):
    if attempts >= settings.JOB_MAX_ATTEMPTS:
        fail_job(job_id, error)
    else:
        delay = RETRY_DELAY * 2 ** (attempts - 1)
        _update(job_id, state=JobState.Pending, last_error=error, not_before=timezone.now() + delay)


def fail_job(job_id, error):
    """End a job in failure, once, and tell whoever listens (`job_failed`)."""
    changed = _update(job_id, state=JobState.Failed, last_error=error, finished=timezone.now())
    job = Job.objects.filter(pk=job_id).first()
    if changed and job is not None:
        logger.error(
            "Job %s (%s) failed for good after %d attempt(s): %s", job_id, job.description, job.attempts, error
        )
        job_failed.send(sender=import_string(job.function), job=job)


# Recovery


def _runner_alive(job_id):
    """Whether some session holds the job's lock, that is, an attempt is running right now."""
    if not _try_lock(job_id):
        return True
    _unlock(job_id)
    return False


def _waiting_on_rq(job_id, queue):
    try:
        status = RQJob.fetch(rq_job_id(job_id), connection=get_queue(queue).connection).get_status(refresh=False)
    except NoSuchJobError:
        return False
    return status in WAITING_RQ_STATES


def recover_jobs():
    """
    Enqueue again every unfinished job that nobody runs and RQ does not hold: its worker died, or
    it never reached Redis. A job whose worker died at each of its JOB_MAX_ATTEMPTS attempts fails.
    Returns the number of jobs enqueued again.
    """
    now = timezone.now()
    unfinished = Job.objects.filter(state__in=(JobState.Pending, JobState.Running)).filter(
        Q(not_before__isnull=True) | Q(not_before__lte=now)
    )
    recovered = 0
    try:
        for job_id, state, attempts, updated, queue, timeout in unfinished.values_list(
            "id", "state", "attempts", "updated", "queue", "timeout"
        ).order_by("created"):
            if _runner_alive(job_id) or _waiting_on_rq(job_id, queue):
                continue
            if state == JobState.Pending and not attempts and updated > now - SUBMISSION_GRACE:
                continue
            if state == JobState.Running and attempts >= settings.JOB_MAX_ATTEMPTS:
                fail_job(job_id, f"The worker running this job died during each of its {attempts} attempts.")
                continue
            if state == JobState.Running:
                logger.warning("Job %s lost its worker during attempt %d: enqueued again", job_id, attempts)
            if submit(job_id, queue, timeout):
                recovered += 1
    except RedisError as error:
        logger.warning("Redis is unreachable, jobs are recovered at the next round: %s", error)
    return recovered
