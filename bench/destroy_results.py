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

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "arkindex.settings")
os.environ.setdefault("ARKINDEX_ALLOW_DEFAULT_SECRET_KEY", "true")
os.environ.setdefault("LOG_LEVEL", "WARNING")


def log(message):
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--elements", type=int, default=1_000_000, help="size of the corpus: transcriptions per run (default 1,000,000)"
    )
    parser.add_argument(
        "--classifications", action="store_true", help="each run also wrote a classification per element"
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs of each measure; the median is shown (default 3)")
    parser.add_argument("--rebuild", action="store_true", help="build a new corpus even if one of that size exists")
    return parser.parse_args()


def ensure_database(url):
    """Create the benchmark database when it does not exist yet."""
    import dj_database_url
    import psycopg2

    config = dj_database_url.parse(url)
    server = psycopg2.connect(
        dbname="postgres",
        user=config["USER"] or None,
        password=config["PASSWORD"] or None,
        host=config["HOST"] or None,
        port=config["PORT"] or None,
    )
    server.autocommit = True
    with server.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [config["NAME"]])
        if cursor.fetchone() is None:
            log(f"Creating database {config['NAME']}")
            cursor.execute(f'CREATE DATABASE "{config["NAME"]}"')
    server.close()


def psql_ms(url, sql):
    """Wall time (ms) of one `psql` call running `sql` (several statements: one transaction)."""
    start = time.perf_counter()
    subprocess.run(
        ["psql", url, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-1", "-c", sql], capture_output=True, text=True, check=True
    )
    return (time.perf_counter() - start) * 1000


def corpus_of_size(total, rebuild):
    """A sample corpus of about `total` elements: reused when one exists, else built."""
    from documents.models import Corpus
    from documents.sample_data import analyze, build_corpus, sizes_for

    folders, pages_per_folder, lines_per_page = sizes_for(total, 10, 1000)
    size = folders + folders * pages_per_folder + folders * pages_per_folder * lines_per_page
    name = f"Bench corpus ({folders} x {pages_per_folder} x {lines_per_page})"
    corpus = None if rebuild else Corpus.objects.filter(name=name).order_by("-created").first()
    if corpus is None:
        log(f"Building {size:,} elements")
        start = time.perf_counter()
        build_corpus(
            name=name,
            folders=folders,
            pages_per_folder=pages_per_folder,
            lines_per_page=lines_per_page,
            progress=lambda step: log(f"  inserting {step}" if step != "commit" else "  committing"),
        )
        analyze()
        log(f"Built in {time.perf_counter() - start:.1f} s")
        corpus = Corpus.objects.filter(name=name).order_by("-created").first()
    else:
        log(f"Reusing {name}; --rebuild for a new one")
    return corpus, size


def main():
    args = parse_args()
    url = os.environ.get("DATABASE_URL")
    if not url:
        sys.exit(
            "Set DATABASE_URL to a database for the benchmark (created if missing), for example "
            "postgres://postgres@127.0.0.1:5432/arkindex_bench"
        )
    ensure_database(url)

    import django

    django.setup()

    from django.core.management import call_command
    from django.db import connection, transaction

    from documents.models import Classification, Element, MLClass, Transcription
    from processes import jobs
    from processes.deletion import PROCESS_DELETION_HOOKS
    from processes.models import Process, ProcessMode, WorkerRun
    from users.models import User
    from workers.models import Worker, WorkerType, WorkerVersion, WorkerVersionState

    log("Applying migrations")
    call_command("migrate", verbosity=0)

    corpus, size = corpus_of_size(args.elements, args.rebuild)
    user, _ = User.objects.get_or_create(email="bench@example.com")
    worker_type, _ = WorkerType.objects.get_or_create(slug="bench", defaults={"display_name": "Bench"})
    worker, _ = Worker.objects.get_or_create(
        slug="bench-results", repository_url=None, defaults={"name": "Bench results", "type": worker_type}
    )
    # Two versions of one worker: a process holds one run per (version, model version, configuration).
    versions = [
        WorkerVersion.objects.get_or_create(
            worker=worker,
            version=number,
            defaults={
                "state": WorkerVersionState.Available,
                "docker_image_iid": f"registry.example.com/bench-results:{number}",
                "configuration": {"docker": {"command": "bench-results"}},
            },
        )[0]
        for number in (1, 2)
    ]
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
    psql_startup = statistics.median(psql_ms(url, "SELECT 1") for _ in range(3))
    deleted_counts = {}

    def measure_job():
        start = time.perf_counter()
        deleted = jobs.worker_results_delete(str(corpus.id), {"worker_run_id": str(run_a.id)})
        elapsed = (time.perf_counter() - start) * 1000
        deleted_counts.update({name: count for name, count in deleted.items() if count})
        check_deleted()
        return elapsed

    def measure_psql():
        elapsed = psql_ms(url, raw_sql) - psql_startup
        check_deleted()
        return elapsed

    job_times, psql_times = [], []
    try:
        log(f"Writing B's {size:,} results")
        write_results(run_b)
        for index in range(args.repeat):
            order = [("deletion job", measure_job, job_times), ("psql", measure_psql, psql_times)]
            if index % 2:
                order.reverse()
            for label, measure, times in order:
                log(f"Round {index + 1}/{args.repeat}: {label}")
                prepare()
                times.append(measure())
                log(f"  {times[-1] / 1000:.1f} s")
    finally:
        log("Deleting the benchmark's results and process")
        with transaction.atomic(), connection.cursor() as cursor:
            for table in (transcriptions, classifications):
                cursor.execute(f"DELETE FROM {table} WHERE worker_run_id IN (%s, %s)", [run_a.id, run_b.id])
            for hook in PROCESS_DELETION_HOOKS:
                hook(cursor, process.id)
            WorkerRun.objects.filter(process=process).delete()
            Process.objects.filter(id=process.id).delete()
        with connection.cursor() as cursor:
            for table in (transcriptions, classifications):
                cursor.execute(f"VACUUM ANALYZE {table}")

    job_ms, raw_ms = statistics.median(job_times), statistics.median(psql_times)
    rows = sum(expected)
    what = f"{size:,} transcriptions" + (f" and {size:,} classifications" if args.classifications else "")
    print()
    print(f"Deleting one worker run's results: {what}, with as many of another run's kept, median of {args.repeat}")
    header = f"{'measure':42} {'median s':>9} {'rows/s':>10} {'runs (s)':>22}"
    print(header)
    print("-" * len(header))
    for label, median, times in (
        ("deletion job (worker run filter)", job_ms, job_times),
        (f"psql, {len(tables)} raw DELETE", raw_ms, psql_times),
    ):
        runs_text = ", ".join(f"{ms / 1000:.1f}" for ms in times)
        print(f"{label:42} {median / 1000:>9.1f} {rows / median * 1000:>10,.0f} {runs_text:>22}")
    print(f"(psql start-up of {psql_startup:.1f} ms subtracted; the job reported {deleted_counts})")
    print()
    print(
        f"Summary: the deletion job removed {what} in {job_ms / 1000:.1f} s, {job_ms / raw_ms:.2f}x the "
        f"{raw_ms / 1000:.1f} s of a raw DELETE in psql (target: at most 2x)."
    )


if __name__ == "__main__":
    main()
