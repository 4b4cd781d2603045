"""
Background jobs run on RQ. Queue names live here and only here; jobs are always enqueued after the
surrounding transaction commits, so a worker never picks up a job whose data it cannot see yet.

`enqueue_on_commit` is for work the periodic scheduler redoes from the database anyway (scheduling
tasks): it only makes it happen sooner, and Redis being down loses nothing. Work the database does
not otherwise remember is a durable job (`arkindex.jobs`).
"""

import logging

import django_rq
from django.db import transaction
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

DEFAULT_QUEUE = "default"
HIGH_QUEUE = "high"
LOW_QUEUE = "low"
QUEUES = (HIGH_QUEUE, DEFAULT_QUEUE, LOW_QUEUE)


def get_queue(name=DEFAULT_QUEUE):
    return django_rq.get_queue(name)


def enqueue_on_commit(func, *args, queue=DEFAULT_QUEUE, job_id=None, **kwargs):
    """
    Enqueue `func(*args, **kwargs)` once the current transaction (if any) commits. What committed
    stays committed when Redis is unreachable: the enqueue is then only logged.
    """

    def enqueue():
        try:
            get_queue(queue).enqueue(func, *args, job_id=job_id, **kwargs)
        except RedisError as error:
            logger.warning("Could not enqueue %s (%s): the periodic scheduler catches up", func, error)

    transaction.on_commit(enqueue)
