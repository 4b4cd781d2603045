"""
Executors run a task's command for an agent: `local` as a subprocess of the agent, `docker` in a
container of the worker version's image (docker-py). Both give the command the same environment,
stream its output into the task's log, stop it when the task is set to stopping or when it runs
past PONOS_TASK_TIME_LIMIT, and answer how it ended.

The environment of a task never inherits the agent's own: the agent holds the database URL and
the secret key, a task holds only what API.md §2.1 gives it.
"""

import ctypes
import os
import shlex
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass

import docker
from django.conf import settings

from ponos.models import Task, TaskState

# Variables of the agent's environment that a task may see: none carries a secret.
INHERITED_VARIABLES = ("HOME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR", "USER", "LOGNAME", "SHELL")
STATE_CHECK_INTERVAL = 2
KILL_GRACE_SECONDS = 10


class ExecutionError(Exception):
    """The task could not be run at all; the message says why, for its log."""


@dataclass
class Result:
    exit_code: int | None = None
    timed_out: bool = False
    stopped: bool = False


def die_with_parent():
    """In the child, before exec: die when the agent dies, even killed with SIGKILL (Linux)."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGKILL)
    except OSError:
        pass


class Watch:
    """Decides, while a command runs, whether it must stop: asked to by the API, or out of time."""

    def __init__(self, task, log):
        self.task = task
        self.log = log
        self.started = time.monotonic()
        self.last_check = 0.0
        self.last_flush = time.monotonic()

    def tick(self):
        """'timeout', 'stop' or None; flushes the log to the storage now and then."""
        now = time.monotonic()
        if now - self.last_flush >= settings.PONOS_LOG_FLUSH_INTERVAL:
            self.log.flush()
            self.last_flush = now
        if now - self.started > settings.PONOS_TASK_TIME_LIMIT:
            return "timeout"
        if now - self.last_check >= STATE_CHECK_INTERVAL:
            self.last_check = now
            state = Task.objects.filter(pk=self.task.pk).values_list("state", flat=True).first()
            # A task that reported its own end (completed, failed) is left to exit by itself.
            if state in (TaskState.Stopping, TaskState.Stopped, TaskState.Error, None):
                return "stop"
        return None


class LocalExecutor:
    name = "local"

    def data_path(self, data_dir):
        return data_dir

    def environment(self, task_env):
        env = {key: os.environ[key] for key in INHERITED_VARIABLES if key in os.environ}
        # The agent's own scripts (the initialisation command) come first on the PATH.
        env["PATH"] = os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", os.defpath)])
        env.update(task_env)
        return env

    def run(self, task, *, env, data_dir, work_dir, log):
        command = shlex.split(task.command or "")
        if not command:
            raise ExecutionError(
                "This task has no command. A worker version needs `docker.command` in its configuration to run "
                "with the local executor."
            )
        log.write(f"[ponos] Running {shlex.join(command)} on {task.agent.hostname} (local executor)\n")
        log.flush()
        try:
            process = subprocess.Popen(
                command,
                cwd=work_dir,
                env=self.environment(env),
                stdin=subprocess.DEVNULL,
                stdout=log.file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=die_with_parent,
            )
        except OSError as error:
            raise ExecutionError(f"{command[0]}: {error.strerror}") from error
        watch = Watch(task, log)
        result = Result()
        while process.poll() is None:
            reason = watch.tick()
            if reason:
                result.timed_out = reason == "timeout"
                result.stopped = reason == "stop"
                self.terminate(process)
                break
            time.sleep(0.2)
        result.exit_code = process.wait()
        return result

    def terminate(self, process):
        """SIGTERM to the command's whole process group, SIGKILL if it lingers."""
        for sig, grace in ((signal.SIGTERM, KILL_GRACE_SECONDS), (signal.SIGKILL, None)):
            try:
                os.killpg(process.pid, sig)
            except ProcessLookupError:
                return
            if grace is None:
                return
            try:
                process.wait(grace)
                return
            except subprocess.TimeoutExpired:
                continue


def registry_credentials():
    """
    Credentials for every registry images may come from, at once (seed 002): the JSON of
    PONOS_DOCKER_REGISTRIES, `{"registry.example.com": {"username": "…", "password": "…"}}`.
    """
    return settings.PONOS_DOCKER_REGISTRIES


def auth_for_image(image):
    registry = image.split("/", 1)[0] if "/" in image and ("." in image.split("/", 1)[0] or ":" in image) else None
    credentials = registry_credentials()
    if registry and registry in credentials:
        return credentials[registry]
    return None


class DockerExecutor:
    name = "docker"
    container_data = "/data"

    def __init__(self):
        try:
            self.client = docker.from_env()
            self.client.ping()
        except Exception as error:
            raise ExecutionError(f"No Docker engine answers on this agent: {error}") from error

    def data_path(self, data_dir):
        return self.container_data

    def run(self, task, *, env, data_dir, work_dir, log):
        if not task.image:
            raise ExecutionError("This task has no Docker image: the worker version has no `docker_image_iid`.")
        log.write(f"[ponos] Pulling {task.image}\n")
        log.flush()
        try:
            self.client.images.pull(task.image, auth_config=auth_for_image(task.image))
        except docker.errors.APIError as error:
            try:
                self.client.images.get(task.image)
                log.write(f"[ponos] Pull failed ({error.explanation}); using the local image.\n")
            except docker.errors.ImageNotFound:
                raise ExecutionError(f"The image {task.image} could not be pulled: {error.explanation}") from error
        device_requests = []
        if task.gpu_id:
            device_requests.append(docker.types.DeviceRequest(device_ids=[task.gpu_id], capabilities=[["gpu"]]))
        container = self.client.containers.run(
            task.image,
            command=task.command or None,
            environment=env,
            volumes={str(data_dir): {"bind": self.container_data, "mode": "rw"}},
            working_dir=f"{self.container_data}/{task.id}",
            shm_size=task.shm_size or None,
            device_requests=device_requests or None,
            network_mode=settings.PONOS_DOCKER_NETWORK or None,
            detach=True,
        )
        # The log is copied by a thread, so that a silent container is still watched.
        copier = threading.Thread(target=self.copy_logs, args=(container, log), daemon=True)
        copier.start()
        watch = Watch(task, log)
        result = Result()
        try:
            while True:
                container.reload()
                if container.status not in ("created", "running"):
                    break
                reason = watch.tick()
                if reason:
                    result.timed_out = reason == "timeout"
                    result.stopped = reason == "stop"
                    container.stop(timeout=KILL_GRACE_SECONDS)
                    break
                time.sleep(0.5)
            result.exit_code = container.wait().get("StatusCode")
            copier.join(timeout=KILL_GRACE_SECONDS)
        finally:
            container.remove(force=True)
        return result

    @staticmethod
    def copy_logs(container, log):
        for chunk in container.logs(stream=True, follow=True):
            log.file.write(chunk)
            log.file.flush()


EXECUTORS = {"local": LocalExecutor, "docker": DockerExecutor}


def get_executor(name):
    try:
        return EXECUTORS[name]()
    except KeyError:
        raise ExecutionError(f"Unknown executor {name!r}: use one of {', '.join(EXECUTORS)}.") from None
