"""An agent started with `--agent-file` is the same agent from one run to the next (the quickstart's)."""

import os
import socket
import subprocess
import sys
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from ponos.agent.process import register
from ponos.logs import read_log
from ponos.models import Agent, Farm, TaskState
from ponos.tests.factories import TaskFactory
from processes.models import ProcessMode
from processes.tests.factories import ProcessFactory

pytestmark = pytest.mark.django_db


def dead_pid():
    """The pid of a process that ran and is gone."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_new_agent_without_file(tmp_path):
    first = register("default", "local", 1)
    second = register("default", "local", 1)
    assert first.id != second.id


def test_agent_file_keeps_one_agent(tmp_path, user):
    agent_file = tmp_path / "agent_id"
    first = register("default", "local", 1, agent_file)
    assert agent_file.read_text().strip() == str(first.id)

    # That run was killed in the middle of a task: its process is gone, the agent not marked stopped.
    Agent.objects.filter(pk=first.pk).update(pid=dead_pid(), last_ping=timezone.now() - timedelta(seconds=5))
    process = ProcessFactory(mode=ProcessMode.Repository, creator=user, started=timezone.now())
    held = TaskFactory(process=process, slug="held", state=TaskState.Running, agent=first)

    second = register("default", "local", 2, agent_file)

    assert second.id == first.id
    assert Agent.objects.count() == 1
    assert (second.pid, second.concurrency, second.stopped) == (os.getpid(), 2, None)
    held.refresh_from_db()
    assert held.state == TaskState.Error
    assert b"The agent running this task was restarted while it ran" in read_log(held)


def test_agent_file_after_a_clean_stop(tmp_path):
    agent_file = tmp_path / "agent_id"
    first = register("default", "local", 1, agent_file)
    Agent.objects.filter(pk=first.pk).update(stopped=timezone.now())
    assert register("default", "local", 1, agent_file).id == first.id


def test_agent_file_of_a_running_agent_is_not_taken(tmp_path):
    agent_file = tmp_path / "agent_id"
    farm = Farm.objects.get(name="default")
    # Another live process (pid 1 always runs) holds the agent: a new agent is registered.
    running = Agent.objects.create(farm=farm, hostname=socket.gethostname(), pid=1, last_ping=timezone.now())
    agent_file.write_text(f"{running.id}\n")
    second = register("default", "local", 1, agent_file)
    assert second.id != running.id
    assert agent_file.read_text().strip() == str(second.id)


@pytest.mark.parametrize("content", ["not an id", str(uuid.uuid4())])
def test_agent_file_unknown(tmp_path, content):
    agent_file = tmp_path / "agent_id"
    agent_file.write_text(content)
    agent = register("default", "local", 1, agent_file)
    assert agent_file.read_text().strip() == str(agent.id)


def test_agent_file_of_another_farm(tmp_path):
    agent_file = tmp_path / "agent_id"
    first = register("default", "local", 1, agent_file)
    Agent.objects.filter(pk=first.pk).update(stopped=timezone.now())
    assert register("gpu", "local", 1, agent_file).id != first.id
