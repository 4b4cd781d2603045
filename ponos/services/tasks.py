"""
What people and tasks do to one task through the API: stop it, restart it, and, for the task
itself, report how it ended. Every change is guarded by the state read under a lock, so that two
concurrent requests (or a request and the agent) never both apply, and every change that lets the
process move on enqueues the scheduler after the commit.

Restarting runs a task again *in place*, in the same run of its process: a new attempt (with its
own log and a new token), no agent nor GPU (seed 002: a restarted GPU task must not keep the GPU
of its previous attempt), and its descendants that had ended are reset too, so that they run again
after it with what it produces this time.
"""

from django.db import connection, transaction
from django.db.models import F, Max
from django.db.models.expressions import RawSQL
from django.db.models.functions import Now

from arkindex.api.exceptions import Conflict
from arkindex.rq import enqueue_on_commit
from ponos.models import FINAL_TASK_STATES, Task, TaskState
from ponos.services import SCHEDULE_PROCESS, set_task_state
from processes.models import Process

# The scheduler job, by name: RQ imports it in the worker, and this module does not depend on it.

TASKS = Task._meta.db_table
TASK_PARENTS = Task.parents.through._meta.db_table
DESCENDANTS = f"""
    WITH RECURSIVE descendants(id) AS (
        SELECT from_task_id FROM {TASK_PARENTS} WHERE to_task_id = %(task)s
        UNION
        SELECT link.from_task_id FROM {TASK_PARENTS} link JOIN descendants d ON link.to_task_id = d.id
    )
    SELECT t.id, t.state FROM descendants d JOIN {TASKS} t ON t.id = d.id
    ORDER BY t.id
    FOR UPDATE OF t
"""
# Two random UUIDs (gen_random_uuid uses PostgreSQL's strong random source): 64 hexadecimal
# characters, as long as the tokens `ponos.models.task_token` makes, and unique per row.
NEW_TOKEN_SQL = "replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', '')"


def schedule_on_commit(process_id):
    enqueue_on_commit(SCHEDULE_PROCESS, str(process_id))


def task_stop(task):
    """
    Stop `task`: a running task moves to stopping (its agent sees it, ends the command, and sets it
    stopped); a task that has not started yet (unscheduled or pending) is stopped at once. Asking
    again while it stops changes nothing; an ended task is a 409.
    """
    if task.state == TaskState.Stopping:
        return task
    if task.state in FINAL_TASK_STATES:
        raise Conflict(f"This task is {task.state}: only a task that has not ended can be stopped.")
    target = TaskState.Stopping if task.state == TaskState.Running else TaskState.Stopped
    with transaction.atomic():
        if not set_task_state(task, target):
            raise Conflict("This task changed state while it was being stopped: read it again, then retry.")
        schedule_on_commit(task.process_id)
    return task


# What a task may report about itself, from running only: a stopping task is ended by its agent.
AGENT_FINAL_STATES = (TaskState.Completed, TaskState.Failed, TaskState.Error)


def task_report_state(task, state):
    """The task `task`, through its own token, says how it ended; the scheduler then moves on."""
    if task.state != TaskState.Running:
        raise Conflict(f"This task is {task.state}: a task reports its final state only while it runs.")
    with transaction.atomic():
        if not set_task_state(task, state):
            raise Conflict("This task changed state meanwhile: read it again.")
        schedule_on_commit(task.process_id)
    return task


def task_restart(task):
    """
    Run `task`, which ended, again in place (see the module's docstring): one transaction resets it
    and its ended descendants, clears the process's `finished`, and enqueues the scheduler after the
    commit. 409 unless the task ended and belongs to the last run of its process, or when one of
    its descendants is still pending or running (stop it first).
    """
    with transaction.atomic():
        # Same lock order as `set_task_state`: the process, then its tasks.
        Process.objects.select_for_update(no_key=True).filter(pk=task.process_id).values_list("pk").first()
        task = Task.objects.select_for_update(of=("self",)).get(pk=task.pk)
        if task.state not in FINAL_TASK_STATES:
            raise Conflict(f"This task is {task.state}: only an ended task can be restarted.")
        last_run = Task.objects.filter(process_id=task.process_id).aggregate(last=Max("run"))["last"]
        if task.run != last_run:
            raise Conflict(
                f"This task belongs to run {task.run}, but the process is at run {last_run}: "
                "restart the task of the last run instead."
            )
        with connection.cursor() as cursor:
            cursor.execute(DESCENDANTS, {"task": task.pk})
            descendants = cursor.fetchall()
        waiting_or_ended = (*FINAL_TASK_STATES, TaskState.Unscheduled)
        busy = [str(task_id) for task_id, state in descendants if state not in waiting_or_ended]
        if busy:
            raise Conflict(
                "Tasks depending on this one have not ended yet: stop them or wait for them before restarting it "
                f"({', '.join(busy)})."
            )
        ended = [task.pk] + [task_id for task_id, state in descendants if state in FINAL_TASK_STATES]
        # One statement whatever the number of descendants; the new tokens come from the database.
        Task.objects.filter(pk__in=ended).update(
            state=TaskState.Unscheduled,
            agent=None,
            gpu=None,
            started=None,
            finished=None,
            attempt=F("attempt") + 1,
            token=RawSQL(NEW_TOKEN_SQL, ()),
            updated=Now(),
        )
        Process.objects.filter(pk=task.process_id).update(finished=None, updated=Now())
        schedule_on_commit(task.process_id)
    task.refresh_from_db()
    return task, len(ended) - 1
