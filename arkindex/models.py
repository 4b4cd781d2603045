"""
The base every product model stands on (a UUID primary key and its creation and update times),
and the durable background jobs every app enqueues (`arkindex.jobs`).
"""

import uuid

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models


def constraint_of(error):
    """The name of the constraint an IntegrityError broke, as PostgreSQL reports it, or None."""
    return getattr(getattr(error.__cause__, "diag", None), "constraint_name", None)


class IndexableModel(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class JobState(models.TextChoices):
    Pending = "pending"
    Running = "running"
    Done = "done"
    Failed = "failed"


class Job(IndexableModel):
    """
    Background work the API acknowledged: the row is written in the transaction that answers the
    request, so the database, not the queue, remembers what was asked until it is done (see
    `arkindex.jobs`). Its user follows it with ListJobs; a failure is recorded here, never lost.
    """

    function = models.CharField(max_length=250, help_text="Dotted path of the function doing the work.")
    # Ids and dates of the arguments are stored as their text, as the job functions take them.
    arguments = models.JSONField(default=list, blank=True, encoder=DjangoJSONEncoder)
    keywords = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)
    queue = models.CharField(max_length=50, default="default")
    timeout = models.PositiveIntegerField(null=True, blank=True, help_text="Seconds an attempt may run.")
    # The same work asked twice (one email per end of a process…) is one job.
    key = models.CharField(max_length=250, null=True, blank=True, unique=True)
    description = models.TextField(help_text="What was asked, in the words shown to its user.")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, related_name="jobs", on_delete=models.SET_NULL
    )
    state = models.CharField(max_length=20, choices=JobState.choices, default=JobState.Pending)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True, default="")
    # An attempt that failed waits until then before the next one.
    not_before = models.DateTimeField(null=True, blank=True)
    # The RQ job of the latest enqueue: the recovery checks whether it is still queued.
    rq_job_id = models.CharField(max_length=100, blank=True, default="")
    started = models.DateTimeField(null=True, blank=True)
    finished = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created"]
        indexes = [
            models.Index(fields=["user", "-created"], name="job_user_created"),
            models.Index(fields=["state"], name="job_unfinished", condition=models.Q(state__in=["pending", "running"])),
        ]

    def __str__(self):
        return self.description
