"""
Rules of processes and worker runs that are more than a field.

Process configuration (`process_create`, `process_update`) checks the whole configuration a request
would leave, not only the fields it sends, and answers one 400 naming every broken rule. Deleting a
process (`process_destroy`) is checked at once, marks the process (`deleting`) in the transaction
that answers, and is done by a durable job (`process_delete`, see `arkindex.jobs`) in one
transaction of set-based statements; from the mark on, the process is hidden everywhere and can
neither start nor be retried.
"""

import logging

from django.contrib.postgres.expressions import ArraySubquery
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.db.models.functions import Now
from rest_framework.exceptions import NotFound, ValidationError

from arkindex.api.exceptions import Conflict
from arkindex.jobs import enqueue_job
from documents.models import Element, ElementPath, ElementType, Selection
from processes.models import ActivityState, Process, ProcessMode, WorkerRun
from processes.services import worker_runs
from processes.services.deletion import PROCESS_ELEMENTS, PROCESSES, WORKER_RUNS
from processes.signals import process_deleting
from users.models import Role
from users.rights import filter_rights

logger = logging.getLogger(__name__)


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


def create_user_worker_run(user, *, version_id, model_version_id=None, configuration_id=None):
    """
    Create one of `user`'s worker runs. The version must belong to a worker the user can use; a
    model version and a configuration are optional and checked like in a process. A user has at
    most one worker run per worker version.
    """
    version, model_version, configuration = worker_runs.check_choices(
        user, version_id=version_id, model_version_id=model_version_id, configuration_id=configuration_id
    )
    if not version.worker.is_local:
        # Seed 000: a user worker run mimics a worker run outside Arkindex, of a worker of one's own.
        raise ValidationError(
            {
                "worker_version_id": [
                    f"The worker {version.worker.name} comes from a repository ({version.worker.repository_url}): "
                    "a user worker run needs a version of a local worker. Create a local worker and a version of it."
                ]
            }
        )

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

    Whether the process has an explicit list is read from `has_element_list` when the process was
    fetched `with_element_list` (no query), else asked to the database.
    """
    corpus_elements = Element.objects.filter(corpus_id=process.corpus_id)
    has_element_list = getattr(process, "has_element_list", None)
    if has_element_list is None:
        has_element_list = process.elements.exists()
    if has_element_list:
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


# Process configuration

# Modes created through CreateProcess; the others come from their own imports (repository,
# files, S3, exports) or exist once per user (local).
CREATABLE_MODES = (ProcessMode.Workers, ProcessMode.Dataset, ProcessMode.Training, ProcessMode.Template)
# What a training process learns from and publishes to: set on training processes only.
TRAINING_FIELDS = ("model", "train_folder", "validation_folder", "test_folder")
# Activity states a request may choose: `ready` and `error` are reached when a started process
# initialises its activities.
CHOSEN_ACTIVITY_STATES = (ActivityState.Disabled, ActivityState.Pending)
# How many unknown or foreign elements a 400 names before giving a count.
NAMED_ELEMENTS = 20

# The configuration of a process as requests name it: these fields are refused once it started.
FILTER_FIELDS = ("element_id", "element_type", "name_contains", "load_children", "use_selection", "element_ids")
CONFIGURATION_FIELDS = (
    *FILTER_FIELDS,
    "chunks",
    "farm_id",
    "use_cache",
    "use_gpu",
    "activity_state",
    "skip_elements_json",
)
DEFAULT_CONFIGURATION = {
    "element": None,
    "element_type": None,
    "name_contains": None,
    "load_children": False,
    "use_selection": False,
    "element_ids": [],
    "chunks": 1,
    "farm": None,
    "use_cache": False,
    "use_gpu": False,
    "activity_state": ActivityState.Disabled,
    "skip_elements_json": False,
    **dict.fromkeys(TRAINING_FIELDS),
}


def _farm_model():
    # The scheduler app sits below this one: its farm model is reached through the relation.
    return Process._meta.get_field("farm").related_model


def _model_model():
    return Process._meta.get_field("model").related_model


def _foreign_elements(corpus, element_ids):
    """The ids of `element_ids` that are not elements of `corpus`, in one query whatever their number."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT wanted.id FROM unnest(%s::uuid[]) AS wanted (id)
            LEFT JOIN {Element._meta.db_table} AS element ON element.id = wanted.id AND element.corpus_id = %s
            WHERE element.id IS NULL
            """,
            [[str(element_id) for element_id in element_ids], str(corpus.id)],
        )
        return [row[0] for row in cursor.fetchall()]


def _resolve(corpus, fields, errors, user):
    """
    The objects that the ids and slugs of a request name, in `corpus`: a missing one is an error
    on its field, in `errors`. Returns the configuration values the request sets.
    """
    values = {key: fields[key] for key in fields if key in DEFAULT_CONFIGURATION}

    for key in ("train_folder", "validation_folder", "test_folder"):
        if f"{key}_id" in fields:
            element_id = fields[f"{key}_id"]
            values[key] = None
            if element_id is not None:
                values[key] = Element.objects.select_related("type").filter(id=element_id, corpus_id=corpus.id).first()
                if values[key] is None:
                    errors[f"{key}_id"] = [f"No element {element_id} in corpus {corpus.name}."]
                elif not values[key].type.folder:
                    errors[f"{key}_id"] = [f"Element {values[key].name} ({element_id}) is not a folder."]

    if "model_id" in fields:
        model_id = values["model"] = fields["model_id"]
        if model_id is not None:
            # Its versions are published with the creator's rights: contributor at least.
            values["model"] = filter_rights(user, _model_model().objects.filter(pk=model_id), Role.CONTRIBUTOR).first()
            if values["model"] is None:
                errors["model_id"] = [f"No model {model_id} that you may add versions to."]

    if "element_id" in fields:
        element_id = values["element"] = fields["element_id"]
        if element_id is not None:
            element = Element.objects.select_related("type").filter(id=element_id, corpus_id=corpus.id).first()
            if element is None:
                errors["element_id"] = [f"No element {element_id} in corpus {corpus.name}."]
            elif not element.type.folder:
                errors["element_id"] = [
                    f"Element {element.name} ({element.id}) is a {element.type.display_name}, not a folder: "
                    "pick a folder, or list the elements with element_ids."
                ]
            values["element"] = element

    if "element_type" in fields:
        slug = values["element_type"] = fields["element_type"]
        if slug:
            element_type = ElementType.objects.filter(corpus_id=corpus.id, slug=slug).first()
            if element_type is None:
                errors["element_type"] = [f"No element type with slug '{slug}' in corpus {corpus.name}."]
            values["element_type"] = element_type
        else:
            values["element_type"] = None

    if "farm_id" in fields:
        farm_id = fields["farm_id"]
        values["farm"] = None
        if farm_id is not None:
            values["farm"] = _farm_model().objects.filter(id=farm_id).first()
            if values["farm"] is None:
                errors["farm_id"] = [f"No farm {farm_id}."]

    if "element_ids" in fields:
        # Each element once, in the order given.
        element_ids = values["element_ids"] = list(dict.fromkeys(fields["element_ids"] or []))
        foreign = _foreign_elements(corpus, element_ids) if element_ids else []
        if foreign:
            named = ", ".join(str(element_id) for element_id in foreign[:NAMED_ELEMENTS])
            more = f" and {len(foreign) - NAMED_ELEMENTS} more" if len(foreign) > NAMED_ELEMENTS else ""
            errors["element_ids"] = [
                f"{len(foreign)} of these elements are not in corpus {corpus.name}: {named}{more}. "
                "A process runs on the elements of its own corpus only."
            ]

    for key in ("name_contains",):
        if key in values and not values[key]:
            values[key] = None
    return values


def _configuration_errors(mode, configuration):
    """Every rule the whole configuration of a process of `mode` breaks, by field."""
    errors = {}

    def add(field, message):
        errors.setdefault(field, []).append(message)

    filters = {
        "element_id": configuration["element"] is not None,
        "element_type": configuration["element_type"] is not None,
        "name_contains": bool(configuration["name_contains"]),
        "load_children": configuration["load_children"],
        "use_selection": configuration["use_selection"],
        "element_ids": bool(configuration["element_ids"]),
    }
    if mode in (ProcessMode.Files, ProcessMode.IIIF):
        # A file import's folder and page type say where its pages go: they filter nothing.
        del filters["element_id"], filters["element_type"]
    if mode != ProcessMode.Workers:
        reason = {
            ProcessMode.Dataset: "a dataset process runs on the sets of its datasets",
            ProcessMode.Training: "a training process learns from its folders",
            ProcessMode.Template: "a template only holds worker runs",
        }.get(mode, f"a {mode} process has no element filters")
        for field, is_set in filters.items():
            if is_set:
                add(field, f"Element filters only apply to workers processes: {reason}.")
    else:
        if filters["element_ids"] and filters["element_id"]:
            add(
                "element_ids",
                "An explicit list of elements replaces the folder filter: set element_id to null with element_ids.",
            )
        if filters["element_ids"] and filters["use_selection"]:
            add("element_ids", "An explicit list of elements replaces your selection: set use_selection to false.")
        if filters["use_selection"] and filters["element_id"]:
            add("use_selection", "Use either your selection or a folder (element_id), not both.")

    if mode != ProcessMode.Training:
        for key in TRAINING_FIELDS:
            if configuration[key] is not None:
                add(f"{key}_id", "Only training processes have a model and training folders.")

    activities_on = configuration["activity_state"] != ActivityState.Disabled
    if activities_on and mode != ProcessMode.Workers:
        add("activity_state", "Worker activities are only tracked on workers processes: use disabled.")
    if configuration["skip_elements_json"] and not activities_on:
        add(
            "skip_elements_json",
            "Without an elements list, workers take their elements from their activities: "
            "set activity_state to pending, or skip_elements_json to false.",
        )
    return errors


def _current_configuration(process):
    """The configuration of `process` as `_configuration_errors` reads it (related objects by id, no query)."""
    related = ("element", "element_type", "farm", *TRAINING_FIELDS)
    skipped = (*related, "element_ids")
    configuration = {key: getattr(process, key) for key in DEFAULT_CONFIGURATION if key not in skipped}
    for key in related:
        configuration[key] = getattr(process, f"{key}_id")
    has_list = getattr(process, "has_element_list", None)
    configuration["element_ids"] = [True] if (process.elements.exists() if has_list is None else has_list) else []
    return configuration


def _set_element_list(process, element_ids, *, replace):
    """Store the explicit element list of `process` in one statement, however long it is."""
    with connection.cursor() as cursor:
        if replace:
            cursor.execute(f"DELETE FROM {PROCESS_ELEMENTS} WHERE process_id = %s", [str(process.id)])
        if element_ids:
            cursor.execute(
                f"INSERT INTO {PROCESS_ELEMENTS} (process_id, element_id) SELECT %s, unnest(%s::uuid[])",
                [str(process.id), [str(element_id) for element_id in element_ids]],
            )


def _model_values(configuration):
    values = {key: value for key, value in configuration.items() if key != "element_ids"}
    if "activity_state" in values:
        values["activity_state"] = ActivityState(values["activity_state"])
    return values


def process_create(*, user, corpus, mode, name=None, **fields):
    """
    A new process of `mode` on `corpus`, configured with `fields` (the names of
    `CONFIGURATION_FIELDS`). The caller checked that `user` is a contributor on the corpus.
    """
    if mode not in CREATABLE_MODES:
        raise ValidationError(
            {
                "mode": [
                    f"Processes of mode {mode} are created by their own imports, not with CreateProcess: "
                    f"choose one of {', '.join(CREATABLE_MODES)}."
                ]
            }
        )
    errors = {}
    configuration = {**DEFAULT_CONFIGURATION, **_resolve(corpus, fields, errors, user)}
    errors = {**_configuration_errors(mode, configuration), **errors}
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        process = Process.objects.create(
            corpus=corpus, creator=user, mode=mode, name=name or None, **_model_values(configuration)
        )
        _set_element_list(process, configuration["element_ids"], replace=False)
    return process


def check_configurable(process, fields):
    """409 when a started process would change anything but its name."""
    refused = sorted(set(fields) - {"name"})
    if process.started is not None and refused:
        raise Conflict(
            f"This process has started: only its name can change, not {', '.join(refused)}. "
            "Create a new process (or a template from this one) to run another configuration.",
            code="process_started",
        )


def process_update(*, process, user, **fields):
    """
    Change the name (at any time) or the configuration (until the process starts) of `process`.
    The configuration the change would leave is checked as a whole: sending only `element_ids` to
    a process with a folder filter is a 400 asking to clear `element_id` too.
    """
    check_configurable(process, fields)
    with transaction.atomic():
        # A start between the check above and this change would leave tasks built on old filters.
        started = Process.objects.select_for_update().filter(pk=process.pk).values_list("started", flat=True).get()
        process.started = started
        check_configurable(process, fields)

        errors = {}
        changes = _resolve(process.corpus, fields, errors, user)
        configuration = {**_current_configuration(process), **changes}
        errors = {**_configuration_errors(process.mode, configuration), **errors}
        if errors:
            raise ValidationError(errors)

        values = _model_values(changes)
        if "name" in fields:
            values["name"] = fields["name"] or None
        for key, value in values.items():
            setattr(process, key, value)
        update_fields = {Process._meta.get_field(key).attname for key in values}
        if update_fields:
            process.save(update_fields=update_fields | {"updated"})
        if "element_ids" in changes:
            _set_element_list(process, changes["element_ids"], replace=True)
            process.has_element_list = bool(changes["element_ids"])
    return process


# Deletion


def signed_results(process):
    """Names of the kinds of results signed by the worker runs of `process` (elements…), in one query."""
    return worker_runs.results_signed_by(WorkerRun.objects.filter(process_id=process.pk))


def process_destroy(*, process, user=None):
    """
    Schedule the deletion of `process` (with its worker runs, tasks and activities). Refused with
    409 while it runs, and while results signed by its worker runs exist: the job would fail on
    them, so it is checked before anything happens. The process is hidden at once.
    """
    with transaction.atomic():
        # Serialises with StartProcess and RetryProcess, which lock the row as well.
        Process.objects.select_for_update().filter(pk=process.pk).values_list("pk").get()
        process = Process.objects.with_state().get(pk=process.pk)
        if process.deleting is not None:
            # Another DestroyProcess won the lock: the process is already gone for its users.
            raise NotFound(f"Process {process.id} not found, or you have no access to it.")
        if process.is_running:
            raise Conflict(
                f"This process is {process.state}: stop it, or wait until it ends, before deleting it.",
                code="process_running",
            )
        results = signed_results(process)
        if results:
            raise Conflict(
                f"The worker runs of this process signed {', '.join(results)} that still exist: "
                "delete those worker results first, then the process.",
                code="protected",
            )
        Process.objects.filter(pk=process.pk).update(deleting=Now())
        enqueue_job(
            "processes.jobs.process_delete",
            str(process.id),
            description=f"Delete process {process.name or process.id}",
            user=user,
            key=f"process-delete-{process.id}",
        )


def process_delete(*, process_id):
    """
    Delete a process in one transaction: first what other apps attach to it (the hooks of
    `processes.services.deletion`: tasks, activities…), then its explicit element list, its worker runs,
    the link from the processes made from it as a template, and the process. Foreign keys are checked
    before the end, so that anything still pointing at it rolls the whole deletion back instead of
    leaving half a process. Idempotent: a process already gone is not an error. Returns whether
    the process was deleted.
    """
    process_id = str(process_id)
    params = {"process": process_id}
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"SELECT id FROM {PROCESSES} WHERE id = %(process)s FOR UPDATE", params)
        if cursor.fetchone() is None:
            logger.info("Process %s is already deleted", process_id)
            return False
        if Process.objects.with_state().get(pk=process_id).is_running:
            # It cannot start once marked (`check_not_being_deleted`): only a process marked by hand could.
            raise RuntimeError(f"Process {process_id} is running: stop it before deleting it.")
        process_deleting.send(sender=Process, cursor=cursor, process_id=process_id)
        cursor.execute(f"DELETE FROM {PROCESS_ELEMENTS} WHERE process_id = %(process)s", params)
        cursor.execute(f"DELETE FROM {WORKER_RUNS} WHERE process_id = %(process)s", params)
        cursor.execute(f"UPDATE {PROCESSES} SET template_id = NULL WHERE template_id = %(process)s", params)
        cursor.execute(f"DELETE FROM {PROCESSES} WHERE id = %(process)s", params)
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    logger.info("Deleted process %s", process_id)
    return True


def check_not_being_deleted(process):
    """After its row is locked: a process whose deletion was asked does not start, retry nor change."""
    if process.deleting is not None:
        raise Conflict("This process is being deleted.", code="process_deleted")
