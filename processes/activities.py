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

from django.db import connection, transaction

from documents.services import on_element_deletion
from processes.deletion import on_process_deletion
from processes.models import ActivityState, Process, WorkerActivity, WorkerActivityState, WorkerRun
from processes.services import process_elements

logger = logging.getLogger(__name__)

ACTIVITIES = WorkerActivity._meta.db_table


def activities_initialise(*, process_id, reset=False):
    """
    Create the missing activities of a process whose `activity_state` is pending, one set-based
    statement per worker run, then mark it ready. With `reset` (a retried process), the activities
    that did not end well (`started`, `error`) are queued again first, in one UPDATE; processed ones
    are kept, so a retry only redoes what is left.

    Returns the number of activities created, or None when the process is gone or not pending
    (already initialised, activities turned off). On failure the process's `activity_state` becomes
    `error` and the exception propagates, so that the job is recorded as failed.
    """
    process = Process.objects.filter(id=process_id, activity_state=ActivityState.Pending).first()
    if process is None:
        logger.info("Process %s has no pending activity initialisation", process_id)
        return None
    try:
        with transaction.atomic():
            created = _insert_activities(process, reset=reset)
            Process.objects.filter(id=process.id, activity_state=ActivityState.Pending).update(
                activity_state=ActivityState.Ready
            )
    except Exception:
        logger.exception("Initialising the activities of process %s failed", process_id)
        Process.objects.filter(id=process_id, activity_state=ActivityState.Pending).update(
            activity_state=ActivityState.Error
        )
        raise
    logger.info("Initialised %d activities of process %s", created, process_id)
    return created


def _insert_activities(process, *, reset):
    run_ids = list(
        WorkerRun.objects.filter(process_id=process.id).order_by("created", "id").values_list("id", flat=True)
    )
    # The element queryset compiled once; `order_by()` drops the model's ordering, useless here.
    elements_sql, elements_params = process_elements(process).order_by().values("id").query.sql_with_params()
    created = 0
    with connection.cursor() as cursor:
        if reset:
            cursor.execute(
                f"UPDATE {ACTIVITIES} SET state = %s, started = NULL, updated = now() "
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


# Deletion hooks: run inside the deletion's transaction (see `processes.deletion` and
# `documents.services`). A corpus's deletion runs the process hook for each of its processes; a
# process only has activities on elements of its own corpus.


@on_process_deletion
def delete_process_activities(cursor, process_id):
    cursor.execute(f"DELETE FROM {ACTIVITIES} WHERE process_id = %s", [str(process_id)])


@on_element_deletion
def delete_element_activities(cursor):
    cursor.execute(f"DELETE FROM {ACTIVITIES} WHERE element_id IN (SELECT id FROM doomed_elements)")
