"""
Processes really run: agents started with `manage.py ponos_agent` (separate processes standing in
for separate hosts), an RQ worker running the scheduling jobs, the local executor, and the live
API that the tasks call with their own tokens. Nothing is mocked: tasks are Python one-liners
that read their parents' artifacts from `PONOS_DATA/<parent task id>/` and leave their own.
"""

import json
import os
import shlex
import signal
import sys
import time

import pytest

from documents.tests.factories import CorpusFactory, ElementFactory, ElementTypeFactory
from ponos.logs import read_log
from ponos.models import Agent, Artifact, Task, TaskState
from ponos.scheduler import check_agents
from ponos.tests.running import store_model_archive, wait_finished, wait_for
from processes.models import ProcessMode, ProcessState
from processes.tests.factories import ProcessFactory, WorkerRunFactory
from users.models import Role, Token
from users.tests.factories import grant
from workers.tests.factories import WorkerFactory, WorkerVersionFactory

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("transactional_db")]


# A task: prints what it sees, fails when asked to, and leaves `result.txt` made of its name and
# of its parents' results, which it reads from their folders.
TASK_SCRIPT = """
import json, os, pathlib, sys, time
name, behaviour = sys.argv[1], sys.argv[2]
data = pathlib.Path(os.environ["PONOS_DATA"])
own = os.environ["PONOS_TASK"]
inputs = sorted(
    (folder / "result.txt").read_text()
    for folder in data.iterdir()
    if folder.name not in (own, "current") and (folder / "result.txt").is_file()
)
elements = json.loads(pathlib.Path(os.environ["TASK_ELEMENTS"]).read_text()) if "TASK_ELEMENTS" in os.environ else []
print(json.dumps({
    "name": name,
    "inputs": inputs,
    "elements": len(elements),
    "worker_run": os.environ.get("ARKINDEX_WORKER_RUN_ID"),
    "worker_version": os.environ.get("WORKER_VERSION_ID"),
    "current_is_own": os.path.realpath(data / "current") == os.path.realpath(data / own),
    "leaked": [key for key in ("DATABASE_URL", "SECRET_KEY") if key in os.environ],
    "cuda": os.environ.get("CUDA_VISIBLE_DEVICES"),
    "model_files": sorted(os.listdir(os.environ["ARKINDEX_MODEL_DIR"])) if "ARKINDEX_MODEL_DIR" in os.environ else None,
}), flush=True)
if behaviour == "sleep":
    time.sleep(120)
(data / "current" / "result.txt").write_text(name + "(" + "+".join(inputs) + ")")
sys.exit(3 if behaviour == "fail" else 0)
"""


@pytest.fixture
def corpus(user):
    corpus = CorpusFactory(name="Running corpus")
    grant(corpus, Role.ADMIN, user=user)
    page = ElementTypeFactory(corpus=corpus, slug="page", display_name="Page")
    for index in range(5):
        ElementFactory(corpus=corpus, type=page, name=f"Page {index}")
    return corpus


@pytest.fixture
def api(user, live_server):
    import requests

    session = requests.Session()
    session.headers["Authorization"] = f"Token {Token.objects.create(user=user).key}"
    session.base_url = f"{live_server.url}/api/v1"
    return session


def make_run(process, name, behaviour="ok", parents=(), model_version=None, **version_fields):
    worker = WorkerFactory(slug=f"task-{name.lower()}", name=f"Task {name}")
    command = shlex.join([sys.executable, "-c", TASK_SCRIPT, name, behaviour])
    version = WorkerVersionFactory(
        worker=worker, state="available", configuration={"docker": {"command": command}}, **version_fields
    )
    return WorkerRunFactory(
        process=process, version=version, model_version=model_version, parents=[parent.id for parent in parents]
    )


def make_process(corpus, user, **kwargs):
    return ProcessFactory(corpus=corpus, creator=user, mode=ProcessMode.Workers, name="Run", **kwargs)


def start(api, process):
    response = api.post(f"{api.base_url}/process/{process.id}/start/")
    assert response.status_code in (200, 201), response.text
    return response.json()


def task_of(run):
    return Task.objects.get(worker_run=run)


def output_of(task):
    """The JSON line the task script printed, from the task's log."""
    for line in read_log(task).decode().splitlines():
        if line.startswith("{"):
            return json.loads(line)
    raise AssertionError(f"No output in the log of {task.slug}: {read_log(task)!r}")


def artifact_text(task, path="result.txt"):
    from django.core.files.storage import default_storage

    artifact = Artifact.objects.get(task=task, path=path)
    with default_storage.open(artifact.storage_key) as file:
        return file.read().decode()


def test_chain_runs_in_order(ponos, api, corpus, user):
    process = make_process(corpus, user)
    a = make_run(process, "A")
    b = make_run(process, "B", parents=[a])
    c = make_run(process, "C", parents=[b])
    start(api, process)

    process = wait_finished(process)
    assert process.state == ProcessState.Completed
    tasks = [task_of(run) for run in (a, b, c)]
    initialisation = Task.objects.get(process=process, worker_run__isnull=True)
    assert {task.state for task in [initialisation, *tasks]} == {TaskState.Completed}
    for parent, child in zip([initialisation, *tasks], tasks, strict=False):
        assert parent.finished <= child.started
    assert Artifact.objects.filter(task=initialisation, path="elements.json").exists()

    outputs = [output_of(task) for task in tasks]
    assert [output["inputs"] for output in outputs] == [[], ["A()"], ["B(A())"]]
    assert all(output["elements"] == 5 for output in outputs)
    assert [output["worker_run"] for output in outputs] == [str(a.id), str(b.id), str(c.id)]
    assert all(output["worker_version"] is None for output in outputs)
    assert all(output["current_is_own"] for output in outputs)
    assert all(output["leaked"] == [] for output in outputs)
    assert artifact_text(tasks[2]) == "C(B(A()))"
    assert "[ponos] Task completed." in read_log(tasks[2]).decode()
    # Each task ran on one of the agents, and no task ran twice.
    assert {task.agent_id for task in tasks} <= set(Agent.objects.values_list("id", flat=True))
    assert all(read_log(task).decode().count("[ponos] Running") == 1 for task in tasks)


def test_diamond_and_failure(ponos, api, corpus, user):
    process = make_process(corpus, user)
    top = make_run(process, "Top")
    left = make_run(process, "Left", parents=[top])
    right = make_run(process, "Right", "fail", parents=[top])
    bottom = make_run(process, "Bottom", parents=[left, right])
    start(api, process)

    process = wait_finished(process)
    assert process.state == ProcessState.Failed
    assert task_of(top).state == TaskState.Completed
    assert task_of(left).state == TaskState.Completed
    assert task_of(right).state == TaskState.Failed
    # The child of a failed task never runs, and does not keep the process from ending.
    assert task_of(bottom).state == TaskState.Unscheduled
    assert "exited with code 3" in read_log(task_of(right)).decode()
    assert output_of(task_of(left))["inputs"] == ["Top()"]


def test_killed_agent_ends_its_task_in_error(start_service, api, corpus, user, settings):
    settings.PONOS_AGENT_TIMEOUT = 5
    start_service("rqworker", "high", "default", "low", "--worker-class", "rq.SimpleWorker")
    agent_process = start_service("ponos_agent", ready="Ctrl-C to stop")
    process = make_process(corpus, user, chunks=1)
    sleeper = make_run(process, "Sleeper", "sleep")
    start(api, process)
    wait_for(lambda: task_of(sleeper).state == TaskState.Running, message="the task to run")

    agent_process.send_signal(signal.SIGKILL)
    agent_process.wait()
    time.sleep(6)
    assert check_agents() == 1
    task = task_of(sleeper)
    assert task.state == TaskState.Error
    assert "stopped answering" in read_log(task).decode()
    process = wait_finished(process)
    assert process.state == ProcessState.Error


def test_stop_and_restart(ponos, api, corpus, user):
    process = make_process(corpus, user)
    sleeper = make_run(process, "Sleeper", "sleep")
    after = make_run(process, "After", parents=[sleeper])
    start(api, process)
    wait_for(lambda: task_of(sleeper).state == TaskState.Running, message="the task to run")

    response = api.patch(f"{api.base_url}/task/{task_of(sleeper).id}/", json={"state": "stopping"})
    assert response.status_code == 200, response.text
    wait_for(lambda: task_of(sleeper).state == TaskState.Stopped, message="the task to stop")
    process = wait_finished(process)
    assert process.state == ProcessState.Stopped
    assert task_of(after).state == TaskState.Unscheduled

    # Restarting runs it again (this time without sleeping), then its child after it.
    command = shlex.join([sys.executable, "-c", TASK_SCRIPT, "Again", "ok"])
    Task.objects.filter(pk=task_of(sleeper).pk).update(command=command)
    response = api.post(f"{api.base_url}/task/{task_of(sleeper).id}/restart/")
    assert response.status_code in (200, 201), response.text
    wait_for(lambda: task_of(after).state == TaskState.Completed, message="the child to run after the restart")
    assert task_of(sleeper).attempt == 1
    assert output_of(task_of(after))["inputs"] == ["Again()"]
    process = wait_finished(process)
    assert process.state == ProcessState.Completed


def test_time_limit(start_service, api, corpus, user):
    start_service("rqworker", "high", "default", "low", "--worker-class", "rq.SimpleWorker")
    start_service("ponos_agent", ready="Ctrl-C to stop", env={"PONOS_TASK_TIME_LIMIT": "3"})
    process = make_process(corpus, user)
    sleeper = make_run(process, "Sleeper", "sleep")
    start(api, process)

    process = wait_finished(process)
    task = task_of(sleeper)
    assert task.state == TaskState.Error
    assert "ran for more than 3 seconds" in read_log(task).decode()
    assert process.state == ProcessState.Error


@pytest.fixture
def fake_nvidia_smi(tmp_path):
    """An `nvidia-smi` reporting one GPU, first on the agent's PATH."""
    folder = tmp_path / "bin"
    folder.mkdir()
    script = folder / "nvidia-smi"
    script.write_text("#!/bin/sh\necho '0, GPU-00000000-fake, Fake GPU, 2048'\n")
    script.chmod(0o755)
    return {"PATH": f"{folder}{os.pathsep}{os.environ['PATH']}"}


def test_gpu_task_runs_on_a_free_gpu_with_its_model(start_service, api, corpus, user, fake_nvidia_smi):
    from workers.models import Model, ModelVersion

    start_service("rqworker", "high", "default", "low", "--worker-class", "rq.SimpleWorker")
    cpu_agent = start_service("ponos_agent", ready="Ctrl-C to stop")
    start_service("ponos_agent", "--concurrency", "1", ready="1 GPU slot(s)", env=fake_nvidia_smi)
    model = Model.objects.create(name="Recogniser")
    model_version = ModelVersion.objects.create(model=model, state="available", tag="v1")
    store_model_archive(model_version, {"weights.bin": "0101", "config.json": "{}"})

    process = make_process(corpus, user)
    gpu_run = make_run(process, "Gpu", gpu_usage="required", model_usage="required", model_version=model_version)
    start(api, process)

    process = wait_finished(process)
    task = task_of(gpu_run)
    assert process.state == ProcessState.Completed, read_log(task).decode()
    assert task.requires_gpu
    assert task.gpu_id == "GPU-00000000-fake"
    assert task.agent.gpus.get().id == "GPU-00000000-fake"
    assert task.agent.pid != cpu_agent.pid
    output = output_of(task)
    assert output["cuda"] == "0"
    assert output["model_files"] == ["config.json", "weights.bin"]
