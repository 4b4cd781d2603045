#!/usr/bin/env python
"""
Element listing on a large corpus: the API's queries against the same SQL run by psql.

Builds (once, then reuses) a corpus of folders ⊃ pages ⊃ lines with set-based SQL, then for each
listing (ListElementChildren, ListElements with their usual filters) measures, on page 1:

- `orm`: the queries the list view builds (count + page), run through Django, rows turned into
  model instances, as the API does before serialising;
- `request`: the whole API request in-process (authentication, rights, count, page, JSON);
- `psql`: the baseline, the very same SQL statements captured from the ORM run and executed by
  `psql -c "EXPLAIN (ANALYZE, FORMAT JSON) …"` (planning + execution time on the server).

The indexes each plan reads are printed with the figures, so that a missing index shows as a
sequential scan next to a slow number. The benchmark uses its own database, given by
DATABASE_URL (created and migrated if missing), never the one of a running instance:

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/arkindex_bench python bench/elements_listing.py
    DATABASE_URL=... python bench/elements_listing.py --elements 20000 --repeat 3
"""

import statistics
import time

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
    psql_server_time,
    setup_database,
)


def parse_args():
    parser = argument_parser(__doc__)
    parser.add_argument("--elements", type=int, default=1_000_000, help="size of the corpus (default 1,000,000)")
    parser.add_argument("--folders", type=int, default=10, help="top-level folders (default 10)")
    parser.add_argument("--pages-per-folder", type=int, default=1000, help="pages in each folder (default 1000)")
    add_repeat(parser, 5)
    parser.add_argument("--page-size", type=int, default=20, help="page size of the listings (default 20)")
    add_rebuild(parser)
    return parser.parse_args()


def main():
    args = parse_args()
    url = setup_database()

    from django.contrib.contenttypes.models import ContentType
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from django.urls import reverse
    from rest_framework.request import Request
    from rest_framework.test import APIRequestFactory

    from documents.api.views import CorpusElementList, ElementChildrenList
    from documents.models import Corpus, Element
    from tests.sample_data import build_corpus
    from users.models import Right, Role

    folders, pages_per_folder, lines_per_page, total, name = corpus_shape(
        args.elements, args.folders, args.pages_per_folder
    )
    corpus = None if args.rebuild else Corpus.objects.filter(name=name).order_by("-created").first()
    if corpus is None:
        log(
            f"Building {total:,} elements: {folders} folders, {pages_per_folder} pages each, "
            f"{lines_per_page} lines per page"
        )
        start = time.perf_counter()
        build_corpus(
            name=name,
            folders=folders,
            pages_per_folder=pages_per_folder,
            lines_per_page=lines_per_page,
            progress=log_build_step,
        )
        log(f"Built in {time.perf_counter() - start:.1f} s; VACUUM ANALYZE")
        corpus = Corpus.objects.get(name=name)
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE documents_element")
            cursor.execute("VACUUM ANALYZE documents_elementpath")
    else:
        log(f"Reusing {name} ({corpus.id}); --rebuild for a new one")
    log(f"Corpus holds {Element.objects.filter(corpus=corpus).count():,} elements")

    user = bench_user()
    # At least a guest: the other benchmarks may have made the same user a contributor on this corpus.
    Right.objects.get_or_create(
        content_type=ContentType.objects.get_for_model(Corpus),
        object_id=corpus.id,
        user=user,
        defaults={"level": Role.GUEST},
    )
    client = api_client(user)

    folder = Element.objects.filter(corpus=corpus, type__slug="folder").order_by("name").first()
    page = Element.objects.filter(corpus=corpus, type__slug="page").order_by("name").first()
    page_size = {"page_size": str(args.page_size)}
    cases = [
        ("ListElementChildren folder", ElementChildrenList, {"id": folder.id}, {}),
        ("ListElementChildren folder, type", ElementChildrenList, {"id": folder.id}, {"type": "page"}),
        ("ListElementChildren page", ElementChildrenList, {"id": page.id}, {"with_has_children": "true"}),
        ("ListElementChildren folder, recursive", ElementChildrenList, {"id": folder.id}, {"recursive": "true"}),
        ("ListElements", CorpusElementList, {"corpus": corpus.id}, {}),
        ("ListElements type=page", CorpusElementList, {"corpus": corpus.id}, {"type": "page"}),
        ("ListElements top_level", CorpusElementList, {"corpus": corpus.id}, {"top_level": "true"}),
        ("ListElements folder", CorpusElementList, {"corpus": corpus.id}, {"folder": "true"}),
        ("ListElements name", CorpusElementList, {"corpus": corpus.id}, {"name": "ab1"}),
    ]

    results = []
    for label, view_class, kwargs, params in cases:
        params = {**params, **page_size}
        log(f"Measuring {label}")

        def run_orm(view_class=view_class, kwargs=kwargs, params=params):
            request = Request(APIRequestFactory().get("/", params))
            request.user = user
            queryset = view_class(request=request, kwargs=kwargs, format_kwarg=None).get_queryset()
            return queryset.count(), list(queryset[: args.page_size])

        run_orm()  # warm caches, as a running server has them
        with CaptureQueriesContext(connection) as captured:
            count, rows = run_orm()
        # Copied now: the log is a window on the connection's, which each API request below resets.
        statements = [query["sql"] for query in captured.captured_queries]
        orm_ms = median_ms(run_orm, args.repeat)

        url_name = "element-children" if view_class is ElementChildrenList else "corpus-elements"
        path = reverse(url_name, kwargs=kwargs)

        def run_request(path=path, params=params):
            response = client.get(path, params, HTTP_HOST="localhost")
            assert response.status_code == 200, response.content[:500]

        run_request()
        request_ms = median_ms(run_request, args.repeat)

        # Whatever the listing, the view runs three statements: its corpus or element with the user's
        # level, the count, the page.
        names = ["object", "count", "page"] if len(statements) == 3 else [f"query {i}" for i in range(len(statements))]
        psql_ms, plan_scans = 0.0, {}
        for name, sql in zip(names, statements, strict=True):
            measures = [psql_server_time(url, sql) for _ in range(args.repeat)]
            psql_ms += statistics.median(ms for ms, _ in measures)
            plan_scans[name] = sorted(set(measures[0][1]))
        results.append((label, count, orm_ms, request_ms, psql_ms, plan_scans))

    print()
    print(f"Corpus of {total:,} elements, page size {args.page_size}, median of {args.repeat} runs")
    print_header(f"{'listing':40} {'count':>9} {'orm ms':>9} {'request ms':>11} {'psql ms':>9} {'orm/psql':>9}")
    for label, count, orm_ms, request_ms, psql_ms, _ in results:
        ratio = orm_ms / psql_ms if psql_ms else float("nan")
        print(f"{label:40} {count:>9,} {orm_ms:>9.1f} {request_ms:>11.1f} {psql_ms:>9.1f} {ratio:>9.2f}")
    print()
    print("Element indexes read by each statement (SEQ SCAN: the table is read whole):")
    for label, *_, plan_scans in results:
        print(f"  {label}")
        for name, found in plan_scans.items():
            relevant = [scan for scan in found if "element" in scan] or ["(none)"]
            print(f"    {name:6} {', '.join(relevant)}")
    sequential = [
        f"{label} ({name})"
        for label, *_, plan_scans in results
        for name, found in plan_scans.items()
        if any(scan.startswith("SEQ SCAN documents_element") for scan in found)
    ]
    slowest = max(results, key=lambda result: result[2])
    print()
    print(
        f"Summary: {len(results)} listings on {total:,} elements. Slowest: {slowest[0]}, {slowest[2]:.1f} ms through "
        f"the ORM for {slowest[4]:.1f} ms in psql. Sequential scans of element tables: "
        f"{', '.join(sequential) or 'none'} (a count of most of a corpus reads it whole, whatever the indexes)."
    )


if __name__ == "__main__":
    main()
