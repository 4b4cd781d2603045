"""
Worker runs of processes and templates: the configuration table of a process.

A process of mode workers, dataset or template is configured by adding worker runs to it until it
starts; from then on its table is frozen (409) but stays readable, since it says how the results
were made. A worker run is unique per process on (version, model version, configuration): the
same generic worker may run several times with different models or configurations. Its `parents`
are other worker runs of the same process, each at most once, and never a cycle: they become the
dependencies of the tasks when the process starts.

A template is a process of mode template holding only a configuration table: created from a
workers or dataset process, applied onto another one, both by copying worker runs with their
parents remapped to the copies, in one transaction with bulk inserts.

Callers resolve the processes and the user's level on them (`selectors.process_for_user`); this
module checks everything else. Creations and changes of one process's table lock the process row,
so that concurrent requests cannot both pass the uniqueness check, nor add a run to a process that
is starting at the same moment.
"""

import uuid

from django.db import IntegrityError, transaction
from django.db.models import PROTECT, RESTRICT, Exists, F, Func, Q, Value
from django.db.models import UUIDField as UUIDDbField
from django.dispatch import receiver
from rest_framework.exceptions import ValidationError

from arkindex.api.exceptions import Conflict
from processes.models import FINAL_PROCESS_STATES, Process, ProcessMode, ProcessState, WorkerRun
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
from workers.services import configuration_deleting
from workers.services.ml_models import model_version_level

# Modes whose worker runs people configure.
CONFIGURABLE_MODES = (ProcessMode.Workers, ProcessMode.Dataset, ProcessMode.Training, ProcessMode.Template)
# Modes a template is created from and applied onto (seed 002).
TEMPLATE_TARGET_MODES = (ProcessMode.Workers, ProcessMode.Dataset)

# A keyword left out of an update, as opposed to None ("no model version").
UNSET = object()


# Checks shared by process and user worker runs


def usable_workers(user):
    return filter_rights(user, Worker.objects.all(), Role.GUEST)


def usable_models(user):
    return filter_rights(user, Model.objects.all(), Role.GUEST)


def find_version(user, version_id):
    """A version of a worker `user` can use, with what the summary needs; else a 400 on `worker_version_id`."""
    version = (
        WorkerVersion.objects.select_related("worker__type")
        .filter(worker__in=usable_workers(user).values("id"), id=version_id)
        .first()
    )
    if version is None:
        raise ValidationError({"worker_version_id": [f"No worker version {version_id} on a worker you can use."]})
    return version


def version_errors(version):
    if version.state != WorkerVersionState.Available:
        return [f"This worker version is {version.state}: only an available version can be used."]
    return []


def find_model_version(user, model_version_id, errors):
    """The model version `model_version_id` if `user` can use it, else None with its error in `errors`."""
    model_version = ModelVersion.objects.select_related("model").filter(id=model_version_id).first()
    if model_version is None or model_version_level(user, model_version) < Role.GUEST:
        errors.setdefault("model_version_id", []).append(f"No model version {model_version_id} on a model you can use.")
        return None
    elif model_version.state != ModelVersionState.Available:
        errors.setdefault("model_version_id", []).append(
            f"This model version is {model_version.state}: only an available version can be used."
        )
        return None
    return model_version


def model_usage_errors(version, model_version):
    """Whether the version's `model_usage` allows running it with `model_version` (or without one)."""
    if model_version is not None and version.model_usage == FeatureUsage.Disabled:
        return ["This worker version does not use models: leave the model version out."]
    if model_version is None and version.model_usage == FeatureUsage.Required:
        return ["This worker version requires a model version."]
    return []


def find_configuration(version, configuration_id, errors):
    """A configuration of the version's worker that is not archived, else None with its error in `errors`."""
    configuration = WorkerConfiguration.objects.filter(id=configuration_id, worker_id=version.worker_id).first()
    if configuration is None:
        errors.setdefault("configuration_id", []).append(
            f"No configuration {configuration_id} on the worker of this version."
        )
    elif configuration.archived:
        errors.setdefault("configuration_id", []).append(
            "This configuration is archived: choose another one or create one."
        )
        return None
    return configuration


def check_choices(user, *, version_id, model_version_id=None, configuration_id=None):
    """
    The version, model version and configuration a new worker run would use, all checked at once:
    a 400 naming every wrong field.
    """
    version = find_version(user, version_id)
    errors = {}
    if messages := version_errors(version):
        errors["worker_version_id"] = messages
    model_version = None
    if model_version_id is not None:
        model_version = find_model_version(user, model_version_id, errors)
    if "model_version_id" not in errors and (messages := model_usage_errors(version, model_version)):
        errors["model_version_id"] = messages
    configuration = None
    if configuration_id is not None:
        configuration = find_configuration(version, configuration_id, errors)
    if errors:
        raise ValidationError(errors)
    return version, model_version, configuration


# The table of a process


def check_configurable(process, field="process"):
    if process.mode == ProcessMode.Local:
        raise ValidationError(
            {
                field: [
                    "User worker runs cannot be changed: they sign results already made. "
                    "Create another worker run instead."
                ]
            }
        )
    if process.mode not in CONFIGURABLE_MODES:
        raise ValidationError(
            {
                field: [
                    f"The worker runs of a {process.mode} process cannot be configured: "
                    "only those of workers, dataset, training and template processes."
                ]
            }
        )


def check_not_started(started):
    if started is not None:
        raise Conflict(
            "This process has started: its worker runs can no longer change. "
            "Create another process (or a template from this one) to run another configuration."
        )


def lock_process(process):
    """
    Lock the process row until the end of the transaction and check again that it has not started:
    worker runs of one process are created and changed one request at a time.
    """
    started = Process.objects.select_for_update().filter(pk=process.pk).values_list("started", flat=True).get()
    check_not_started(started)


def gpu_for(version, process):
    """Whether a run of `version` in `process` asks for a GPU: as the version needs, else as the process says."""
    if version.gpu_usage == FeatureUsage.Required:
        return True
    if version.gpu_usage == FeatureUsage.Disabled:
        return False
    return process.use_gpu


def parents_errors(graph, parents, run_id=None):
    """
    Problems with `parents` as the parents of `run_id` (None for a new run) in a process whose worker
    runs are `graph` ({run id: its parent ids}): unknown runs, repeats, the run itself, cycles.
    """
    errors = []
    seen, repeated = set(), []
    for parent in parents:
        if parent in seen and parent not in repeated:
            repeated.append(parent)
        seen.add(parent)
    if repeated:
        errors.append(
            "Each worker run may be given as a parent at most once: "
            f"{', '.join(map(str, repeated))} is given more than once."
        )
    unknown = [str(parent) for parent in seen if parent not in graph]
    if unknown:
        errors.append(f"No worker run {', '.join(sorted(unknown))} in this process: parents must be runs of it.")
    if run_id is None or errors:
        return errors
    if run_id in seen:
        return ["A worker run cannot be its own parent."]
    # A cycle exists when the run is an ancestor of one of its new parents.
    stack, visited = list(seen), set()
    while stack:
        current = stack.pop()
        if current == run_id:
            return ["These parents would make a cycle: this worker run is already an ancestor of one of them."]
        if current not in visited:
            visited.add(current)
            stack.extend(graph.get(current, ()))
    return errors


def duplicate_error(process, version, model_version, configuration, exclude=None):
    """A 400 when the process already runs this version with this model version and configuration."""
    existing = WorkerRun.objects.filter(
        process=process, version=version, model_version=model_version, configuration=configuration
    ).exclude(pk=exclude)
    existing_id = existing.values_list("id", flat=True).first()
    if existing_id is not None:
        raise ValidationError(
            {
                "non_field_errors": [
                    f"This process already has a worker run ({existing_id}) with this worker version, model "
                    "version and configuration: choose another model version or configuration."
                ]
            }
        )


def worker_run_create(*, user, process, version_id, model_version_id=None, configuration_id=None, parents=()):
    """Add a worker run to a process that has not started (`process` comes with the user's level checked)."""
    check_configurable(process)
    check_not_started(process.started)
    version, model_version, configuration = check_choices(
        user, version_id=version_id, model_version_id=model_version_id, configuration_id=configuration_id
    )
    parents = list(parents)
    with transaction.atomic():
        lock_process(process)
        graph = dict(process.worker_runs.values_list("id", "parents"))
        if process.mode == ProcessMode.Training and graph:
            raise ValidationError(
                {"worker_version_id": ["A training process runs one worker run: remove the other one first."]}
            )
        errors = parents_errors(graph, parents)
        if errors:
            raise ValidationError({"parents": errors})
        duplicate_error(process, version, model_version, configuration)
        run = WorkerRun(
            process=process,
            version=version,
            model_version=model_version,
            configuration=configuration,
            parents=parents,
            use_gpu=gpu_for(version, process),
        )
        try:
            # A savepoint: the lock makes a duplicate unlikely, the constraint makes it impossible.
            with transaction.atomic():
                run.save(force_insert=True)
        except IntegrityError:
            duplicate_error(process, version, model_version, configuration)
            raise
    return run


def worker_run_update(*, user, run, model_version_id=UNSET, configuration_id=UNSET, parents=UNSET):
    """
    Change the model version, configuration or parents of a run of a process that has not started.
    Only what is given is checked for access and availability; the version's model usage is checked
    on the result. User worker runs are refused: results may already be signed with them.
    """
    process = run.process
    check_configurable(process, field="non_field_errors")
    check_not_started(process.started)
    version = run.version
    errors = {}
    model_version = run.model_version
    if model_version_id is not UNSET:
        model_version = None if model_version_id is None else find_model_version(user, model_version_id, errors)
    if "model_version_id" not in errors and (messages := model_usage_errors(version, model_version)):
        errors["model_version_id"] = messages
    configuration = run.configuration
    if configuration_id is not UNSET:
        configuration = None if configuration_id is None else find_configuration(version, configuration_id, errors)
    if errors:
        raise ValidationError(errors)

    with transaction.atomic():
        lock_process(process)
        fields = []
        if parents is not UNSET:
            parents = list(parents)
            graph = dict(process.worker_runs.values_list("id", "parents"))
            errors = parents_errors(graph, parents, run_id=run.id)
            if errors:
                raise ValidationError({"parents": errors})
            run.parents = parents
            fields.append("parents")
        if model_version_id is not UNSET or configuration_id is not UNSET:
            duplicate_error(process, version, model_version, configuration, exclude=run.pk)
            run.model_version, run.configuration = model_version, configuration
            fields += ["model_version", "configuration"]
        if fields:
            try:
                with transaction.atomic():
                    run.save(update_fields=[*fields, "updated"])
            except IntegrityError:
                duplicate_error(process, version, model_version, configuration, exclude=run.pk)
                raise
    return run


def protected_results(run):
    """Names of the kinds of objects (results, tasks) that use `run` and forbid its deletion."""
    names = []
    for relation in WorkerRun._meta.related_objects:
        if relation.on_delete is not PROTECT:
            continue
        related = relation.related_model._default_manager.filter(**{relation.field.name: run})
        if related.exists():
            names.append(str(relation.related_model._meta.verbose_name_plural))
    return names


def worker_run_destroy(*, run):
    """
    Remove a run from its process's table, and from the parents of the runs that followed it, in
    one UPDATE. A user worker run goes too, unless results signed with it still exist (409).
    """
    process = run.process
    if process.mode != ProcessMode.Local:
        check_configurable(process, field="non_field_errors")
        check_not_started(process.started)
    with transaction.atomic():
        lock_process(process)
        used_by = protected_results(run)
        if used_by:
            raise Conflict(
                f"This worker run still has {', '.join(used_by)}: delete its results before the worker run.",
                code="protected",
            )
        WorkerRun.objects.filter(process_id=process.id, parents__contains=[run.id]).update(
            parents=Func(F("parents"), Value(run.id, output_field=UUIDDbField()), function="array_remove")
        )
        run.delete()


# Templates


def copy_worker_runs(runs, process):
    """
    Insert copies of `runs` (with their version, worker, model version and configuration loaded)
    into `process` in one statement, parents pointing to the copies.
    """
    new_ids = {run.id: uuid.uuid4() for run in runs}
    copies = []
    for run in runs:
        copy = WorkerRun(
            id=new_ids[run.id],
            process=process,
            version=run.version,
            model_version=run.model_version,
            configuration=run.configuration,
            parents=[new_ids[parent] for parent in run.parents if parent in new_ids],
            use_gpu=run.use_gpu,
        )
        copy.summary = copy.build_summary()
        copies.append(copy)
    return WorkerRun.objects.bulk_create(copies)


def runs_to_copy(process):
    return list(
        process.worker_runs.select_related("version__worker", "model_version__model", "configuration").order_by(
            "created", "id"
        )
    )


def template_create(*, user, process, name):
    """A template on the process's corpus holding copies of its worker runs."""
    if process.mode not in TEMPLATE_TARGET_MODES:
        raise ValidationError(
            {"process": [f"Templates are made from workers or dataset processes, not from a {process.mode} process."]}
        )
    with transaction.atomic():
        template = Process.objects.create(
            name=name, mode=ProcessMode.Template, corpus_id=process.corpus_id, creator=user, use_gpu=process.use_gpu
        )
        copy_worker_runs(runs_to_copy(process), template)
    # A template has no tasks.
    template.state_value = ProcessState.Unscheduled
    return template


def template_errors(user, runs):
    """Why the runs of a template can no longer be used by `user`, one message per problem."""
    workers = set(
        usable_workers(user).filter(id__in={run.version.worker_id for run in runs}).values_list("id", flat=True)
    )
    model_ids = {run.model_version.model_id for run in runs if run.model_version_id}
    models = set(usable_models(user).filter(id__in=model_ids).values_list("id", flat=True)) if model_ids else set()
    errors = []
    for run in runs:
        if run.version.worker_id not in workers:
            errors.append(f"{run.summary}: you cannot use the worker {run.version.worker.name}.")
        elif run.version.state != WorkerVersionState.Available:
            errors.append(f"{run.summary}: the worker version is {run.version.state}, no longer available.")
        if run.model_version_id:
            if run.model_version.model_id not in models:
                errors.append(f"{run.summary}: you cannot use the model {run.model_version.model.name}.")
            elif run.model_version.state != ModelVersionState.Available:
                errors.append(f"{run.summary}: the model version is {run.model_version.state}, no longer available.")
        if run.configuration_id and run.configuration.archived:
            errors.append(f"{run.summary}: the configuration '{run.configuration.name}' is archived.")
    return errors


def template_apply(*, user, template, process):
    """Replace the worker runs of `process` (not started) with copies of the template's, and remember the template."""
    if template.mode != ProcessMode.Template:
        raise ValidationError({"template": [f"This is a {template.mode} process, not a template."]})
    if process.mode not in TEMPLATE_TARGET_MODES:
        raise ValidationError(
            {"process_id": [f"Templates apply to workers or dataset processes, not to a {process.mode} process."]}
        )
    check_not_started(process.started)
    runs = runs_to_copy(template)
    errors = template_errors(user, runs)
    if errors:
        raise ValidationError({"template": errors})
    with transaction.atomic():
        lock_process(process)
        process.worker_runs.all().delete()
        copy_worker_runs(runs, process)
        process.template = template
        process.save(update_fields=["template", "updated"])
    # Not started: no tasks.
    process.state_value = ProcessState.Unscheduled
    return process


def _result_relations():
    """
    The relations through which results point at worker runs and forbid their deletion: every
    protecting foreign key to a worker run, but those of objects that belong to a process (its
    tasks), which the deletion hooks remove with it.
    """

    def belongs_to_process(model):
        return any(
            field.many_to_one and field.related_model is Process
            for field in model._meta.get_fields()
            if field.is_relation
        )

    return [
        relation
        for relation in WorkerRun._meta.related_objects
        if relation.on_delete in (PROTECT, RESTRICT) and not belongs_to_process(relation.related_model)
    ]


def results_signed_by(runs):
    """Names of the kinds of results signed by the worker runs `runs` (a queryset) (elements…), in one query."""
    relations = _result_relations()
    checks = {
        f"has_{index}": Exists(
            relation.related_model._base_manager.filter(**{f"{relation.field.name}__in": runs.values("pk")})
        )
        for index, relation in enumerate(relations)
    }
    if not checks:
        return []
    found = WorkerRun.objects.order_by().annotate(**checks).values(*checks)[:1]
    found = next(iter(found), {})
    return [
        str(relation.related_model._meta.verbose_name_plural)
        for index, relation in enumerate(relations)
        if found.get(f"has_{index}")
    ]


@receiver(configuration_deleting)
def detach_deleted_configuration(sender, configuration, **kwargs):
    """
    A configuration goes once nothing depends on it: no result signed by its worker runs, no process
    still to run with it. The runs of ended processes keep their summary (which names it) for their
    history and lose the link.
    """
    runs = WorkerRun.objects.filter(configuration=configuration)
    signed = results_signed_by(runs)
    if signed:
        raise Conflict(
            f"Worker runs with this configuration signed {', '.join(signed)} that still exist: "
            "delete those worker results first, or archive the configuration.",
            code="protected",
        )
    pending = runs.with_process_state().filter(
        Q(process__mode=ProcessMode.Template)
        | Q(process__started__isnull=True)
        | ~Q(process_state_value__in=FINAL_PROCESS_STATES)
    )
    process_id = pending.values_list("process_id", flat=True).first()
    if process_id is not None:
        raise Conflict(
            f"Process {process_id} uses this configuration and has not ended (or is a template): "
            "remove the configuration from it first, or archive the configuration.",
            code="in_use",
        )
    for run in runs.only("process_id", "version_id", "model_version_id"):
        twin = WorkerRun.objects.filter(
            process_id=run.process_id,
            version_id=run.version_id,
            model_version_id=run.model_version_id,
            configuration__isnull=True,
        )
        if twin.exists():
            raise Conflict(
                f"Process {run.process_id} also ran this worker version without configuration: its runs would "
                "become the same. Delete that process first, or archive the configuration.",
                code="in_use",
            )
    runs.update(configuration=None)
