"""
The email a process's creator receives when it ends (seed 002): its final state, each task's state
and a link to the process. Repository imports send none: their creator is a CI pipeline, not a
person waiting for a result.
"""

import logging

from django.conf import settings
from django.core.mail import send_mail

from ponos.models import Task
from processes.models import Process, ProcessMode

logger = logging.getLogger(__name__)

SILENT_MODES = (ProcessMode.Repository, ProcessMode.Local)


def process_url(process):
    return f"{settings.FRONTEND_URL}/process/{process.id}"


def process_finished_email(process):
    """Subject and body of the email about `process`, which has ended."""
    tasks = Task.objects.filter(process=process).order_by("-run", "depth", "slug")
    last_run = tasks.values_list("run", flat=True).first()
    lines = [f"{task.slug}: {task.state}" for task in tasks if task.run == last_run]
    name = process.name or f"Process {process.id}"
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
    subject, body = process_finished_email(process)
    send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [process.creator.email])
    logger.info("Sent the end email of process %s", process.id)
    return True
