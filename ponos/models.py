"""
Ponos, the task scheduler: farms group the agents that run tasks; a started process is a DAG of
tasks, each run by one agent with its own `Ponos` token.

Tasks of a process are grouped by `run`: retrying a process creates a new run of tasks and keeps
the previous ones (and their logs) for reference. The process's state is the state of its last run.
"""

import secrets

from django.db import models
from django.db.models import Q

from arkindex.models import IndexableModel


def task_token():
    return secrets.token_urlsafe(32)


class Farm(IndexableModel):
    """A named pool of agents; every process runs on one farm (the default one unless chosen)."""

    name = models.CharField(max_length=250, unique=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class TaskState(models.TextChoices):
    Unscheduled = "unscheduled"
    Pending = "pending"
    Running = "running"
    Completed = "completed"
    Failed = "failed"
    Error = "error"
    Stopping = "stopping"
    Stopped = "stopped"


# States after which a task never changes again.
FINAL_TASK_STATES = (TaskState.Completed, TaskState.Failed, TaskState.Error, TaskState.Stopped)


class Task(IndexableModel):
    process = models.ForeignKey("processes.Process", related_name="tasks", on_delete=models.CASCADE)
    run = models.PositiveIntegerField(default=0)
    slug = models.CharField(max_length=250)
    depth = models.PositiveIntegerField(default=0, help_text="Length of the longest chain of parents above the task.")
    parents = models.ManyToManyField("self", symmetrical=False, related_name="children", blank=True)
    state = models.CharField(max_length=20, choices=TaskState.choices, default=TaskState.Unscheduled)
    worker_run = models.ForeignKey(
        "processes.WorkerRun", null=True, blank=True, related_name="tasks", on_delete=models.PROTECT
    )
    chunk = models.PositiveIntegerField(null=True, blank=True)
    image = models.CharField(max_length=500, blank=True, default="")
    command = models.TextField(blank=True, default="")
    env = models.JSONField(default=dict, blank=True)
    requires_gpu = models.BooleanField(default=False)
    shm_size = models.CharField(max_length=80, null=True, blank=True)
    extra_files = models.JSONField(default=dict, blank=True)
    # The `Ponos` credential of the task: secret, never shown outside the task itself.
    token = models.CharField(max_length=64, unique=True, default=task_token, editable=False)
    started = models.DateTimeField(null=True, blank=True)
    finished = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["process", "run", "depth", "slug"]
        constraints = [
            models.UniqueConstraint(fields=["process", "run", "slug"], name="unique_task_slug_per_run"),
            models.CheckConstraint(condition=Q(chunk__isnull=True) | Q(chunk__gte=1), name="task_chunk_positive"),
        ]
        indexes = [
            models.Index(fields=["process", "run", "state"], name="task_process_run_state"),
            models.Index(fields=["state"], name="task_state", condition=~Q(state__in=FINAL_TASK_STATES)),
        ]

    def __str__(self):
        return self.slug
