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

BASELINE_ELEMENTS = 10


def log(message):
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--elements", type=int, default=100_000, help="size of the large corpus (default 100,000)")
    parser.add_argument("--repeat", type=int, default=5, help="runs of each measure; the median is shown (default 5)")
    parser.add_argument("--rebuild", action="store_true", help="build new corpora even if ones of that size exist")
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
    """Wall time (ms) of one `psql -c` call running `sql`."""
    start = time.perf_counter()
    subprocess.run(
        ["psql", url, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-c", sql], capture_output=True, text=True, check=True
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
        build_corpus(name=name, folders=folders, pages_per_folder=pages_per_folder, lines_per_page=lines_per_page)
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

    from django.contrib.contenttypes.models import ContentType
    from django.core.management import call_command
    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext
    from rest_framework.test import APIClient

    from documents.models import Corpus
    from ponos import services as ponos_services
    from processes import jobs
    from processes.deletion import PROCESS_DELETION_HOOKS
    from processes.models import ActivityState, Process, ProcessMode, WorkerActivity, WorkerRun
    from users.models import Right, Role, Token, User
    from workers.models import Worker, WorkerType, WorkerVersion, WorkerVersionState

    log("Applying migrations")
    call_command("migrate", verbosity=0)

    large, large_size = corpus_of_size(args.elements, args.rebuild)
    baseline, baseline_size = corpus_of_size(BASELINE_ELEMENTS, args.rebuild)

    user, _ = User.objects.get_or_create(email="bench@example.com")
    for corpus in (large, baseline):
        Right.objects.get_or_create(
            content_type=ContentType.objects.get_for_model(Corpus),
            object_id=corpus.id,
            user=user,
            defaults={"level": Role.CONTRIBUTOR},
        )
    token, _ = Token.objects.get_or_create(user=user, name="bench")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")

    worker_type, _ = WorkerType.objects.get_or_create(slug="bench", defaults={"display_name": "Bench"})
    versions = []
    for slug in ("a", "b", "c"):
        worker, _ = Worker.objects.get_or_create(
            slug=f"bench-{slug}", repository_url=None, defaults={"name": f"Bench {slug}", "type": worker_type}
        )
        version, _ = WorkerVersion.objects.get_or_create(
            worker=worker,
            version=1,
            defaults={
                "state": WorkerVersionState.Available,
                "docker_image_iid": f"registry.example.com/bench-{slug}:1",
                "configuration": {"docker": {"command": f"bench-{slug}"}},
            },
        )
        versions.append(version)

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
    psql_startup = statistics.median(psql_ms(url, "SELECT 1") for _ in range(3))

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
    with transaction.atomic(), connection.cursor() as cursor:
        for process_id in created:
            for hook in PROCESS_DELETION_HOOKS:
                hook(cursor, process_id)
        WorkerRun.objects.filter(process_id__in=created).delete()
        Process.objects.filter(id__in=created).delete()
    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM ANALYZE {activities}")

    print()
    print(f"StartProcess, three worker runs (A; B after A; C after A and B), median of {args.repeat} runs")
    header = f"{'corpus':10} {'elements':>10} {'queries':>8} {'median ms':>10} {'max ms':>8}"
    print(header)
    print("-" * len(header))
    for label, (size, counts, median, worst) in start_results.items():
        queries = ", ".join(str(count) for count in sorted(counts))
        print(f"{label:10} {size:>10,} {queries:>8} {median:>10.1f} {worst:>8.1f}")
    print()
    job_ms, raw_ms = statistics.median(job_times), statistics.median(psql_times)
    print(f"Activity initialisation, {expected:,} activities (3 worker runs x {large_size:,} elements)")
    header = f"{'measure':34} {'median ms':>10} {'rows/s':>12}"
    print(header)
    print("-" * len(header))
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
