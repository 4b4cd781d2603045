#!/usr/bin/env python
"""
Deleting the results of a worker run (DestroyWorkerResults) when it wrote 1,000,000 transcriptions:
the deletion job against a raw `DELETE` run by psql.

Builds (once, then reuses) a corpus of `--elements` elements (1,000,000 by default) with set-based
SQL, and a workers process on it with two worker runs, A and B, each of which wrote one
transcription per element (and with `--classifications`, one classification per element too), in
one `INSERT … SELECT` per run and table. Then, `--repeat` times, in alternating order, each from
the same starting point (A's results written again if gone, the tables vacuumed and analysed, a
checkpoint written, so that neither measure pays for the other's writes), A's results are deleted:

- `deletion job`: `processes.jobs.worker_results_delete` with the worker run filter, what the RQ
  worker runs after DestroyWorkerResults answered 204 (run in this process, not by an RQ worker):
  the matching runs in a temporary table, the elements they created, then one statement per result
  table, the entities they found, in one transaction;
- `psql`: the baseline, `DELETE FROM documents_transcription WHERE worker_run_id = A` (and the same
  on classifications), in one `psql` call (one transaction), whose start-up time (`SELECT 1`) is
  measured apart and subtracted.

Each measure checks that A's results are all gone and B's all there. The process and its results
are deleted at the end. The benchmark uses its own database, given by DATABASE_URL (created and
migrated if missing), never the one of a running instance:

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/arkindex_bench python bench/destroy_results.py
    DATABASE_URL=... python bench/destroy_results.py --elements 100000 --classifications --repeat 5
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
    parser.add_argument(
        "--elements", type=int, default=1_000_000, help="size of the corpus: transcriptions per run (default 1,000,000)"
    )
    parser.add_argument(
        "--classifications", action="store_true", help="each run also wrote a classification per element"
    )
    add_repeat(parser, 3)
    add_rebuild(parser)
    return parser.parse_args()


def main():
    args = parse_args()
    url = setup_database()

    from django.db import connection, transaction

    from documents.models import Classification, Element, MLClass, Transcription
    from processes import jobs
    from processes.models import Process, ProcessMode, WorkerRun

    corpus, size = corpus_of_size(args.elements, args.rebuild, progress=True)
    user = bench_user()
    # Two versions of one worker: a process holds one run per (version, model version, configuration).
    versions = [worker_version("bench-results", "Bench results", number) for number in (1, 2)]
    # A finished process (never started: nothing runs), as DestroyWorkerResults requires.
    process = Process.objects.create(corpus=corpus, creator=user, mode=ProcessMode.Workers, name="Bench results")
    run_a = WorkerRun.objects.create(process=process, version=versions[0])
    run_b = WorkerRun.objects.create(process=process, version=versions[1], parents=[run_a.id])
    ml_class, _ = MLClass.objects.get_or_create(corpus=corpus, name="bench")

    transcriptions = Transcription._meta.db_table
    classifications = Classification._meta.db_table
    tables = [transcriptions] + ([classifications] if args.classifications else [])

    def write_results(run):
        """One transcription (and classification) per element of the corpus, signed by `run`."""
        params = {"corpus": str(corpus.id), "run": str(run.id), "class": str(ml_class.id)}
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                f"""
                INSERT INTO {transcriptions}
                    (id, created, updated, text, confidence, orientation, element_id, worker_run_id)
                SELECT gen_random_uuid(), now(), now(), 'Text ' || left(md5(element.id::text), 16), 0.9,
                    'horizontal-lr', element.id, %(run)s
                FROM {Element._meta.db_table} AS element WHERE element.corpus_id = %(corpus)s
                """,
                params,
            )
            if args.classifications:
                cursor.execute(
                    f"""
                    INSERT INTO {classifications}
                        (id, created, updated, element_id, ml_class_id, confidence, high_confidence, state,
                        moderator_id, worker_run_id)
                    SELECT gen_random_uuid(), now(), now(), element.id, %(class)s, 0.9, false, 'pending', NULL,
                        %(run)s
                    FROM {Element._meta.db_table} AS element WHERE element.corpus_id = %(corpus)s
                    """,
                    params,
                )

    def counts(run):
        return [
            Transcription.objects.filter(worker_run=run).count(),
            Classification.objects.filter(worker_run=run).count(),
        ]

    expected = [size, size if args.classifications else 0]

    def prepare():
        """A's and B's results all there, the tables clean, no checkpoint due."""
        if counts(run_a) != expected:
            log(f"  writing A's {size:,} results")
            write_results(run_a)
        with connection.cursor() as cursor:
            for table in tables:
                cursor.execute(f"VACUUM ANALYZE {table}")
            cursor.execute("CHECKPOINT")

    def check_deleted():
        assert counts(run_a) == [0, 0], counts(run_a)
        assert counts(run_b) == expected, counts(run_b)

    raw_sql = "".join(f"DELETE FROM {table} WHERE worker_run_id = '{run_a.id}';" for table in tables)
    psql_startup = psql_startup_ms(url, single_transaction=True)
    deleted_counts = {}

    def measure_job():
        start = time.perf_counter()
        deleted = jobs.worker_results_delete(str(corpus.id), {"worker_run_id": str(run_a.id)})
        elapsed = (time.perf_counter() - start) * 1000
        deleted_counts.update({name: count for name, count in deleted.items() if count})
        check_deleted()
        return elapsed

    def measure_psql():
        elapsed = psql_ms(url, raw_sql, single_transaction=True) - psql_startup
        check_deleted()
        return elapsed

    job_times, psql_times = [], []
    try:
        log(f"Writing B's {size:,} results")
        write_results(run_b)
        alternate(args.repeat, [("deletion job", measure_job, job_times), ("psql", measure_psql, psql_times)], prepare)
    finally:
        log("Deleting the benchmark's results and process")
        with transaction.atomic():
            with connection.cursor() as cursor:
                for table in (transcriptions, classifications):
                    cursor.execute(f"DELETE FROM {table} WHERE worker_run_id IN (%s, %s)", [run_a.id, run_b.id])
            delete_processes([process.id])
        vacuum_analyze(transcriptions, classifications)

    job_ms, raw_ms = statistics.median(job_times), statistics.median(psql_times)
    rows = sum(expected)
    what = f"{size:,} transcriptions" + (f" and {size:,} classifications" if args.classifications else "")
    print()
    print(f"Deleting one worker run's results: {what}, with as many of another run's kept, median of {args.repeat}")
    print_seconds_table(
        rows,
        [
            ("deletion job (worker run filter)", job_ms, job_times),
            (f"psql, {len(tables)} raw DELETE", raw_ms, psql_times),
        ],
    )
    print(f"(psql start-up of {psql_startup:.1f} ms subtracted; the job reported {deleted_counts})")
    print()
    print(
        f"Summary: the deletion job removed {what} in {job_ms / 1000:.1f} s, {job_ms / raw_ms:.2f}x the "
        f"{raw_ms / 1000:.1f} s of a raw DELETE in psql (target: at most 2x)."
    )


if __name__ == "__main__":
    main()
