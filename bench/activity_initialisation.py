#!/usr/bin/env python
"""
Initialising the worker activities of a process of 1,000,000 elements: the activity job against
the same `INSERT … SELECT` written by hand and run by psql.

Builds (once, then reuses) a corpus of `--elements` elements (1,000,000 by default; folders ⊃
pages ⊃ lines, with their paths) with set-based SQL, and a workers process on the whole corpus
with `--runs` worker runs (1 by default: one activity per element). Then, `--repeat` times, in
alternating order, from the same starting point (the process's activities deleted, the table
vacuumed and analysed, a checkpoint written, so that neither measure pays for the other's WAL):

- `activity job`: `processes.jobs.initialise_activities`, what the RQ worker runs after
  StartProcess: one `INSERT … SELECT` per worker run from the process's element queryset, `ON
  CONFLICT DO NOTHING`, then the process marked ready; run in this process, not by an RQ worker;
- `psql`: the baseline, one hand-written `INSERT … SELECT` per worker run from the corpus's
  elements, with the same conflict clause, in one `psql` call (one transaction), whose start-up
  time (`SELECT 1`) is measured apart and subtracted.

Both write the same rows, with the same indexes and foreign keys to check. The process is
deleted at the end. The benchmark uses its own database, given by DATABASE_URL (created and
migrated if missing), never the one of a running instance:

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/arkindex_bench python bench/activity_initialisation.py
    DATABASE_URL=... python bench/activity_initialisation.py --elements 100000 --runs 3 --repeat 5
"""

import statistics
import time

from common import (
    add_rebuild,
    add_repeat,
    alternate,
    argument_parser,
    bench_user,
    corpus_of_size,
    delete_processes,
    log,
    print_seconds_table,
    psql_ms,
    psql_startup_ms,
    setup_database,
    vacuum_analyze,
    worker_version,
)


def parse_args():
    parser = argument_parser(__doc__)
    parser.add_argument("--elements", type=int, default=1_000_000, help="size of the corpus (default 1,000,000)")
    parser.add_argument("--runs", type=int, default=1, help="worker runs of the process (default 1)")
    add_repeat(parser, 3)
    add_rebuild(parser)
    return parser.parse_args()


def main():
    args = parse_args()
    url = setup_database()

    from django.db import connection

    from documents.models import Element
    from processes import jobs
    from processes.models import ActivityState, Process, ProcessMode, WorkerActivity, WorkerRun

    corpus, size = corpus_of_size(args.elements, args.rebuild, progress=True)
    user = bench_user()
    process = Process.objects.create(
        corpus=corpus,
        creator=user,
        mode=ProcessMode.Workers,
        name="Bench activity initialisation",
        activity_state=ActivityState.Pending,
    )
    runs = []
    for number in range(1, args.runs + 1):
        # One version per run: a process holds each (version, model version, configuration) once.
        version = worker_version("bench-initialisation", "Bench init", number=number)
        runs.append(WorkerRun.objects.create(process=process, version=version, parents=[run.id for run in runs]))
    expected = args.runs * size

    activities = WorkerActivity._meta.db_table

    def reset():
        with connection.cursor() as cursor:
            cursor.execute(f"DELETE FROM {activities} WHERE process_id = %s", [process.id])
            cursor.execute(f"VACUUM ANALYZE {activities}")
            cursor.execute("CHECKPOINT")
        Process.objects.filter(id=process.id).update(activity_state=ActivityState.Pending)

    raw_sql = "".join(
        f"""
        INSERT INTO {activities} (process_id, worker_run_id, element_id, state, created, updated)
        SELECT '{process.id}', '{run.id}', element.id, 'queued', now(), now()
        FROM {Element._meta.db_table} AS element
        WHERE element.corpus_id = '{corpus.id}'
        ON CONFLICT (worker_run_id, element_id) DO NOTHING;
        """
        for run in runs
    )
    psql_startup = psql_startup_ms(url, single_transaction=True)

    def measure_job():
        start = time.perf_counter()
        created = jobs.initialise_activities(str(process.id))
        elapsed = (time.perf_counter() - start) * 1000
        assert created == expected, (created, expected)
        assert Process.objects.get(id=process.id).activity_state == ActivityState.Ready
        return elapsed

    def measure_psql():
        elapsed = psql_ms(url, raw_sql, single_transaction=True) - psql_startup
        assert WorkerActivity.objects.filter(process_id=process.id).count() == expected
        return elapsed

    job_times, psql_times = [], []
    try:
        alternate(
            args.repeat,
            [("job", measure_job, job_times), ("psql", measure_psql, psql_times)],
            reset,
            detail=f", {expected:,} activities",
        )
    finally:
        log("Deleting the benchmark's process")
        delete_processes([process.id])
        vacuum_analyze(activities)

    job_ms, raw_ms = statistics.median(job_times), statistics.median(psql_times)
    print()
    print(
        f"Activity initialisation, {expected:,} activities ({args.runs} worker run(s) x {size:,} elements), "
        f"median of {args.repeat}"
    )
    print_seconds_table(
        expected,
        [
            (f"activity job ({args.runs} INSERT … SELECT)", job_ms, job_times),
            (f"psql, {args.runs} hand-written INSERT … SELECT", raw_ms, psql_times),
        ],
    )
    print(f"(psql start-up of {psql_startup:.1f} ms subtracted)")
    print()
    print(
        f"Summary: the activity job wrote {expected:,} activities in {job_ms / 1000:.1f} s, "
        f"{job_ms / raw_ms:.2f}x the {raw_ms / 1000:.1f} s of the same INSERT … SELECT in psql (target: at most 1.5x)."
    )


if __name__ == "__main__":
    main()
