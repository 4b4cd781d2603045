#!/usr/bin/env python
"""
Consuming worker activities over HTTP: StartWorkerActivity then UpdateWorkerActivity (processed),
by 8 concurrent tasks, against pgbench running the same two statements on the same table.

Builds (once, then reuses) a corpus with set-based SQL (`--elements`, 100,000 by default) and a
workers process on it with one worker run, its activities (one per element, queued) and
`--clients` running tasks of that worker run, each with its own task token. Then, `--repeat`
times, with the queue set back to queued and the table vacuumed before each measure:

- `HTTP`: the API served by granian as deployments serve it (`arkindex.wsgi`: Django, whose
  `ponos.api.activity_views` answer these calls), started here as a subprocess on the benchmark database
  (`--workers` processes of `--threads` threads, persistent database connections of
  `--conn-max-age` seconds), and `--clients` client processes, one per task, each looping for
  `--duration` seconds on `POST /api/v1/process/start-activity/` then
  `PUT /api/v1/workers/versions/<run>/activity/` `{"state": "processed"}` with its `Ponos <token>`
  header, over one kept-alive connection written to and read from a bare socket;
- `pgbench`, the baseline: `pgbench -n -M prepared -c <clients> -j 2 -T <duration>` running the
  very statements the server runs for these calls, as it runs them (prepared once per
  connection): the `UPDATE … WHERE id = (SELECT … FOR UPDATE SKIP LOCKED LIMIT 1) RETURNING`
  joined to the element, then the guarded `UPDATE` to processed, each finding the task by its
  token; as many connections as clients, no HTTP, no Python. A second pgbench run gives the same
  work without the token (worker run and process given) for reference.

Rates are activities processed (counted in the table afterwards) per second of the measure. The
clients, the server, pgbench and PostgreSQL share the machine's cores: on a small machine, what
the load generator costs weighs on the HTTP figure (in a deployment, tasks run on other hosts),
hence a client as lean as pgbench's own. The queue must outlast the measure: a warning says when
it ran dry (raise `--elements`).

The benchmark uses its own database, given by DATABASE_URL (created and migrated if missing), never
the one of a running instance; the process and its tasks are deleted at the end:

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/arkindex_bench python bench/activity_consumption.py
    DATABASE_URL=... python bench/activity_consumption.py --duration 10 --workers 4 --threads 2
    DATABASE_URL=... python bench/activity_consumption.py --history
"""

import multiprocessing
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

from common import (
    Connection,
    add_rebuild,
    add_repeat,
    argument_parser,
    bench_user,
    corpus_of_size,
    delete_processes,
    free_port,
    log,
    print_header,
    setup_database,
    start_server,
    stop_server,
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
    parser.add_argument("--workers", type=int, default=2, help="granian worker processes (default 2)")
    parser.add_argument("--threads", type=int, default=4, help="threads per granian worker (default 4)")
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


def client(base_url, token, run_id, process_id, start_at, duration, results):
    """One task: take an element, report it processed, until the end of the measure."""
    import json

    connection = Connection(base_url)
    headers = f"Authorization: Ponos {token}\r\n"
    json_headers = f"{headers}Content-Type: application/json\r\n"
    start_path = "/api/v1/process/start-activity/"
    update_path = f"/api/v1/workers/versions/{run_id}/activity/"
    done, errors, drained, last = 0, {}, False, start_at
    time.sleep(max(0, start_at - time.time()))
    end = start_at + duration
    while time.time() < end:
        status, content = connection.request("POST", start_path, headers)
        if status == 404:
            drained = True
            break
        if status != 200:
            errors[f"start {status}"] = errors.get(f"start {status}", 0) + 1
            continue
        body = json.dumps({"element_id": json.loads(content)["id"], "process_id": process_id, "state": "processed"})
        status, _ = connection.request("PUT", update_path, json_headers, body.encode())
        if status != 200:
            errors[f"update {status}"] = errors.get(f"update {status}", 0) + 1
            continue
        done += 1
        last = time.time()
    connection.close()
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

    from ponos.models import Task, TaskState
    from processes.models import (
        ActivityState,
        Process,
        ProcessMode,
        WorkerActivity,
        WorkerActivityState,
        WorkerRun,
    )
    from processes.services.activities import activities_initialise

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

    # The statements the server runs for each call of a task (ponos.api.activity_views: the token
    # checked, the activity taken or moved), as the server runs them: prepared once per connection
    # (`-M prepared`). `\aset` keeps the element taken in `:id`; when the queue is momentarily all
    # locked it keeps the previous one, whose update then changes nothing, as no request is sent.
    # The bare variant is the same work without the token: the worker run and process given.
    from arkindex.prepared import Statement
    from ponos.api.activity_views import START, UPDATE
    from processes.services.activities import READY_RUN_SQL, start_sql, update_sql

    bare_start = Statement(start_sql(READY_RUN_SQL, "SELECT %(task)s::uuid"))
    bare_update = Statement(update_sql("SELECT %(run)s::uuid", "SELECT %(task)s::uuid"))
    scripts = {}
    for variant, (start, update) in {"server": (START, UPDATE), "bare": (bare_start, bare_update)}.items():
        script_file = tempfile.NamedTemporaryFile(
            "w", suffix=".sql", prefix=f"bench_activities_{variant}_", delete=False
        )
        script_file.write(
            f"{start.pgbench_sql().strip()}\n\\aset\n{update.pgbench_sql().strip().replace(':element', ':id')};\n"
        )
        script_file.close()
        scripts[variant] = script_file.name
    variables = {
        "id": NO_ELEMENT,
        "token": tasks[0].token,
        "task": tasks[0].id,
        "run": run.id,
        "process": process.id,
        "state": WorkerActivityState.Processed,
        "allowed": "{" + WorkerActivityState.Started + "}",
    }

    def start_plan():
        """
        How the server's start statement reads the queue now, with the generic plan a connection
        ends up with: (activity scans, rows filtered out, ms), rolled back.
        """
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL plan_cache_mode = force_generic_plan")
            numbered, _ = START.numbered()
            cursor.execute(f"PREPARE bench_start AS {numbered}".replace("%", "%%"))
            cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) EXECUTE bench_start(%s)", [tasks[0].token])
            (explained,) = cursor.fetchone()[0]
            cursor.execute("DEALLOCATE bench_start")
            transaction.set_rollback(True)
        scans, removed = [], 0
        nodes = [explained["Plan"]]
        while nodes:
            node = nodes.pop()
            nodes.extend(node.get("Plans", []))
            if node.get("Alias") == "activity":
                scans.append(node.get("Index Name") or node["Node Type"])
                removed += node.get("Rows Removed by Filter", 0)
        return ", ".join(scans), removed, explained.get("Planning Time", 0) + explained["Execution Time"]

    def run_pgbench(variant):
        command = ["pgbench", "-n", "-M", "prepared", "-c", str(args.clients), "-j", "2", "-T", str(int(args.duration))]
        for name, value in variables.items():
            command += ["-D", f"{name}={value}"]
        command += ["-f", scripts[variant], url]
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
    log(f"Starting granian on port {port} ({worker_class}, DATABASE_CONN_MAX_AGE={args.conn_max_age})")
    connections.close_all()  # the clients are forked: no database connection shared with them
    tokens = [task.token for task in tasks]
    http_rates, notes, plans = [], [], {}
    raw_rates = {"server": [], "bare": []}
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

            for variant in ("server", "bare"):
                log(f"Round {index + 1}/{args.repeat}: pgbench ({variant} statements) for {int(args.duration)} s")
                reset_queue()
                connections.close_all()
                elapsed, tps = run_pgbench(variant)
                processed = processed_count()
                raw_rates[variant].append(processed / elapsed)
                log(
                    f"  {processed:,} processed in {elapsed:.1f} s: {processed / elapsed:,.0f}/s "
                    f"(pgbench tps {tps:,.0f})"
                )
                if processed >= size:
                    notes.append(f"round {index + 1}: the queue ran dry during pgbench (raise --elements)")
            plans.setdefault("after pgbench", start_plan())
    finally:
        if server is not None:
            stop_server(server)
        for script in scripts.values():
            os.unlink(script)
        log("Deleting the benchmark's processes")
        delete_processes(created)
        vacuum_analyze(activities)

    http = statistics.median(http_rates)
    raw, bare = (statistics.median(raw_rates[variant]) for variant in ("server", "bare"))
    print()
    print(
        f"Activity consumption, {args.clients} concurrent tasks of one worker run, queue of {size:,} activities, "
        f"{args.duration:g} s per measure, median of {args.repeat}"
    )
    print_header(f"{'measure':62} {'activities/s':>12} {'runs':>20}")
    rows = [
        (f"HTTP, Start + Update (granian {worker_class})", http, http_rates),
        ("pgbench -M prepared, the server's two statements", raw, raw_rates["server"]),
        ("pgbench -M prepared, the same without the token check", bare, raw_rates["bare"]),
    ]
    for label, median, runs in rows:
        print(f"{label:62} {median:>12,.0f} {', '.join(f'{rate:,.0f}' for rate in runs):>20}")
    for note in notes:
        print(f"Note: {note}")
    print()
    print("The server's start statement, generic plan (EXPLAIN ANALYZE, rolled back): how it reads the queue")
    for moment, (scans, removed, ms) in plans.items():
        print(f"  {moment:14} {scans:40} {removed:>10,} rows filtered out {ms:>8.1f} ms")
    print()
    print(
        f"Summary: over HTTP, {args.clients} tasks process {http:,.0f} activities/s, {http / raw:.2f} of the "
        f"{raw:,.0f}/s pgbench reaches with the server's statements (target: at least 0.30), "
        f"{http / bare:.2f} of the {bare:,.0f}/s of the same without the token check."
    )


if __name__ == "__main__":
    main()
