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
    parser.add_argument("--elements", type=int, default=1_000_000, help="size of the corpus (default 1,000,000)")
    parser.add_argument("--runs", type=int, default=1, help="worker runs of the process (default 1)")
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

    from documents.models import Element
    from processes import jobs
    from processes.deletion import PROCESS_DELETION_HOOKS
    from processes.models import ActivityState, Process, ProcessMode, WorkerActivity, WorkerRun
    from users.models import User
    from workers.models import Worker, WorkerType, WorkerVersion, WorkerVersionState

    log("Applying migrations")
    call_command("migrate", verbosity=0)

    corpus, size = corpus_of_size(args.elements, args.rebuild)
    user, _ = User.objects.get_or_create(email="bench@example.com")
    worker_type, _ = WorkerType.objects.get_or_create(slug="bench", defaults={"display_name": "Bench"})
    worker, _ = Worker.objects.get_or_create(
        slug="bench-initialisation", repository_url=None, defaults={"name": "Bench init", "type": worker_type}
    )
    version, _ = WorkerVersion.objects.get_or_create(
        worker=worker,
        version=1,
        defaults={
            "state": WorkerVersionState.Available,
            "docker_image_iid": "registry.example.com/bench-initialisation:1",
            "configuration": {"docker": {"command": "bench-initialisation"}},
        },
    )
    process = Process.objects.create(
        corpus=corpus,
        creator=user,
        mode=ProcessMode.Workers,
        name="Bench activity initialisation",
        activity_state=ActivityState.Pending,
    )
    runs = []
    for _ in range(args.runs):
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
    psql_startup = statistics.median(psql_ms(url, "SELECT 1") for _ in range(3))

    def measure_job():
        start = time.perf_counter()
        created = jobs.initialise_activities(str(process.id))
        elapsed = (time.perf_counter() - start) * 1000
        assert created == expected, (created, expected)
        assert Process.objects.get(id=process.id).activity_state == ActivityState.Ready
        return elapsed

    def measure_psql():
        elapsed = psql_ms(url, raw_sql) - psql_startup
        assert WorkerActivity.objects.filter(process_id=process.id).count() == expected
        return elapsed

    job_times, psql_times = [], []
    try:
        for index in range(args.repeat):
            order = [("job", measure_job, job_times), ("psql", measure_psql, psql_times)]
            if index % 2:
                order.reverse()
            for label, measure, times in order:
                log(f"Round {index + 1}/{args.repeat}: {label}, {expected:,} activities")
                reset()
                times.append(measure())
                log(f"  {times[-1] / 1000:.1f} s")
    finally:
        log("Deleting the benchmark's process")
        with transaction.atomic(), connection.cursor() as cursor:
            for hook in PROCESS_DELETION_HOOKS:
                hook(cursor, process.id)
            WorkerRun.objects.filter(process=process).delete()
            Process.objects.filter(id=process.id).delete()
        with connection.cursor() as cursor:
            cursor.execute(f"VACUUM ANALYZE {activities}")

    job_ms, raw_ms = statistics.median(job_times), statistics.median(psql_times)
    print()
    print(
        f"Activity initialisation, {expected:,} activities ({args.runs} worker run(s) x {size:,} elements), "
        f"median of {args.repeat}"
    )
    header = f"{'measure':42} {'median s':>9} {'rows/s':>10} {'runs (s)':>22}"
    print(header)
    print("-" * len(header))
    for label, median, times in (
        (f"activity job ({args.runs} INSERT … SELECT)", job_ms, job_times),
        (f"psql, {args.runs} hand-written INSERT … SELECT", raw_ms, psql_times),
    ):
        runs_text = ", ".join(f"{ms / 1000:.1f}" for ms in times)
        print(f"{label:42} {median / 1000:>9.1f} {expected / median * 1000:>10,.0f} {runs_text:>22}")
    print(f"(psql start-up of {psql_startup:.1f} ms subtracted)")
    print()
    print(
        f"Summary: the activity job wrote {expected:,} activities in {job_ms / 1000:.1f} s, "
        f"{job_ms / raw_ms:.2f}x the {raw_ms / 1000:.1f} s of the same INSERT … SELECT in psql (target: at most 1.5x)."
    )


if __name__ == "__main__":
    main()
