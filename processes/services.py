"""
Rules of processes and worker runs that are more than a field.
"""

from django.contrib.postgres.expressions import ArraySubquery
from django.db import IntegrityError, transaction
from django.db.models import Case, IntegerField, Q, Value, When
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError

from documents.models import Corpus, Element, ElementPath, Selection
from documents.selectors import corpus_level_subquery
from processes.models import Process, ProcessMode, WorkerRun
from users.models import Role
from users.rights import filter_rights
from workers.models import (
    FeatureUsage,
    Model,
    ModelVersion,
    ModelVersionState,
    Worker,
    WorkerConfiguration,
    WorkerVersion,
    WorkerVersionState,
)


def local_process(user):
    """The personal process holding `user`'s worker runs, created on first need."""
    try:
        return Process.objects.get(creator=user, mode=ProcessMode.Local)
    except Process.DoesNotExist:
        pass
    try:
        with transaction.atomic():
            return Process.objects.create(creator=user, mode=ProcessMode.Local, name=f"Local process of {user.email}")
    except IntegrityError:
        # Created by a concurrent request between the lookup and the insert.
        return Process.objects.get(creator=user, mode=ProcessMode.Local)


def readable_worker_runs(user):
    """
    Worker runs `user` may read: their own user worker runs, and the worker runs of processes on
    corpora they can read. User worker runs are personal: nobody else sees them through the API,
    instance administrators included (they have the Django admin).
    """
    if not user.is_authenticated:
        return WorkerRun.objects.none()
    own = Q(process__mode=ProcessMode.Local, process__creator=user)
    corpora = filter_rights(user, Corpus.objects.all(), Role.GUEST).values("id")
    shared = Q(process__corpus__in=corpora) & ~Q(process__mode=ProcessMode.Local)
    return WorkerRun.objects.filter(own | shared)


# Processes without a corpus (repository imports) or personal ones belong to their creator alone.
PERSONAL_MODES = (ProcessMode.Local, ProcessMode.Repository)


def processes_with_level(user):
    """
    Processes `user` can see, annotated with `level`: their level on the process's corpus, or
    admin on their own processes of a personal mode. A user's local process is never listed for
    anyone else, instance administrators included.
    """
    if not user.is_authenticated:
        return Process.objects.none()
    personal = Q(mode__in=PERSONAL_MODES)
    own_level = Value(Role.ADMIN.value)
    queryset = Process.objects.annotate(
        level=Case(
            When(personal & Q(creator=user), then=own_level),
            When(personal, then=Value(Role.ADMIN.value if user.is_admin else 0)),
            default=corpus_level_subquery(user, "corpus_id"),
            output_field=IntegerField(),
        )
    )
    return queryset.filter(level__gte=Role.GUEST).exclude(Q(mode=ProcessMode.Local) & ~Q(creator=user))


def process_for_user(user, process_id, level=Role.GUEST, queryset=None):
    """
    The process `process_id` if `user` can see it, else 404; 403 when they can see it but their
    level is below `level`. `queryset` (built on `processes_with_level`) adds what the caller needs.
    """
    queryset = processes_with_level(user) if queryset is None else queryset
    process = queryset.filter(pk=process_id).first()
    if process is None:
        raise NotFound(f"No process {process_id} that you can see.")
    if process.level < level:
        raise PermissionDenied(
            f"This action needs level {level} ({Role(level).label.lower()}) on the process's corpus; "
            f"you have level {process.level}."
        )
    return process


def create_user_worker_run(user, *, version_id, model_version_id=None, configuration_id=None):
    """
    Create one of `user`'s worker runs. The version must belong to a worker the user can use; a
    model version and a configuration are optional and checked like in a process. A user has at
    most one worker run per worker version.
    """
    errors = {}
    version = (
        WorkerVersion.objects.select_related("worker__type")
        .filter(worker__in=filter_rights(user, Worker.objects.all(), Role.GUEST).values("id"))
        .filter(id=version_id)
        .first()
    )
    if version is None:
        raise ValidationError({"worker_version_id": [f"No worker version {version_id} on a worker you can use."]})
    if version.state != WorkerVersionState.Available:
        errors["worker_version_id"] = [
            f"This worker version is {version.state}: only an available version can be used."
        ]

    model_version = None
    if model_version_id is not None:
        model_version = (
            ModelVersion.objects.select_related("model")
            .filter(model__in=filter_rights(user, Model.objects.all(), Role.GUEST).values("id"))
            .filter(id=model_version_id)
            .first()
        )
        if model_version is None:
            errors["model_version_id"] = [f"No model version {model_version_id} on a model you can use."]
        elif model_version.state != ModelVersionState.Available:
            errors["model_version_id"] = [
                f"This model version is {model_version.state}: only an available version can be used."
            ]
        elif version.model_usage == FeatureUsage.Disabled:
            errors["model_version_id"] = ["This worker version does not use models: leave the model version out."]
    elif version.model_usage == FeatureUsage.Required:
        errors["model_version_id"] = ["This worker version requires a model version."]

    configuration = None
    if configuration_id is not None:
        configuration = WorkerConfiguration.objects.filter(id=configuration_id, worker_id=version.worker_id).first()
        if configuration is None:
            errors["configuration_id"] = [f"No configuration {configuration_id} on the worker of this version."]
        elif configuration.archived:
            errors["configuration_id"] = ["This configuration is archived: choose another one or create one."]

    if errors:
        raise ValidationError(errors)

    process = local_process(user)
    with transaction.atomic():
        # Serialises the creations of one user, so that the one-per-version rule holds.
        Process.objects.select_for_update().filter(id=process.id).get()
        if process.worker_runs.filter(version=version).exists():
            raise ValidationError(
                {
                    "worker_version_id": [
                        "You already have a worker run on this worker version: "
                        "create a new version of the worker to create another worker run."
                    ]
                }
            )
        return WorkerRun.objects.create(
            process=process, version=version, model_version=model_version, configuration=configuration
        )


def process_elements(process):
    """
    The elements a process runs on, each once, as one queryset (never materialised here):

    - an explicit list of elements, when the process has one, and nothing else;
    - otherwise the creator's selected elements of the corpus with `use_selection`, the folder
      element and everything below it with `element`, or the whole corpus;
    - `load_children` adds everything below the selected or listed elements;
    - then `element_type` and `name_contains` narrow the set.
    """
    corpus_elements = Element.objects.filter(corpus_id=process.corpus_id)
    if process.elements.exists():
        roots = process.elements.through.objects.filter(process_id=process.id).values("element_id")
        queryset = corpus_elements.filter(id__in=roots)
        with_descendants = process.load_children
    elif process.use_selection:
        roots = Selection.objects.filter(user_id=process.creator_id).values("element_id")
        queryset = corpus_elements.filter(id__in=roots)
        with_descendants = process.load_children
    elif process.element_id:
        roots = [process.element_id]
        queryset = corpus_elements.filter(id=process.element_id)
        with_descendants = True
    else:
        queryset = corpus_elements
        with_descendants = False

    if with_descendants:
        # `path && ARRAY(SELECT …)`: one index scan on the paths for all the roots at once.
        root_ids = roots if isinstance(roots, list) else ArraySubquery(roots)
        below = ElementPath.objects.filter(path__overlap=root_ids).values("element_id")
        queryset = corpus_elements.filter(Q(id__in=queryset.values("id")) | Q(id__in=below))

    if process.element_type_id:
        queryset = queryset.filter(type_id=process.element_type_id)
    if process.name_contains:
        queryset = queryset.filter(name__icontains=process.name_contains)
    return queryset
