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


class Agent(IndexableModel):
    """
    A host running `manage.py ponos_agent`: it registers when it starts and pings while it lives.
    An agent that stops pinging is considered dead: its running tasks end in error.
    """

    farm = models.ForeignKey(Farm, related_name="agents", on_delete=models.PROTECT)
    hostname = models.CharField(max_length=250)
    # Several agent processes may run on one host: the pid tells them apart.
    pid = models.PositiveIntegerField(default=0)
    cpu_cores = models.PositiveIntegerField(default=1)
    ram_total = models.BigIntegerField(default=0, help_text="Bytes of memory on the host.")
    concurrency = models.PositiveIntegerField(default=1)
    executor = models.CharField(max_length=20, default="local")
    last_ping = models.DateTimeField()
    # Set when the agent stopped cleanly or was found dead; a stopped agent takes no task.
    stopped = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["hostname", "pid", "id"]
        indexes = [models.Index(fields=["farm", "last_ping"], name="agent_farm_ping")]

    def __str__(self):
        return f"{self.hostname} ({self.pid})"


class GPU(models.Model):
    """A GPU seen by an agent (from `nvidia-smi`); it is busy while a running task holds it."""

    id = models.CharField(max_length=64, primary_key=True, help_text="The GPU's UUID as reported by the driver.")
    agent = models.ForeignKey(Agent, related_name="gpus", on_delete=models.CASCADE)
    index = models.PositiveIntegerField()
    name = models.CharField(max_length=250)
    ram_total = models.BigIntegerField(default=0)

    class Meta:
        ordering = ["agent", "index"]
        verbose_name = "GPU"
        constraints = [models.UniqueConstraint(fields=["agent", "index"], name="unique_gpu_index_per_agent")]

    def __str__(self):
        return f"{self.name} #{self.index}"


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
    agent = models.ForeignKey(Agent, null=True, blank=True, related_name="tasks", on_delete=models.SET_NULL)
    gpu = models.ForeignKey(GPU, null=True, blank=True, related_name="tasks", on_delete=models.SET_NULL)
    # How many times the task was started again with RestartTask; each attempt has its own log.
    attempt = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["process", "run", "depth", "slug"]
        constraints = [
            models.UniqueConstraint(fields=["process", "run", "slug"], name="unique_task_slug_per_run"),
            models.CheckConstraint(condition=Q(chunk__isnull=True) | Q(chunk__gte=1), name="task_chunk_positive"),
            # A GPU runs one task at a time.
            models.UniqueConstraint(
                fields=["gpu"], condition=Q(state__in=["running", "stopping"]), name="unique_busy_gpu"
            ),
        ]
        indexes = [
            models.Index(fields=["process", "run", "state"], name="task_process_run_state"),
            models.Index(fields=["state"], name="task_state", condition=~Q(state__in=FINAL_TASK_STATES)),
        ]

    def __str__(self):
        return self.slug


class Artifact(IndexableModel):
    """A file a task produced, kept in the storage under the task's folder for its children and users."""

    task = models.ForeignKey(Task, related_name="artifacts", on_delete=models.CASCADE)
    path = models.CharField(max_length=500, help_text="Path of the file relative to the task's working folder.")
    size = models.BigIntegerField()
    content_type = models.CharField(max_length=250, default="application/octet-stream")

    class Meta:
        ordering = ["task", "path"]
        constraints = [models.UniqueConstraint(fields=["task", "path"], name="unique_artifact_path")]

    def __str__(self):
        return self.path

    @property
    def storage_key(self):
        return f"ponos/artifacts/{self.task_id}/{self.path}"


class Secret(IndexableModel):
    """
    A named secret (a password, an API key, a file) given to workers by name. The content is
    encrypted at rest with a key derived from the settings; only `RetrieveSecret` decrypts it.
    """

    name = models.CharField(max_length=250, unique=True)
    nonce = models.BinaryField(max_length=16, editable=False)
    content = models.BinaryField(editable=False)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name
