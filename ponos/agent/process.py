"""
An agent: one host's share of a farm, started with `manage.py ponos_agent`.

The agent registers itself (hostname, CPU cores, RAM, the GPUs `nvidia-smi` reports), then runs
slots: each slot is a child process running an RQ worker on the farm's queue, one task at a time.
`--concurrency N` gives N slots for tasks without GPU; each GPU gets a slot of its own listening to
the farm's GPU queue, so a GPU task is only picked where a GPU waits for it. The agent process
itself pings (`last_ping`) and restarts a slot that died. Slots die with the agent, even when it is
killed with SIGKILL (PR_SET_PDEATHSIG), and their commands with them: the scheduler then sees the
agent silent and ends its tasks in error.

Distribution between hosts is RQ's: any number of agents, on any number of hosts, listen to the
same Redis queues; a task is claimed by a guarded UPDATE, so it never runs twice.
"""

import logging
import multiprocessing
import os
import shutil
import signal
import socket
import subprocess
import time
import uuid

from django.conf import settings
from django.db import connections
from django.utils import timezone
from django_rq import get_connection
from rq import SimpleWorker

from arkindex.pids import process_alive
from arkindex.rq import DEFAULT_QUEUE
from ponos.agent.executors import die_with_parent
from ponos.models import GPU, Agent, Farm, Task
from ponos.scheduler import check_agents, fail_tasks, queue_name

logger = logging.getLogger(__name__)


def detect_gpus():
    """The GPUs `nvidia-smi` reports, as dicts; none when it is not installed or fails."""
    binary = shutil.which("nvidia-smi")
    if binary is None:
        return []
    try:
        output = subprocess.run(
            [binary, "--query-gpu=index,uuid,name,memory.total", "--format=csv,noheader,nounits"],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError) as error:
        logger.warning("nvidia-smi failed, no GPU will be used: %s", error)
        return []
    gpus = []
    for line in output.strip().splitlines():
        index, uuid, name, memory = (part.strip() for part in line.split(",", 3))
        gpus.append({"index": int(index), "id": uuid, "name": name, "ram_total": int(float(memory)) * 1024 * 1024})
    return gpus


def total_memory():
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError):
        return 0


def reusable_agent(agent_file, farm):
    """
    The agent named in `agent_file` by an earlier run on this host, once that run is over (it
    stopped, or its process is gone), or None. An agent process that still runs keeps its agent.
    """
    if agent_file is None or not agent_file.exists():
        return None
    try:
        agent_id = uuid.UUID(agent_file.read_text().strip())
    except ValueError:
        logger.warning("%s does not hold an agent id: a new agent is registered", agent_file)
        return None
    agent = Agent.objects.filter(pk=agent_id, farm=farm, hostname=socket.gethostname()).first()
    if agent is None:
        return None
    if agent.stopped is None and agent.pid != os.getpid() and process_alive(agent.pid):
        logger.warning("Agent %s still runs as process %d: a new agent is registered", agent.id, agent.pid)
        return None
    return agent


def register(farm_name, executor, concurrency, agent_file=None):
    """
    The agent row of this process: a new one, or with `agent_file` the one an earlier run on this
    host left there (the quickstart keeps one agent across restarts instead of piling up stopped
    ones). Tasks the earlier run still held end first, as for an agent found dead.
    """
    farm, _ = Farm.objects.get_or_create(name=farm_name)
    details = {
        "hostname": socket.gethostname(),
        "pid": os.getpid(),
        "cpu_cores": os.cpu_count() or 1,
        "ram_total": total_memory(),
        "concurrency": concurrency,
        "executor": executor,
        "last_ping": timezone.now(),
        "stopped": None,
    }
    agent = reusable_agent(agent_file, farm)
    if agent is None:
        agent = Agent.objects.create(farm=farm, **details)
    else:
        fail_tasks(
            Task.objects.filter(agent=agent),
            "The agent running this task was restarted while it ran: the task was ended. Restart it to run it again.",
        )
        Agent.objects.filter(pk=agent.pk).update(**details)
        agent.refresh_from_db()
    if agent_file is not None:
        agent_file.parent.mkdir(parents=True, exist_ok=True)
        agent_file.write_text(f"{agent.id}\n")
    for gpu in detect_gpus():
        # A GPU belongs to the agent that last saw it: a restarted agent takes its host's GPUs back.
        details = {"agent": agent, "index": gpu["index"], "name": gpu["name"], "ram_total": gpu["ram_total"]}
        GPU.objects.update_or_create(id=gpu["id"], defaults=details)
    return agent


def run_slot(agent_id, queues, gpu_id):
    """A slot's process: an RQ worker running task jobs, one at a time, in this process."""
    die_with_parent()
    os.environ["PONOS_AGENT_ID"] = str(agent_id)
    if gpu_id:
        os.environ["PONOS_GPU_ID"] = gpu_id
    else:
        os.environ.pop("PONOS_GPU_ID", None)
    worker = SimpleWorker(queues, connection=get_connection(DEFAULT_QUEUE))
    worker.work(logging_level=settings.PONOS_AGENT_LOG_LEVEL)


class AgentProcess:
    def __init__(self, farm_name, executor, concurrency, agent_file=None):
        self.farm_name = farm_name
        self.executor = executor
        self.concurrency = concurrency
        self.agent_file = agent_file
        self.slots = {}
        self.stopping = False

    def slot_specs(self, agent):
        specs = [(f"cpu-{number}", [queue_name(self.farm_name)], None) for number in range(self.concurrency)]
        for gpu in agent.gpus.all():
            specs.append((f"gpu-{gpu.index}", [queue_name(self.farm_name, gpu=True)], gpu.id))
        return specs

    def start_slot(self, spec):
        name, queues, gpu_id = spec
        # A forked child must not share the agent's database connection: it opens its own.
        connections.close_all()
        context = multiprocessing.get_context("fork")
        process = context.Process(target=run_slot, args=(self.agent.id, queues, gpu_id), name=f"ponos-slot-{name}")
        process.start()
        self.slots[name] = (spec, process)

    def request_stop(self, signum, frame):
        self.stopping = True

    def run(self, on_ready=None):
        self.agent = register(self.farm_name, self.executor, self.concurrency, self.agent_file)
        for spec in self.slot_specs(self.agent):
            self.start_slot(spec)
        signal.signal(signal.SIGTERM, self.request_stop)
        signal.signal(signal.SIGINT, self.request_stop)
        if on_ready:
            on_ready(self.agent)
        try:
            while not self.stopping:
                Agent.objects.filter(pk=self.agent.pk).update(last_ping=timezone.now())
                # Every live agent watches the others: a dead one's tasks end (and the elements they
                # held go back to their queue) within PONOS_AGENT_TIMEOUT and one ping, without
                # waiting for the periodic scheduler.
                check_agents()
                for name, (spec, process) in list(self.slots.items()):
                    if not process.is_alive():
                        logger.warning("Slot %s exited with code %s: restarting it", name, process.exitcode)
                        self.start_slot(spec)
                self.sleep(settings.PONOS_AGENT_PING_INTERVAL)
        finally:
            self.shutdown()

    def sleep(self, seconds):
        deadline = time.monotonic() + seconds
        while not self.stopping and time.monotonic() < deadline:
            time.sleep(0.2)

    def shutdown(self):
        """Warm shutdown: each slot finishes its current task (RQ's SIGTERM), then the agent is stopped."""
        for _, process in self.slots.values():
            if process.is_alive():
                os.kill(process.pid, signal.SIGTERM)
        for _, process in self.slots.values():
            process.join()
        Agent.objects.filter(pk=self.agent.pk).update(stopped=timezone.now())
