"""
What an agent does with one task: the RQ job `run_task`, executed by one of the agent's slots
(see `ponos.agent.process`).

1. Claim the task: pending → running with the agent (and the slot's GPU), a guarded UPDATE, so a
   task enqueued twice or picked by two agents runs once.
2. Prepare its data folder (`PONOS_DATA`): the parents' artifacts under `<parent task id>/`, the
   task's own empty folder `<task id>/`, `current` pointing to it, and the model version's archive
   extracted when the worker run has one.
3. Run the command through the agent's executor with the task's environment, the log streamed to
   the storage while it runs; stop it when the task is set to stopping, or at the time limit.
4. Keep what the task left in its folder as artifacts, and set the final state: completed (exit
   code 0), failed (another exit code), error (time limit, or the agent could not run it), stopped.
"""

import logging
import mimetypes
import os
import shutil
import tarfile
import tempfile
import time
from pathlib import Path

import zstandard
from django.conf import settings
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from ponos.agent.executors import ExecutionError, get_executor
from ponos.agent.log_stream import LogWriter
from ponos.artifacts import store_artifact
from ponos.models import GPU, Agent, Artifact, Task, TaskState
from ponos.scheduler import DEFAULT_FARM, enqueue_task, schedule_process_on_commit
from ponos.services import set_task_state

logger = logging.getLogger(__name__)

BUSY_STATES = (TaskState.Running, TaskState.Stopping)


def current_agent():
    """The agent of the slot running this job, set in its environment by `ponos.agent.process`."""
    agent_id = os.environ.get("PONOS_AGENT_ID")
    if not agent_id:
        raise RuntimeError("run_task runs only inside an agent started with `manage.py ponos_agent`.")
    return Agent.objects.select_related("farm").get(pk=agent_id)


def claim(task_id, agent, gpu_id=None):
    """Pending → running on this agent, or None when the task is not pending any more."""
    now = timezone.now()
    with transaction.atomic():
        # Waits for any other transaction holding the row; a second claimer then sees it running.
        task = Task.objects.select_for_update(of=("self",)).filter(pk=task_id, state=TaskState.Pending).first()
        if task is None:
            return None
        gpu = None
        if task.requires_gpu:
            busy = Task.objects.filter(gpu=OuterRef("pk"), state__in=BUSY_STATES)
            gpus = GPU.objects.filter(agent=agent).annotate(busy=Exists(busy)).filter(busy=False)
            if gpu_id:
                gpus = gpus.filter(pk=gpu_id)
            gpu = gpus.select_for_update(skip_locked=True, of=("self",)).first()
            if gpu is None:
                # Another slot took the last free GPU: the task waits for the next one.
                transaction.on_commit(lambda: requeue(task))
                return None
        Task.objects.filter(pk=task.pk).update(
            state=TaskState.Running, agent=agent, gpu=gpu, started=now, finished=None, updated=now
        )
        task.refresh_from_db()
    return task


def requeue(task):
    time.sleep(1)
    farm = task.process.farm.name if task.process.farm_id else DEFAULT_FARM
    enqueue_task(task.id, task.attempt, farm, task.requires_gpu)


def task_environment(task, data_dir):
    """The environment of API.md §2.1: the task's stored variables, its credentials and folders."""
    env = {key: str(value).replace("$PONOS_DATA", str(data_dir)) for key, value in task.env.items()}
    env.update(
        {
            "ARKINDEX_API_URL": settings.PONOS_API_URL,
            "ARKINDEX_TASK_TOKEN": task.token,
            "PONOS_TASK": str(task.id),
            "PONOS_DATA": str(data_dir),
        }
    )
    # Never a worker version: results are signed with the worker run (seed 002).
    env.pop("WORKER_VERSION_ID", None)
    env.pop("ARKINDEX_WORKER_VERSION_ID", None)
    if task.gpu_id:
        env["CUDA_VISIBLE_DEVICES"] = str(task.gpu.index)
        env["NVIDIA_VISIBLE_DEVICES"] = str(task.gpu.index)
    return env


def fetch_parent_artifacts(task, data_dir):
    """Each parent's artifacts under `PONOS_DATA/<parent task id>/`, where children look for them."""
    artifacts = Artifact.objects.filter(task__in=task.parents.all()).order_by("task_id", "path")
    for artifact in artifacts.iterator():
        destination = data_dir / str(artifact.task_id) / artifact.path
        destination.parent.mkdir(parents=True, exist_ok=True)
        with default_storage.open(artifact.storage_key, "rb") as source, open(destination, "wb") as target:
            shutil.copyfileobj(source, target)
    for parent_id in task.parents.values_list("id", flat=True):
        (data_dir / str(parent_id)).mkdir(exist_ok=True)


def extract_model(task, data_dir):
    """The worker run's model version, extracted under `PONOS_DATA/model/`; its path, or None."""
    model_version = task.worker_run.model_version if task.worker_run_id else None
    if model_version is None:
        return None
    if not default_storage.exists(model_version.archive_path):
        raise ExecutionError(
            f"The archive of model version {model_version.id} is not in the storage: upload it, then restart the task."
        )
    model_dir = data_dir / "model"
    model_dir.mkdir()
    with default_storage.open(model_version.archive_path, "rb") as archive:
        reader = zstandard.ZstdDecompressor().stream_reader(archive)
        with tarfile.open(fileobj=reader, mode="r|") as tar:
            tar.extractall(model_dir, filter="data")
    return model_dir


def collect_artifacts(task, task_dir):
    """Every file the task left in its own folder becomes an artifact, its path relative to the folder."""
    count = 0
    for path in sorted(task_dir.rglob("*")):
        if path.is_file() and not path.is_symlink():
            relative = path.relative_to(task_dir).as_posix()
            content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            store_artifact(task, relative, path, content_type)
            count += 1
    return count


def finish(task, state, log):
    """Set the final state, unless the task was ended meanwhile (stopped, or by the dead-agent check)."""
    task.state = Task.objects.filter(pk=task.pk).values_list("state", flat=True).first()
    if task.state == TaskState.Stopping:
        state = TaskState.Stopped
    # Whoever sees the task ended reads all that the command printed.
    log.flush()
    changed = task.state in BUSY_STATES and set_task_state(task, state)
    if changed:
        log.write(f"\n[ponos] Task {state}.\n")
        schedule_process_on_commit(task.process_id)
    log.close()
    return task.state


def run_task(task_id):
    """The RQ job an agent's slot runs for a pending task."""
    agent = current_agent()
    task = claim(task_id, agent, os.environ.get("PONOS_GPU_ID") or None)
    if task is None:
        return "skipped"
    task = Task.objects.select_related("process", "gpu", "worker_run__model_version").get(pk=task.pk)
    log = LogWriter(task)
    base = Path(tempfile.mkdtemp(prefix=f"ponos-{task.id}-", dir=settings.PONOS_DATA_DIR))
    state = TaskState.Error
    try:
        data_dir = base / "data"
        task_dir = data_dir / str(task.id)
        task_dir.mkdir(parents=True)
        (data_dir / "current").symlink_to(task_dir, target_is_directory=True)
        fetch_parent_artifacts(task, data_dir)
        executor = get_executor(agent.executor)
        # The folder as the command sees it: the same path locally, a mount point in a container.
        task_data = executor.data_path(data_dir)
        env = task_environment(task, task_data)
        if extract_model(task, data_dir):
            env["ARKINDEX_MODEL_DIR"] = f"{task_data}/model"
        result = executor.run(task, env=env, data_dir=data_dir, work_dir=task_dir, log=log)
        if result.timed_out:
            log.write(f"\n[ponos] The task ran for more than {settings.PONOS_TASK_TIME_LIMIT} seconds: stopped.\n")
            state = TaskState.Error
        elif result.stopped:
            state = TaskState.Stopped
        else:
            log.write(f"\n[ponos] The command exited with code {result.exit_code}.\n")
            state = TaskState.Completed if result.exit_code == 0 else TaskState.Failed
        collect_artifacts(task, task_dir)
    except ExecutionError as error:
        log.write(f"\n[ponos] The task could not run: {error}\n")
        state = TaskState.Error
    except Exception as error:
        logger.exception("Task %s could not run", task.id)
        log.write(f"\n[ponos] The agent failed to run the task: {type(error).__name__}: {error}\n")
        state = TaskState.Error
    finally:
        shutil.rmtree(base, ignore_errors=True)
    return finish(task, state, log)
