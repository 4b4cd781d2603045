#!/usr/bin/env python
"""
Starting a process of 100,000 elements: StartProcess against a 10-element baseline, then the
worker activity initialisation job against the same work done by one raw `INSERT … SELECT` in psql.

Builds (once, then reuses) two corpora with set-based SQL, folders ⊃ pages ⊃ lines: a large one
(`--elements`, 100,000 by default) and a baseline of 10 elements. For each, `--repeat` fresh
workers processes on the whole corpus, each with three worker runs A, B (after A) and C (after A
and B) and worker activities on, are started through the API in-process (Django test client, token
authentication), and the following are measured:

- `StartProcess`: the queries it runs (`CaptureQueriesContext`) and its wall time. It never reads
  the elements, so both must be the same for 10 and for 100,000 elements, and well under a second;
- `activity job`: `processes.jobs.initialise_activities` on the large process (one activity per
  worker run and element: 3 x elements rows), run in this process rather than by an RQ worker;
- `psql`: the baseline, the same rows written by one hand-written `INSERT … SELECT` (all worker
  runs at once, `ON CONFLICT DO NOTHING`), in one `psql` call, whose start-up time (`SELECT 1`) is
  measured apart and subtracted.

Activities are deleted (and the table vacuumed) between measures. The activity job that
StartProcess enqueues after its commit is recorded instead of being sent to Redis, so that the
benchmark needs no Redis and never feeds an RQ worker of another instance. The processes it creates
are deleted at the end. It uses its own database, given by DATABASE_URL (created and migrated if
missing), never the one of a running instance:

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/arkindex_bench python bench/start_process.py
    DATABASE_URL=... python bench/start_process.py --elements 20000 --repeat 3
"""

import statistics
import time

from common import (
    add_rebuild,
    add_repeat,
    api_client,
    argument_parser,
    bench_user,
    corpus_of_size,
    delete_processes,
    log,
    print_header,
    psql_ms,
    psql_startup_ms,
    setup_database,
    vacuum_analyze,
    worker_version,
)

BASELINE_ELEMENTS = 10


def parse_args():
    parser = argument_parser(__doc__)
    parser.add_argument("--elements", type=int, default=100_000, help="size of the large corpus (default 100,000)")
    add_repeat(parser, 5)
    add_rebuild(parser, "build new corpora even if ones of that size exist")
    return parser.parse_args()


def main():
    args = parse_args()
    url = setup_database()

    from django.contrib.contenttypes.models import ContentType
    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext

    from documents.models import Corpus
    from ponos import services as ponos_services
    from processes import jobs
    from processes.models import ActivityState, Process, ProcessMode, WorkerActivity, WorkerRun
    from users.models import Right, Role

    large, large_size = corpus_of_size(args.elements, args.rebuild)
    baseline, baseline_size = corpus_of_size(BASELINE_ELEMENTS, args.rebuild)

    user = bench_user()
    for corpus in (large, baseline):
        # Contributors start processes; the other benchmarks may have made the same user a guest only.
        Right.objects.update_or_create(
            content_type=ContentType.objects.get_for_model(Corpus),
            object_id=corpus.id,
            user=user,
            defaults={"level": Role.CONTRIBUTOR},
        )
    client = api_client(user)

    versions = [worker_version(f"bench-{slug}", f"Bench {slug}") for slug in ("a", "b", "c")]

    # The job StartProcess enqueues after its commit is recorded here instead of going to Redis.
    enqueued = []
    ponos_services.enqueue_on_commit = lambda func, *a, **kw: transaction.on_commit(
        lambda: enqueued.append((func, a, kw))
    )

    created = []

    def new_process(corpus):
        process = Process.objects.create(
            corpus=corpus,
            creator=user,
            mode=ProcessMode.Workers,
            name="Bench start",
            activity_state=ActivityState.Ready,  # activities on
        )
        a = WorkerRun.objects.create(process=process, version=versions[0])
        b = WorkerRun.objects.create(process=process, version=versions[1], parents=[a.id])
        WorkerRun.objects.create(process=process, version=versions[2], parents=[a.id, b.id])
        created.append(process.id)
        return process

    def measure_start(corpus):
        process = new_process(corpus)
        with CaptureQueriesContext(connection) as captured:
            start = time.perf_counter()
            response = client.post(f"/api/v1/process/{process.id}/start/", HTTP_HOST="localhost")
            elapsed = (time.perf_counter() - start) * 1000
        assert response.status_code == 200, response.content[:1000]
        return process, len(captured.captured_queries), elapsed

    # Warm what a running server has warm (content types, the token's last use, the code paths).
    measure_start(baseline)

    start_results = {}
    large_processes = []
    for label, corpus, size in (("baseline", baseline, baseline_size), ("large", large, large_size)):
        log(f"Starting {args.repeat} processes on {size:,} elements")
        counts, times = set(), []
        for _ in range(args.repeat):
            process, queries, elapsed = measure_start(corpus)
            counts.add(queries)
            times.append(elapsed)
            if label == "large":
                large_processes.append(process)
        start_results[label] = (size, counts, statistics.median(times), max(times))
    assert enqueued, "StartProcess enqueued no activity job"

    activities = WorkerActivity._meta.db_table
    process = large_processes[0]
    expected = 3 * large_size

    def reset_activities():
        with connection.cursor() as cursor:
            cursor.execute(f"DELETE FROM {activities} WHERE process_id = %s", [process.id])
            cursor.execute(f"VACUUM ANALYZE {activities}")
        Process.objects.filter(id=process.id).update(activity_state=ActivityState.Pending)

    raw_sql = f"""
        INSERT INTO {activities} (process_id, worker_run_id, element_id, state, created, updated)
        SELECT '{process.id}', run.id, element.id, 'queued', now(), now()
        FROM documents_element AS element, {WorkerRun._meta.db_table} AS run
        WHERE element.corpus_id = '{large.id}' AND run.process_id = '{process.id}'
        ON CONFLICT (worker_run_id, element_id) DO NOTHING
    """
    psql_startup = psql_startup_ms(url)

    job_times, psql_times = [], []
    for index in range(args.repeat):
        log(f"Activity initialisation {index + 1}/{args.repeat}: job, then psql")
        reset_activities()
        start = time.perf_counter()
        created_rows = jobs.initialise_activities(str(process.id))
        job_times.append((time.perf_counter() - start) * 1000)
        assert created_rows == expected, (created_rows, expected)
        assert Process.objects.get(id=process.id).activity_state == ActivityState.Ready

        reset_activities()
        psql_times.append(psql_ms(url, raw_sql) - psql_startup)
        assert WorkerActivity.objects.filter(process_id=process.id).count() == expected

    log("Deleting the benchmark's processes")
    delete_processes(created)
    vacuum_analyze(activities)

    print()
    print(f"StartProcess, three worker runs (A; B after A; C after A and B), median of {args.repeat} runs")
    print_header(f"{'corpus':10} {'elements':>10} {'queries':>8} {'median ms':>10} {'max ms':>8}")
    for label, (size, counts, median, worst) in start_results.items():
        queries = ", ".join(str(count) for count in sorted(counts))
        print(f"{label:10} {size:>10,} {queries:>8} {median:>10.1f} {worst:>8.1f}")
    print()
    job_ms, raw_ms = statistics.median(job_times), statistics.median(psql_times)
    print(f"Activity initialisation, {expected:,} activities (3 worker runs x {large_size:,} elements)")
    print_header(f"{'measure':34} {'median ms':>10} {'rows/s':>12}")
    print(f"{'activity job (3 INSERT … SELECT)':34} {job_ms:>10.1f} {expected / job_ms * 1000:>12,.0f}")
    print(f"{'psql, one INSERT … SELECT':34} {raw_ms:>10.1f} {expected / raw_ms * 1000:>12,.0f}")
    print(f"(psql start-up of {psql_startup:.1f} ms subtracted)")

    large_counts, baseline_counts = start_results["large"][1], start_results["baseline"][1]
    same_queries = large_counts == baseline_counts and len(large_counts) == 1
    print()
    print(
        f"Summary: StartProcess ran {', '.join(map(str, sorted(large_counts)))} queries on {large_size:,} elements "
        f"and {', '.join(map(str, sorted(baseline_counts)))} on {baseline_size} "
        f"({'the same' if same_queries else 'NOT the same'}), {start_results['large'][2]:.1f} ms against "
        f"{start_results['baseline'][2]:.1f} ms (slowest {start_results['large'][3]:.1f} ms"
        f"{', under a second' if start_results['large'][3] < 1000 else ', OVER A SECOND'}). The activity job "
        f"took {job_ms / raw_ms:.2f}x the time of the raw statement in psql."
    )


if __name__ == "__main__":
    main()
