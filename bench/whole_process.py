#!/usr/bin/env python
"""
A whole process: `--pages` pages (2,000 by default) run by a stock `arkindex-base-worker` 0.6.0
worker that publishes, for each page, one transcription and one classification, with 1 and then 2
agents, as a deployment runs it: the API served by granian, one RQ worker for the scheduling jobs,
and agents (`manage.py ponos_agent`, local executor), all started here on the benchmark database.
The process tracks worker activities, and has one task per agent consuming the one queue.

Reports pages per second from the start of the process to its end, and where the machine's time
went meanwhile (CPU seconds read from /proc): the API server (granian and its workers), the worker
processes (the tasks, counted when their agent reaps them), the agents themselves, and everything
else, mostly PostgreSQL.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/arkindex_bench python bench/whole_process.py
    DATABASE_URL=... python bench/whole_process.py --pages 500 --agents 1
"""

import os
import shlex
import sys
import tempfile
import time
from pathlib import Path

from common import (
    argument_parser,
    bench_user,
    free_port,
    log,
    print_header,
    setup_database,
    start_server,
    start_service,
    stop_server,
    stop_service,
    use_bench_redis,
)

# The same Redis database as the API server that `common.start_server` starts.
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/12")
WORKER = """
from arkindex_worker.worker import ElementsWorker


class Labeller(ElementsWorker):
    def process_element(self, element):
        self.create_transcription(element, text=f"text of {element.name}", confidence=0.9)
        self.create_classification(element, ml_class="page", confidence=0.8)


if __name__ == "__main__":
    Labeller(description="Labels every page").run()
"""
TICKS = os.sysconf("SC_CLK_TCK")


def parse_args():
    parser = argument_parser(__doc__)
    parser.add_argument("--pages", type=int, default=2000, help="pages of the process (default 2,000)")
    parser.add_argument("--agents", type=int, nargs="+", default=[1, 2], help="agent counts to run (default 1 2)")
    parser.add_argument("--workers", type=int, default=2, help="granian worker processes (default 2)")
    parser.add_argument("--threads", type=int, default=4, help="threads per granian worker (default 4)")
    parser.add_argument("--conn-max-age", type=int, default=60, help="DATABASE_CONN_MAX_AGE of the server")
    return parser.parse_args()


def tree(pid):
    """`pid` and its descendants."""
    pids, todo = [], [pid]
    while todo:
        current = todo.pop()
        pids.append(current)
        try:
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            children = []
        todo.extend(int(child) for child in children)
    return pids


def cpu(pids):
    """(own, reaped children's) CPU seconds of processes."""
    own = reaped = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        own += int(fields[11]) + int(fields[12])
        reaped += int(fields[13]) + int(fields[14])
    return own / TICKS, reaped / TICKS


def machine_busy():
    fields = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(fields) - fields[3] - fields[4]) / TICKS


def service_env(api_url, data_dir):
    return {"REDIS_URL": REDIS_URL, "PONOS_API_URL": api_url, "PUBLIC_URL": api_url, "PONOS_DATA_DIR": data_dir}


def build(pages, worker_python, script):
    from documents.models import Corpus, Element, ElementPath, ElementType
    from users.models import Right, Role, Token
    from workers.models import Worker, WorkerType, WorkerVersion

    user = bench_user()
    corpus = Corpus.objects.create(name="Whole process benchmark")
    Right.objects.create(content_object=corpus, user=user, level=Role.ADMIN)
    page_type = ElementType.objects.create(corpus=corpus, slug="page", display_name="Page")
    elements = Element.objects.bulk_create(
        Element(corpus=corpus, type=page_type, name=f"Page {n:05}") for n in range(pages)
    )
    ElementPath.objects.bulk_create(ElementPath(element=element, path=[], ordering=0) for element in elements)
    worker_type, _ = WorkerType.objects.get_or_create(slug="bench", defaults={"display_name": "Bench"})
    worker, _ = Worker.objects.get_or_create(slug="labeller-bench", defaults={"name": "Labeller", "type": worker_type})
    version, _ = WorkerVersion.objects.update_or_create(
        worker=worker,
        version=1,
        defaults={
            "state": "available",
            "configuration": {"docker": {"command": shlex.join([str(worker_python), str(script)])}},
        },
    )
    token, _ = Token.objects.get_or_create(user=user, name="bench")
    return user, corpus, version, token.key


def run_process(user, corpus, version, chunks):
    from processes.models import ActivityState, Process, ProcessMode, WorkerRun

    process = Process.objects.create(
        corpus=corpus,
        creator=user,
        mode=ProcessMode.Workers,
        name=f"Whole process, {chunks} agent(s)",
        element_type=corpus.types.get(slug="page"),
        activity_state=ActivityState.Pending,
        chunks=chunks,
        skip_elements_json=True,
    )
    WorkerRun.objects.create(process=process, version=version, parents=[])
    return process


def measure(args, url, api_url, token, user, corpus, version, agents, folder, server):
    import requests

    from processes.models import Process

    logs = [open(os.path.join(folder, f"{name}-{agents}.log"), "wb") for name in ("rqworker", "agents")]
    services = [
        start_service(url, "rqworker", "high", "default", "low", log_file=logs[0], env=service_env(api_url, folder))
    ]
    data_dirs = [os.path.join(folder, f"agent-{agents}-{n}") for n in range(agents)]
    for data_dir in data_dirs:
        os.makedirs(data_dir)
    services += [
        start_service(url, "ponos_agent", log_file=logs[1], env=service_env(api_url, data_dir))
        for data_dir in data_dirs
    ]
    try:
        time.sleep(8)
        process = run_process(user, corpus, version, agents)
        server_before = cpu(tree(server.pid))[0]
        agent_before = [cpu(tree(service.pid)) for service in services[1:]]
        busy_before = machine_busy()
        began = time.monotonic()
        response = requests.post(
            f"{api_url}/api/v1/process/{process.id}/start/", headers={"Authorization": f"Token {token}"}
        )
        response.raise_for_status()
        deadline = time.monotonic() + float(os.environ.get("BENCH_PROCESS_TIMEOUT", 3600))
        while time.monotonic() < deadline:
            process = Process.objects.get(pk=process.pk)
            if process.finished is not None:
                break
            time.sleep(0.5)
        else:
            tails = [open(f.name, errors="replace").read()[-3000:] for f in logs]
            states = list(process.tasks.values_list("slug", "state"))
            sys.exit(f"The process did not finish in time: tasks {states}\n" + "\n".join(tails))
        elapsed = time.monotonic() - began
        server_cpu = cpu(tree(server.pid))[0] - server_before
        agent_after = [cpu(tree(service.pid)) for service in services[1:]]
        agent_cpu = sum(after[0] - before[0] for before, after in zip(agent_before, agent_after, strict=True))
        worker_cpu = sum(after[1] - before[1] for before, after in zip(agent_before, agent_after, strict=True))
        busy = machine_busy() - busy_before
        processed = process.worker_runs.get().transcriptions.count()
        if processed != args.pages:
            tail = open(logs[1].name, errors="replace").read()[-3000:]
            sys.exit(f"{processed} of {args.pages} pages processed ({process.state}):\n{tail}")
    finally:
        for service in services:
            stop_service(service)
    return {
        "agents": agents,
        "rate": args.pages / elapsed,
        "elapsed": elapsed,
        "server": server_cpu,
        "worker": worker_cpu,
        "agent": agent_cpu,
        "other": max(0.0, busy - server_cpu - worker_cpu - agent_cpu),
    }


def main():
    args = parse_args()
    url = setup_database()

    from documents.services import corpus_delete
    from tests.clients import WORKER_REQUIREMENTS, ensure_environment

    use_bench_redis(REDIS_URL)
    log("The base worker's environment (built once, then reused)")
    worker_python = ensure_environment("worker", WORKER_REQUIREMENTS)
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-process-") as folder:
        script = Path(folder) / "labeller.py"
        script.write_text(WORKER)
        log(f"Building {args.pages:,} pages")
        user, corpus, version, token = build(args.pages, worker_python, script)
        port = free_port()
        server = start_server(args, url, port)
        api_url = f"http://127.0.0.1:{port}"
        try:
            for agents in args.agents:
                log(f"Running the process with {agents} agent(s)")
                result = measure(args, url, api_url, token, user, corpus, version, agents, folder, server)
                log(f"  {result['rate']:.1f} pages/s ({result['elapsed']:.0f} s)")
                results.append(result)
        finally:
            stop_server(server)
            corpus_delete(corpus_id=corpus.id)

    print_header(f"A whole process of {args.pages:,} pages, a stock base worker: one transcription, one classification")
    print(
        f"{'agents':<8}{'pages/s':>9}{'seconds':>9}   CPU seconds: {'server':>7}{'worker':>8}{'agent':>7}{'other':>7}"
    )
    print("-" * 78)
    for row in results:
        print(
            f"{row['agents']:<8}{row['rate']:>9.1f}{row['elapsed']:>9.0f}   {'':13}{row['server']:>7.0f}"
            f"{row['worker']:>8.0f}{row['agent']:>7.0f}{row['other']:>7.0f}"
        )
    print("\n`other` is the rest of the machine's busy time meanwhile: PostgreSQL, Redis, the RQ worker.")


if __name__ == "__main__":
    sys.exit(main())
