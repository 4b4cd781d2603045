"""
The email a process's creator receives when it ends (seed 002): its final state, each task's state
and a link to the process. Repository imports send none: their creator is a CI pipeline, not a
person waiting for a result.

One email per end: `refresh_process` enqueues the job only when it sets `finished`, and the job
itself sends at most once per process and end time (a Redis key), so that RQ running it again, or
a second enqueue, never sends a duplicate. A process retried and ending again gets a new email.
"""

import logging

from django.conf import settings
from django.core.mail import send_mail
from django.db.models import Max
from django_rq import get_connection

from arkindex.rq import DEFAULT_QUEUE
from ponos.models import Task
from processes.models import Process, ProcessMode

logger = logging.getLogger(__name__)

SILENT_MODES = (ProcessMode.Repository, ProcessMode.Local)
# How long the mark of a sent email is kept: far longer than RQ keeps or retries a job.
SENT_MARK_TTL = 30 * 24 * 3600


def process_url(process):
    return f"{settings.FRONTEND_URL}/process/{process.id}"


def process_finished_email(process):
    """Subject and body of the email about `process`, which has ended."""
    last_run = Task.objects.filter(process=process).aggregate(last=Max("run"))["last"]
    tasks = Task.objects.filter(process=process, run=last_run).order_by("depth", "slug")
    lines = [f"{slug}: {state}" for slug, state in tasks.values_list("slug", "state")]
    # A header cannot hold a line break (Django refuses to send it): names are free text.
    name = " ".join((process.name or "").split()) or f"Process {process.id}"
    subject = f"{name}: {process.state}"
    body = "\n".join(
        [
            f"The process {name!r} ended: {process.state}.",
            f"Started {process.started:%Y-%m-%d %H:%M:%S %Z}, finished {process.finished:%Y-%m-%d %H:%M:%S %Z}.",
            "",
            "Tasks:",
            *(f"  {line}" for line in lines),
            "",
            f"Details, logs and artifacts: {process_url(process)}",
        ]
    )
    return subject, body


def send_process_finished_email(process_id):
    """The RQ job run once a process has ended."""
    process = Process.objects.select_related("creator").filter(pk=process_id, finished__isnull=False).first()
    if process is None or process.mode in SILENT_MODES or not process.creator.email:
        return False
    redis = get_connection(DEFAULT_QUEUE)
    mark = f"ponos:process-finished-email:{process.id}:{process.finished.isoformat()}"
    if not redis.set(mark, 1, nx=True, ex=SENT_MARK_TTL):
        logger.info("The end email of process %s was already sent", process.id)
        return False
    subject, body = process_finished_email(process)
    try:
        send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [process.creator.email])
    except Exception:
        # Not sent: a retry of the job may send it.
        redis.delete(mark)
        raise
    logger.info("Sent the end email of process %s", process.id)
    return True
