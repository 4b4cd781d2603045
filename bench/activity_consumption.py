#!/usr/bin/env python
"""
Consuming worker activities over HTTP: StartWorkerActivity then UpdateWorkerActivity (processed),
by 8 concurrent tasks, against pgbench running the same two statements on the same table.

Builds (once, then reuses) a corpus with set-based SQL (`--elements`, 100,000 by default) and a
workers process on it with one worker run, its activities (one per element, queued) and
`--clients` running tasks of that worker run, each with its own task token. Then, `--repeat`
times, with the queue set back to queued and the table vacuumed before each measure:

- `HTTP`: the API served by gunicorn, started here as a subprocess on the benchmark database
  (`--workers` processes of `--threads` threads, persistent database connections of
  `--conn-max-age` seconds), and `--clients` client processes, one per task, each looping for
  `--duration` seconds on `POST /api/v1/process/start-activity/` then
  `PUT /api/v1/workers/versions/<run>/activity/` `{"state": "processed"}`, with a `requests`
  session and its `Ponos <token>` header;
- `pgbench`: the baseline, `pgbench -n -c <clients> -j 2 -T <duration>` running a script of the
  very statements `processes.activities` runs (the `UPDATE … WHERE id = (SELECT … FOR UPDATE SKIP
  LOCKED LIMIT 1) RETURNING` joined to the element, then the guarded `UPDATE` to processed), as
  many connections as clients, no HTTP, no authentication, no Python.

Both rates are activities processed (counted in the table afterwards) per second of the measure.
The clients, gunicorn, pgbench and PostgreSQL share the machine's cores, as they would on a
one-host deployment: on a small machine the clients' own CPU time weighs on the HTTP figure. The
queue must outlast the measure: a warning says when it ran dry (raise `--elements`).

The benchmark uses its own database, given by DATABASE_URL (created and migrated if missing), never
the one of a running instance; the process and its tasks are deleted at the end:

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/arkindex_bench python bench/activity_consumption.py
    DATABASE_URL=... python bench/activity_consumption.py --duration 10 --workers 4 --threads 4
    DATABASE_URL=... python bench/activity_consumption.py --history
"""

import multiprocessing
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time

from common import (
    ROOT,
    add_rebuild,
    add_repeat,
    argument_parser,
    bench_user,
    corpus_of_size,
    delete_processes,
    log,
    print_header,
    setup_database,
    vacuum_analyze,
    worker_version,
)

NO_ELEMENT = "00000000-0000-0000-0000-000000000000"


def parse_args():
    parser = argument_parser(__doc__)
    parser.add_argument("--elements", type=int, default=100_000, help="activities in the queue (default 100,000)")
    parser.add_argument("--clients", type=int, default=8, help="concurrent tasks (default 8)")
    parser.add_argument("--duration", type=float, default=20, help="seconds of each measure (default 20)")
    add_repeat(parser, 3)
    parser.add_argument("--workers", type=int, default=4, help="gunicorn worker processes (default 4)")
    parser.add_argument("--threads", type=int, default=2, help="threads per gunicorn worker (default 2)")
    parser.add_argument(
        "--conn-max-age",
        type=int,
        default=60,
        help="DATABASE_CONN_MAX_AGE of the server: 0 opens a database connection per request (default 60)",
    )
    parser.add_argument(
        "--history",
        action="store_true",
        help="first fill the table with the processed activities of an earlier process on the same corpus, "
        "as a table in use holds, ahead of the measured queue",
    )
    add_rebuild(parser)
    return parser.parse_args()


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(args, url, port):
    """gunicorn serving the API on the benchmark database; returns once it answers."""
    import requests

    env = {
        **os.environ,
        "DATABASE_URL": url,
        "DATABASE_CONN_MAX_AGE": str(args.conn_max_age),
        # Nothing measured here enqueues a job; a Redis database of its own all the same.
        "REDIS_URL": os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/12"),
        "LOG_LEVEL": "ERROR",
        # WhiteNoise's warning about collectstatic not having run, once per worker.
        "PYTHONWARNINGS": "ignore::UserWarning",
    }
    env.pop("DEBUG", None)
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "arkindex.wsgi",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(args.workers),
        "--threads",
        str(args.threads),
        "--worker-class",
        "gthread" if args.threads > 1 else "sync",
        "--backlog",
        "256",
        "--log-level",
        "warning",
    ]
    server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            sys.exit(f"gunicorn exited with code {server.returncode}")
        try:
            # Any answer will do (405: the path takes POST): the workers are up.
            requests.get(f"http://127.0.0.1:{port}/api/v1/process/start-activity/", timeout=10)
            return server
        except requests.RequestException:
            time.sleep(0.2)
    stop_server(server)
    sys.exit("gunicorn did not answer within a minute")


def stop_server(server):
    server.terminate()
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


def client(base_url, token, run_id, process_id, start_at, duration, results):
    """One task: take an element, report it processed, until the end of the measure."""
    import requests

    session = requests.Session()
    session.headers["Authorization"] = f"Ponos {token}"
    start_url = f"{base_url}/api/v1/process/start-activity/"
    update_url = f"{base_url}/api/v1/workers/versions/{run_id}/activity/"
    done, errors, drained, last = 0, {}, False, start_at
    time.sleep(max(0, start_at - time.time()))
    end = start_at + duration
    while time.time() < end:
        response = session.post(start_url)
        if response.status_code == 404:
            drained = True
            break
        if response.status_code != 200:
            errors[f"start {response.status_code}"] = errors.get(f"start {response.status_code}", 0) + 1
            continue
        body = {"element_id": response.json()["id"], "process_id": process_id, "state": "processed"}
        response = session.put(update_url, json=body)
        if response.status_code != 200:
            errors[f"update {response.status_code}"] = errors.get(f"update {response.status_code}", 0) + 1
            continue
        done += 1
        last = time.time()
    results.put((done, errors, drained, last))


def run_clients(base_url, tokens, run_id, process_id, duration):
    """All clients at once, from a common start; returns (pairs done, errors, drained, seconds)."""
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    start_at = time.time() + 1.0  # every client forked and waiting before the start
    clients = [
        context.Process(
            target=client, args=(base_url, token, str(run_id), str(process_id), start_at, duration, results)
        )
        for token in tokens
    ]
    for process in clients:
        process.start()
    outcomes = [results.get() for _ in clients]
    for process in clients:
        process.join()
    errors = {}
    for _, client_errors, _, _ in outcomes:
        for key, count in client_errors.items():
            errors[key] = errors.get(key, 0) + count
    elapsed = max(max(last for *_, last in outcomes), start_at + duration) - start_at
    return sum(done for done, *_ in outcomes), errors, any(drained for *_, drained, _ in outcomes), elapsed


def main():
    args = parse_args()
    url = setup_database()

    from django.db import connection, connections, transaction

    from documents.models import Element
    from ponos.models import Task, TaskState
    from processes.activities import activities_initialise
    from processes.models import (
        ActivityState,
        Process,
        ProcessMode,
        WorkerActivity,
        WorkerActivityState,
        WorkerRun,
    )

    corpus, size = corpus_of_size(args.elements, args.rebuild)
    user = bench_user()
    version = worker_version("bench-consumer", "Bench consumer")

    created = []
    if args.history:
        earlier = Process.objects.create(
            corpus=corpus, creator=user, mode=ProcessMode.Workers, name="Bench history", activity_state="pending"
        )
        created.append(earlier.id)
        earlier_run = WorkerRun.objects.create(process=earlier, version=version)
        log(f"Initialising {size:,} activities of an earlier process, then marking them processed")
        activities_initialise(process_id=earlier.id)
        WorkerActivity.objects.filter(worker_run=earlier_run).update(state=WorkerActivityState.Processed)

    process = Process.objects.create(
        corpus=corpus, creator=user, mode=ProcessMode.Workers, name="Bench activities", activity_state="pending"
    )
    created.append(process.id)
    run = WorkerRun.objects.create(process=process, version=version)
    tasks = [
        Task.objects.create(process=process, slug=f"bench-consumer-{index}", state=TaskState.Running, worker_run=run)
        for index in range(args.clients)
    ]
    log(f"Initialising {size:,} activities")
    activities_initialise(process_id=process.id)
    process.refresh_from_db()
    assert process.activity_state == ActivityState.Ready

    activities = WorkerActivity._meta.db_table

    def reset_queue():
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {activities} SET state = %s, started = NULL, updated = now() "
                "WHERE worker_run_id = %s AND state <> %s",
                [WorkerActivityState.Queued, run.id, WorkerActivityState.Queued],
            )
            cursor.execute(f"VACUUM ANALYZE {activities}")

    def processed_count():
        return WorkerActivity.objects.filter(worker_run=run, state=WorkerActivityState.Processed).count()

    # The statements of `processes.activities.start_activity` and `update_activity`, with the values
    # those functions send, in a pgbench script: `\aset` keeps the element taken (none when the
    # queue is momentarily all locked: the update then finds nothing to do, as no request is sent).
    start_sql = f"""
WITH taken AS (
    UPDATE {activities} SET state = '{WorkerActivityState.Started}', started = now(), updated = now()
    WHERE id = (
        SELECT activity.id FROM {activities} AS activity
        WHERE activity.worker_run_id = ANY(ARRAY['{run.id}']::uuid[])
        AND activity.state = '{WorkerActivityState.Queued}'
        AND EXISTS (
            SELECT 1 FROM {Process._meta.db_table}
            WHERE id = '{process.id}' AND activity_state = '{ActivityState.Ready}'
        )
        ORDER BY activity.worker_run_id, activity.id
        LIMIT 1
        FOR UPDATE SKIP LOCKED
    )
    RETURNING element_id
)
SELECT element.id AS element_id, element.type_id, element.name
FROM taken JOIN {Element._meta.db_table} AS element ON element.id = taken.element_id
"""
    script = f"""{start_sql.strip()}
\\aset
UPDATE {activities}
SET state = '{WorkerActivityState.Processed}', updated = now(),
    started = CASE WHEN '{WorkerActivityState.Processed}' = '{WorkerActivityState.Started}' THEN now() ELSE started END
WHERE worker_run_id = '{run.id}' AND element_id = ':element_id'
AND state = ANY(ARRAY['{WorkerActivityState.Started}']);
"""

    def start_plan():
        """How the start statement reads the queue now: (activity scans, rows filtered out, ms)."""
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {start_sql}")
            (explained,) = cursor.fetchone()[0]
            transaction.set_rollback(True)
        scans, removed = [], 0
        nodes = [explained["Plan"]]
        while nodes:
            node = nodes.pop()
            nodes.extend(node.get("Plans", []))
            if node.get("Alias") == "activity":
                scans.append(node.get("Index Name") or node["Node Type"])
                removed += node.get("Rows Removed by Filter", 0)
        return ", ".join(scans), removed, explained["Planning Time"] + explained["Execution Time"]

    script_file = tempfile.NamedTemporaryFile("w", suffix=".sql", prefix="bench_activities_", delete=False)
    script_file.write(script)
    script_file.close()

    def run_pgbench():
        command = [
            "pgbench",
            "-n",
            "-c",
            str(args.clients),
            "-j",
            "2",
            "-T",
            str(int(args.duration)),
            "-D",
            f"element_id={NO_ELEMENT}",
            "-f",
            script_file.name,
            url,
        ]
        start = time.perf_counter()
        result = subprocess.run(command, capture_output=True, text=True)
        elapsed = time.perf_counter() - start
        if result.returncode != 0:
            sys.exit(f"pgbench failed:\n{result.stdout}\n{result.stderr}")
        tps = re.search(r"tps = ([\d.]+) \(without initial connection time\)", result.stdout)
        return elapsed, float(tps.group(1)) if tps else float("nan")

    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    worker_class = f"{args.workers} workers x {args.threads} threads"
    log(f"Starting gunicorn on port {port} ({worker_class}, DATABASE_CONN_MAX_AGE={args.conn_max_age})")
    connections.close_all()  # the clients are forked: no database connection shared with them
    tokens = [task.token for task in tasks]
    http_rates, raw_rates, notes, plans = [], [], [], {}
    server = None
    try:
        server = start_server(args, url, port)
        log("Warming the server up (3 s, not measured)")
        run_clients(base_url, tokens, run.id, process.id, 3)
        reset_queue()
        plans["queue full"] = start_plan()
        for index in range(args.repeat):
            log(f"Round {index + 1}/{args.repeat}: HTTP for {args.duration:g} s")
            reset_queue()
            connections.close_all()
            done, errors, drained, elapsed = run_clients(base_url, tokens, run.id, process.id, args.duration)
            processed = processed_count()
            http_rates.append(processed / elapsed)
            log(
                f"  {processed:,} processed in {elapsed:.1f} s: {processed / elapsed:,.0f}/s "
                f"({done:,} pairs answered 200{', errors: ' + str(errors) if errors else ''})"
            )
            if errors:
                notes.append(f"round {index + 1}: HTTP errors {errors}")
            if drained:
                notes.append(f"round {index + 1}: the queue ran dry during the HTTP measure (raise --elements)")
            plans.setdefault("after HTTP", start_plan())

            log(f"Round {index + 1}/{args.repeat}: pgbench for {int(args.duration)} s")
            reset_queue()
            connections.close_all()
            elapsed, tps = run_pgbench()
            processed = processed_count()
            raw_rates.append(processed / elapsed)
            log(f"  {processed:,} processed in {elapsed:.1f} s: {processed / elapsed:,.0f}/s (pgbench tps {tps:,.0f})")
            if processed >= size:
                notes.append(f"round {index + 1}: the queue ran dry during pgbench (raise --elements)")
            plans.setdefault("after pgbench", start_plan())
    finally:
        if server is not None:
            stop_server(server)
        os.unlink(script_file.name)
        log("Deleting the benchmark's processes")
        delete_processes(created)
        vacuum_analyze(activities)

    http, raw = statistics.median(http_rates), statistics.median(raw_rates)
    print()
    print(
        f"Activity consumption, {args.clients} concurrent tasks of one worker run, queue of {size:,} activities, "
        f"{args.duration:g} s per measure, median of {args.repeat}"
    )
    print_header(f"{'measure':58} {'activities/s':>12} {'runs':>24}")
    runs = ", ".join(f"{rate:,.0f}" for rate in http_rates)
    label = f"HTTP, Start + Update (gunicorn {worker_class})"
    print(f"{label:58} {http:>12,.0f} {runs:>24}")
    runs = ", ".join(f"{rate:,.0f}" for rate in raw_rates)
    print(f"{'pgbench, the same two statements':58} {raw:>12,.0f} {runs:>24}")
    for note in notes:
        print(f"Note: {note}")
    print()
    print("The start statement (EXPLAIN ANALYZE, rolled back): how it reads the queue, rows it reads and drops")
    for moment, (scans, removed, ms) in plans.items():
        print(f"  {moment:14} {scans:40} {removed:>10,} rows filtered out {ms:>8.1f} ms")
    print()
    print(
        f"Summary: over HTTP, {args.clients} tasks process {http:,.0f} activities/s, {http / raw:.2f} of the "
        f"{raw:,.0f}/s pgbench reaches with the same statements (target: at least 0.25)."
    )


if __name__ == "__main__":
    main()
