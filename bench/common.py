"""
What the benchmark scripts of this folder share: the Django environment, the benchmark database
(created and migrated if missing), the sample corpora they build with set-based SQL or reuse, the
psql baseline timed with its start-up cost subtracted, the tables they print and their cleanup.

Imported by each script as `common`: a script run as `python bench/<script>.py` has this folder
first on sys.path, and importing this module puts the repository root after it, so that the apps
import as they do in the server. Nothing here imports Django at module level: the scripts set it up
through `setup_database`, once they have parsed their options.
"""

import argparse
import json
import os
import signal
import socket
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


def argument_parser(doc):
    """A parser described by the first paragraph of a script's docstring."""
    return argparse.ArgumentParser(description=doc.split("\n\n")[0])


def add_repeat(parser, default):
    parser.add_argument(
        "--repeat", type=int, default=default, help=f"runs of each measure; the median is shown (default {default})"
    )


def add_rebuild(parser, help_text="build a new corpus even if one of that size exists"):
    parser.add_argument("--rebuild", action="store_true", help=help_text)


def setup_database():
    """
    The benchmark database given by DATABASE_URL, created if missing, Django set up on it and its
    migrations applied; returns its URL, which psql and pgbench take as it is.
    """
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

    log("Applying migrations")
    call_command("migrate", verbosity=0)
    return url


def ensure_database(url):
    """Create the benchmark database when it does not exist yet."""
    import dj_database_url
    import psycopg

    config = dj_database_url.parse(url)
    server = psycopg.connect(
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


def psql_ms(url, sql, single_transaction=False):
    """
    Wall time (ms) of one `psql -c` call running `sql`; with `single_transaction`, its statements
    run in one transaction (`psql -1`).
    """
    command = ["psql", url, "-X", "-q", "-v", "ON_ERROR_STOP=1"] + (["-1"] if single_transaction else [])
    start = time.perf_counter()
    subprocess.run([*command, "-c", sql], capture_output=True, text=True, check=True)
    return (time.perf_counter() - start) * 1000


def psql_server_time(url, sql):
    """Planning + execution time (ms) of one statement run by psql, and the indexes its plan reads."""
    result = subprocess.run(
        ["psql", url, "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}"],
        capture_output=True,
        text=True,
        check=True,
    )
    (explained,) = json.loads(result.stdout)
    return explained["Planning Time"] + explained["Execution Time"], scans(explained["Plan"])


def scans(node):
    """`Index Scan using x` / `Seq Scan on y` for every scan of a plan."""
    found = []
    if "Index Name" in node:
        found.append(node["Index Name"])
    elif node.get("Node Type") == "Seq Scan":
        found.append(f"SEQ SCAN {node['Relation Name']}")
    for child in node.get("Plans", []):
        found.extend(scans(child))
    return found


def median_ms(function, repeat):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def psql_startup_ms(url, single_transaction=False):
    """What a `psql` call costs before its statement runs (median of three `SELECT 1`), to subtract."""
    return statistics.median(psql_ms(url, "SELECT 1", single_transaction) for _ in range(3))


def corpus_shape(total, folders=10, pages_per_folder=1000):
    """
    (folders, pages per folder, lines per page, elements, name) of the sample corpus of about
    `total` elements: the name tells the shape, so that a corpus of that shape is found again.
    """
    from tests.sample_data import sizes_for

    folders, pages_per_folder, lines_per_page = sizes_for(total, folders, pages_per_folder)
    size = folders + folders * pages_per_folder + folders * pages_per_folder * lines_per_page
    name = f"Bench corpus ({folders} x {pages_per_folder} x {lines_per_page})"
    return folders, pages_per_folder, lines_per_page, size, name


def log_build_step(step):
    """`progress` of `tests.sample_data.build_corpus`: each step as it starts."""
    log(f"  inserting {step}" if step != "commit" else "  committing")


def corpus_of_size(total, rebuild, progress=False):
    """
    A sample corpus of about `total` elements: reused when one exists, else built (its steps logged
    with `progress`) and analysed.
    """
    from documents.models import Corpus
    from tests.sample_data import analyze, build_corpus

    folders, pages_per_folder, lines_per_page, size, name = corpus_shape(total)
    corpus = None if rebuild else Corpus.objects.filter(name=name).order_by("-created").first()
    if corpus is None:
        log(f"Building {size:,} elements")
        start = time.perf_counter()
        build_corpus(
            name=name,
            folders=folders,
            pages_per_folder=pages_per_folder,
            lines_per_page=lines_per_page,
            progress=log_build_step if progress else None,
        )
        analyze()
        log(f"Built in {time.perf_counter() - start:.1f} s")
        corpus = Corpus.objects.filter(name=name).order_by("-created").first()
    else:
        log(f"Reusing {name}; --rebuild for a new one")
    return corpus, size


def bench_user():
    from users.models import User

    user, _ = User.objects.get_or_create(email="bench@example.com")
    return user


def api_client(user):
    """An in-process API client authenticated as `user` by a token."""
    from rest_framework.test import APIClient

    from users.models import Token

    token, _ = Token.objects.get_or_create(user=user, name="bench")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


def worker_version(slug, name, number=1):
    """Version `number` of the worker `slug` (type `bench`), available, its image named after it."""
    from workers.models import Worker, WorkerType, WorkerVersion, WorkerVersionState

    worker_type, _ = WorkerType.objects.get_or_create(slug="bench", defaults={"display_name": "Bench"})
    worker, _ = Worker.objects.get_or_create(
        slug=slug, repository_url=None, defaults={"name": name, "type": worker_type}
    )
    version, _ = WorkerVersion.objects.get_or_create(
        worker=worker,
        version=number,
        defaults={
            "state": WorkerVersionState.Available,
            "docker_image_iid": f"registry.example.com/{slug}:{number}",
            "configuration": {"docker": {"command": slug}},
        },
    )
    return version


def alternate(repeat, measures, prepare, detail=""):
    """
    `repeat` rounds of `measures`, (label, function returning ms, list of times) each, in an order
    reversed every other round so that neither always runs right after the other; `prepare()` sets
    the same starting point before each measure. Each time goes to its measure's list.
    """
    for index in range(repeat):
        order = list(measures)
        if index % 2:
            order.reverse()
        for label, measure, times in order:
            log(f"Round {index + 1}/{repeat}: {label}{detail}")
            prepare()
            times.append(measure())
            log(f"  {times[-1] / 1000:.1f} s")


def print_header(header):
    print(header)
    print("-" * len(header))


def print_seconds_table(rows, measures):
    """One line per measure, (label, median ms, times in ms): median seconds, `rows` per second, each run."""
    print_header(f"{'measure':42} {'median s':>9} {'rows/s':>10} {'runs (s)':>22}")
    for label, median, times in measures:
        runs_text = ", ".join(f"{ms / 1000:.1f}" for ms in times)
        print(f"{label:42} {median / 1000:>9.1f} {rows / median * 1000:>10,.0f} {runs_text:>22}")


def delete_processes(process_ids):
    """
    The benchmark's processes deleted as DestroyProcess does: what the apps below clear through
    their deletion hooks (tasks, activities…), then the worker runs and the processes, in one
    transaction (or in the caller's).
    """
    from django.db import connection, transaction

    from processes.models import Process, WorkerRun
    from processes.signals import process_deleting

    with transaction.atomic(), connection.cursor() as cursor:
        for process_id in process_ids:
            process_deleting.send(sender=Process, cursor=cursor, process_id=process_id)
        WorkerRun.objects.filter(process_id__in=process_ids).delete()
        Process.objects.filter(id__in=process_ids).delete()


def vacuum_analyze(*tables):
    """VACUUM ANALYZE each table, out of any transaction."""
    from django.db import connection

    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f"VACUUM ANALYZE {table}")


# The API served as deployments serve it, and a load generator as lean as pgbench's own.


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(args, url, port):
    """
    granian serving the API on the benchmark database, as deployments do (`args.workers` processes of
    `args.threads` threads, connections kept `args.conn_max_age` seconds); returns once it answers.
    """
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
        sys.executable, "-m", "granian", "--interface", "wsgi", "arkindex.wsgi:application", "--no-ws",
        "--host", "127.0.0.1", "--port", str(port), "--workers", str(args.workers),
        "--blocking-threads", str(args.threads), "--log-level", "warning",
    ]  # fmt: skip
    server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            sys.exit(f"granian exited with code {server.returncode}")
        try:
            # Any answer will do (405: the path takes POST): the workers are up.
            requests.get(f"http://127.0.0.1:{port}/api/v1/process/start-activity/", timeout=10)
            return server
        except requests.RequestException:
            time.sleep(0.2)
    stop_server(server)
    sys.exit("granian did not answer within a minute")


def stop_server(server):
    server.terminate()
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


class Connection:
    """
    The load generator's HTTP/1.1 keep-alive connection: a socket, requests written as bytes, answers
    read by their Content-Length. Clients share the machine with the server and PostgreSQL, as
    pgbench's do, so they should cost as little CPU as they can: `http.client` or `requests` took a
    third of what the server's process took.
    """

    def __init__(self, base_url):
        from urllib.parse import urlsplit

        address = urlsplit(base_url)
        self.host = f"{address.hostname}:{address.port}"
        self.socket = socket.create_connection((address.hostname, address.port), timeout=60)
        self.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buffer = b""

    def request(self, method, path, headers, body=b""):
        head = f"{method} {path} HTTP/1.1\r\nHost: {self.host}\r\n{headers}Content-Length: {len(body)}\r\n\r\n"
        self.socket.sendall(head.encode() + body)
        while b"\r\n\r\n" not in self.buffer:
            self.read()
        head, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        length = next((int(line.split(":", 1)[1]) for line in lines if line.lower().startswith("content-length:")), 0)
        while len(self.buffer) < length:
            self.read()
        content, self.buffer = self.buffer[:length], self.buffer[length:]
        return status, content

    def read(self):
        data = self.socket.recv(65536)
        if not data:
            raise ConnectionError("the server closed the connection")
        self.buffer += data

    def close(self):
        self.socket.close()


def start_service(url, *arguments, log_file, env=None):
    """
    A `manage.py` command (an RQ worker, an agent) on the benchmark database, in a process group of
    its own so that `stop_service` stops it with its children (work-horses, tasks).
    """
    service_env = {
        **os.environ,
        "DATABASE_URL": url,
        "LOG_LEVEL": "WARNING",
        "PYTHONWARNINGS": "ignore::UserWarning",
        "PYTHONUNBUFFERED": "1",
        **(env or {}),
    }
    service_env.pop("DEBUG", None)
    return subprocess.Popen(
        [sys.executable, "manage.py", *arguments],
        cwd=ROOT,
        env=service_env,
        stdout=log_file,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def stop_service(process):
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def use_bench_redis(url):
    """
    Point the RQ queues of this process at the benchmark's own Redis database `url` and empty it,
    so that jobs of earlier runs (or of a developer's server) take no part in the measure.
    """
    from django.conf import settings

    for queue in settings.RQ_QUEUES.values():
        queue["URL"] = url
    import django_rq

    connection = django_rq.get_connection("default")
    connection.flushdb()
    return connection
