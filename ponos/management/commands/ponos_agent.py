from pathlib import Path

from django.core.management.base import BaseCommand

from ponos.agent.executors import EXECUTORS
from ponos.agent.process import AgentProcess


class Command(BaseCommand):
    help = (
        "Run a Ponos agent on this host: it registers with its CPUs, memory and GPUs, pings, and runs the tasks of "
        "its farm through RQ workers until stopped with Ctrl-C or SIGTERM (running tasks finish first)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--farm", default="default", help="Farm whose tasks this agent runs (default: default).")
        parser.add_argument(
            "--executor", choices=sorted(EXECUTORS), default="local", help="How tasks run (default: local)."
        )
        parser.add_argument(
            "--concurrency", type=int, default=1, help="Tasks without GPU run at the same time (default: 1)."
        )
        parser.add_argument(
            "--agent-file",
            type=Path,
            help="File keeping this agent's id: a later run on this host with the same file is the same agent, "
            "once this one is over (the quickstart keeps one in its data folder).",
        )

    def handle(self, *args, farm, executor, concurrency, agent_file, **options):
        if concurrency < 1:
            self.stderr.write("--concurrency must be at least 1.")
            raise SystemExit(2)

        def ready(agent):
            gpus = agent.gpus.count()
            self.stdout.write(
                f"Agent {agent.id} on {agent.hostname}: farm {farm}, {executor} executor, "
                f"{concurrency} slot(s) and {gpus} GPU slot(s). Ctrl-C to stop."
            )
            self.stdout.flush()

        AgentProcess(farm, executor, concurrency, agent_file).run(on_ready=ready)
        self.stdout.write("Agent stopped.")
