"""
Large corpora built with set-based SQL, for the index tests and the element listing benchmark.

The shape is a typical digitised collection: top-level folders, pages in each folder (each a zone
on an image), lines on each page. A million elements take a few statements and well under a
minute, where creating them one by one through the ORM would take hours.
"""

from dataclasses import dataclass

from django.db import connection, transaction

from documents.models import Corpus, Element, ElementPath, ElementType, Image, ImageServer

ELEMENTS = Element._meta.db_table
PATHS = ElementPath._meta.db_table
LINE_POLYGON = "ARRAY[[0,0],[0,40],[800,40],[800,0],[0,0]]::integer[][]"
PAGE_POLYGON = "ARRAY[[0,0],[0,2000],[1000,2000],[1000,0],[0,0]]::integer[][]"


@dataclass
class SampleCorpus:
    corpus: Corpus
    types: dict
    folder_ids: list
    elements: int


def sizes_for(total, folders=10, pages_per_folder=1000):
    """(folders, pages per folder, lines per page) for about `total` elements."""
    folders = max(1, min(folders, total))
    pages_per_folder = max(0, min(pages_per_folder, (total - folders) // folders))
    pages = folders * pages_per_folder
    # Rounded up: the corpus holds at least `total` elements.
    lines_per_page = -(-(total - folders - pages) // pages) if pages else 0
    return folders, pages_per_folder, lines_per_page


def build_corpus(*, name, folders, pages_per_folder, lines_per_page, public=False, progress=None):
    """
    A new corpus of folders ⊃ pages ⊃ lines, with their paths, in one transaction. `progress`,
    when given, is called with the name of each step as it starts.
    """
    progress = progress or (lambda step: None)
    with transaction.atomic():
        corpus = Corpus.objects.create(name=name, public=public)
        types = {
            slug: ElementType.objects.create(
                corpus=corpus, slug=slug, display_name=slug.title(), folder=slug == "folder"
            )
            for slug in ("folder", "page", "line")
        }
        server, _ = ImageServer.objects.get_or_create(
            url="https://iiif.example.com/sample", defaults={"display_name": "Sample images"}
        )
        image, _ = Image.objects.get_or_create(
            server=server, path="sample.jpg", defaults={"width": 1000, "height": 2000, "status": "checked"}
        )
        params = {
            "corpus": str(corpus.id),
            "folder_type": str(types["folder"].id),
            "page_type": str(types["page"].id),
            "line_type": str(types["line"].id),
            "image": str(image.id),
            "folders": folders,
            "pages": pages_per_folder,
            "lines": lines_per_page,
        }
        columns = "id, created, updated, corpus_id, type_id, name, image_id, polygon, rotation_angle, mirrored"
        with connection.cursor() as cursor:
            # New corpora are not indexable: the search triggers have nothing to do for a million rows.
            cursor.execute("SELECT set_config('arkindex.search_paused', 'on', true)")
            progress(f"{folders} folders")
            cursor.execute(
                "CREATE TEMPORARY TABLE sample_folders ON COMMIT DROP AS "
                "SELECT gen_random_uuid() AS id, i AS position FROM generate_series(0, %(folders)s - 1) AS i",
                params,
            )
            cursor.execute(
                "CREATE TEMPORARY TABLE sample_pages ON COMMIT DROP AS "
                "SELECT gen_random_uuid() AS id, folder.id AS folder_id, i AS position "
                "FROM sample_folders AS folder, generate_series(0, %(pages)s - 1) AS i",
                params,
            )
            cursor.execute(
                f"""
                INSERT INTO {ELEMENTS} ({columns})
                SELECT id, now(), now(), %(corpus)s, %(folder_type)s, 'Folder ' || lpad(position::text, 4, '0'),
                    NULL, NULL, 0, false
                FROM sample_folders
                """,
                params,
            )
            cursor.execute(
                f"INSERT INTO {PATHS} (id, created, updated, element_id, path, ordering) "
                "SELECT gen_random_uuid(), now(), now(), id, '{}'::uuid[], position FROM sample_folders"
            )
            progress(f"{folders * pages_per_folder} pages")
            cursor.execute(
                f"""
                INSERT INTO {ELEMENTS} ({columns})
                SELECT id, now(), now(), %(corpus)s, %(page_type)s, 'Page ' || lpad(position::text, 6, '0'),
                    %(image)s, {PAGE_POLYGON}, 0, false
                FROM sample_pages
                """,
                params,
            )
            cursor.execute(
                f"INSERT INTO {PATHS} (id, created, updated, element_id, path, ordering) "
                "SELECT gen_random_uuid(), now(), now(), id, ARRAY[folder_id], position FROM sample_pages"
            )
            progress(f"{folders * pages_per_folder * lines_per_page} lines")
            cursor.execute(
                f"""
                WITH line AS MATERIALIZED (
                    SELECT gen_random_uuid() AS id, page.id AS page_id, page.folder_id, i AS position
                    FROM sample_pages AS page, generate_series(0, %(lines)s - 1) AS i
                ),
                inserted AS (
                    INSERT INTO {ELEMENTS} ({columns})
                    SELECT id, now(), now(), %(corpus)s, %(line_type)s,
                        'Line ' || lpad(position::text, 4, '0') || ' ' || left(md5(id::text), 8),
                        %(image)s, {LINE_POLYGON}, 0, false
                    FROM line
                )
                INSERT INTO {PATHS} (id, created, updated, element_id, path, ordering)
                SELECT gen_random_uuid(), now(), now(), id, ARRAY[folder_id, page_id], position FROM line
                """,
                params,
            )
            progress("commit")
            cursor.execute("SELECT id FROM sample_folders ORDER BY position")
            folder_ids = [row[0] for row in cursor.fetchall()]
            # Dropped now, not only at commit: the caller's transaction may build several corpora.
            cursor.execute("DROP TABLE sample_pages, sample_folders")
            cursor.execute("SELECT set_config('arkindex.search_paused', 'off', true)")
    total = folders + folders * pages_per_folder + folders * pages_per_folder * lines_per_page
    return SampleCorpus(corpus=corpus, types=types, folder_ids=folder_ids, elements=total)


def analyze():
    """Refresh the planner's statistics on the element tables after a bulk load."""
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {ELEMENTS}")
        cursor.execute(f"ANALYZE {PATHS}")
