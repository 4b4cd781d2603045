"""ListAgents (by hostname, seed 002), RetrieveAgent with its running tasks and GPUs, ListFarms."""

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from ponos.models import GPU, Agent, Farm, Task, TaskState
from ponos.tests.factories import TaskFactory
from processes.models import ProcessMode
from processes.tests.factories import ProcessFactory
from workers.tests.factories import assert_list_queries

AGENTS_URL = "/api/v1/agents/"
FARMS_URL = "/api/v1/farms/"


@pytest.fixture
def farm(db):
    return Farm.objects.create(name="gpu-farm")


@pytest.fixture
def make_agent(farm):
    def make(hostname, pid=1, **kwargs):
        kwargs.setdefault("last_ping", timezone.now())
        return Agent.objects.create(farm=farm, hostname=hostname, pid=pid, **kwargs)

    return make


@pytest.fixture
def process(user):
    return ProcessFactory(mode=ProcessMode.Repository, creator=user)


@pytest.fixture
def make_task(process):
    def make(slug, state=TaskState.Running, **kwargs):
        return TaskFactory(process=process, slug=slug, state=state, **kwargs)

    return make


def task_client(task):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Ponos {task.token}")
    return client


def test_list_agents_sorted_by_hostname_then_pid(superuser_client, make_agent):
    now = timezone.now()
    # Created in an order that neither the ping time nor the creation time would give.
    make_agent("worker-b", pid=2, last_ping=now)
    second = make_agent("worker-a", pid=7, last_ping=now - timedelta(seconds=5))
    make_agent("worker-c", pid=1, last_ping=now - timedelta(seconds=1))
    first = make_agent("worker-a", pid=3, last_ping=now - timedelta(seconds=30))

    response = superuser_client.get(AGENTS_URL)

    assert response.status_code == 200, response.json()
    results = response.json()["results"]
    assert [a["hostname"] for a in results] == ["worker-a", "worker-a", "worker-b", "worker-c"]
    # The two agents on one host come by process ID.
    assert [a["id"] for a in results[:2]] == [str(first.id), str(second.id)]
    assert response.json()["count"] == 4


def test_list_agents_shape(superuser_client, make_agent, make_task, farm):
    agent = make_agent("host-1", cpu_cores=8, ram_total=16 * 2**30, concurrency=2, executor="docker")
    gpu0 = GPU.objects.create(id="GPU-0", agent=agent, index=0, name="Tesla T4", ram_total=15 * 2**30)
    GPU.objects.create(id="GPU-1", agent=agent, index=1, name="Tesla T4", ram_total=15 * 2**30)
    make_task("running", agent=agent, gpu=gpu0)
    make_task("stopping", state=TaskState.Stopping, agent=agent)
    make_task("completed", state=TaskState.Completed, agent=agent)
    make_task("pending", state=TaskState.Pending)

    response = superuser_client.get(AGENTS_URL)

    assert response.status_code == 200, response.json()
    assert response.json()["results"] == [
        {
            "id": str(agent.id),
            "hostname": "host-1",
            "pid": agent.pid,
            "farm": {"id": str(farm.id), "name": "gpu-farm"},
            "cpu_cores": 8,
            "ram_total": 16 * 2**30,
            "concurrency": 2,
            "executor": "docker",
            "last_ping": agent.last_ping.isoformat().replace("+00:00", "Z"),
            "active": True,
            "running_tasks_count": 2,
            "gpus": [
                {"id": "GPU-0", "index": 0, "name": "Tesla T4", "ram_total": 15 * 2**30, "busy": True},
                {"id": "GPU-1", "index": 1, "name": "Tesla T4", "ram_total": 15 * 2**30, "busy": False},
            ],
        }
    ]


def test_list_agents_active(superuser_client, make_agent, settings):
    settings.PONOS_AGENT_TIMEOUT = 30
    now = timezone.now()
    make_agent("alive", last_ping=now - timedelta(seconds=10))
    make_agent("silent", last_ping=now - timedelta(seconds=45))
    make_agent("stopped", last_ping=now, stopped=now)

    response = superuser_client.get(AGENTS_URL)

    assert response.status_code == 200
    assert {a["hostname"]: a["active"] for a in response.json()["results"]} == {
        "alive": True,
        "silent": False,
        "stopped": False,
    }


def test_list_agents_default_timeout(superuser_client, make_agent, settings):
    """Without PONOS_AGENT_TIMEOUT, an agent silent for more than 60 seconds is inactive."""
    if hasattr(settings, "PONOS_AGENT_TIMEOUT"):
        del settings.PONOS_AGENT_TIMEOUT
    now = timezone.now()
    make_agent("recent", last_ping=now - timedelta(seconds=50))
    make_agent("old", last_ping=now - timedelta(seconds=70))

    response = superuser_client.get(AGENTS_URL)

    assert {a["hostname"]: a["active"] for a in response.json()["results"]} == {"old": False, "recent": True}


def test_list_agents_queries(superuser_client, make_agent, make_task, django_assert_num_queries):
    for n in range(6):
        agent = make_agent(f"host-{n}")
        gpu = GPU.objects.create(id=f"GPU-{n}", agent=agent, index=0, name="A100")
        make_task(f"task-{n}", agent=agent, gpu=gpu)
    # Token, count, page of agents, their GPUs.
    assert_list_queries(superuser_client, AGENTS_URL, 4, django_assert_num_queries)


def test_list_agents_forbidden(user_client, make_agent):
    make_agent("host")
    response = user_client.get(AGENTS_URL)
    assert response.status_code == 403
    assert response.json() == {"detail": "Only instance administrators can see the agents."}


def test_list_agents_anonymous(anonymous_client):
    assert anonymous_client.get(AGENTS_URL).status_code == 401


def test_list_agents_task_token_of_regular_user(make_task):
    """A task acts as its process's creator: a regular user's task does not list agents."""
    response = task_client(make_task("t")).get(AGENTS_URL)
    assert response.status_code == 403


def test_retrieve_agent(superuser_client, make_agent, make_task, process, django_assert_num_queries):
    agent = make_agent("host-1")
    other = make_agent("host-2")
    gpu = GPU.objects.create(id="GPU-0", agent=agent, index=0, name="Tesla T4", ram_total=100)
    started = timezone.now() - timedelta(minutes=5)
    first = make_task("first", agent=agent, gpu=gpu, started=started)
    second = make_task("second", state=TaskState.Stopping, agent=agent, started=started + timedelta(minutes=1))
    make_task("done", state=TaskState.Failed, agent=agent, started=started)
    make_task("elsewhere", agent=other, started=started)
    url = f"{AGENTS_URL}{agent.id}/"
    superuser_client.get(url)

    # Token, agent, GPUs, running tasks.
    with django_assert_num_queries(4):
        response = superuser_client.get(url)

    assert response.status_code == 200, response.json()
    data = response.json()
    assert data["id"] == str(agent.id)
    assert data["hostname"] == "host-1"
    assert data["running_tasks_count"] == 2
    assert data["gpus"] == [{"id": "GPU-0", "index": 0, "name": "Tesla T4", "ram_total": 100, "busy": True}]
    assert data["running_tasks"] == [
        {
            "id": str(first.id),
            "slug": "first",
            "process_id": str(process.id),
            "state": "running",
            "started": first.started.isoformat().replace("+00:00", "Z"),
            "gpu_id": "GPU-0",
        },
        {
            "id": str(second.id),
            "slug": "second",
            "process_id": str(process.id),
            "state": "stopping",
            "started": second.started.isoformat().replace("+00:00", "Z"),
            "gpu_id": None,
        },
    ]


def test_retrieve_agent_idle(superuser_client, make_agent):
    agent = make_agent("idle")
    response = superuser_client.get(f"{AGENTS_URL}{agent.id}/")
    assert response.status_code == 200
    assert response.json()["running_tasks"] == []
    assert response.json()["running_tasks_count"] == 0
    assert response.json()["gpus"] == []


def test_retrieve_agent_not_found(superuser_client, db):
    response = superuser_client.get(f"{AGENTS_URL}{uuid.uuid4()}/")
    assert response.status_code == 404


def test_retrieve_agent_forbidden(user_client, make_agent):
    """A regular user gets 403, whether the agent exists or not: agents are not theirs to probe."""
    agent = make_agent("host")
    assert user_client.get(f"{AGENTS_URL}{agent.id}/").status_code == 403
    assert user_client.get(f"{AGENTS_URL}{uuid.uuid4()}/").status_code == 403


def test_list_farms(user_client, farm, django_assert_num_queries):
    Farm.objects.create(name="a-farm")
    Farm.objects.create(name="z-farm")

    response = user_client.get(FARMS_URL)

    assert response.status_code == 200
    assert [f["name"] for f in response.json()["results"]] == ["a-farm", "default", "gpu-farm", "z-farm"]
    assert response.json()["results"][2] == {"id": str(farm.id), "name": "gpu-farm"}
    for n in range(3):
        Farm.objects.create(name=f"farm-{n}")
    # Token, count, page.
    assert_list_queries(user_client, FARMS_URL, 3, django_assert_num_queries)


def test_list_farms_task_token(make_task):
    response = task_client(make_task("t")).get(FARMS_URL)
    assert response.status_code == 403
    assert response.json()["detail"].startswith("Task tokens cannot call ListFarms")


def test_list_farms_anonymous(anonymous_client, db):
    assert anonymous_client.get(FARMS_URL).status_code == 401


def actions_of(client, agent):
    response = client.get(f"{AGENTS_URL}{agent.id}/actions/")
    assert response.status_code == 200, response.json()
    return response.json()["actions"]


@pytest.fixture
def farm_process(user, farm):
    return ProcessFactory(mode=ProcessMode.Repository, creator=user, farm=farm)


def test_agent_actions(superuser_client, make_agent, farm_process, django_assert_num_queries):
    agent = make_agent("host-1", concurrency=2)
    gpu0 = GPU.objects.create(id="GPU-0", agent=agent, index=0, name="T4", ram_total=1)
    GPU.objects.create(id="GPU-1", agent=agent, index=1, name="T4", ram_total=1)
    GPU.objects.create(id="GPU-2", agent=agent, index=2, name="T4", ram_total=1)
    now = timezone.now()

    def task(slug, state=TaskState.Pending, minutes=0, **kwargs):
        created = TaskFactory(process=farm_process, slug=slug, state=state, **kwargs)
        Task.objects.filter(pk=created.pk).update(updated=now - timedelta(minutes=minutes))
        return created

    # One slot and GPU-0 are taken; a stopping task (no GPU) holds the other slot.
    task("running", state=TaskState.Running, agent=agent, started=now)
    stopping = task("stopping", state=TaskState.Stopping, agent=agent, started=now)
    task("on-gpu", state=TaskState.Running, agent=agent, gpu=gpu0, requires_gpu=True, started=now)
    task("cpu-newest", minutes=1)
    oldest = task("cpu-oldest", minutes=9)
    gpu_late, gpu_early = (
        task("gpu-late", minutes=1, requires_gpu=True),
        task("gpu-early", minutes=5, requires_gpu=True),
    )
    task("gpu-third", requires_gpu=True)
    task("unscheduled", state=TaskState.Unscheduled)
    # Pending tasks of another farm, or of the default farm, are not for this agent.
    TaskFactory(
        process=ProcessFactory(mode=ProcessMode.Repository, creator=farm_process.creator),
        slug="default-farm",
        state=TaskState.Pending,
    )

    # The free GPUs 1 and 2 take the two oldest GPU tasks; no CPU slot is free.
    assert actions_of(superuser_client, agent) == [
        {"action": "stop_task", "task_id": str(stopping.id), "gpu_id": None},
        {"action": "start_task", "task_id": str(gpu_early.id), "gpu_id": "GPU-1"},
        {"action": "start_task", "task_id": str(gpu_late.id), "gpu_id": "GPU-2"},
    ]

    # Once the stopping task is stopped, its slot takes the oldest pending task.
    Task.objects.filter(pk=stopping.pk).update(state=TaskState.Stopped)
    # Token, agent and farm, held tasks, GPUs, pending tasks without GPU, pending tasks with GPU.
    with django_assert_num_queries(6):
        actions = actions_of(superuser_client, agent)
    assert [(a["action"], a["task_id"]) for a in actions] == [
        ("start_task", str(oldest.id)),
        ("start_task", str(gpu_early.id)),
        ("start_task", str(gpu_late.id)),
    ]


def test_agent_actions_default_farm(superuser_client, user, db):
    """Processes without a farm run on the default farm's agents."""
    default = Farm.objects.get(name="default")
    agent = Agent.objects.create(farm=default, hostname="h", last_ping=timezone.now(), concurrency=1)
    process = ProcessFactory(mode=ProcessMode.Repository, creator=user)
    pending = TaskFactory(process=process, slug="t", state=TaskState.Pending)
    assert actions_of(superuser_client, agent) == [{"action": "start_task", "task_id": str(pending.id), "gpu_id": None}]


@pytest.mark.parametrize("silent", [True, False])
def test_agent_actions_inactive_agent_starts_nothing(superuser_client, make_agent, farm_process, silent, settings):
    settings.PONOS_AGENT_TIMEOUT = 30
    if silent:
        agent = make_agent("silent", last_ping=timezone.now() - timedelta(seconds=31))
    else:
        agent = make_agent("stopped", stopped=timezone.now())
    stopping = TaskFactory(process=farm_process, slug="s", state=TaskState.Stopping, agent=agent)
    TaskFactory(process=farm_process, slug="p", state=TaskState.Pending)
    assert actions_of(superuser_client, agent) == [{"action": "stop_task", "task_id": str(stopping.id), "gpu_id": None}]


def test_agent_actions_idle_farm(superuser_client, make_agent):
    assert actions_of(superuser_client, make_agent("idle")) == []


def test_agent_actions_refused(user_client, anonymous_client, superuser_client, make_agent, make_task):
    agent = make_agent("host")
    url = f"{AGENTS_URL}{agent.id}/actions/"
    assert user_client.get(url).status_code == 403
    assert user_client.get(f"{AGENTS_URL}{uuid.uuid4()}/actions/").status_code == 403
    assert anonymous_client.get(url).status_code == 401
    response = task_client(make_task("t")).get(url)
    assert response.status_code == 403
    assert response.json()["detail"].startswith("Task tokens cannot call RetrieveAgentActions")
    assert superuser_client.get(f"{AGENTS_URL}{uuid.uuid4()}/actions/").status_code == 404
