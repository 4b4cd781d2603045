"""
The scheduler: moves tasks from unscheduled to pending once all their parents completed, and puts
them on the RQ queue of their process's farm, where the agents' RQ workers pick them up.

It runs as RQ jobs: after every change of a task's state (`schedule_process`, enqueued after the
change commits) and periodically (`periodic`, registered with RQ's own cron scheduler by
`manage.py ponos_scheduler`), which also catches what a lost message or a dead agent left behind.
Every change is a guarded, set-based UPDATE (`… WHERE state = 'unscheduled'`): running a job twice,
or two jobs at once, changes nothing the second time, and a task is never enqueued by both.

Each farm has two queues: one for tasks without GPU, and one that only the GPU slots of agents
listen to, so that a GPU task is only ever picked by an agent with a GPU waiting for it.
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django_rq import get_connection
from redis.exceptions import RedisError
from rq import Queue
from rq.job import Job
from rq.registry import FailedJobRegistry

from arkindex.jobs import recover_jobs
from arkindex.rq import DEFAULT_QUEUE, enqueue_on_commit
from ponos.logs import append_log
from ponos.models import Agent, Farm, Task, TaskState
from ponos.services import refresh_process, set_task_state
from processes.models import Process

logger = logging.getLogger(__name__)

TASKS = Task._meta.db_table
TASK_PARENTS = Task.parents.through._meta.db_table
PROCESSES = Process._meta.db_table
FARMS = Farm._meta.db_table
DEFAULT_FARM = "default"


def queue_name(farm_name, gpu=False):
    return f"ponos.{farm_name}.gpu" if gpu else f"ponos.{farm_name}"


def task_queue(farm_name, gpu=False):
    return Queue(queue_name(farm_name, gpu), connection=get_connection(DEFAULT_QUEUE))


def task_job_id(task_id, attempt):
    """One RQ job per attempt of a task: enqueuing it again replaces the job rather than adding one."""
    return f"ponos-task-{task_id}-{attempt}"


def enqueue_task(task_id, attempt, farm_name, requires_gpu):
    queue = task_queue(farm_name, requires_gpu)
    job_id = task_job_id(task_id, attempt)
    job = Job.fetch(job_id, connection=queue.connection) if Job.exists(job_id, queue.connection) else None
    if job is not None and job.get_status(refresh=False) in ("queued", "started", "deferred", "scheduled"):
        return
    queue.enqueue(
        "ponos.agent.execution.run_task",
        str(task_id),
        job_id=job_id,
        # The agent enforces the task's own time limit; this only frees a worker stuck beyond it.
        job_timeout=settings.PONOS_TASK_TIME_LIMIT + 600,
        result_ttl=0,
        failure_ttl=settings.PONOS_FAILED_JOB_TTL,
        meta={"task_id": str(task_id)},
    )


def _enqueue_after_commit(rows):
    def enqueue():
        try:
            for task_id, attempt, farm_name, requires_gpu in rows:
                enqueue_task(task_id, attempt, farm_name, requires_gpu)
        except RedisError as error:
            # The tasks are pending in the database: `requeue_pending` enqueues them at the next round.
            logger.warning("Could not enqueue %d pending task(s): %s", len(rows), error)

    transaction.on_commit(enqueue)


LAST_RUN = f"(SELECT max(run) FROM {TASKS} last WHERE last.process_id = t.process_id)"
READY_TASKS = f"""
    UPDATE {TASKS} t SET state = 'pending', updated = now()
    FROM {PROCESSES} p LEFT JOIN {FARMS} f ON f.id = p.farm_id
    WHERE p.id = t.process_id
      AND t.state = 'unscheduled'
      AND p.started IS NOT NULL
      AND t.run = {LAST_RUN}
      AND NOT EXISTS (
          SELECT 1 FROM {TASK_PARENTS} link JOIN {TASKS} parent ON parent.id = link.to_task_id
          WHERE link.from_task_id = t.id AND parent.state <> 'completed'
      )
      {{where}}
    RETURNING t.id, t.attempt, COALESCE(f.name, %(default_farm)s), t.requires_gpu, t.process_id
"""


def _schedule(where="", params=None):
    """Move every ready task (matching `where`) to pending; enqueue them after commit."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(READY_TASKS.format(where=where), {"default_farm": DEFAULT_FARM, **(params or {})})
        rows = cursor.fetchall()
        _enqueue_after_commit([row[:4] for row in rows])
    return rows


def schedule_process(process_id):
    """
    Run after a task of the process changed state: start what can start, and end the process when
    nothing more can happen (a failed parent leaves its children unscheduled for ever).
    """
    rows = _schedule("AND t.process_id = %(process)s", {"process": process_id})
    refresh_process(process_id)
    return len(rows)


def schedule_process_on_commit(process_id):
    enqueue_on_commit(schedule_process, str(process_id))


def requeue_pending():
    """Enqueue again the pending tasks whose job is gone (Redis restarted, a queue emptied by hand)."""
    pending = (
        Task.objects.filter(state=TaskState.Pending)
        .select_related("process__farm")
        .values_list("id", "attempt", "process__farm__name", "requires_gpu")
    )
    requeued = 0
    redis = get_connection(DEFAULT_QUEUE)
    for task_id, attempt, farm_name, requires_gpu in pending.iterator():
        if not Job.exists(task_job_id(task_id, attempt), redis):
            enqueue_task(task_id, attempt, farm_name or DEFAULT_FARM, requires_gpu)
            requeued += 1
    return requeued


def fail_tasks(tasks, reason):
    """
    End `tasks` (a queryset) in error with `reason` appended to their log, unless they ended
    meanwhile; then let their processes move on. Used for dead agents and jobs RQ gave up on.
    """
    ended = 0
    for task in Task.objects.filter(pk__in=tasks.values("pk"), state__in=(TaskState.Running, TaskState.Stopping)):
        final = TaskState.Stopped if task.state == TaskState.Stopping else TaskState.Error
        if set_task_state(task, final):
            append_log(task, f"\n[ponos] {reason}\n")
            schedule_process_on_commit(task.process_id)
            ended += 1
    return ended


def check_agents():
    """Agents silent for longer than PONOS_AGENT_TIMEOUT are dead: their running tasks end in error."""
    limit = timezone.now() - timedelta(seconds=settings.PONOS_AGENT_TIMEOUT)
    dead = Agent.objects.filter(stopped__isnull=True, last_ping__lt=limit)
    dead_ids = list(dead.values_list("id", flat=True))
    if not dead_ids:
        return 0
    Agent.objects.filter(pk__in=dead_ids, stopped__isnull=True).update(stopped=timezone.now())
    count = fail_tasks(
        Task.objects.filter(agent_id__in=dead_ids),
        f"The agent running this task stopped answering for more than {settings.PONOS_AGENT_TIMEOUT} seconds: "
        "the task was ended in error. Restart it to run it again.",
    )
    logger.warning("%d agent(s) stopped answering; %d task(s) ended in error", len(dead_ids), count)
    return count


def check_failed_jobs():
    """
    A task whose RQ job failed outside the task's own handling (its worker was killed, the job
    timed out) must not stay running: it ends in error, and the job leaves the failed registry.
    """
    redis = get_connection(DEFAULT_QUEUE)
    count = 0
    # Processes without a farm run on the default farm's queues, whether its row exists or not.
    for farm_name in {DEFAULT_FARM, *Farm.objects.values_list("name", flat=True)}:
        for gpu in (False, True):
            registry = FailedJobRegistry(queue_name(farm_name, gpu), connection=redis)
            for job_id in registry.get_job_ids():
                job = Job.fetch(job_id, connection=redis) if Job.exists(job_id, redis) else None
                task_id = job.meta.get("task_id") if job else None
                if task_id:
                    count += fail_tasks(
                        Task.objects.filter(pk=task_id),
                        "The job running this task was lost by its worker (killed, or over its time limit).",
                    )
                registry.remove(job_id, delete_job=True)
    return count


def periodic():
    """What the cron scheduler runs every PONOS_SCHEDULER_INTERVAL seconds."""
    recover_jobs()
    check_agents()
    check_failed_jobs()
    ready = _schedule()
    for process_id in {row[4] for row in ready}:
        enqueue_on_commit(schedule_process, str(process_id))
    requeue_pending()
    # Processes whose last tasks ended without a scheduling job (a lost message) still get `finished`.
    for process_id in Process.objects.filter(started__isnull=False, finished__isnull=True).values_list("id", flat=True):
        refresh_process(process_id)
