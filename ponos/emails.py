"""
The email a process's creator receives when it ends (seed 002): its final state, each task's state
and a link to the process. Repository imports send none: their creator is a CI pipeline, not a
person waiting for a result.

One email per end: `refresh_process` records the job only when it sets `finished`, as a durable job
(`arkindex.jobs`) keyed by the process and its end time, so that a second request for the same end
is the same job, and a job is sent again only if its worker died before recording it sent. A
process retried and ending again gets a new email.
"""

import logging

from django.conf import settings
from django.db.models import Max

from arkindex.jobs import enqueue_job
from ponos.models import Task
from processes.models import ProcessMode

logger = logging.getLogger(__name__)

SILENT_MODES = (ProcessMode.Repository, ProcessMode.Local)
# The job sending it (`ponos.jobs`, which imports this module).
SEND_EMAIL_JOB = "ponos.jobs.send_process_finished_email"


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


def enqueue_process_finished_email(process):
    """Record the email of this end of `process` (its `finished` just set), once per end."""
    if process.mode in SILENT_MODES:
        return
    enqueue_job(
        SEND_EMAIL_JOB,
        str(process.id),
        description=f"Email the end of process {process.name or process.id} to its creator",
        key=f"process-finished-email-{process.id}-{process.finished.isoformat()}",
    )
