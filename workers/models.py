"""
Workers, their versions and configurations, and the models and model versions they use.

A worker is either local (no repository: created by a user for scripts run outside a process) or
comes from a Git repository (a `Repository` when repository processes import it). Its versions
are numbered per worker. A version's `configuration` holds what the worker declared: `docker`
(command, shm_size), the user configuration fields that a person may set, and static defaults. A
worker configuration is a named set of values for those fields, unique per worker by content.
Models are trained artefacts whose versions are archives in the file storage.

Nothing here may be deleted while worker runs or results use it: foreign keys from the processes
and documents apps protect them, and the API turns the refusal into a 409.
"""

import hashlib
import json

from django.conf import settings
from django.db import models
from django.db.models import Q

from arkindex.models import IndexableModel
from arkindex.transitions import Transitions
from users.models import Role


class WorkerType(IndexableModel):
    slug = models.CharField(max_length=100, unique=True)
    display_name = models.CharField(max_length=100)

    class Meta:
        ordering = ["slug"]

    def __str__(self):
        return self.display_name


class Worker(IndexableModel):
    name = models.CharField(max_length=100)
    slug = models.CharField(max_length=100)
    type = models.ForeignKey(WorkerType, related_name="workers", on_delete=models.PROTECT)
    description = models.TextField(blank=True, default="")
    repository_url = models.URLField(max_length=250, null=True, blank=True)
    public = models.BooleanField(default=False)
    archived = models.DateTimeField(null=True, blank=True)
    creator = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, related_name="workers", on_delete=models.SET_NULL
    )

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["repository_url", "slug"],
                condition=Q(repository_url__isnull=False),
                name="unique_worker_slug_per_repository",
            ),
        ]
        indexes = [models.Index(fields=["type", "name"])]

    def __str__(self):
        return self.name

    @property
    def is_local(self):
        return self.repository_url is None


class Repository(IndexableModel):
    """
    A Git repository whose `.arkindex.yml` declares workers, imported by repository processes (one
    revision each, see `workers.services.repositories`). Its workers are those whose `repository_url` is its
    URL. Credentials for an HTTP(S) clone (a username and a password or access token) are sealed
    at rest (`workers.services.repositories.seal_credentials`): only the import task of a repository process
    reads them, through the API, and no response, log or admin page shows them.
    """

    url = models.CharField(max_length=200, unique=True)
    credentials_nonce = models.BinaryField(max_length=16, null=True, blank=True, editable=False)
    credentials = models.BinaryField(null=True, blank=True, editable=False)
    creator = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, related_name="repositories", on_delete=models.SET_NULL
    )

    class Meta:
        ordering = ["url"]
        verbose_name_plural = "repositories"

    def __str__(self):
        return self.url

    @property
    def has_credentials(self):
        return self.credentials is not None


class WorkerVersionState(models.TextChoices):
    Created = "created"
    Processing = "processing"
    Available = "available"
    Error = "error"


# The states a worker version may reach, each from the states it may come from. An available version
# stays so: results point at it, and what it ran must not change under them.
WORKER_VERSION_TRANSITIONS = Transitions(
    {
        WorkerVersionState.Processing: (WorkerVersionState.Created, WorkerVersionState.Error),
        WorkerVersionState.Available: (
            WorkerVersionState.Created,
            WorkerVersionState.Processing,
            WorkerVersionState.Error,
        ),
        WorkerVersionState.Error: (WorkerVersionState.Created, WorkerVersionState.Processing),
        WorkerVersionState.Created: (),
    },
    name="worker version",
)


class FeatureUsage(models.TextChoices):
    Disabled = "disabled"
    Supported = "supported"
    Required = "required"


class WorkerVersion(IndexableModel):
    worker = models.ForeignKey(Worker, related_name="versions", on_delete=models.CASCADE)
    version = models.PositiveIntegerField(null=True, blank=True)
    revision_url = models.URLField(max_length=250, null=True, blank=True)
    tag = models.CharField(max_length=50, null=True, blank=True)
    branch = models.CharField(max_length=100, null=True, blank=True)
    docker_image_iid = models.CharField(max_length=512, null=True, blank=True)
    configuration = models.JSONField(default=dict, blank=True)
    state = models.CharField(max_length=20, choices=WorkerVersionState.choices, default=WorkerVersionState.Created)
    gpu_usage = models.CharField(max_length=20, choices=FeatureUsage.choices, default=FeatureUsage.Disabled)
    model_usage = models.CharField(max_length=20, choices=FeatureUsage.choices, default=FeatureUsage.Disabled)

    class Meta:
        ordering = ["worker", "-version", "-created"]
        constraints = [
            models.UniqueConstraint(fields=["worker", "version"], name="unique_version_number_per_worker"),
            models.UniqueConstraint(
                fields=["worker", "revision_url"],
                condition=Q(revision_url__isnull=False),
                name="unique_revision_per_worker",
            ),
        ]

    def __str__(self):
        return f"{self.worker.name} @ {self.short_label}"

    @property
    def short_label(self):
        """How a version is named in summaries: its tag, its revision, or its number."""
        if self.tag:
            return self.tag
        if self.revision_url:
            return self.revision_url.rstrip("/").rsplit("/", 1)[-1][:8]
        if self.version is not None:
            return f"version {self.version}"
        return str(self.id)[:8]

    @property
    def docker_command(self):
        return (self.configuration.get("docker") or {}).get("command")

    @property
    def docker_shm_size(self):
        return (self.configuration.get("docker") or {}).get("shm_size")


def configuration_hash(values):
    """A digest of configuration values that ignores key order, to compare configurations by content."""
    return hashlib.md5(json.dumps(values, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


class WorkerConfiguration(IndexableModel):
    worker = models.ForeignKey(Worker, related_name="configurations", on_delete=models.CASCADE)
    name = models.CharField(max_length=250)
    configuration = models.JSONField(default=dict)
    configuration_hash = models.CharField(max_length=32, editable=False)
    archived = models.BooleanField(default=False)

    class Meta:
        ordering = ["worker", "name"]
        constraints = [
            models.UniqueConstraint(fields=["worker", "configuration_hash"], name="unique_configuration_content"),
            models.UniqueConstraint(fields=["worker", "name"], name="unique_configuration_name"),
        ]

    def __str__(self):
        return self.name

    def save(self, *args, **kwargs):
        self.configuration_hash = configuration_hash(self.configuration)
        if kwargs.get("update_fields") is not None and "configuration" in kwargs["update_fields"]:
            kwargs["update_fields"] = {*kwargs["update_fields"], "configuration_hash"}
        super().save(*args, **kwargs)


class Model(IndexableModel):
    # Unique among the models a user can see (`workers.services.ml_models`): a name taken by a model
    # hidden from someone never tells them it exists. One user has one model of a name.
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True, default="")
    public = models.BooleanField(default=False)
    archived = models.DateTimeField(null=True, blank=True)
    creator = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, related_name="models", on_delete=models.SET_NULL
    )

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["creator", "name"], name="unique_model_name_per_creator")]
        indexes = [models.Index(fields=["name"], name="model_name")]

    def __str__(self):
        return self.name

    @staticmethod
    def task_reach(scope):
        """
        A task reads the model of its own worker run, and publishes versions of the models its
        process's creator may write to, as training workers do (see `users.rights`).
        """
        return Q(pk=scope.model_id) | Q(rights_level__gte=Role.CONTRIBUTOR)


class ModelVersionState(models.TextChoices):
    Created = "created"
    Available = "available"
    Error = "error"


# A version is created, its archive uploaded, then checked: available, or error. Both are final.
MODEL_VERSION_TRANSITIONS = Transitions(
    {
        ModelVersionState.Available: (ModelVersionState.Created,),
        ModelVersionState.Error: (ModelVersionState.Created,),
        ModelVersionState.Created: (),
    },
    name="model version",
)


class ModelVersion(IndexableModel):
    model = models.ForeignKey(Model, related_name="versions", on_delete=models.CASCADE)
    parent = models.ForeignKey("self", null=True, blank=True, related_name="children", on_delete=models.SET_NULL)
    tag = models.CharField(max_length=50, null=True, blank=True)
    description = models.TextField(blank=True, default="")
    state = models.CharField(max_length=20, choices=ModelVersionState.choices, default=ModelVersionState.Created)
    configuration = models.JSONField(default=dict, blank=True)
    size = models.PositiveBigIntegerField(null=True, blank=True)
    hash = models.CharField(max_length=64, null=True, blank=True)
    archive_hash = models.CharField(max_length=64, null=True, blank=True)
    archived = models.DateTimeField(null=True, blank=True)
    creator = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, related_name="model_versions", on_delete=models.SET_NULL
    )

    class Meta:
        ordering = ["model", "-created"]
        constraints = [
            models.UniqueConstraint(
                fields=["model", "tag"], condition=Q(tag__isnull=False), name="unique_model_version_tag"
            ),
        ]

    def __str__(self):
        return f"{self.model.name} @ {self.tag or str(self.id)[:8]}"

    @property
    def archive_path(self):
        """Where the archive lives in the file storage."""
        return f"models/{self.model_id}/{self.id}.tar.zst"
