"""
Reads of the scheduler's state that are more than a queryset.

`agent_actions` says what one agent does next. Our agents do not ask the server for work: each
slot takes task jobs from its farm's RQ queue (`ponos.agent.process`), and the command of a task set to
stopping is ended by the slot running it (`ponos.agent.executors`). The actions are those same decisions
read from the database, for the people watching an agent: the pending tasks of its farm that its
free slots take next, in the order the queues hand them out, and its tasks to stop. Another agent
of the same farm may take a pending task first; the claim decides, so a task never runs twice.
"""

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db.models import Count, Exists, OuterRef, Prefetch, Q
from django.utils import timezone

from ponos.authentication import ACTIVE_TASK_STATES
from ponos.models import GPU, Agent, Task, TaskState
from ponos.scheduler import DEFAULT_FARM

START_TASK = "start_task"
STOP_TASK = "stop_task"


@dataclass(frozen=True)
class AgentAction:
    action: str
    task_id: object
    gpu_id: str | None = None


def active_since():
    """Agents that pinged since then are alive: silent for PONOS_AGENT_TIMEOUT seconds means dead."""
    return timezone.now() - timedelta(seconds=getattr(settings, "PONOS_AGENT_TIMEOUT", 60))


def agent_is_active(agent, since=None):
    return agent.stopped is None and agent.last_ping >= (since or active_since())


def agent_actions(agent: Agent) -> list[AgentAction]:
    """
    The tasks `agent` stops, then those it starts: as many pending tasks of its farm without GPU as
    it has free slots, and one GPU task per free GPU (a GPU task waits for a GPU slot, whatever
    the number of free slots). An agent that stopped or stopped pinging starts nothing.
    """
    held = list(
        Task.objects.filter(agent=agent, state__in=(TaskState.Running, TaskState.Stopping))
        .order_by("started", "id")
        .values_list("id", "state", "gpu_id")
    )
    actions = [AgentAction(STOP_TASK, task_id) for task_id, state, _ in held if state == TaskState.Stopping]
    if not agent_is_active(agent):
        return actions

    busy_gpus = {gpu_id for _, _, gpu_id in held if gpu_id}
    free_gpus = [gpu for gpu in GPU.objects.filter(agent=agent).order_by("index") if gpu.id not in busy_gpus]
    free_slots = max(agent.concurrency - sum(1 for *_, gpu_id in held if not gpu_id), 0)
    if not free_slots and not free_gpus:
        return actions

    farm = Q(process__farm_id=agent.farm_id)
    if agent.farm.name == DEFAULT_FARM:
        farm |= Q(process__farm__isnull=True)
    pending = Task.objects.filter(farm, state=TaskState.Pending).order_by("updated", "id")
    cpu_tasks = pending.filter(requires_gpu=False).values_list("id", flat=True)[:free_slots] if free_slots else []
    gpu_tasks = pending.filter(requires_gpu=True).values_list("id", flat=True)[: len(free_gpus)] if free_gpus else []
    actions += [AgentAction(START_TASK, task_id) for task_id in cpu_tasks]
    actions += [AgentAction(START_TASK, task_id, gpu.id) for task_id, gpu in zip(gpu_tasks, free_gpus, strict=False)]
    return actions


def gpus_prefetch():
    """The agent's GPUs, each with whether an active task holds it, in one query per page."""
    busy = Exists(Task.objects.filter(gpu_id=OuterRef("pk"), state__in=ACTIVE_TASK_STATES))
    return Prefetch("gpus", queryset=GPU.objects.annotate(busy=busy).order_by("index"))


def agents_queryset():
    """Agents sorted by hostname then pid, with their farm, their GPUs and how many tasks they run now."""
    return (
        Agent.objects.select_related("farm")
        .annotate(running_tasks_count=Count("tasks", filter=Q(tasks__state__in=ACTIVE_TASK_STATES)))
        .prefetch_related(gpus_prefetch())
        .order_by("hostname", "pid", "id")
    )


def running_tasks_prefetch():
    """Each agent's tasks running now, oldest first, as `running_tasks`."""
    running = Task.objects.filter(state__in=ACTIVE_TASK_STATES).order_by("started", "id")
    return Prefetch("tasks", queryset=running, to_attr="running_tasks")
