"""
Processes and the worker runs they are made of.

A process runs worker runs over elements of a corpus, picked by its element filters. A worker run
is the unique combination of one process, one worker version, an optional model version and an
optional configuration: every result a worker publishes is signed with one, which is how anyone
knows which worker, model and configuration produced it. Each user also has a personal `local`
process holding their *user worker runs*, used to sign results made outside of any process.

Worker versions, model versions and configurations are protected: one that a worker run uses
cannot be deleted, only archived.
"""

from django.conf import settings
from django.contrib.postgres.aggregates import ArrayAgg
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Case, OuterRef, Q, Subquery, Value, When
from django.db.models.functions import Coalesce

from arkindex.models import IndexableModel


class ProcessMode(models.TextChoices):
    Workers = "workers"
    Dataset = "dataset"
    Training = "training"
    Template = "template"
    Local = "local"
    Repository = "repository"
    Files = "files"
    IIIF = "iiif", "IIIF"
    S3 = "s3"
    Export = "export"


class ActivityState(models.TextChoices):
    """Whether worker activities are tracked for a process, and how far their initialisation got."""

    Disabled = "disabled"
    Pending = "pending"
    Ready = "ready"
    Error = "error"


class ProcessState(models.TextChoices):
    Unscheduled = "unscheduled"
    Pending = "pending"
    Running = "running"
    Completed = "completed"
    Failed = "failed"
    Error = "error"
    Stopping = "stopping"
    Stopped = "stopped"


# States after which a process never changes again, unless retried.
FINAL_PROCESS_STATES = (ProcessState.Completed, ProcessState.Failed, ProcessState.Error, ProcessState.Stopped)
# Task states that leave a process's unscheduled tasks waiting forever.
BLOCKING_STATES = [ProcessState.Error, ProcessState.Failed, ProcessState.Stopped]


def process_state_expression(states):
    """
    The state of a process from the distinct states of the tasks of its last run (`states`, the name of
    an array annotation). Work in progress wins over failures, so a process whose
    independent branches still run is running; unscheduled tasks behind a failed parent never run,
    so they do not keep a failed process from ending.
    """

    def has(state):
        return Q(**{f"{states}__contains": [state]})

    blocked = Q(**{f"{states}__overlap": BLOCKING_STATES})
    return Case(
        When(has(ProcessState.Running), then=Value(ProcessState.Running)),
        When(has(ProcessState.Stopping), then=Value(ProcessState.Stopping)),
        When(has(ProcessState.Pending), then=Value(ProcessState.Pending)),
        When(has(ProcessState.Unscheduled) & ~blocked & has(ProcessState.Completed), then=Value(ProcessState.Running)),
        When(has(ProcessState.Unscheduled) & ~blocked, then=Value(ProcessState.Unscheduled)),
        When(has(ProcessState.Error), then=Value(ProcessState.Error)),
        When(has(ProcessState.Failed), then=Value(ProcessState.Failed)),
        When(has(ProcessState.Stopped), then=Value(ProcessState.Stopped)),
        default=Value(ProcessState.Completed),
        output_field=models.CharField(),
    )


def process_state(process_ref="pk"):
    """
    The state of the process named by the outer query's `process_ref` column, computed by the
    database in the same query as the rows it is annotated on, so that it can be filtered on and
    costs nothing per row.
    """
    # Tasks belong to the scheduler app, below this one: reached through the reverse relation.
    task_model = Process._meta.get_field("tasks").related_model
    last_run = task_model.objects.filter(process_id=OuterRef("process_id")).order_by("-run").values("run")[:1]
    state = (
        task_model.objects.filter(process_id=OuterRef(process_ref), run=Subquery(last_run))
        .order_by()
        .values("process_id")
        .annotate(states=ArrayAgg("state", distinct=True))
        .annotate(state=process_state_expression("states"))
        .values("state")
    )
    return Coalesce(Subquery(state), Value(ProcessState.Unscheduled), output_field=models.CharField())


class ProcessQuerySet(models.QuerySet):
    def with_state(self):
        """Annotate each process's `state_value` (see `process_state`)."""
        return self.annotate(state_value=process_state())


class Process(IndexableModel):
    name = models.CharField(max_length=250, null=True, blank=True)
    mode = models.CharField(max_length=20, choices=ProcessMode.choices)
    corpus = models.ForeignKey(
        "documents.Corpus", null=True, blank=True, related_name="processes", on_delete=models.CASCADE
    )
    creator = models.ForeignKey(settings.AUTH_USER_MODEL, related_name="processes", on_delete=models.CASCADE)

    # Element filters: which elements of the corpus the process runs on.
    element = models.ForeignKey("documents.Element", null=True, blank=True, related_name="+", on_delete=models.SET_NULL)
    element_type = models.ForeignKey(
        "documents.ElementType", null=True, blank=True, related_name="+", on_delete=models.SET_NULL
    )
    name_contains = models.CharField(max_length=250, null=True, blank=True)
    load_children = models.BooleanField(default=False)
    use_selection = models.BooleanField(default=False)
    # An explicit list of elements, instead of (not on top of) the other filters.
    elements = models.ManyToManyField("documents.Element", related_name="+", blank=True)
    # File imports (modes files and iiif): the data files they read, and the type of the folder each
    # file becomes; `element` is then the folder that receives them and `element_type` their pages'.
    files = models.ManyToManyField("documents.DataFile", related_name="processes", blank=True)
    folder_type = models.ForeignKey(
        "documents.ElementType", null=True, blank=True, related_name="+", on_delete=models.SET_NULL
    )
    # Repository imports: the repository and the revision (branch, tag or commit; null for its default
    # branch) they import. SET_NULL, not PROTECT: a repository stays deletable, and its past imports
    # stay listed with their name, tasks and logs, as the history of what was imported.
    repository = models.ForeignKey(
        "workers.Repository", null=True, blank=True, related_name="processes", on_delete=models.SET_NULL
    )
    revision = models.CharField(max_length=250, null=True, blank=True)
    farm = models.ForeignKey("ponos.Farm", null=True, blank=True, related_name="processes", on_delete=models.SET_NULL)

    template = models.ForeignKey("self", null=True, blank=True, related_name="applications", on_delete=models.SET_NULL)
    activity_state = models.CharField(max_length=20, choices=ActivityState.choices, default=ActivityState.Disabled)
    use_cache = models.BooleanField(default=False)
    use_gpu = models.BooleanField(default=False)
    chunks = models.PositiveIntegerField(default=1)
    skip_elements_json = models.BooleanField(default=False)
    started = models.DateTimeField(null=True, blank=True)
    finished = models.DateTimeField(null=True, blank=True)
    # A training process: the model its worker publishes versions of, and the folders it learns from.
    model = models.ForeignKey(
        "workers.Model", null=True, blank=True, related_name="training_processes", on_delete=models.SET_NULL
    )
    train_folder = models.ForeignKey(
        "documents.Element", null=True, blank=True, related_name="+", on_delete=models.SET_NULL
    )
    validation_folder = models.ForeignKey(
        "documents.Element", null=True, blank=True, related_name="+", on_delete=models.SET_NULL
    )
    test_folder = models.ForeignKey(
        "documents.Element", null=True, blank=True, related_name="+", on_delete=models.SET_NULL
    )
    # When `cleanup` removed the logs and artifacts of its tasks, long after it ended.
    files_cleaned = models.DateTimeField(null=True, blank=True)
    # Set by DestroyProcess in the transaction that answers it: from then on the process is hidden
    # and cannot start; its deletion job removes it (cleared again if that job fails for good).
    deleting = models.DateTimeField(null=True, blank=True)

    objects = ProcessQuerySet.as_manager()

    class Meta:
        ordering = ["-created"]
        verbose_name_plural = "processes"
        constraints = [
            # The personal process holding a user's worker runs.
            models.UniqueConstraint(fields=["creator"], condition=Q(mode="local"), name="unique_local_process"),
            models.CheckConstraint(
                condition=Q(mode__in=["local", "repository"]) | Q(corpus__isnull=False),
                name="process_corpus_required",
            ),
            models.CheckConstraint(condition=Q(chunks__gte=1), name="process_chunks_positive"),
        ]
        indexes = [
            models.Index(fields=["corpus", "-created"]),
            models.Index(fields=["creator", "-created"]),
            models.Index(fields=["mode", "-created"]),
        ]

    def __str__(self):
        return self.name or f"{self.get_mode_display()} process {self.id}"

    @property
    def state(self):
        """
        A process takes its state from the tasks of its last run; without tasks (not started, or
        local) it is unscheduled. Lists annotate it with `Process.objects.with_state()`.
        """
        if not hasattr(self, "state_value"):
            self.state_value = Process.objects.with_state().values_list("state_value", flat=True).get(pk=self.pk)
        return ProcessState(self.state_value)

    def refresh_from_db(self, *args, **kwargs):
        # The state is read again with the fields: it may have changed with them.
        self.__dict__.pop("state_value", None)
        super().refresh_from_db(*args, **kwargs)

    @property
    def is_running(self):
        """Started and not ended: its tasks may still change."""
        return self.started is not None and self.state not in FINAL_PROCESS_STATES


class WorkerRunQuerySet(models.QuerySet):
    def with_process_state(self):
        return self.annotate(process_state_value=process_state("process_id"))


class WorkerRun(IndexableModel):
    process = models.ForeignKey(Process, related_name="worker_runs", on_delete=models.CASCADE)
    version = models.ForeignKey("workers.WorkerVersion", related_name="worker_runs", on_delete=models.PROTECT)
    model_version = models.ForeignKey(
        "workers.ModelVersion", null=True, blank=True, related_name="worker_runs", on_delete=models.PROTECT
    )
    configuration = models.ForeignKey(
        "workers.WorkerConfiguration", null=True, blank=True, related_name="worker_runs", on_delete=models.PROTECT
    )
    # Worker runs of the same process that must finish first: a DAG, each parent at most once.
    parents = ArrayField(models.UUIDField(), default=list, blank=True)
    summary = models.TextField(editable=False)
    use_gpu = models.BooleanField(default=False)

    objects = WorkerRunQuerySet.as_manager()

    class Meta:
        ordering = ["created"]
        constraints = [
            models.UniqueConstraint(
                fields=["process", "version", "model_version", "configuration"],
                nulls_distinct=False,
                name="unique_worker_run_per_process",
            ),
        ]

    def __str__(self):
        return self.summary

    @property
    def process_with_state(self):
        """The run's process, with the state annotated by `with_process_state` when there is one."""
        if hasattr(self, "process_state_value"):
            self.process.state_value = self.process_state_value
        return self.process

    def build_summary(self):
        """
        How a worker run is named wherever its results are shown, e.g.
        `Worker Demo @ 1a2b3c with model Layout @ v2 using configuration 'Fast'`.
        """
        summary = f"Worker {self.version.worker.name} @ {self.version.short_label}"
        if self.model_version_id:
            model_version = self.model_version
            summary += f" with model {model_version.model.name} @ {model_version.tag or str(model_version.id)[:6]}"
        if self.configuration_id:
            summary += f" using configuration '{self.configuration.name}'"
        return summary

    def save(self, *args, **kwargs):
        self.summary = self.build_summary()
        if kwargs.get("update_fields") is not None:
            kwargs["update_fields"] = {*kwargs["update_fields"], "summary"}
        super().save(*args, **kwargs)


class WorkerActivityState(models.TextChoices):
    Queued = "queued"
    Started = "started"
    Processed = "processed"
    Error = "error"


class WorkerActivity(models.Model):
    """
    What one worker run did with one element of its process: queued until a task takes it, then
    started, then processed or error (an element in error may be started again).

    A process holds one row per worker run and element, hundreds of thousands of them: rows are
    created by one `INSERT … SELECT` per worker run (`processes.services.activities`), never one by one, and
    the key is a bigint identity rather than a UUID, cheaper to generate, store and index, and
    increasing, so that the queue hands out elements in the order they were inserted. Activities are
    never addressed by their own id: the API names them by (worker run, element).
    """

    id = models.BigAutoField(primary_key=True)
    # Both lead composite indexes below: their own single-column indexes would only slow inserts.
    process = models.ForeignKey(Process, related_name="activities", on_delete=models.CASCADE, db_index=False)
    worker_run = models.ForeignKey(WorkerRun, related_name="activities", on_delete=models.CASCADE, db_index=False)
    # Indexed on its own: deleting elements deletes their activities.
    element = models.ForeignKey("documents.Element", related_name="activities", on_delete=models.CASCADE)
    state = models.CharField(max_length=20, choices=WorkerActivityState.choices, default=WorkerActivityState.Queued)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)
    # When a task last took the element: `updated - started` of a processed activity is its duration.
    started = models.DateTimeField(null=True, blank=True)
    # The task holding a started element (no foreign key: the scheduler's tasks are below this app,
    # and the check would cost every report). Its element goes back to the queue when it ends.
    task_id = models.UUIDField(null=True, blank=True)
    # How many times a task took the element and ended without reporting on it, and why the last did.
    attempts = models.PositiveSmallIntegerField(default=0, db_default=0)
    last_error = models.TextField(blank=True, default="", db_default="")

    class Meta:
        verbose_name_plural = "worker activities"
        constraints = [
            models.UniqueConstraint(fields=["worker_run", "element"], name="unique_activity_per_run_element"),
        ]
        indexes = [
            # The queue of a worker run: its next queued element (StartWorkerActivity).
            models.Index(fields=["worker_run", "state"], name="activity_run_state"),
            # StartWorkerActivity: the next queued element of a run, read from the index even
            # when most activities of the run are already processed.
            models.Index(fields=["worker_run", "id"], condition=Q(state="queued"), name="activity_queue"),
            # Statistics of a process: counts per state, durations.
            models.Index(fields=["process", "state"], name="activity_process_state"),
            # The elements a task holds, given back when it ends.
            models.Index(fields=["task_id"], condition=Q(state="started"), name="activity_held"),
        ]

    def __str__(self):
        return f"{self.worker_run_id} on {self.element_id}: {self.state}"
