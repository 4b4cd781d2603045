"""
Background jobs run on RQ. Queue names live here and only here; jobs are always enqueued after the
surrounding transaction commits, so a worker never picks up a job whose data it cannot see yet.
"""

import django_rq
from django.db import transaction

DEFAULT_QUEUE = "default"
HIGH_QUEUE = "high"
LOW_QUEUE = "low"
QUEUES = (HIGH_QUEUE, DEFAULT_QUEUE, LOW_QUEUE)


def get_queue(name=DEFAULT_QUEUE):
    return django_rq.get_queue(name)


def enqueue_on_commit(func, *args, queue=DEFAULT_QUEUE, job_id=None, **kwargs):
    """Enqueue `func(*args, **kwargs)` once the current transaction (if any) commits."""

    def enqueue():
        get_queue(queue).enqueue(func, *args, job_id=job_id, **kwargs)

    transaction.on_commit(enqueue)
