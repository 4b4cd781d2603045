#!/usr/bin/env python
"""
Dispatch latency: from a task's completion to its child running on an idle agent.

Builds a process whose tasks form one chain (`--tasks`, each the child of the previous one), each
running a command that ends at once (`true`), and runs it with the services of a deployment,
started here on the benchmark database and a Redis database of their own: one RQ worker for the
scheduling jobs (`manage.py rqworker high default low`) and one agent (`manage.py ponos_agent`,
local executor, `--concurrency` slots), both idle when the chain starts. Each link of the chain
measures the whole way a completion takes: the agent records the task completed, the scheduler
job (enqueued after that commit) moves the child to pending and puts it on the farm's queue, and
the agent's RQ worker, blocked on that queue, takes it and marks it running.

Reports the median, 90th percentile and largest `child.started - parent.finished`, read from the
tasks' own timestamps, against the target of at most 1 s at the median; and, as the floor of an
event-driven hand-off, the median time for a job enqueued on an idle RQ worker to start.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/arkindex_bench python bench/dispatch_latency.py
"""

import os
import statistics
import sys
import tempfile
import time

from common import (
    argument_parser,
    bench_user,
    log,
    print_header,
    setup_database,
    start_service,
    stop_service,
    use_bench_redis,
)

REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/11")


def parse_args():
    parser = argument_parser(__doc__)
    parser.add_argument("--tasks", type=int, default=30, help="tasks in the chain (default 30)")
    parser.add_argument("--concurrency", type=int, default=1, help="slots of the agent (default 1)")
    return parser.parse_args()


def build_chain(count):
    from django.utils import timezone

    from documents.models import Corpus
    from ponos.models import Task
    from processes.models import Process, ProcessMode

    user = bench_user()
    corpus, _ = Corpus.objects.get_or_create(name="Dispatch benchmark")
    process = Process.objects.create(
        corpus=corpus, creator=user, mode=ProcessMode.Workers, name="Dispatch chain", started=timezone.now()
    )
    tasks, parent = [], None
    for index in range(count):
        task = Task.objects.create(process=process, slug=f"link-{index:03}", depth=index, command="true")
        if parent is not None:
            task.parents.set([parent])
        tasks.append(task)
        parent = task
    return process, tasks


def rq_floor(samples=20):
    """Median ms from enqueueing a job on an idle RQ worker (already running) to the job starting."""
    import django_rq

    from arkindex.rq import DEFAULT_QUEUE

    queue = django_rq.get_queue(DEFAULT_QUEUE)
    delays = []
    for _ in range(samples):
        job = queue.enqueue("time.time")
        enqueued = time.time()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            job.refresh()
            if job.get_status() == "finished":
                delays.append((job.result - enqueued) * 1000)
                break
            time.sleep(0.005)
        time.sleep(0.05)
    return statistics.median(delays) if delays else float("nan")


def main():
    args = parse_args()
    url = setup_database()

    from ponos.models import Task, TaskState
    from ponos.scheduler import schedule_process
    from processes.services import process_delete

    use_bench_redis(REDIS_URL)

    with tempfile.TemporaryDirectory(prefix="bench-dispatch-") as folder:
        services = []
        try:
            logs = [open(os.path.join(folder, name), "wb") for name in ("rqworker.log", "agent.log")]
            env = {"REDIS_URL": REDIS_URL, "PONOS_AGENT_PING_INTERVAL": "1", "PONOS_DATA_DIR": folder}
            services.append(start_service(url, "rqworker", "high", "default", "low", log_file=logs[0], env=env))
            services.append(
                start_service(url, "ponos_agent", "--concurrency", str(args.concurrency), log_file=logs[1], env=env)
            )
            # Both idle, waiting on their queues.
            time.sleep(8)
            floor = rq_floor()
            log(f"An idle RQ worker starts a job {floor:.0f} ms after it is enqueued (median of 20)")

            process, tasks = build_chain(args.tasks)
            log(f"Running a chain of {args.tasks} tasks")
            began = time.monotonic()
            schedule_process(str(process.id))
            deadline = time.monotonic() + 60 + args.tasks * 10
            while time.monotonic() < deadline:
                states = list(Task.objects.filter(process=process).values_list("state", flat=True))
                if all(state in (TaskState.Completed, TaskState.Failed, TaskState.Error) for state in states):
                    break
                time.sleep(0.2)
            else:
                sys.exit(
                    f"The chain did not end in time; logs in {folder}: {[open(f.name).read()[-2000:] for f in logs]}"
                )
            elapsed = time.monotonic() - began
            rows = list(
                Task.objects.filter(process=process).order_by("depth").values_list("state", "started", "finished")
            )
            if any(state != TaskState.Completed for state, _, _ in rows):
                agent_log = open(logs[1].name, errors="replace").read()[-3000:]
                sys.exit(f"Some tasks did not complete: {[state for state, _, _ in rows]}\n{agent_log}")
            latencies = [
                (child_started - parent_finished).total_seconds() * 1000
                for (_, _, parent_finished), (_, child_started, _) in zip(rows, rows[1:], strict=False)
            ]
        finally:
            for service in services:
                stop_service(service)
        process_delete(process_id=process.id)

    latencies.sort()
    median = statistics.median(latencies)
    p90 = latencies[int(len(latencies) * 0.9) - 1]
    print_header(f"Dispatch latency, a chain of {args.tasks} tasks on one idle agent ({args.concurrency} slot(s))")
    print(f"{'parent completed → child running':<40}{'ms':>10}")
    print("-" * 50)
    print(f"{'median':<40}{median:>10.0f}")
    print(f"{'90th percentile':<40}{p90:>10.0f}")
    print(f"{'largest':<40}{latencies[-1]:>10.0f}")
    print(f"{'an idle RQ worker picking a job (floor)':<40}{floor:>10.0f}")
    print(f"\nThe chain took {elapsed:.1f} s ({elapsed / args.tasks * 1000:.0f} ms per task, its run included).")
    print(f"Summary: a child runs {median:.0f} ms after its parent completed at the median (target: at most 1,000 ms).")


if __name__ == "__main__":
    sys.exit(main())
