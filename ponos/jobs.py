"""
Background jobs of the scheduler app, run as durable jobs (`arkindex.jobs`): the email at the end
of a process. Two kinds of RQ jobs live with the code they drive instead: scheduling a process
(`ponos.scheduler.schedule_process`, whose state the database holds in full, so no job row) and
running a task on an agent (`ponos.agent.execution.run_task`, on the farm's queues).
"""

import logging

from django.conf import settings
from django.core.mail import send_mail

from ponos.emails import SILENT_MODES, process_finished_email
from processes.models import Process

logger = logging.getLogger(__name__)


def send_process_finished_email(process_id):
    """The durable job recorded once a process has ended (see `ponos.emails`)."""
    process = Process.objects.select_related("creator").filter(pk=process_id, finished__isnull=False).first()
    if process is None or process.mode in SILENT_MODES or not process.creator.email:
        return False
    subject, body = process_finished_email(process)
    send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [process.creator.email])
    logger.info("Sent the end email of process %s", process.id)
    return True
