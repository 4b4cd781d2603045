"""
The docker executor. Where a Docker engine answers, a task runs in a container of its version's
image like with the local executor; where none does, those tests are skipped, and an agent started
with `--executor docker` ends its tasks in error saying why.
"""

import pytest

from documents.tests.factories import CorpusFactory
from ponos.agent.executors import DockerExecutor, ExecutionError, auth_for_image, get_executor
from ponos.tests.docker_engine import ENGINE_ERROR, needs_engine
from ponos.tests.factories import TaskFactory
from processes.tests.factories import ProcessFactory


def test_credentials_for_several_registries(settings):
    settings.PONOS_DOCKER_REGISTRIES = {
        "registry.example.com": {"username": "ci", "password": "one"},
        "localhost:5000": {"username": "local", "password": "two"},
    }
    assert auth_for_image("registry.example.com/team/worker:1.0") == {"username": "ci", "password": "one"}
    assert auth_for_image("localhost:5000/worker") == {"username": "local", "password": "two"}
    # Docker Hub images and unknown registries are pulled without credentials.
    assert auth_for_image("python:3.11") is None
    assert auth_for_image("team/worker:1.0") is None
    assert auth_for_image("other.example.com/worker") is None


@pytest.mark.skipif(ENGINE_ERROR is None, reason="A Docker engine answers here")
def test_no_engine_is_an_execution_error():
    with pytest.raises(ExecutionError, match="No Docker engine answers on this agent"):
        get_executor("docker")


def test_unknown_executor():
    with pytest.raises(ExecutionError, match="Unknown executor 'podman'"):
        get_executor("podman")


@needs_engine
def test_container_runs_with_the_task_environment(tmp_path, user):

    class Log:
        def __init__(self, path):
            self.file = open(path, "ab", buffering=0)

        def write(self, text):
            self.file.write(text.encode())

        def flush(self):
            pass

    executor = DockerExecutor()
    data_dir = tmp_path / "data"
    process = ProcessFactory(mode="workers", corpus=CorpusFactory(name="Docker"), creator=user)
    task = TaskFactory(
        process=process,
        slug="docker",
        state="running",
        image="python:3.11-slim",
        command="python -c \"import os; print(os.environ['PONOS_DATA'], os.getcwd())\"",
        shm_size="64m",
    )
    log = Log(tmp_path / "log")
    work_dir = data_dir / str(task.id)
    work_dir.mkdir(parents=True)
    result = executor.run(task, env={"PONOS_DATA": "/data"}, data_dir=data_dir, work_dir=work_dir, log=log)
    assert result.exit_code == 0
    assert f"/data /data/{task.id}" in (tmp_path / "log").read_text()
