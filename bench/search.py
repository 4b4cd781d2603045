#!/usr/bin/env python
"""
SearchCorpus on a large corpus, and what indexing costs publication.

Builds (once, then reuses) two corpora of the same shape with set-based SQL, folders ⊃ pages ⊃
lines (110,010 elements each by default), every line with a transcription of a worker run: ten
words drawn from a vocabulary of 20,000, the first ones far more often than the last (so that some
words are in most lines and others in a handful). The first corpus is indexable, its pages
indexed (each line's transcription is found under its page); it is indexed by `reindex_corpus`,
timed. The second is not indexable. Then:

- queries: SearchCorpus requests in-process (the first page with its facets) for a rare word, a
  common word, a phrase, and with filters, beside `psql` running the very same statements
  (`EXPLAIN ANALYZE`, planning + execution time on the server), and beside the same search without
  an index, an `ILIKE` scan of the corpus's transcriptions run by psql;
- publication: CreateTranscriptions requests (`--batch` transcriptions on as many lines each)
  into the indexed corpus and into the plain one, alternated, as transcriptions per second, beside
  the same rows inserted by psql (one INSERT per batch, start-up time subtracted), into each.

The benchmark uses its own database, given by DATABASE_URL (created and migrated if missing),
never the one of a running instance:

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/arkindex_bench python bench/search.py
    DATABASE_URL=... python bench/search.py --elements 200000 --requests 100 --repeat 3
"""

import statistics
import time
import uuid

from common import (
    add_rebuild,
    add_repeat,
    api_client,
    argument_parser,
    bench_user,
    corpus_shape,
    log,
    log_build_step,
    median_ms,
    print_header,
    psql_ms,
    psql_server_time,
    psql_startup_ms,
    setup_database,
    vacuum_analyze,
    worker_version,
)

VOCABULARY = 20_000
WORDS_PER_LINE = 10


def parse_args():
    parser = argument_parser(__doc__)
    parser.add_argument("--elements", type=int, default=110_010, help="size of each corpus (default 110,010)")
    parser.add_argument("--requests", type=int, default=40, help="CreateTranscriptions requests per measure")
    parser.add_argument("--batch", type=int, default=100, help="transcriptions per request (default 100)")
    add_repeat(parser, 3)
    add_rebuild(parser)
    return parser.parse_args()


def word(rank):
    return f"mot{rank:05d}"


def build(name, folders, pages_per_folder, lines_per_page, run):
    """A sample corpus with one transcription of `run` per line, the words drawn as described above."""
    from django.db import connection, transaction

    from tests.sample_data import build_corpus

    log(f"Building {name}")
    start = time.perf_counter()
    with transaction.atomic():
        sample = build_corpus(
            name=name,
            folders=folders,
            pages_per_folder=pages_per_folder,
            lines_per_page=lines_per_page,
            progress=log_build_step,
        )
        log("  inserting a transcription per line")
        with connection.cursor() as cursor:
            # power(random(), 3) favours the first words; the reference to `line.id` draws anew for each line.
            cursor.execute(
                """
                INSERT INTO documents_transcription
                    (id, created, updated, element_id, text, confidence, orientation, worker_run_id)
                SELECT gen_random_uuid(), now(), now(), line.id,
                    (SELECT string_agg(
                        'mot' || lpad((1 + floor(power(random(), 3) * %(vocabulary)s))::int::text, 5, '0'), ' '
                     ) FROM generate_series(1, %(words)s) WHERE line.id IS NOT NULL),
                    round(random()::numeric, 2), 'horizontal-lr', %(run)s
                FROM documents_element AS line
                WHERE line.corpus_id = %(corpus)s AND line.type_id = %(line_type)s
                """,
                {
                    "vocabulary": VOCABULARY,
                    "words": WORDS_PER_LINE,
                    "run": str(run.id),
                    "corpus": str(sample.corpus.id),
                    "line_type": str(sample.types["line"].id),
                },
            )
    log(f"Built in {time.perf_counter() - start:.1f} s")
    return sample.corpus


def corpora(args, run):
    """The indexed and the plain corpus, built if missing; the first indexed (timed)."""
    from documents.models import Corpus, ElementType, SearchEntry
    from documents.services.search import reindex_corpus
    from tests.sample_data import sizes_for

    folders, pages_per_folder, lines_per_page = sizes_for(args.elements)
    _, _, _, size, shape = corpus_shape(args.elements)
    found = {}
    for role in ("indexed", "plain"):
        name = f"Search bench, {role}: {shape.split('(')[1].rstrip(')')}"
        corpus = None if args.rebuild else Corpus.objects.filter(name=name).order_by("-created").first()
        if corpus is None:
            corpus = build(name, folders, pages_per_folder, lines_per_page, run)
        else:
            log(f"Reusing {name}; --rebuild for new corpora")
        found[role] = corpus
    indexed = found["indexed"]
    Corpus.objects.filter(pk=indexed.pk).update(indexable=True)
    ElementType.objects.filter(corpus=indexed, slug="page").update(indexable=True)
    log(f"Indexing {indexed.name} ({size:,} elements)")
    start = time.perf_counter()
    entries = reindex_corpus(indexed.id)
    reindex_s = time.perf_counter() - start
    log(f"  {entries:,} entries in {reindex_s:.1f} s")
    vacuum_analyze("documents_searchentry", "documents_transcription", "documents_element", "documents_elementpath")
    assert SearchEntry.objects.filter(corpus=indexed).count() == entries
    return found["indexed"], found["plain"], size, entries, reindex_s


def measure_queries(args, url, client, user, corpus, run):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.urls import reverse

    path = reverse("corpus-search", kwargs={"corpus": corpus.id})
    common, rare = word(1), word(VOCABULARY - 7)
    cases = [
        (f"rare word ({rare})", {"query": rare}, rare),
        (f"common word ({common})", {"query": common}, common),
        ("two common words", {"query": f"{word(1)} {word(2)}"}, None),
        ("phrase", {"query": f'"{word(1)} {word(2)}"'}, None),
        ("common word, worker run", {"query": common, "worker_run": str(run.id)}, None),
        ("common word, confidence >= 0.9", {"query": common, "confidence_min": "0.9"}, None),
        ("common word, by name", {"query": common, "sort": "element_name"}, None),
        ("common word, facets only", {"query": common, "only_facets": "true"}, None),
    ]
    results = []
    for label, params, substring in cases:
        log(f"Measuring {label}")

        def run_request(params=params):
            response = client.get(path, params, HTTP_HOST="localhost")
            assert response.status_code == 200, response.content[:500]
            return response.json()

        body = run_request()
        with CaptureQueriesContext(connection) as captured:
            run_request()
        statements = [query["sql"] for query in captured.captured_queries]
        request_ms = median_ms(run_request, args.repeat)
        # The token and the corpus are read by every request; the search itself is the rest.
        search_statements = [sql for sql in statements if "documents_searchentry" in sql]
        measures = [[psql_server_time(url, sql) for sql in search_statements] for _ in range(args.repeat)]
        psql_total = statistics.median(sum(ms for ms, _ in run) for run in measures)
        plan_scans = sorted({name for _, found in measures[0] for name in found})
        scan_ms = None
        if substring:
            scan_sql = (
                "SELECT count(*) FROM documents_transcription AS t JOIN documents_element AS e ON e.id = t.element_id "
                f"WHERE e.corpus_id = '{corpus.id}' AND t.text ILIKE '%{substring}%'"
            )
            scan_ms = statistics.median(psql_server_time(url, scan_sql)[0] for _ in range(args.repeat))
        results.append((label, body["count"], request_ms, psql_total, scan_ms, plan_scans))
    return results


def transcription_batches(corpus, count, batch):
    """`count` batches of `batch` line ids of `corpus`, each line used once."""
    from documents.models import Element

    lines = list(
        Element.objects.filter(corpus=corpus, type__slug="line")
        .order_by("id")
        .values_list("id", flat=True)[: count * batch]
    )
    return [lines[start : start + batch] for start in range(0, len(lines), batch)]


def measure_publication(args, url, client, run, indexed, plain):
    from documents.models import SearchEntry, Transcription

    rows = args.requests * args.batch
    batches = {corpus.pk: transcription_batches(corpus, args.requests, args.batch) for corpus in (indexed, plain)}
    startup = psql_startup_ms(url)
    marker = f"published-{uuid.uuid4().hex[:8]}"

    def api(corpus):
        start = time.perf_counter()
        for lines in batches[corpus.pk]:
            body = {
                "worker_run_id": str(run.id),
                "transcriptions": [
                    {"element_id": str(line), "text": f"{marker} {word(3)} {word(500)}", "orientation": "horizontal-lr"}
                    for line in lines
                ],
            }
            response = client.post("/api/v1/transcription/bulk/", body, format="json", HTTP_HOST="localhost")
            assert response.status_code == 201, response.content[:500]
        return (time.perf_counter() - start) * 1000

    def psql(corpus):
        total = 0.0
        for lines in batches[corpus.pk]:
            values = ", ".join(
                f"(gen_random_uuid(), now(), now(), '{line}', '{marker} {word(3)} {word(500)}', 'horizontal-lr', "
                f"'{run.id}')"
                for line in lines
            )
            sql = (
                "INSERT INTO documents_transcription "
                f"(id, created, updated, element_id, text, orientation, worker_run_id) VALUES {values}"
            )
            total += psql_ms(url, sql) - startup
        return total

    def clean(corpus):
        Transcription.objects.filter(element__corpus=corpus, text__startswith=marker).delete()
        vacuum_analyze("documents_transcription", "documents_searchentry")

    measures = [
        ("CreateTranscriptions, indexed corpus", api, indexed, []),
        ("CreateTranscriptions, plain corpus", api, plain, []),
        ("psql INSERT, indexed corpus", psql, indexed, []),
        ("psql INSERT, plain corpus", psql, plain, []),
    ]
    for index in range(args.repeat):
        order = measures if index % 2 == 0 else list(reversed(measures))
        for label, function, corpus, times in order:
            log(f"Round {index + 1}/{args.repeat}: {label} ({rows:,} transcriptions)")
            clean(corpus)
            times.append(function(corpus))
            log(f"  {times[-1] / 1000:.2f} s")
            # What was published is indexed where it should be, and nowhere else.
            indexed_now = SearchEntry.objects.filter(corpus=corpus, transcription__text__startswith=marker).count()
            assert indexed_now == (rows if corpus == indexed else 0), indexed_now
    for corpus in (indexed, plain):
        clean(corpus)
    return rows, [(label, statistics.median(times), times) for label, _, _, times in measures]


def main():
    args = parse_args()
    url = setup_database()

    from django.contrib.contenttypes.models import ContentType

    from documents.models import Corpus
    from processes.models import Process, WorkerRun
    from users.models import Right, Role

    user = bench_user()
    version = worker_version("bench-htr", "Bench HTR")
    process, _ = Process.objects.get_or_create(name="Search bench", defaults={"mode": "local", "creator": user})
    run = WorkerRun.objects.filter(process=process, version=version).first()
    if run is None:
        run = WorkerRun(process=process, version=version)
        run.save()
    indexed, plain, size, entries, reindex_s = corpora(args, run)
    for corpus in (indexed, plain):
        Right.objects.get_or_create(
            content_type=ContentType.objects.get_for_model(Corpus),
            object_id=corpus.id,
            user=user,
            defaults={"level": Role.ADMIN},
        )
    client = api_client(user)

    queries = measure_queries(args, url, client, user, indexed, run)
    rows, publication = measure_publication(args, url, client, run, indexed, plain)

    print()
    print(f"Corpus of {size:,} elements, {entries:,} search entries, indexed from scratch in {reindex_s:.1f} s")
    print(f"SearchCorpus, page 1 with facets, median of {args.repeat} runs")
    print_header(
        f"{'query':36} {'found':>8} {'request ms':>11} {'psql ms':>9} {'request/psql':>13} {'ILIKE scan ms':>14}"
    )
    for label, count, request_ms, psql_total, scan_ms, _ in queries:
        ratio = request_ms / psql_total if psql_total else float("nan")
        scan = f"{scan_ms:>14.1f}" if scan_ms is not None else f"{'':>14}"
        print(f"{label:36} {count:>8,} {request_ms:>11.1f} {psql_total:>9.1f} {ratio:>13.2f} {scan}")
    print()
    print("Indexes read by the search statements (SEQ SCAN: a table read whole):")
    for label, *_, plan_scans in queries:
        print(f"  {label}: {', '.join(plan_scans)}")
    print()
    print(f"Publication: {rows:,} transcriptions in requests of {args.batch}, median of {args.repeat} runs")
    print_header(f"{'measure':40} {'median s':>9} {'rows/s':>10} {'runs (s)':>22}")
    for label, median, times in publication:
        runs_text = ", ".join(f"{ms / 1000:.2f}" for ms in times)
        print(f"{label:40} {median / 1000:>9.2f} {rows / median * 1000:>10,.0f} {runs_text:>22}")
    by_label = {label: median for label, median, _ in publication}
    api_cost = by_label["CreateTranscriptions, indexed corpus"] / by_label["CreateTranscriptions, plain corpus"] - 1
    sql_cost = by_label["psql INSERT, indexed corpus"] / by_label["psql INSERT, plain corpus"] - 1
    print()
    print(f"Indexing slows CreateTranscriptions by {api_cost:+.0%} and the INSERT itself by {sql_cost:+.0%}.")


if __name__ == "__main__":
    main()
