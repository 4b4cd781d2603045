import logging

from django.conf import settings
from django.core.management.base import BaseCommand
from django_rq import get_connection
from rq.cron import CronScheduler

from arkindex.rq import DEFAULT_QUEUE
from ponos.scheduler import periodic


class Command(BaseCommand):
    help = (
        "Run the periodic scheduling of tasks with RQ's cron scheduler: every PONOS_SCHEDULER_INTERVAL seconds it "
        "enqueues the job that starts ready tasks, requeues lost ones and ends the tasks of silent agents. An RQ "
        "worker on the default queue runs the job."
    )

    def handle(self, *args, **options):
        scheduler = CronScheduler(connection=get_connection(DEFAULT_QUEUE), logging_level=logging.INFO)
        scheduler.register(
            periodic,
            DEFAULT_QUEUE,
            interval=settings.PONOS_SCHEDULER_INTERVAL,
            job_timeout=settings.PONOS_SCHEDULER_INTERVAL * 10,
            name="ponos-periodic",
        )
        self.stdout.write(f"Scheduling ready tasks every {settings.PONOS_SCHEDULER_INTERVAL} seconds. Ctrl-C to stop.")
        self.stdout.flush()
        scheduler.start()
