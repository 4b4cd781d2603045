"""
Starting, retrying and ending processes: the task DAG and the states of tasks.

**Starting** (`process_start`) happens in one transaction on the locked process row, so that two
concurrent StartProcess calls cannot both build a DAG: the second waits for the first, then finds
`started` set and gets a 409. It checks every rule at once (`processes.services.starting.start_errors`), then
creates the tasks with two bulk inserts (the tasks, then their parent links), whatever the number of
worker runs and elements: the elements are never read here, the initialisation task lists them when
it runs, and worker activities are created by an RQ job enqueued after the commit.

The DAG of a workers process (DESIGN.md, "How a process runs"):

    initialisation ─┬─ <worker A>            (depth 1)
                    ├─ <worker B>            (depth 2: parents initialisation and A)
                    └─ <worker C>            (depth 3: parents initialisation, A and B)

one task per worker run and chunk; with `chunks > 1`, `<worker>_<n>` for n in 1…chunks, each chunk's
task depending on the same chunk of its parent worker runs. A dataset process has no initialisation
task and no elements list: its workers read their sets from the API. `depth` is the length of the
longest chain of parents above a task. A repository process has a single task, `import`
(`build_repository_import_tasks`, started by `ponos.services.repositories`), whose environment names
the repository and the revision it imports. A file import (modes files and iiif) has a single
task too, `import` (`build_files_import_tasks`), whose environment lists the data files it reads
and where their pages go (`ponos.tasks.file_import`).

Environment of a worker task (API.md §2.1): `ARKINDEX_PROCESS_ID`, `ARKINDEX_CORPUS_ID`,
`ARKINDEX_WORKER_RUN_ID`, `ARKINDEX_TASK_CHUNK` (with chunks), and in workers mode, unless the
process skips it, `TASK_ELEMENTS=$PONOS_DATA/<initialisation task id>/elements.json` (or
`elements_<n>.json`). `$PONOS_DATA` is left for the agent to expand: only the agent knows where a
task's data folder lives on its host. What depends on the agent or is secret (`ARKINDEX_API_URL`,
the task token, `PONOS_TASK`, `PONOS_DATA`) is added by the agent when it runs the task, never
stored in `env`.

**States**: `set_task_state` is a compare-and-set on the task's state, so a transition applied
twice, or from a state that changed meanwhile, changes nothing. When a task ends, `refresh_process`
sets the process's `finished` once its last run can make no more progress.

**Retrying** (`process_retry`) checks the rules of starting again, then copies the DAG of the last
run into a new run (`run + 1`), with new ids and tokens; the previous runs' tasks stay, for their logs.

**Stopping** (`process_stop`) ends the last run: two state-guarded UPDATEs, whatever the number of
tasks; running tasks go through stopping, so that their agent ends the command first.
"""

import logging
from collections import Counter

from django.conf import settings
from django.contrib.postgres.expressions import ArraySubquery
from django.db import transaction
from django.db.models import Exists, Max, OuterRef, Q, Subquery
from django.db.models.functions import Now
from django.utils import timezone
from rest_framework.exceptions import ValidationError

from arkindex.api.exceptions import Conflict
from arkindex.jobs import enqueue_job
from arkindex.rq import enqueue_on_commit
from arkindex.transitions import Transitions
from documents.models import ElementType
from ponos.emails import enqueue_process_finished_email
from ponos.models import FINAL_TASK_STATES, Farm, Task, TaskState
from processes.models import FINAL_PROCESS_STATES, ActivityState, Process, ProcessMode, process_state
from processes.services import check_not_being_deleted
from processes.services.activities import release_task_activities
from processes.services.file_imports import FILE_IMPORT_MODES, import_file_ids
from processes.services.starting import order_worker_runs, start_errors, start_worker_runs
from workers.models import FeatureUsage

logger = logging.getLogger(__name__)

INITIALISATION_SLUG = "initialisation"
# The scheduling job (`ponos.scheduler`, which imports this module), enqueued by its path.
SCHEDULE_PROCESS = "ponos.scheduler.schedule_process"
REPOSITORY_IMPORT_SLUG = "import"
FILE_IMPORT_SLUG = "import"
# Where the import task of a repository process finds what it imports.
REPOSITORY_ENV = "ARKINDEX_REPOSITORY_ID"
REVISION_ENV = "ARKINDEX_REPOSITORY_REVISION"
# What the import task of a file import reads (`ponos.tasks.file_import`).
IMPORT_FILES_ENV = "ARKINDEX_IMPORT_FILES"
IMPORT_ELEMENT_TYPE_ENV = "ARKINDEX_IMPORT_ELEMENT_TYPE"
IMPORT_FOLDER_ENV = "ARKINDEX_IMPORT_FOLDER_ID"
IMPORT_FOLDER_TYPE_ENV = "ARKINDEX_IMPORT_FOLDER_TYPE"
DEFAULT_FARM_NAME = "default"
TaskParent = Task.parents.through

# Modes whose processes never have tasks: nothing to retry.
TASKLESS_MODES = (ProcessMode.Template, ProcessMode.Local)


# --- Building the DAG ---------------------------------------------------------------------------


def requires_gpu(version, process):
    """A worker version that requires a GPU gets one; one that supports it, when the process asks."""
    if version.gpu_usage == FeatureUsage.Required:
        return True
    return version.gpu_usage == FeatureUsage.Supported and process.use_gpu


def worker_run_slugs(worker_runs):
    """
    The base task slug of each worker run: its worker's slug, or, when several runs share a worker
    (different versions, models or configurations), the slug followed by the start of the run's id,
    so that every task slug of a run stays unique and the logs say which run a task is.
    """
    counts = Counter(run.version.worker.slug for run in worker_runs)
    return {
        run.id: run.version.worker.slug
        if counts[run.version.worker.slug] == 1
        else f"{run.version.worker.slug}-{run.id.hex[:8]}"
        for run in worker_runs
    }


def build_process_tasks(process, worker_runs, *, run):
    """
    The unsaved tasks of one run of a workers or dataset process, and its parent links as
    `(child, parent)` pairs. `worker_runs` come from `start_worker_runs` and passed `start_errors`.
    """
    ordered, problems = order_worker_runs(worker_runs)
    if problems:
        raise ValueError(f"Worker runs with broken parents: {problems}")
    chunks = list(range(1, process.chunks + 1)) if process.chunks > 1 else [None]
    base_env = {"ARKINDEX_PROCESS_ID": str(process.id), "ARKINDEX_CORPUS_ID": str(process.corpus_id)}
    tasks, links, used_slugs = [], [], set()

    def unique_slug(slug, worker_run):
        # Worker slugs are free text: one could be `initialisation` or end like a chunk suffix.
        if slug in used_slugs:
            slug = f"{slug}-{worker_run.id.hex[:8]}"
        used_slugs.add(slug)
        return slug

    initialisation = None
    if process.mode == ProcessMode.Workers:
        initialisation = Task(
            process=process,
            run=run,
            slug=INITIALISATION_SLUG,
            depth=0,
            image=settings.PONOS_INITIALISATION_IMAGE,
            command=settings.PONOS_INITIALISATION_COMMAND,
            env={**base_env, "ARKINDEX_PROCESS_CHUNKS": str(process.chunks)},
        )
        used_slugs.add(INITIALISATION_SLUG)
        tasks.append(initialisation)

    slugs = worker_run_slugs(ordered)
    depths, chunk_tasks = {}, {}
    for worker_run in ordered:
        version = worker_run.version
        parent_depths = [depths[parent] for parent in worker_run.parents]
        if initialisation is not None:
            parent_depths.append(initialisation.depth)
        depth = depths[worker_run.id] = max(parent_depths) + 1 if parent_depths else 0
        for chunk in chunks:
            env = {**base_env, "ARKINDEX_WORKER_RUN_ID": str(worker_run.id)}
            if chunk is not None:
                env["ARKINDEX_TASK_CHUNK"] = str(chunk)
            if initialisation is not None and not process.skip_elements_json:
                filename = f"elements_{chunk}.json" if chunk is not None else "elements.json"
                env["TASK_ELEMENTS"] = f"$PONOS_DATA/{initialisation.id}/{filename}"
            slug = slugs[worker_run.id] if chunk is None else f"{slugs[worker_run.id]}_{chunk}"
            task = Task(
                process=process,
                run=run,
                slug=unique_slug(slug, worker_run),
                depth=depth,
                chunk=chunk,
                worker_run=worker_run,
                image=version.docker_image_iid or "",
                command=version.docker_command or "",
                shm_size=version.docker_shm_size,
                requires_gpu=requires_gpu(version, process),
                env=env,
            )
            tasks.append(task)
            chunk_tasks[worker_run.id, chunk] = task
            if initialisation is not None:
                links.append((task, initialisation))
            links.extend((task, chunk_tasks[parent, chunk]) for parent in worker_run.parents)
    return tasks, links


def build_repository_import_tasks(process, *, repository, revision, run):
    """
    The unsaved single task of a run of a repository process, and its (no) parent links: it clones
    `revision` of `repository` (its default branch when empty) and imports the workers that its
    `.arkindex.yml` declares, through the API (`ponos.tasks.repository_import`). What it imports is in
    its environment, which RetryProcess copies with it; credentials never are: the task asks the API.
    """
    task = Task(
        process=process,
        run=run,
        slug=REPOSITORY_IMPORT_SLUG,
        depth=0,
        image=settings.PONOS_REPOSITORY_IMPORT_IMAGE,
        command=settings.PONOS_REPOSITORY_IMPORT_COMMAND,
        env={
            "ARKINDEX_PROCESS_ID": str(process.id),
            REPOSITORY_ENV: str(repository.id),
            REVISION_ENV: revision or "",
        },
    )
    return [task], []


def build_files_import_tasks(process, *, run):
    """
    The unsaved single task of a run of a file import, and its (no) parent links: it reads the
    data files of the process, in their order, and creates their pages (`ponos.tasks.file_import`).
    What it imports is in its environment, which RetryProcess copies with it: the data files' IDs
    (comma-separated), the slugs of the page type and of the new folders' type (empty: none), and
    the folder receiving the pages (empty: none). It downloads the files through the signed URLs
    that RetrieveDataFile gives it.
    """
    element_types = dict(
        ElementType.objects.filter(pk__in=[process.element_type_id, process.folder_type_id]).values_list("id", "slug")
    )
    task = Task(
        process=process,
        run=run,
        slug=FILE_IMPORT_SLUG,
        depth=0,
        image=settings.PONOS_FILE_IMPORT_IMAGE,
        command=settings.PONOS_FILE_IMPORT_COMMAND,
        env={
            "ARKINDEX_PROCESS_ID": str(process.id),
            "ARKINDEX_CORPUS_ID": str(process.corpus_id),
            IMPORT_FILES_ENV: ",".join(str(file_id) for file_id in import_file_ids(process)),
            IMPORT_ELEMENT_TYPE_ENV: element_types.get(process.element_type_id, ""),
            IMPORT_FOLDER_TYPE_ENV: element_types.get(process.folder_type_id, ""),
            IMPORT_FOLDER_ENV: str(process.element_id or ""),
        },
    )
    return [task], []


def save_tasks(tasks, links):
    """
    Insert tasks and their parent links: two statements whatever their number. Each task gets
    `parent_ids`, its parents' ids in link order, for the response.
    """
    Task.objects.bulk_create(tasks)
    TaskParent.objects.bulk_create([TaskParent(from_task_id=child.id, to_task_id=parent.id) for child, parent in links])
    for task in tasks:
        task.parent_ids = []
    for child, parent in links:
        child.parent_ids.append(parent.id)
    return tasks


def default_farm():
    return Farm.objects.filter(name=DEFAULT_FARM_NAME).first()


# --- Starting -----------------------------------------------------------------------------------


def process_start(*, process, farm=None):
    """
    Start `process` (which the caller may start): 409 when it already started, 400 naming every
    broken rule, else, in one transaction, set `started` (and the farm: the given one, else the
    process's, else the default farm), build the task DAG, and, when worker activities are on
    (`activity_state` other than disabled), mark them pending and enqueue their initialisation
    after the commit. Returns the process and the tasks created.
    """
    with transaction.atomic():
        # Concurrent starts queue up here; the row read after the lock is the committed one.
        process = Process.objects.select_for_update().get(pk=process.pk)
        check_not_being_deleted(process)
        if process.started is not None:
            raise Conflict("This process has already been started.")
        worker_runs = start_worker_runs(process)
        errors = start_errors(process, worker_runs)
        if errors:
            raise ValidationError(errors)

        if farm is not None:
            process.farm = farm
        elif process.farm_id is None:
            process.farm = default_farm()
        process.started = timezone.now()
        process.finished = None
        update_fields = ["farm", "started", "finished", "updated"]
        activities = process.activity_state != ActivityState.Disabled
        if activities:
            process.activity_state = ActivityState.Pending
            update_fields.append("activity_state")
        process.save(update_fields=update_fields)

        if process.mode in FILE_IMPORT_MODES:
            tasks, links = build_files_import_tasks(process, run=0)
        else:
            tasks, links = build_process_tasks(process, worker_runs, run=0)
        save_tasks(tasks, links)
        if activities:
            enqueue_initialise_activities(process, run=0)
        enqueue_on_commit(SCHEDULE_PROCESS, str(process.id))
    logger.info("Started process %s with %d tasks", process.id, len(tasks))
    return process, tasks


def enqueue_initialise_activities(process, *, run, reset=False):
    return enqueue_job(
        "processes.jobs.initialise_activities",
        str(process.id),
        reset=reset,
        description=f"Initialise the worker activities of run {run} of process {process.name or process.id}",
        key=f"process-activities-{process.id}-{run}",
    )


# --- Retrying -----------------------------------------------------------------------------------


def tasks_to_retry(process, last_run_tasks):
    """
    The tasks of the last run that a retry recreates. Repository processes recreate only their
    initial task (seed 002: the import task builds the rest itself when it runs), the tasks at
    depth 0; every other mode recreates the whole DAG.
    """
    if process.mode == ProcessMode.Repository:
        return [task for task in last_run_tasks if task.depth == 0]
    return last_run_tasks


def copy_tasks(tasks, *, run):
    """
    Unsaved copies of `tasks` (with their `parent_ids` loaded) in run `run`: same DAG, new ids and
    tokens, unscheduled. Parents outside `tasks` are dropped, and any mention of an old task id in
    the environment (the `TASK_ELEMENTS` path of the initialisation task's data) names its copy.
    """
    copies = {
        task.id: Task(
            process_id=task.process_id,
            run=run,
            slug=task.slug,
            depth=task.depth,
            chunk=task.chunk,
            worker_run_id=task.worker_run_id,
            image=task.image,
            command=task.command,
            env=task.env,
            requires_gpu=task.requires_gpu,
            shm_size=task.shm_size,
            extra_files=task.extra_files,
        )
        for task in tasks
    }
    renames = {str(old): str(copy.id) for old, copy in copies.items()}
    for copy in copies.values():
        copy.env = {key: _rename_ids(value, renames) for key, value in copy.env.items()}
    links = [
        (copies[task.id], copies[parent_id]) for task in tasks for parent_id in task.parent_ids if parent_id in copies
    ]
    return list(copies.values()), links


def _rename_ids(value, renames):
    if not isinstance(value, str):
        return value
    for old, new in renames.items():
        value = value.replace(old, new)
    return value


def process_retry(*, process):
    """
    Run an ended process again: a new run of its tasks (see `tasks_to_retry`), `finished` cleared,
    and, when activities are on, their initialisation enqueued again with `reset`: the activities
    left `started` or in `error` are queued again, processed ones are kept, and elements that the
    filters select since the last run get theirs. 400 for a mode without tasks, 409 unless the
    process started and its last run ended. Returns the process and the new tasks.
    """
    if process.mode in TASKLESS_MODES:
        raise ValidationError({"mode": [f"A process of mode {process.mode} has no tasks: it cannot be retried."]})
    with transaction.atomic():
        process = Process.objects.select_for_update().get(pk=process.pk)
        check_not_being_deleted(process)
        # Read after the lock, in a statement of its own, so that it sees the committed task states.
        state = Process.objects.with_state().values_list("state_value", flat=True).get(pk=process.pk)
        if process.started is None or state not in FINAL_PROCESS_STATES:
            raise Conflict(f"Only a process that started and ended can be retried; this one is {state}.")
        if process.mode in (ProcessMode.Workers, ProcessMode.Dataset, ProcessMode.Training):
            # A retry runs the configuration again: what StartProcess refuses (a configuration archived,
            # a model version no longer available since) it refuses too.
            errors = start_errors(process, start_worker_runs(process))
            if errors:
                raise ValidationError(errors)

        last_run = Task.objects.filter(process_id=process.id).aggregate(last=Max("run"))["last"]
        last_tasks = list(Task.objects.filter(process_id=process.id, run=last_run).order_by("depth", "slug"))
        parent_links = TaskParent.objects.filter(from_task__process_id=process.id, from_task__run=last_run)
        parents = {}
        for child_id, parent_id in parent_links.values_list("from_task_id", "to_task_id"):
            parents.setdefault(child_id, []).append(parent_id)
        for task in last_tasks:
            task.parent_ids = parents.get(task.id, [])

        tasks, links = copy_tasks(tasks_to_retry(process, last_tasks), run=last_run + 1)
        save_tasks(tasks, links)

        process.finished = None
        update_fields = ["finished", "updated"]
        activities = process.activity_state != ActivityState.Disabled and process.mode in (
            ProcessMode.Workers,
            ProcessMode.Dataset,
        )
        if activities:
            process.activity_state = ActivityState.Pending
            update_fields.append("activity_state")
        process.save(update_fields=update_fields)
        if activities:
            enqueue_initialise_activities(process, run=last_run + 1, reset=True)
        enqueue_on_commit(SCHEDULE_PROCESS, str(process.id))
    logger.info("Retried process %s: run %d, %d tasks", process.id, last_run + 1, len(tasks))
    return process, tasks


# --- Task states --------------------------------------------------------------------------------

# The states a task may reach, each from the states it may come from. A final state is never left:
# running a task again is a new run (RetryProcess) or a restart, with its own service.
TASK_TRANSITIONS = Transitions(
    {
        TaskState.Pending: (TaskState.Unscheduled, TaskState.Running),  # scheduled, or requeued from a dead agent
        TaskState.Running: (TaskState.Pending,),
        TaskState.Stopping: (TaskState.Running,),
        TaskState.Completed: (TaskState.Running, TaskState.Stopping),
        TaskState.Failed: (TaskState.Running, TaskState.Stopping),
        TaskState.Error: (TaskState.Unscheduled, TaskState.Pending, TaskState.Running, TaskState.Stopping),
        TaskState.Stopped: (TaskState.Unscheduled, TaskState.Pending, TaskState.Running, TaskState.Stopping),
        TaskState.Unscheduled: (),
    },
    name="task",
)
# Tasks in these states will change again by themselves.
ACTIVE_TASK_STATES = (TaskState.Pending, TaskState.Running, TaskState.Stopping)
# A task in these states has a command running on an agent.
RUNNING_TASK_STATES = (TaskState.Running, TaskState.Stopping)


def set_task_state(task, state):
    """
    Move `task` from the state it has in memory to `state`, if that transition is allowed and the
    task is still in that state in the database: a compare-and-set, so that a transition applied
    twice, or raced by another, changes nothing. Sets `started` on running and `finished` on a final
    state. Returns whether the task changed; when it ended, the process may have ended with it
    (`refresh_process`).
    """
    state = TaskState(state)
    if not TASK_TRANSITIONS.allows(task.state, state):
        return False
    now = timezone.now()
    values = {"updated": now}
    if state == TaskState.Running:
        values["started"] = now
    if state in FINAL_TASK_STATES:
        values["finished"] = now
    previous = task.state
    with transaction.atomic():
        if state in FINAL_TASK_STATES:
            # Tasks of one process ending at the same time take turns here, so that the last one to
            # commit sees all the others ended and finishes the process (see `refresh_process`).
            Process.objects.select_for_update(no_key=True).filter(pk=task.process_id).values_list("pk").first()
        if not TASK_TRANSITIONS.apply(task, state, **values):
            return False
        if previous in RUNNING_TASK_STATES and state not in RUNNING_TASK_STATES:
            # Whatever it was doing ends with it: the elements it held go back to their queue at once.
            release_task_activities(
                task_id=task.pk, reason=f"Task {task.slug} ended ({state}) before reporting on this element."
            )
        if state in FINAL_TASK_STATES:
            refresh_process(task.process_id)
    return True


def refresh_process(process_id):
    """
    Set `finished` on a started process whose last run ended: its state is final (see
    `processes.models.process_state`, which counts as ended a run whose unscheduled tasks wait
    behind a failed parent, seed 002) and no task of that run can still make progress: none is
    pending, running or stopping, and no unscheduled task has all its parents completed (the
    scheduler is about to queue it). One guarded UPDATE; it never clears `finished` (RetryProcess
    does). Returns whether the process just finished.
    """
    last_run = Task.objects.filter(process_id=OuterRef("process_id")).order_by("-run").values("run")[:1]
    unfinished_parent = TaskParent.objects.filter(from_task_id=OuterRef("id")).exclude(
        to_task__state=TaskState.Completed
    )
    can_progress = Task.objects.filter(process_id=OuterRef("pk"), run=Subquery(last_run)).filter(
        Q(state__in=ACTIVE_TASK_STATES) | (Q(state=TaskState.Unscheduled) & ~Exists(unfinished_parent))
    )
    finished = (
        Process.objects.filter(pk=process_id, started__isnull=False, finished__isnull=True)
        .alias(state_value=process_state())
        .filter(state_value__in=FINAL_PROCESS_STATES)
        .exclude(Exists(can_progress))
        .update(finished=Now())
    )
    if finished:
        logger.info("Process %s finished", process_id)
        enqueue_process_finished_email(Process.objects.only("id", "name", "mode", "finished").get(pk=process_id))
    return bool(finished)


# --- Stopping -----------------------------------------------------------------------------------


def last_run_subquery(process_ref="process_id"):
    """The last run of the process named by the outer query's `process_ref` column."""
    return Task.objects.filter(process_id=OuterRef(process_ref)).order_by("-run").values("run")[:1]


def process_stop(*, process):
    """
    Stop a running process, in one transaction on its locked row (the lock `set_task_state` takes
    when a task ends, so an agent ending a task and a stop take turns): the last run's running
    tasks move to stopping (their agent sees it, ends the command, and sets them stopped), its
    unscheduled and pending tasks are stopped at once (an agent picking up a stopped task's job
    skips it). Both UPDATEs are guarded by the state, so stopping twice changes nothing, and a task
    ending meanwhile keeps its own final state. 409 unless the process started and has not ended.
    Returns the process, whose `finished` is set when nothing was left running.
    """
    with transaction.atomic():
        Process.objects.select_for_update(no_key=True).filter(pk=process.pk).values_list("pk").first()
        # Read after the lock, in a statement of its own, so that it sees the committed task states.
        state, started = Process.objects.with_state().values_list("state_value", "started").get(pk=process.pk)
        if started is None:
            raise Conflict("This process has not started: there is nothing to stop.")
        if state in FINAL_PROCESS_STATES:
            raise Conflict(f"This process already ended ({state}): there is nothing to stop.")
        now = Now()
        run = Task.objects.filter(process_id=process.pk).aggregate(last=Max("run"))["last"]
        last_run = Task.objects.filter(process_id=process.pk, run=run)
        stopping = last_run.filter(state=TaskState.Running).update(state=TaskState.Stopping, updated=now)
        stopped = last_run.filter(state__in=(TaskState.Unscheduled, TaskState.Pending)).update(
            state=TaskState.Stopped, finished=now, updated=now
        )
        refresh_process(process.pk)
    logger.info("Stopping process %s: %d task(s) stopping, %d stopped", process.pk, stopping, stopped)
    return Process.objects.with_state().get(pk=process.pk)


# --- Reading ------------------------------------------------------------------------------------


def process_run_tasks(process_id, run=None):
    """
    The tasks of one run of a process (the last one by default), ordered by depth then slug, each
    with `parent_ids`, its parents' IDs, computed in the same query.
    """
    parents = TaskParent.objects.filter(from_task_id=OuterRef("pk")).order_by("to_task_id")
    tasks = Task.objects.filter(process_id=process_id)
    if run is None:
        tasks = tasks.filter(run=Subquery(last_run_subquery()))
    else:
        tasks = tasks.filter(run=run)
    return tasks.annotate(parent_ids=ArraySubquery(parents.values("to_task_id"))).order_by("depth", "slug", "id")
