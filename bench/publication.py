#!/usr/bin/env python
"""
Publishing worker results over HTTP, against pgbench inserting the same rows in the same run.

For each bulk operation a worker uses, with `--items` items per call (50 by default):

- `HTTP`: the API served by granian as deployments serve it (`arkindex.wsgi`, `--workers` processes
  of `--threads` threads), and `--clients`
  client processes, each a running task calling with its own `Ponos` token over one kept-alive
  connection (a bare socket, as lean as pgbench's own client) for `--duration` seconds, every call
  a new body of `--items` results signed by the task's worker run;
- `pgbench`: `pgbench -n -M prepared -c <clients> -j 2 -T <duration>` running, per call, the
  INSERT statements that write the same rows into the same tables (one statement per table, the
  rows made by `generate_series`), without HTTP, Python or checks.

Rates are rows of results (transcriptions, elements, classifications, metadata, transcription
entities) per second, counted in the tables afterwards. Each round measures HTTP then pgbench, one
right after the other; the ratio printed is the median of the rounds' ratios (HTTP over pgbench),
so that a machine whose speed drifts between rounds (commits wait on the disk) compares each HTTP
measure with its neighbour, and the rates printed are the medians of each side. Both share
the machine's cores with PostgreSQL, as in `bench/activity_consumption.py`.

The operations: CreateTranscriptions (one per element, on `--items` pages), CreateElements
(children with polygons on a page's image), CreateElementTranscriptions (child lines with their
transcriptions), CreateClassifications (`--items` ML classes on a page), CreateMetaDataBulk and
CreateTranscriptionEntities (`--items` entities in a page's transcription).

Before measuring, every page gets a person's results (a classification, a metadata, an entity), so
that the planner sees tables of a deployment's shape on both sides; each measure starts from
tables emptied of the previous measure's rows, vacuumed and analyzed.

The benchmark uses its own database, given by DATABASE_URL (created and migrated if missing); the
corpus it builds is deleted at the end:

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/arkindex_bench python bench/publication.py
    DATABASE_URL=... python bench/publication.py --operations CreateTranscriptions --duration 5
"""

import json
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import time

from common import (
    Connection,
    add_repeat,
    argument_parser,
    bench_user,
    free_port,
    log,
    print_header,
    setup_database,
    start_server,
    stop_server,
    worker_version,
)

OPERATIONS = (
    "CreateTranscriptions",
    "CreateElements",
    "CreateElementTranscriptions",
    "CreateClassifications",
    "CreateMetaDataBulk",
    "CreateTranscriptionEntities",
)
IMAGE_SIZE = 100_000
TEXT = "Lorem ipsum dolor sit amet " * 40


def parse_args():
    parser = argument_parser(__doc__)
    parser.add_argument("--items", type=int, default=50, help="items per call (default 50)")
    parser.add_argument("--clients", type=int, default=4, help="concurrent tasks (default 4)")
    parser.add_argument("--duration", type=float, default=10, help="seconds of each measure (default 10)")
    parser.add_argument("--pages", type=int, default=20_000, help="pages to publish on (default 20,000)")
    # As many processes as clients: the kernel spreads the kept-alive connections over the processes
    # as it likes, and with two processes three of four clients often share one interpreter lock,
    # which made the figure depend on that draw (from 0.18 to 0.26 between rounds).
    parser.add_argument("--workers", type=int, default=4, help="granian worker processes (default 4)")
    parser.add_argument("--threads", type=int, default=2, help="threads per granian worker (default 2)")
    parser.add_argument("--conn-max-age", type=int, default=60, help="DATABASE_CONN_MAX_AGE of the server")
    parser.add_argument("--operations", nargs="+", choices=OPERATIONS, default=OPERATIONS)
    add_repeat(parser, 1)
    return parser.parse_args()


def body(operation, ids, call, items):
    """(path, JSON body) of call number `call` of a client publishing on its own pages `ids`."""
    page = ids["pages"][call % len(ids["pages"])]
    run = ids["run"]
    if operation == "CreateTranscriptions":
        start = (call * items) % (len(ids["pages"]) - items)
        transcriptions = [
            {"element_id": element, "text": f"line {call} {n}", "confidence": 0.5}
            for n, element in enumerate(ids["pages"][start : start + items])
        ]
        return "/api/v1/transcription/bulk/", {"worker_run_id": run, "transcriptions": transcriptions}
    # Polygons unique to the call: children of the same type and polygon are reused, not created.
    x = (call * 7) % (IMAGE_SIZE - 1000)
    polygons = [[[x, n * 10], [x + 50, n * 10], [x + 50, n * 10 + 9], [x, n * 10 + 9]] for n in range(items)]
    if operation == "CreateElements":
        elements = [{"name": str(n), "type": "line", "polygon": polygon} for n, polygon in enumerate(polygons)]
        return f"/api/v1/element/{page}/children/bulk/", {"worker_run_id": run, "elements": elements}
    if operation == "CreateElementTranscriptions":
        lines = [{"polygon": polygon, "text": f"line {n}", "confidence": 0.5} for n, polygon in enumerate(polygons)]
        return f"/api/v1/element/{page}/transcriptions/bulk/", {
            "worker_run_id": run,
            "element_type": "line",
            "transcriptions": lines,
        }
    if operation == "CreateClassifications":
        classes = [{"ml_class": ml_class, "confidence": 0.5} for ml_class in ids["classes"][:items]]
        return "/api/v1/classification/bulk/", {"parent": page, "worker_run_id": run, "classifications": classes}
    if operation == "CreateMetaDataBulk":
        metadata = [{"type": "text", "name": f"field {n}", "value": f"{call}-{n}"} for n in range(items)]
        return f"/api/v1/element/{page}/metadata/bulk/", {"worker_run_id": run, "metadata_list": metadata}
    transcription = ids["transcriptions"][call % len(ids["transcriptions"])]
    entities = [{"type_id": ids["entity_type"], "offset": n * 6, "length": 5} for n in range(items)]
    return f"/api/v1/transcription/{transcription}/entities/bulk/", {
        "worker_run_id": run,
        "transcription_entities": entities,
    }


def client(base_url, operation, token, ids, items, start_at, duration, results):
    connection = Connection(base_url)
    headers = f"Authorization: Ponos {token}\r\nContent-Type: application/json\r\n"
    calls, errors = 0, {}
    time.sleep(max(0, start_at - time.time()))
    end = start_at + duration
    while time.time() < end:
        path, payload = body(operation, ids, calls, items)
        status, content = connection.request("POST", path, headers, json.dumps(payload).encode())
        if status != 201:
            key = f"{status} {content[:200]!r}"
            errors[key] = errors.get(key, 0) + 1
        calls += 1
    connection.close()
    results.put((calls, errors))


def setup(args):
    """The corpus, its pages on one image, their transcriptions, classes, an entity type and the running tasks."""
    from django.db import connection

    from documents.models import Corpus, Element, ElementPath, ElementType, Image, ImageServer, MLClass, Transcription
    from ponos.models import Task, TaskState
    from processes.models import Process, ProcessMode, WorkerRun
    from users.models import Right, Role

    user = bench_user()
    corpus = Corpus.objects.create(name="Publication benchmark")
    Right.objects.create(content_object=corpus, user=user, level=Role.ADMIN)
    page_type = ElementType.objects.create(corpus=corpus, slug="page", display_name="Page")
    ElementType.objects.create(corpus=corpus, slug="line", display_name="Line")
    server, _ = ImageServer.objects.get_or_create(
        url="https://iiif.bench.test/iiif/2", defaults={"display_name": "Bench"}
    )
    image, _ = Image.objects.get_or_create(
        server=server, path="page.jpg", defaults={"width": IMAGE_SIZE, "height": IMAGE_SIZE, "status": "checked"}
    )
    whole = [[0, 0], [0, IMAGE_SIZE], [IMAGE_SIZE, IMAGE_SIZE], [IMAGE_SIZE, 0], [0, 0]]
    pages = Element.objects.bulk_create(
        Element(corpus=corpus, type=page_type, name=f"Page {n}", image=image, polygon=whole) for n in range(args.pages)
    )
    ElementPath.objects.bulk_create(ElementPath(element=page, path=[], ordering=0) for page in pages)
    transcriptions = Transcription.objects.bulk_create(Transcription(element=page, text=TEXT) for page in pages)
    classes = MLClass.objects.bulk_create(MLClass(corpus=corpus, name=f"class {n}") for n in range(args.items))
    entity_type = corpus.entity_types.create(name="word")
    process = Process.objects.create(corpus=corpus, creator=user, mode=ProcessMode.Workers, name="Publication")
    run = WorkerRun.objects.create(process=process, version=worker_version("publisher", "Publisher"), parents=[])
    tasks = [
        Task.objects.create(process=process, slug=f"publisher-{n}", state=TaskState.Running, worker_run=run)
        for n in range(args.clients)
    ]
    seed_earlier_results(corpus, entity_type)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    share = len(pages) // args.clients
    client_ids = [
        {
            "run": str(run.id),
            "pages": [str(page.id) for page in pages[n * share : (n + 1) * share]],
            "transcriptions": [str(t.id) for t in transcriptions[n * share : (n + 1) * share]],
            "classes": [str(ml_class.id) for ml_class in classes],
            "entity_type": str(entity_type.id),
        }
        for n in range(args.clients)
    ]
    return corpus, run, tasks, client_ids


def seed_earlier_results(corpus, entity_type):
    """
    A person's results on every page (a classification, a metadata, an entity in its transcription),
    as a deployment holds before a worker publishes: the planner then sees tables of their real size,
    in the server's connections and in pgbench's alike. (Foreign-key checks keep the plan they get on
    a connection's first INSERT: planned on empty tables, they scan them whole for that connection's life.)
    """
    from django.db import connection

    with connection.cursor() as cursor:
        for sql in (
            "INSERT INTO documents_classification (id, created, updated, element_id, ml_class_id, state, confidence, "
            "high_confidence) SELECT gen_random_uuid(), now(), now(), page.id, (SELECT id FROM documents_mlclass "
            "WHERE corpus_id = %(corpus)s ORDER BY name LIMIT 1), 'validated', 1, true FROM documents_element page "
            "WHERE page.corpus_id = %(corpus)s",
            "INSERT INTO documents_metadata (id, created, updated, element_id, type, name, value) "
            "SELECT gen_random_uuid(), now(), now(), page.id, 'text', 'folio', page.name FROM documents_element page "
            "WHERE page.corpus_id = %(corpus)s",
            "WITH entity AS (INSERT INTO documents_entity (id, created, updated, corpus_id, type_id, name) "
            "SELECT gen_random_uuid(), now(), now(), %(corpus)s, %(type)s, t.id::text FROM documents_transcription t "
            "JOIN documents_element page ON page.id = t.element_id WHERE page.corpus_id = %(corpus)s "
            "RETURNING id, name) INSERT INTO documents_transcriptionentity (id, created, updated, transcription_id, "
            'entity_id, "offset", length) SELECT gen_random_uuid(), now(), now(), entity.name::uuid, entity.id, 0, 5 '
            "FROM entity",
        ):
            cursor.execute(sql, {"corpus": str(corpus.id), "type": str(entity_type.id)})


def counted_rows(operation, corpus):
    from documents.models import Classification, Element, MetaData, Transcription, TranscriptionEntity

    if operation == "CreateTranscriptions":
        return Transcription.objects.filter(element__corpus=corpus, worker_run__isnull=False).count()
    if operation == "CreateElements":
        return Element.objects.filter(corpus=corpus, type__slug="line").count()
    if operation == "CreateElementTranscriptions":
        return Transcription.objects.filter(element__corpus=corpus, element__type__slug="line").count()
    if operation == "CreateClassifications":
        return Classification.objects.filter(element__corpus=corpus, worker_run__isnull=False).count()
    if operation == "CreateMetaDataBulk":
        return MetaData.objects.filter(element__corpus=corpus, worker_run__isnull=False).count()
    return TranscriptionEntity.objects.filter(transcription__element__corpus=corpus, worker_run__isnull=False).count()


def clear(corpus):
    """Remove what a measure published, so that each starts from the same tables."""
    from django.db import connection

    with connection.cursor() as cursor:
        for sql in (
            "DELETE FROM documents_transcriptionentity WHERE worker_run_id IS NOT NULL AND entity_id IN "
            "(SELECT id FROM documents_entity WHERE corpus_id = %(corpus)s)",
            "DELETE FROM documents_entity WHERE corpus_id = %(corpus)s AND worker_run_id IS NOT NULL",
            "DELETE FROM documents_metadata WHERE worker_run_id IS NOT NULL AND element_id IN "
            "(SELECT id FROM documents_element WHERE corpus_id = %(corpus)s)",
            "DELETE FROM documents_classification WHERE worker_run_id IS NOT NULL AND element_id IN "
            "(SELECT id FROM documents_element WHERE corpus_id = %(corpus)s)",
            "DELETE FROM documents_transcription WHERE worker_run_id IS NOT NULL AND element_id IN "
            "(SELECT id FROM documents_element WHERE corpus_id = %(corpus)s)",
            "DELETE FROM documents_elementpath WHERE element_id IN (SELECT e.id FROM documents_element e "
            "JOIN documents_elementtype t ON t.id = e.type_id WHERE t.corpus_id = %(corpus)s AND t.slug = 'line')",
            "DELETE FROM documents_transcription WHERE element_id IN (SELECT e.id FROM documents_element e "
            "JOIN documents_elementtype t ON t.id = e.type_id WHERE t.corpus_id = %(corpus)s AND t.slug = 'line')",
            "DELETE FROM documents_element WHERE type_id IN (SELECT id FROM documents_elementtype "
            "WHERE corpus_id = %(corpus)s AND slug = 'line')",
        ):
            cursor.execute(sql, {"corpus": str(corpus.id)})
        cursor.execute(
            "VACUUM ANALYZE documents_transcription, documents_element, documents_elementpath, documents_entity, "
            "documents_transcriptionentity, documents_metadata, documents_classification"
        )


def measure_http(args, base_url, operation, tasks, client_ids, corpus):
    clear(corpus)
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    start_at = time.time() + 1.5
    processes = [
        context.Process(
            target=client,
            args=(base_url, operation, task.token, ids, args.items, start_at, args.duration, results),
        )
        for task, ids in zip(tasks, client_ids, strict=True)
    ]
    for process in processes:
        process.start()
    outcomes = [results.get(timeout=args.duration + 120) for _ in processes]
    for process in processes:
        process.join()
    errors = {}
    for _, client_errors in outcomes:
        for key, count in client_errors.items():
            errors[key] = errors.get(key, 0) + count
    if errors:
        log(f"  answers other than 201: {errors}")
    rows = counted_rows(operation, corpus)
    calls = sum(calls for calls, _ in outcomes)
    return rows / args.duration, calls


def pgbench_script(operation, corpus, run, ids, items):
    """The INSERTs writing the rows of one call, one statement per table, with pgbench variables."""
    columns = "id, created, updated"
    new = "gen_random_uuid(), now(), now()"
    series = f"generate_series(1, {items}) AS n"
    # Each transaction publishes on the next page of a pool, as each call does.
    # (An uncorrelated subquery, so that the sequence moves once per statement, not once per row read.)
    pick = "(SELECT nextval('bench_page_sequence') % bench_page_count() + 1)"
    page = f"(SELECT page.id FROM bench_pages AS page WHERE page.n = {pick})"
    if operation == "CreateTranscriptions":
        return (
            f"INSERT INTO documents_transcription ({columns}, element_id, text, confidence, orientation, "
            f"worker_run_id) SELECT {new}, {page}, 'line ' || n, 0.5, 'horizontal-lr', '{run}' FROM {series};"
        )
    element_columns = (
        f"{columns}, corpus_id, type_id, name, image_id, polygon, rotation_angle, mirrored, confidence, worker_run_id"
    )
    line_type = f"(SELECT id FROM documents_elementtype WHERE corpus_id = '{corpus}' AND slug = 'line')"
    image = f"(SELECT image_id FROM documents_element WHERE id = '{ids['pages'][0]}')"
    elements = (
        f"INSERT INTO documents_element ({element_columns}) SELECT {new}, '{corpus}', {line_type}, n::text, {image}, "
        "ARRAY[ARRAY[0, n * 10], ARRAY[50, n * 10], ARRAY[50, n * 10 + 9], ARRAY[0, n * 10 + 9], ARRAY[0, n * 10]], "
        f"0, false, 0.5, '{run}' FROM {series} RETURNING id"
    )
    paths = (
        f"INSERT INTO documents_elementpath ({columns}, element_id, path, ordering) "
        f"SELECT {new}, new.id, ARRAY[parent.id], row_number() OVER () FROM new, parent"
    )
    if operation == "CreateElements":
        return f"WITH parent AS ({page}), new AS ({elements}) {paths};"
    if operation == "CreateElementTranscriptions":
        return (
            f"WITH parent AS ({page}), new AS ({elements}), paths AS ({paths}) "
            f"INSERT INTO documents_transcription ({columns}, element_id, text, confidence, orientation, "
            f"worker_run_id) SELECT {new}, new.id, 'line', 0.5, 'horizontal-lr', '{run}' FROM new;"
        )
    if operation == "CreateClassifications":
        return (
            f"INSERT INTO documents_classification ({columns}, element_id, ml_class_id, state, confidence, "
            f"high_confidence, worker_run_id) SELECT {new}, {page}, ml_class.id, 'pending', 0.5, false, '{run}' "
            f"FROM documents_mlclass AS ml_class WHERE ml_class.corpus_id = '{corpus}' LIMIT {items};"
        )
    if operation == "CreateMetaDataBulk":
        return (
            f"INSERT INTO documents_metadata ({columns}, element_id, type, name, value, worker_run_id) "
            f"SELECT {new}, {page}, 'text', 'field ' || n, n::text, '{run}' FROM {series};"
        )
    transcription = f"(SELECT pooled.id FROM bench_transcriptions AS pooled WHERE pooled.n = {pick})"
    return (
        f"WITH target AS ({transcription}), entity AS (INSERT INTO documents_entity ({columns}, corpus_id, type_id, "
        f"name, worker_run_id) SELECT {new}, '{corpus}', '{ids['entity_type']}', 'ipsum ' || n, '{run}' "
        f"FROM {series} RETURNING id) INSERT INTO documents_transcriptionentity ({columns}, transcription_id, "
        f'entity_id, "offset", length, confidence, worker_run_id) SELECT {new}, target.id, entity.id, '
        f"row_number() OVER () * 6, 5, 0.5, '{run}' FROM entity, target;"
    )


def measure_pgbench(args, url, operation, corpus, run, ids):
    from django.db import connection

    clear(corpus)
    # Every page (and its transcription) in a numbered pool, taken in turn by every connection.
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_pages, bench_transcriptions")
        cursor.execute("DROP SEQUENCE IF EXISTS bench_page_sequence")
        cursor.execute(
            "CREATE TABLE bench_pages AS SELECT row_number() OVER (ORDER BY id) AS n, id FROM documents_element "
            "WHERE corpus_id = %s AND type_id = (SELECT id FROM documents_elementtype WHERE corpus_id = %s "
            "AND slug = 'page')",
            [str(corpus.id), str(corpus.id)],
        )
        cursor.execute(
            "CREATE TABLE bench_transcriptions AS SELECT row_number() OVER (ORDER BY t.id) AS n, t.id "
            "FROM documents_transcription t JOIN bench_pages p ON p.id = t.element_id"
        )
        cursor.execute("CREATE UNIQUE INDEX ON bench_pages (n)")
        cursor.execute("CREATE UNIQUE INDEX ON bench_transcriptions (n)")
        cursor.execute("CREATE SEQUENCE bench_page_sequence")
        cursor.execute(
            "CREATE OR REPLACE FUNCTION bench_page_count() RETURNS bigint LANGUAGE sql STABLE AS "
            "'SELECT count(*) FROM bench_pages'"
        )
        cursor.execute("ANALYZE bench_pages, bench_transcriptions")
    with tempfile.NamedTemporaryFile("w", suffix=".sql", prefix="bench_publication_", delete=False) as script:
        script.write(pgbench_script(operation, corpus.id, run.id, ids, args.items) + "\n")
    command = ["pgbench", "-n", "-M", "prepared", "-c", str(args.clients), "-j", "2", "-T", str(int(args.duration))]
    settings = connection.settings_dict
    command += ["-h", settings["HOST"] or "127.0.0.1", "-p", str(settings["PORT"] or 5432)]
    command += ["-U", settings["USER"] or "postgres", "-f", script.name, settings["NAME"]]
    try:
        finished = subprocess.run(command, capture_output=True, text=True)
    finally:
        os.unlink(script.name)
    if finished.returncode:
        sys.exit(f"pgbench failed on {operation}: {finished.stderr.strip()[-2000:]}")
    output = finished.stdout
    transactions = next(int(line.split(":")[1].split("/")[0]) for line in output.splitlines() if "processed" in line)
    rows = counted_rows(operation, corpus)
    return rows / args.duration, transactions


def main():
    args = parse_args()
    url = setup_database()
    from django.db import connection

    from documents.services import corpus_delete

    log(f"Building {args.pages:,} pages with their transcriptions")
    corpus, run, tasks, client_ids = setup(args)
    port = free_port()
    log(f"Starting granian on port {port} ({args.workers} workers x {args.threads} threads)")
    server = start_server(args, url, port)
    base_url = f"http://127.0.0.1:{port}"
    rows = []
    try:
        for operation in args.operations:
            http_rates, raw_rates = [], []
            for round_number in range(args.repeat):
                label = f"{operation} {round_number + 1}/{args.repeat}"
                # Warm the server's connections and prepared statements up, unmeasured.
                measure_http(argparse_copy(args, duration=2), base_url, operation, tasks, client_ids, corpus)
                rate, calls = measure_http(args, base_url, operation, tasks, client_ids, corpus)
                log(f"{label}: HTTP {rate:,.0f} rows/s ({calls:,} calls)")
                http_rates.append(rate)
                rate, transactions = measure_pgbench(args, url, operation, corpus, run, client_ids[0])
                log(f"{label}: pgbench {rate:,.0f} rows/s ({transactions:,} transactions)")
                raw_rates.append(rate)
            ratios = [http / raw for http, raw in zip(http_rates, raw_rates, strict=True)]
            rows.append((operation, statistics.median(http_rates), statistics.median(raw_rates), ratios))
    finally:
        stop_server(server)
        clear(corpus)
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE IF EXISTS bench_pages, bench_transcriptions")
            cursor.execute("DROP SEQUENCE IF EXISTS bench_page_sequence")
        corpus_delete(corpus_id=corpus.id)

    print_header(
        f"Publication, {args.items} items per call, {args.clients} concurrent tasks, {args.duration:g} s per measure, "
        f"median of {args.repeat}"
    )
    print(f"{'operation':<32}{'HTTP rows/s':>14}{'pgbench rows/s':>17}{'ratio':>8}  ratio of each round")
    print("-" * 93)
    for operation, http, raw, ratios in rows:
        each = " ".join(f"{ratio:.2f}" for ratio in ratios)
        print(f"{operation:<32}{http:>14,.0f}{raw:>17,.0f}{statistics.median(ratios):>8.2f}  {each}")
    worst = min(rows, key=lambda row: statistics.median(row[3]))
    print(
        f"\nSummary: the lowest ratio is {worst[0]}'s, {statistics.median(worst[3]):.2f} of pgbench's INSERTs "
        "(target: at least 0.25)."
    )


def argparse_copy(args, **changes):
    import argparse

    return argparse.Namespace(**{**vars(args), **changes})


if __name__ == "__main__":
    sys.exit(main())
