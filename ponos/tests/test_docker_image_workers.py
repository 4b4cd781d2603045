"""
Docker image workers (seed 000): a worker version created with only a Docker image reference runs
in a process like any other, the docker executor running the image's own command; a version with
neither image nor command is refused at StartProcess with a message naming its worker run, and
still signs results as a user worker run.
"""

# ruff: noqa: F811 (pytest fixtures imported from processes.tests.start_fixtures)

import pytest

from ponos.agent.executors import DockerExecutor
from ponos.models import Task, TaskState
from ponos.tests.docker_engine import needs_engine
from ponos.tests.factories import TaskFactory
from processes.models import WorkerRun
from processes.tests.factories import make_run
from processes.tests.start_fixtures import (  # noqa: F401
    elements,
    make_version,
    page_type,
    process,
)
from users.models import Role
from users.tests.factories import grant

pytestmark = pytest.mark.django_db

IMAGE = "registry.example.com/team/labeller:2.1"


def start_url(process):
    return f"/api/v1/process/{process.id}/start/"


def test_image_only_version_runs_in_a_process(user_client, process):
    run = make_run(process, make_version("labeller", docker_image_iid=IMAGE, configuration={}))
    response = user_client.post(start_url(process))
    assert response.status_code == 200, response.json()
    task = Task.objects.get(worker_run=run)
    # No command: the container runs the image's own entry point and command.
    assert (task.image, task.command, task.shm_size) == (IMAGE, "", None)
    assert task.env["ARKINDEX_WORKER_RUN_ID"] == str(run.id)


def test_version_without_image_nor_command_is_refused(user, user_client, process):
    version = make_version("local", docker_image_iid=None, configuration={})
    run = make_run(process, version)
    response = user_client.post(start_url(process))
    assert response.status_code == 400
    (message,) = response.json()["worker_runs"][str(run.id)]
    assert message == (
        f"Worker Worker local @ version {version.version}: The worker version has neither a Docker image nor a "
        "command, so it cannot run in a process; it can only sign results as a user worker run."
    )
    assert not Task.objects.filter(process=process).exists()

    # The same version remains valid to sign results outside a process.
    grant(version.worker, Role.GUEST, user=user)
    response = user_client.post("/api/v1/process/workers/", {"worker_version_id": str(version.id)}, format="json")
    assert response.status_code == 201, response.json()
    assert WorkerRun.objects.filter(version=version, process__mode="local").exists()


class FakeContainer:
    status = "exited"

    def reload(self):
        pass

    def wait(self):
        return {"StatusCode": 0}

    def logs(self, stream, follow):
        return iter([b"default command ran\n"])

    def remove(self, force):
        pass


class FakeDocker:
    """Records what the executor asks of the Docker engine."""

    def __init__(self):
        self.runs = []
        self.images = self
        self.containers = self

    def pull(self, image, auth_config=None):
        self.pulled = image

    def run(self, image, **kwargs):
        self.runs.append((image, kwargs))
        return FakeContainer()


class Log:
    def __init__(self, path):
        self.file = open(path, "ab", buffering=0)

    def write(self, text):
        self.file.write(text.encode())

    def flush(self):
        pass


def test_docker_executor_runs_the_image_command(tmp_path, user, process):
    run = make_run(process, make_version("labeller", docker_image_iid=IMAGE, configuration={}))
    task = TaskFactory(
        process=process, slug="labeller", state=TaskState.Running, worker_run=run, image=IMAGE, command=""
    )
    executor = DockerExecutor.__new__(DockerExecutor)
    executor.client = FakeDocker()
    work_dir = tmp_path / "data" / str(task.id)
    work_dir.mkdir(parents=True)
    result = executor.run(
        task, env={"PONOS_DATA": "/data"}, data_dir=tmp_path / "data", work_dir=work_dir, log=Log(tmp_path / "log")
    )
    assert result.exit_code == 0
    ((image, options),) = executor.client.runs
    assert image == IMAGE
    assert options["command"] is None
    assert "default command ran" in (tmp_path / "log").read_text()


@needs_engine
def test_image_only_version_in_a_real_container(tmp_path, user, process):
    """Where a Docker engine answers: the image's default command runs and exits."""
    task = TaskFactory(process=process, slug="image", state=TaskState.Running, image="python:3.11-slim", command="")
    executor = DockerExecutor()
    work_dir = tmp_path / "data" / str(task.id)
    work_dir.mkdir(parents=True)
    result = executor.run(
        task, env={"PONOS_DATA": "/data"}, data_dir=tmp_path / "data", work_dir=work_dir, log=Log(tmp_path / "log")
    )
    assert result.exit_code == 0
