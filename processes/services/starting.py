"""
What must hold before a process starts, checked all at once.

`start_errors(process)` names every broken rule in one answer, so that a person fixes the whole
configuration in one go instead of discovering the problems one StartProcess call at a time. It
runs a fixed number of queries whatever the number of elements or worker runs: the worker runs with
their version, model version and configuration in one query, the element set with one `EXISTS`.
The checks themselves are Python over those rows.

Starting itself (the tasks, the scheduler) belongs to `ponos.services`, which calls this module:
this app never imports the scheduler.
"""

from processes.models import ProcessMode, WorkerRun
from processes.services import process_elements
from processes.services.file_imports import FILE_IMPORT_MODES, file_import_errors
from workers.configuration import missing_required_fields
from workers.models import FeatureUsage, ModelVersionState, WorkerVersionState

# Modes that StartProcess accepts; the others are started by their own machinery (repository
# imports, exports) or never (templates, users' local processes). File imports are started as soon
# as they are created (CreateFilesProcess), with the same checks.
STARTABLE_MODES = (ProcessMode.Workers, ProcessMode.Dataset, ProcessMode.Training, *FILE_IMPORT_MODES)

# Extension point for dataset processes: the datasets app (below this one) registers here, from its
# AppConfig.ready(), the checks it owns, such as "a dataset process needs at least one set". Each
# check gets the process and returns `{field: [messages]}` (empty when fine). Nothing is registered
# until that app has models.
DATASET_START_CHECKS = []


def dataset_start_check(check):
    DATASET_START_CHECKS.append(check)
    return check


def start_worker_runs(process):
    """The worker runs of a process with everything the checks and the task DAG read, in one query."""
    return list(
        WorkerRun.objects.filter(process_id=process.id)
        .select_related("version__worker", "model_version", "configuration")
        .order_by("created", "id")
    )


def order_worker_runs(worker_runs):
    """
    The worker runs with every run after its parents, and `{run id: message}` for the runs whose
    parents are not worker runs of the process or form a cycle (those are left out of the order).
    """
    by_id = {run.id: run for run in worker_runs}
    problems = {}
    for run in worker_runs:
        unknown = [str(parent) for parent in run.parents if parent not in by_id]
        if unknown:
            problems[run.id] = f"Its parents {', '.join(unknown)} are not worker runs of this process."

    ordered, placed = [], set()
    pending = [run for run in worker_runs if run.id not in problems]
    # Kahn's algorithm, keeping the creation order among runs that are ready at the same time.
    while pending:
        ready = [run for run in pending if all(parent in placed for parent in run.parents)]
        if not ready:
            for run in pending:
                problems[run.id] = "Its parents form a cycle: a worker run cannot depend on itself, even indirectly."
            break
        ordered.extend(ready)
        placed.update(run.id for run in ready)
        pending = [run for run in pending if run.id not in placed]
    return ordered, problems


def worker_run_errors(run):
    """Why one worker run cannot run, as a list of messages naming the run."""
    version = run.version
    errors = []
    if version.state != WorkerVersionState.Available:
        errors.append(
            f"The worker version is {version.state}: only an available version can run. "
            "Wait for it to be available or pick another version."
        )
    if not version.docker_image_iid and not version.docker_command:
        errors.append(
            "The worker version has neither a Docker image nor a command, so it cannot run in a process; "
            "it can only sign results as a user worker run."
        )

    if run.model_version_id is None:
        if version.model_usage == FeatureUsage.Required:
            errors.append("The worker version requires a model version: set one on the worker run.")
    elif version.model_usage == FeatureUsage.Disabled:
        errors.append("The worker version does not use models: remove the model version from the worker run.")
    elif run.model_version.state != ModelVersionState.Available:
        errors.append(f"The model version is {run.model_version.state}: only an available model version can be used.")

    if run.configuration_id is not None and run.configuration.archived:
        errors.append("The worker configuration is archived: choose another configuration or create one.")

    values = run.configuration.configuration if run.configuration_id is not None else None
    missing = missing_required_fields(version.configuration, values)
    if missing:
        errors.append(
            f"The worker version requires the field(s) {', '.join(missing)}, which would run without a value: "
            "select a worker configuration that sets them."
        )
    return errors


def start_errors(process, worker_runs=None):
    """
    Every reason why `process` cannot start, as the body of a 400 (`{}` when it can):

    - `mode`, `corpus`: a process of another mode than workers, dataset or a file import, or
      without a corpus;
    - for a file import, what `processes.services.file_imports.file_import_errors` says, and nothing else;
    - `worker_runs`: a list when the process has none, else `{worker run id: [messages]}` (see
      `worker_run_errors`; plus parents that are unknown or form a cycle);
    - `elements`: a workers process whose element filters select nothing;
    - whatever the `DATASET_START_CHECKS` return for a dataset process;
    - for a training process, its single worker run, its model and its train folder.

    `worker_runs` are those of `start_worker_runs(process)`, when the caller already has them.
    """
    if process.mode not in STARTABLE_MODES:
        return {
            # File imports start as they are created: people start workers and dataset processes.
            "mode": [f"A process of mode {process.mode} cannot be started: only workers and dataset processes can."]
        }
    if process.corpus_id is None:
        return {"corpus": ["The process has no corpus: it cannot be started."]}
    if process.mode in FILE_IMPORT_MODES:
        # A file import runs no worker: its single task is the import itself.
        return file_import_errors(process)

    errors = {}
    worker_runs = start_worker_runs(process) if worker_runs is None else worker_runs
    if not worker_runs:
        errors["worker_runs"] = ["The process has no worker runs: add at least one before starting it."]
    else:
        run_errors = {run.id: worker_run_errors(run) for run in worker_runs}
        _, dag_problems = order_worker_runs(worker_runs)
        for run_id, message in dag_problems.items():
            run_errors[run_id].append(message)
        by_id = {run.id: run for run in worker_runs}
        failing = {
            str(run_id): [f"{by_id[run_id].summary}: {message}" for message in messages]
            for run_id, messages in run_errors.items()
            if messages
        }
        if failing:
            errors["worker_runs"] = failing

    if process.mode == ProcessMode.Workers:
        if not process_elements(process).exists():
            errors["elements"] = [
                "The element filters of the process select no element: change the filters or add elements."
            ]
    elif process.mode == ProcessMode.Dataset:
        for check in DATASET_START_CHECKS:
            for field, messages in check(process).items():
                errors.setdefault(field, []).extend(messages)
    elif process.mode == ProcessMode.Training:
        errors.update(training_errors(process, worker_runs))
    return errors


def training_errors(process, worker_runs):
    """A training process runs one worker run, publishes to a model, and learns from a train folder at least."""
    errors = {}
    if len(worker_runs) > 1:
        errors["worker_runs"] = ["A training process runs one worker run: remove the others."]
    if process.model_id is None:
        errors["model_id"] = ["A training process publishes the versions it trains on a model: choose one."]
    if process.train_folder_id is None:
        errors["train_folder_id"] = ["A training process learns from the elements of a folder: choose one."]
    return errors
