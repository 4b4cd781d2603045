"""
Worker activities: their initialisation when a process starts or is retried, and what deleting a
process, elements or a corpus does to them.

A process of 100,000 elements and three worker runs holds 300,000 activities, so nothing here
goes through Python rows: the elements of the process are the SQL of `process_elements(process)`
(the very queryset `ListProcessElements` pages through), fed to one `INSERT … SELECT` per worker
run. `ON CONFLICT DO NOTHING` makes the initialisation idempotent: run twice, or again after a
retry once new elements matched the filters, it only adds what is missing.

The process's `activity_state` tells workers whether they may report activities: `pending` while
the job runs (set by StartProcess or RetryProcess), then `ready`, or `error` when it failed. Every
change is a guarded `UPDATE … WHERE activity_state = 'pending'`, so that a late or repeated job
never overrides a newer state.
"""

import logging

from django.conf import settings
from django.db import connection, models, transaction
from django.db.models.functions import Now
from django.dispatch import receiver

from documents.models import Element
from documents.signals import elements_deleting
from processes.models import ActivityState, Process, WorkerActivity, WorkerActivityState, WorkerRun
from processes.services import process_elements
from processes.signals import process_deleting

logger = logging.getLogger(__name__)

ACTIVITIES = WorkerActivity._meta.db_table
# From this many activities created at once, the table's statistics are refreshed right away
# instead of waiting for autovacuum.
ANALYZE_AFTER = 10_000


def activities_initialise(*, process_id, reset=False):
    """
    Create the missing activities of a process whose `activity_state` is pending, one set-based
    statement per worker run, then mark it ready. With `reset` (a retried process), the activities
    that did not end well (`started`, `error`) are queued again first, in one UPDATE; processed ones
    are kept, so a retry only redoes what is left.

    Returns the number of activities created, or None when the process is gone or not pending
    (already initialised, activities turned off). A failure rolls everything back and propagates:
    the job is tried again, and once it failed for good the process's `activity_state` becomes
    `error` (`activities_initialisation_failed`).
    """
    process = Process.objects.filter(id=process_id, activity_state=ActivityState.Pending).first()
    if process is None:
        logger.info("Process %s has no pending activity initialisation", process_id)
        return None
    with transaction.atomic():
        created = _insert_activities(process, reset=reset)
        Process.objects.filter(id=process.id, activity_state=ActivityState.Pending).update(
            activity_state=ActivityState.Ready
        )
    if created >= ANALYZE_AFTER:
        # Fresh statistics before the tasks read the queue: with those of an emptier table,
        # PostgreSQL plans each UpdateWorkerActivity as a scan of the run's activities.
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {ACTIVITIES}")
    logger.info("Initialised %d activities of process %s", created, process_id)
    return created


def activities_initialisation_failed(*, process_id):
    """The initialisation of a process's activities failed for good: workers are told (`error`)."""
    Process.objects.filter(id=process_id, activity_state=ActivityState.Pending).update(
        activity_state=ActivityState.Error
    )


def _insert_activities(process, *, reset):
    run_ids = list(
        WorkerRun.objects.filter(process_id=process.id).order_by("created", "id").values_list("id", flat=True)
    )
    # The element queryset compiled once; `order_by()` drops the model's ordering, useless here.
    elements_sql, elements_params = process_elements(process).order_by().values("id").query.sql_with_params()
    created = 0
    with connection.cursor() as cursor:
        if reset:
            # Asked to retry: elements given up on get their attempts back.
            cursor.execute(
                f"UPDATE {ACTIVITIES} SET state = %s, started = NULL, task_id = NULL, attempts = 0, updated = now() "
                "WHERE process_id = %s AND state IN (%s, %s)",
                [WorkerActivityState.Queued, process.id, WorkerActivityState.Started, WorkerActivityState.Error],
            )
        for run_id in run_ids:
            cursor.execute(
                f"""
                INSERT INTO {ACTIVITIES} (process_id, worker_run_id, element_id, state, created, updated)
                SELECT %s, %s, process_element.id, %s, now(), now()
                FROM ({elements_sql}) AS process_element
                ON CONFLICT (worker_run_id, element_id) DO NOTHING
                """,
                [process.id, run_id, WorkerActivityState.Queued, *elements_params],
            )
            created += cursor.rowcount
    return created


def release_task_activities(*, task_id, reason):
    """
    Give back to their queue the elements a task still held (`started`) when it ended: another task
    of the same worker run, or a retry, takes them. Each such loss counts as an attempt, recorded
    with `reason`; an element lost ACTIVITY_MAX_ATTEMPTS times in a row ends in `error` instead of
    cycling for ever. One UPDATE, run in the transaction that ends the task. Returns how many.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            UPDATE {ACTIVITIES}
            SET state = CASE WHEN attempts + 1 >= %(max)s THEN %(error)s ELSE %(queued)s END,
                attempts = attempts + 1, last_error = %(reason)s, task_id = NULL, started = NULL, updated = now()
            WHERE task_id = %(task)s AND state = %(started)s
            """,
            {
                "max": settings.ACTIVITY_MAX_ATTEMPTS,
                "error": WorkerActivityState.Error,
                "queued": WorkerActivityState.Queued,
                "started": WorkerActivityState.Started,
                "reason": reason,
                "task": str(task_id),
            },
        )
        released = cursor.rowcount
    if released:
        logger.warning("Task %s ended holding %d element(s): given back to their queue", task_id, released)
    return released


# Deletion hooks: run inside the deletion's transaction (see `processes.services.deletion` and
# `documents.services`). A corpus's deletion runs the process hook for each of its processes; a
# process only has activities on elements of its own corpus.


@receiver(process_deleting, sender=Process)
def delete_process_activities(sender, cursor, process_id, **kwargs):
    cursor.execute(f"DELETE FROM {ACTIVITIES} WHERE process_id = %s", [str(process_id)])


@receiver(elements_deleting, sender=Element)
def delete_element_activities(sender, cursor, **kwargs):
    cursor.execute(f"DELETE FROM {ACTIVITIES} WHERE element_id IN (SELECT id FROM doomed_elements)")


# Consuming and reporting activities (StartWorkerActivity, UpdateWorkerActivity, statistics).
#
# Several tasks of the same worker run consume its queue at the same time: each takes the next
# queued element with `FOR UPDATE SKIP LOCKED`, so that two tasks never get the same element and
# never wait for each other; a report is an `UPDATE` guarded on the current state, so that two
# tasks racing on the same element cannot both start it.

PROCESSES = Process._meta.db_table


class ActivityError(Exception):
    """A refused activity request: `status` is the HTTP status the API answers with."""

    def __init__(self, status, message, field=None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field


# Allowed transitions, by target state: the states an activity may be in to move to it.
TRANSITIONS = {
    WorkerActivityState.Started: (WorkerActivityState.Queued, WorkerActivityState.Error),
    WorkerActivityState.Processed: (WorkerActivityState.Started,),
    WorkerActivityState.Error: (WorkerActivityState.Started,),
}


def _process_activity_state(cursor, process_id):
    cursor.execute(f"SELECT activity_state FROM {PROCESSES} WHERE id = %s", [str(process_id)])
    row = cursor.fetchone()
    return row[0] if row else None


def start_sql(runs, task):
    """
    The statement handing out the next queued element of the worker run that the SQL `runs`
    selects (nothing when it selects no row), marked started and held by the task that the SQL
    `task` selects, as `(id, type_id, name)`. One
    statement: the queued row is locked, skipped by the other tasks, updated and joined to its
    element at once. The queue is served in insertion order (the bigint id), read from the partial
    `activity_queue` index (worker run, id) of queued rows. The run is compared with `= ANY(…)` and
    the order names both columns so that the primary key cannot serve the order: with `=`,
    PostgreSQL would often walk the primary key, reading every activity already handed out (of
    this run and of older processes) on each call.
    """
    return f"""
        WITH taken AS (
            UPDATE {ACTIVITIES}
            SET state = '{WorkerActivityState.Started}', started = now(), updated = now(), task_id = ({task})
            WHERE id = (
                SELECT activity.id FROM {ACTIVITIES} AS activity
                WHERE activity.worker_run_id = ANY(ARRAY({runs}))
                AND activity.state = '{WorkerActivityState.Queued}'
                ORDER BY activity.worker_run_id, activity.id
                LIMIT 1
                FOR UPDATE SKIP LOCKED
            )
            RETURNING element_id
        )
        SELECT element.id, element.type_id, element.name
        FROM taken JOIN {Element._meta.db_table} AS element ON element.id = taken.element_id
    """


def update_sql(run, task):
    """
    The guarded UPDATE moving the activity of the worker run that the SQL `run` selects (nothing
    when it selects no row) on `%(element)s` to `%(state)s`, if it is in one of the states
    `%(allowed)s` (see TRANSITIONS); `started` also records when, and which task the SQL `task`
    selects (none for a person) holds the element until it reports on it.
    """
    return f"""
        UPDATE {ACTIVITIES}
        SET state = %(state)s::varchar, updated = now(),
            started = CASE WHEN %(state)s::varchar = '{WorkerActivityState.Started}' THEN now() ELSE started END,
            task_id = CASE WHEN %(state)s::varchar = '{WorkerActivityState.Started}' THEN ({task}) END
        WHERE worker_run_id = ({run}) AND element_id = %(element)s::uuid AND state = ANY(%(allowed)s::varchar[])
    """


# The worker run of the API's calls, once their caller is known: the run itself when its process
# tracks activities and they are ready.
READY_RUN_SQL = f"""
    SELECT %(run)s::uuid FROM {PROCESSES} WHERE id = %(process)s::uuid AND activity_state = '{ActivityState.Ready}'
"""


def start_activity(*, process_id, worker_run_id, task_id):
    """
    Hand the next queued element of a worker run to the task `task_id`, marked started, as `(id,
    type_id, name)` (see `start_sql`); None when the queue is empty. Raises ActivityError(400) when
    the process does not track activities, or not yet (only checked once the statement found
    nothing, to keep the hot path to one query).
    """
    with connection.cursor() as cursor:
        cursor.execute(
            start_sql(READY_RUN_SQL, "SELECT %(task)s::uuid"),
            {"run": str(worker_run_id), "process": str(process_id), "task": str(task_id)},
        )
        row = cursor.fetchone()
        if row is not None:
            return row
        state = _process_activity_state(cursor, process_id)
    if state != ActivityState.Ready:
        raise ActivityError(400, _not_ready_message(state))
    return None


def _not_ready_message(state):
    if state == ActivityState.Pending:
        return "The activities of this process are still being initialised: try again in a moment."
    return f"This process does not track worker activities (activity state: {state})."


def find_reporting_run(*, run_or_version_id, process_id):
    """
    The worker run UpdateWorkerActivity reports for: `run_or_version_id` is a worker run id, or
    (deprecated, seed 002) the id of a worker version that appears exactly once in the process
    `process_id`. One query for both forms.
    """
    candidates = list(
        WorkerRun.objects.filter(
            models.Q(pk=run_or_version_id) | models.Q(version_id=run_or_version_id), process_id=process_id
        ).select_related("process")[:3]
    )
    for run in candidates:
        if run.pk == run_or_version_id:
            return run
    if not candidates:
        raise ActivityError(404, f"No worker run {run_or_version_id}, nor worker version, in process {process_id}.")
    if len(candidates) > 1:
        # Rare and refused anyway: worth one more query to say exactly how many runs use the version.
        count = WorkerRun.objects.filter(version_id=run_or_version_id, process_id=process_id).count()
        raise ActivityError(
            400,
            f"Worker version {run_or_version_id} is used by {count} worker runs of process {process_id}: "
            "send the id of the worker run (ARKINDEX_WORKER_RUN_ID) instead.",
            field="id",
        )
    return candidates[0]


def update_values(*, element_id, state):
    """The values of `update_sql` besides its run: None when nothing may move to `state`."""
    allowed = TRANSITIONS.get(state)
    if allowed is None:
        return None
    return {"element": str(element_id), "state": state, "allowed": list(allowed)}


def update_activity(*, run_id, process, element_id, state, task_id=None):
    """
    Move the activity of worker run `run_id` (of `process`) on `element_id` to `state` if its current
    state allows it (see TRANSITIONS): one guarded UPDATE. Raises ActivityError: 400 when the process
    does not track activities, 404 when the element has no activity for this run, 409 on a forbidden
    transition (for `started`, the base worker then skips the element: another task has it).
    """
    if process.activity_state != ActivityState.Ready:
        raise ActivityError(400, _not_ready_message(process.activity_state))
    values = update_values(element_id=element_id, state=state)
    if values is None:
        raise ActivityError(400, f"An activity cannot be set back to {state}.", field="state")
    with connection.cursor() as cursor:
        cursor.execute(
            update_sql("SELECT %(run)s::uuid", "SELECT %(task)s::uuid"),
            {**values, "run": str(run_id), "task": str(task_id) if task_id else None},
        )
        if cursor.rowcount:
            return
        cursor.execute(
            f"SELECT state FROM {ACTIVITIES} WHERE worker_run_id = %s AND element_id = %s",
            [str(run_id), str(element_id)],
        )
        row = cursor.fetchone()
    if row is None:
        raise ActivityError(404, f"Element {element_id} has no activity for worker run {run_id}.", field="element_id")
    raise ActivityError(
        409, f"The activity of worker run {run_id} on element {element_id} is {row[0]}: it cannot become {state}."
    )


def activity_statistics(process_id, *, finished=False):
    """
    One row per worker run of the process, in one query (aggregates with FILTER over its
    activities, runs without activities included): counts per state, how many elements were taken
    again after a task ended holding them (`retried`) and how many were given up on after
    ACTIVITY_MAX_ATTEMPTS such losses (`failed`), the mean processing time of processed activities
    (`updated - started`, seconds), and while the process has not `finished` and some elements are
    left, an estimated completion date (see `estimated_completion`).
    """

    def count(state):
        return models.Count("activities", filter=models.Q(activities__state=state))

    processed = models.Q(activities__state=WorkerActivityState.Processed, activities__started__isnull=False)
    rows = (
        WorkerRun.objects.filter(process_id=process_id)
        .annotate(
            queued=count(WorkerActivityState.Queued),
            started_count=count(WorkerActivityState.Started),
            processed=count(WorkerActivityState.Processed),
            error=count(WorkerActivityState.Error),
            retried=models.Count("activities", filter=models.Q(activities__attempts__gt=0)),
            failed=models.Count(
                "activities",
                filter=models.Q(
                    activities__state=WorkerActivityState.Error,
                    activities__attempts__gte=settings.ACTIVITY_MAX_ATTEMPTS,
                ),
            ),
            average_duration=models.Avg(
                models.F("activities__updated") - models.F("activities__started"), filter=processed
            ),
            now=Now(),
        )
        .order_by("created", "id")
        .values(
            "id",
            "version_id",
            "model_version_id",
            "configuration_id",
            "summary",
            "queued",
            "started_count",
            "processed",
            "error",
            "retried",
            "failed",
            "average_duration",
            "now",
        )
    )
    return [
        {
            "worker_run_id": row["id"],
            "worker_version_id": row["version_id"],
            "model_version_id": row["model_version_id"],
            "configuration_id": row["configuration_id"],
            "summary": row["summary"],
            "queued": row["queued"],
            "started": row["started_count"],
            "processed": row["processed"],
            "error": row["error"],
            "retried": row["retried"],
            "failed": row["failed"],
            "average_processing_time": (
                row["average_duration"].total_seconds() if row["average_duration"] is not None else None
            ),
            "estimated_completion": None
            if finished
            else estimated_completion(
                row["now"], row["average_duration"], queued=row["queued"], started=row["started_count"]
            ),
        }
        for row in rows
    ]


def estimated_completion(now, average_duration, *, queued, started):
    """
    When a worker run should be done: null once nothing is queued or started, or before any
    element was processed. The activities left (queued and started) take the mean duration each,
    spread over as many parallel tasks as there are elements being processed right now (at least
    one): `now + mean × (queued + started) / max(started, 1)`.
    """
    remaining = queued + started
    if not remaining or average_duration is None:
        return None
    return now + average_duration * remaining / max(started, 1)
