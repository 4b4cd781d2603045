"""
SQLite exports of a corpus, or of one of its datasets, in the format that `arkindex-export` 0.2.2
reads (`datasets.export_schema`). Dataset workers start one per dataset (StartExport), wait for it
(ListExports) and download its file (DownloadExport).

What an export holds:

- a corpus export: every element of the corpus and every dataset of the corpus;
- a dataset export: the dataset, its elements, every descendant of those elements (a worker reads
  the lines of a page of the set) and every ancestor (the folder a page sits in), and no other
  element of the corpus;
- both: the paths between exported elements, the transcriptions, classifications, metadata and
  transcription entities of the exported elements, the images and IIIF servers of their zones, the
  worker runs and versions that produced any of those rows, and the entity types of the corpus.

Translations the format asks for: ids are text, dates are UNIX timestamps, a polygon is the JSON of
its points, an image server gets a number (1, 2… by URL) and an image its full IIIF URL, a dataset's
sets are its set names joined by commas, a worker version is named by its revision URL when it has
one and by its number otherwise (the format allows only one), a person's classification without a
confidence is exported as certain (1, as CreateClassification reads it), and transcription entities
become typed spans of their transcription (the format has no entity table: spans of two entities of
one type at the same place collapse into one).

How it is built: the ids of the exported elements go into a temporary table, then one query per
table reads from PostgreSQL through a server-side cursor, in batches of `BATCH_SIZE` rows, that are
written to SQLite with `executemany`, in one SQLite transaction. When the build owns its PostgreSQL
transaction (always in a job), that transaction is REPEATABLE READ: every table is read from the
same snapshot. The file is written in a temporary folder and reaches the storage only once complete
and checked (foreign keys included); a failed build marks the export failed and leaves no file.

An export of at most `SYNC_EXPORT_LIMIT` rows of elements and descendants' paths (see
`export_is_small`) is built within StartExport, as `documents.services.element_destroy` deletes
small subtrees at once: the base worker sleeps a minute whenever its first check finds the export
unfinished. Larger ones are built by an RQ job on the low queue.

StartExport refuses (`running_export`) a second export of the same corpus and dataset while one is
created or running; the database enforces it (`unique_active_export`). It never refuses an export
because a recent one exists (`existing_export`): the content of a dataset's elements (their
results, their children) changes at any time and deletions leave no date behind, so that no date
can tell whether a done export still holds what the corpus holds. An export still created or running
after the job timeout has died with its job (a killed worker never reports): it is marked failed
when the next export of the same corpus and dataset starts.
"""

import logging
import re
import sqlite3
import tempfile
import uuid
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.core.files.base import File
from django.core.files.storage import default_storage
from django.db import IntegrityError, connections, transaction
from django.db.models.signals import post_delete
from django.dispatch import receiver
from django.utils import timezone
from rest_framework.exceptions import NotFound

from arkindex import storage
from arkindex.api.exceptions import Conflict, StandardValidationError
from arkindex.cleanup import UUID, Expired, ObjectFilesSweeper
from arkindex.cleanup import register as register_sweeper
from arkindex.jobs import enqueue_job
from arkindex.rq import LOW_QUEUE
from datasets.export_schema import EXPORT_VERSION, SCHEMA
from datasets.models import (
    ACTIVE_EXPORT_STATES,
    CorpusExport,
    CorpusExportState,
    Dataset,
    DatasetElement,
    DatasetSet,
    export_folder,
)
from datasets.services import constraint_of
from documents.models import (
    Classification,
    Corpus,
    Element,
    ElementPath,
    ElementType,
    Entity,
    EntityType,
    Image,
    ImageServer,
    MetaData,
    MLClass,
    Transcription,
    TranscriptionEntity,
)
from documents.signals import corpus_deleting
from processes.models import WorkerRun
from users.models import User
from workers.models import Model, ModelVersion, Worker, WorkerConfiguration, WorkerType, WorkerVersion

logger = logging.getLogger(__name__)

# The job building an export (`datasets.jobs`, which imports this module).
EXPORT_JOB = "datasets.jobs.export_build"

# Exports of at most this many elements and descendants' paths are built within StartExport.
SYNC_EXPORT_LIMIT = 1000
# Rows read from PostgreSQL and written to SQLite at once.
BATCH_SIZE = 5000
EXPORT_QUEUE = LOW_QUEUE
CONTENT_TYPE = "application/vnd.sqlite3"
RUNNING_EXPORT = "An export of this corpus and dataset is already being built."

EXPORTS = CorpusExport._meta.db_table
DATASETS = Dataset._meta.db_table
SETS = DatasetSet._meta.db_table
DATASET_ELEMENTS = DatasetElement._meta.db_table
ELEMENTS = Element._meta.db_table
PATHS = ElementPath._meta.db_table


def export_timeout():
    """Seconds an export job may run; an export created or running for longer has died."""
    return int(settings.RQ_QUEUES[EXPORT_QUEUE]["DEFAULT_TIMEOUT"])


# Reading PostgreSQL. Every query reads the temporary table `export_elements (id)` of the exported
# elements, or `export_servers (id, number)` of their image servers; `%(corpus)s` and `%(dataset)s`
# are the export's (the dataset is null for a corpus export).

CORPUS_ELEMENTS = f"INSERT INTO export_elements (id) SELECT id FROM {ELEMENTS} WHERE corpus_id = %(corpus)s"

# A dataset's elements, their descendants (paths through any of them: the GIN index on paths), and
# their ancestors (the ids on their own paths).
DATASET_ELEMENT_IDS = f"SELECT element_id FROM {DATASET_ELEMENTS} WHERE dataset_id = %(dataset)s"
DATASET_ELEMENTS_TREE = f"""
INSERT INTO export_elements (id)
SELECT element_id FROM {DATASET_ELEMENTS} WHERE dataset_id = %(dataset)s
UNION
SELECT element_id FROM {PATHS} WHERE path && ARRAY({DATASET_ELEMENT_IDS})
UNION
SELECT ancestor.id
FROM {PATHS} AS path
JOIN {DATASET_ELEMENTS} AS member ON member.element_id = path.element_id AND member.dataset_id = %(dataset)s
CROSS JOIN unnest(path.path) AS ancestor (id)
"""

EXPORTED_IMAGES = f"SELECT element.image_id FROM export_elements JOIN {ELEMENTS} AS element USING (id)"

EXPORT_SERVERS = f"""
CREATE TEMPORARY TABLE export_servers ON COMMIT DROP AS
SELECT server.id, row_number() OVER (ORDER BY server.url, server.id) AS number
FROM {ImageServer._meta.db_table} AS server
WHERE server.id IN (SELECT image.server_id FROM {Image._meta.db_table} AS image WHERE image.id IN ({EXPORTED_IMAGES}))
"""

EXPORTED_DATASETS = (
    f"SELECT id FROM {DATASETS} WHERE corpus_id = %(corpus)s AND (%(dataset)s::uuid IS NULL OR id = %(dataset)s::uuid)"
)

# (SQLite table, its columns, the PostgreSQL query of its rows in that order)
TABLES = [
    (
        "dataset",
        ("id", "name", "description", "state", "sets"),
        f"""
        SELECT dataset.id::text, dataset.name, dataset.description, dataset.state,
            COALESCE(
                (SELECT string_agg(dataset_set.name, ',' ORDER BY dataset_set.name)
                FROM {SETS} AS dataset_set WHERE dataset_set.dataset_id = dataset.id),
                ''
            )
        FROM {DATASETS} AS dataset
        WHERE dataset.id IN ({EXPORTED_DATASETS})
        """,
    ),
    (
        "dataset_element",
        ("id", "element_id", "dataset_id", "set_name"),
        f"""
        SELECT member.id::text, member.element_id::text, member.dataset_id::text, dataset_set.name
        FROM {DATASET_ELEMENTS} AS member
        JOIN {SETS} AS dataset_set ON dataset_set.id = member.set_id
        WHERE member.dataset_id IN ({EXPORTED_DATASETS})
        """,
    ),
    (
        "element",
        (
            "id",
            "name",
            "type",
            "image_id",
            "polygon",
            "confidence",
            "rotation_angle",
            "mirrored",
            "worker_run_id",
            "created",
            "updated",
        ),
        f"""
        SELECT element.id::text, element.name, element_type.slug, element.image_id::text,
            array_to_json(element.polygon)::text, element.confidence, element.rotation_angle,
            element.mirrored::integer, element.worker_run_id::text,
            EXTRACT(EPOCH FROM element.created)::double precision,
            EXTRACT(EPOCH FROM element.updated)::double precision
        FROM export_elements
        JOIN {ELEMENTS} AS element USING (id)
        JOIN {ElementType._meta.db_table} AS element_type ON element_type.id = element.type_id
        """,
    ),
    (
        # One row per (parent, child): all paths of a child ending with one parent share its position.
        "element_path",
        ("id", "parent_id", "child_id", "ordering"),
        f"""
        SELECT DISTINCT ON (path.element_id, path.parent)
            path.id::text, path.parent::text, path.element_id::text, path.ordering
        FROM export_elements AS child
        JOIN {PATHS} AS path ON path.element_id = child.id
        JOIN export_elements AS parent ON parent.id = path.parent
        ORDER BY path.element_id, path.parent, path.id
        """,
    ),
    (
        "transcription",
        ("id", "orientation", "text", "confidence", "element_id", "worker_run_id"),
        f"""
        SELECT transcription.id::text, transcription.orientation, transcription.text, transcription.confidence,
            transcription.element_id::text, transcription.worker_run_id::text
        FROM export_elements
        JOIN {Transcription._meta.db_table} AS transcription ON transcription.element_id = export_elements.id
        """,
    ),
    (
        "classification",
        ("id", "class_name", "confidence", "state", "element_id", "high_confidence", "moderator", "worker_run_id"),
        f"""
        SELECT classification.id::text, ml_class.name, COALESCE(classification.confidence, 1.0),
            classification.state, classification.element_id::text, classification.high_confidence::integer,
            moderator.email, classification.worker_run_id::text
        FROM export_elements
        JOIN {Classification._meta.db_table} AS classification ON classification.element_id = export_elements.id
        JOIN {MLClass._meta.db_table} AS ml_class ON ml_class.id = classification.ml_class_id
        LEFT JOIN {User._meta.db_table} AS moderator ON moderator.id = classification.moderator_id
        """,
    ),
    (
        "metadata",
        ("id", "name", "value", "type", "element_id", "worker_run_id"),
        f"""
        SELECT metadata.id::text, metadata.name, metadata.value, metadata.type, metadata.element_id::text,
            metadata.worker_run_id::text
        FROM export_elements
        JOIN {MetaData._meta.db_table} AS metadata ON metadata.element_id = export_elements.id
        """,
    ),
    (
        "entity_type",
        ("id", "color", "name"),
        f"SELECT id::text, color, name FROM {EntityType._meta.db_table} WHERE corpus_id = %(corpus)s",
    ),
    (
        # The format's unique index on (transcription, type, offset, length, worker run) keeps one span.
        "transcription_entity",
        ("id", "type_id", "length", "offset", "confidence", "transcription_id", "worker_run_id"),
        f"""
        SELECT DISTINCT ON (span.transcription_id, entity.type_id, span."offset", span.length, span.worker_run_id)
            span.id::text, entity.type_id::text, span.length, span."offset", span.confidence,
            span.transcription_id::text, span.worker_run_id::text
        FROM export_elements
        JOIN {Transcription._meta.db_table} AS transcription ON transcription.element_id = export_elements.id
        JOIN {TranscriptionEntity._meta.db_table} AS span ON span.transcription_id = transcription.id
        JOIN {Entity._meta.db_table} AS entity ON entity.id = span.entity_id
        ORDER BY span.transcription_id, entity.type_id, span."offset", span.length, span.worker_run_id, span.id
        """,
    ),
    (
        "image_server",
        ("id", "url", "display_name", "max_width", "max_height", "version"),
        f"""
        SELECT export_servers.number, server.url, server.display_name, server.max_width, server.max_height,
            server.version
        FROM export_servers
        JOIN {ImageServer._meta.db_table} AS server USING (id)
        """,
    ),
    (
        "image",
        ("id", "server_id", "url", "width", "height"),
        f"""
        SELECT image.id::text, export_servers.number, rtrim(server.url, '/') || '/' || ltrim(image.path, '/'),
            image.width, image.height
        FROM {Image._meta.db_table} AS image
        JOIN export_servers ON export_servers.id = image.server_id
        JOIN {ImageServer._meta.db_table} AS server ON server.id = image.server_id
        WHERE image.id IN ({EXPORTED_IMAGES})
        """,
    ),
    # Worker runs and versions: those the rows written so far name, read from the SQLite file itself
    # (`%(runs)s`), so that every reference resolves.
    (
        "worker_run",
        (
            "id",
            "worker_version_id",
            "model_version_id",
            "model_id",
            "model_name",
            "configuration_id",
            "configuration",
        ),
        f"""
        SELECT run.id::text, run.version_id::text, model_version.id::text, model.id::text, model.name,
            configuration.id::text, configuration.configuration::text
        FROM {WorkerRun._meta.db_table} AS run
        LEFT JOIN {ModelVersion._meta.db_table} AS model_version ON model_version.id = run.model_version_id
        LEFT JOIN {Model._meta.db_table} AS model ON model.id = model_version.model_id
        LEFT JOIN {WorkerConfiguration._meta.db_table} AS configuration ON configuration.id = run.configuration_id
        WHERE run.id = ANY(%(runs)s::uuid[])
        """,
    ),
    (
        "worker_version",
        ("id", "slug", "name", "repository_url", "revision", "version", "type"),
        f"""
        SELECT version.id::text, worker.slug, worker.name, worker.repository_url, version.revision_url,
            CASE WHEN version.revision_url IS NULL THEN COALESCE(version.version, 0) END, worker_type.slug
        FROM {WorkerVersion._meta.db_table} AS version
        JOIN {Worker._meta.db_table} AS worker ON worker.id = version.worker_id
        JOIN {WorkerType._meta.db_table} AS worker_type ON worker_type.id = worker.type_id
        WHERE version.id IN (
            SELECT version_id FROM {WorkerRun._meta.db_table} WHERE id = ANY(%(runs)s::uuid[])
        )
        """,
    ),
]

# The tables whose rows name a worker run, in the SQLite file.
RUN_TABLES = ("element", "transcription", "classification", "metadata", "transcription_entity")
EXPORTED_RUNS = " UNION ".join(
    f"SELECT worker_run_id FROM {table} WHERE worker_run_id IS NOT NULL" for table in RUN_TABLES
)


class ExportError(Exception):
    """An export that cannot be built as asked; the message says why."""


def stream_rows(pg, query, params):
    """The rows of a PostgreSQL query, in batches, through a server-side cursor."""
    with pg.connection.cursor(name=f"export_{uuid.uuid4().hex}") as cursor:
        cursor.itersize = BATCH_SIZE
        cursor.execute(query, params)
        while rows := cursor.fetchmany(BATCH_SIZE):
            yield rows


def write_sqlite(export, path):
    """
    Write the export's SQLite file at `path` (see the module's docstring). Returns the number of
    rows written to each table.
    """
    if export.source not in settings.DATABASES:
        raise ExportError(f"The export source {export.source!r} is not a database of this instance.")
    pg = connections[export.source]
    params = {"corpus": str(export.corpus_id), "dataset": str(export.dataset_id) if export.dataset_id else None}
    counts = {}
    owns_transaction = not pg.in_atomic_block
    db = sqlite3.connect(path, isolation_level=None)
    try:
        # The file is thrown away on any failure: no journal to roll back with, no waiting for the disk.
        db.execute("PRAGMA journal_mode = OFF")
        db.execute("PRAGMA synchronous = OFF")
        db.executescript(SCHEMA)
        db.execute("BEGIN")
        db.execute("INSERT INTO export_version (version) VALUES (?)", [EXPORT_VERSION])
        with transaction.atomic(using=export.source), pg.cursor() as cursor:
            if owns_transaction:
                # Must come first in the transaction: every table then reads the same snapshot.
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            cursor.execute("CREATE TEMPORARY TABLE export_elements (id uuid PRIMARY KEY) ON COMMIT DROP")
            cursor.execute(CORPUS_ELEMENTS if export.dataset_id is None else DATASET_ELEMENTS_TREE, params)
            # Temporary tables are never analysed on their own: let the planner know their size.
            cursor.execute("ANALYZE export_elements")
            cursor.execute(EXPORT_SERVERS, params)
            for table, columns, query in TABLES:
                if table == "worker_run":
                    params["runs"] = [run_id for (run_id,) in db.execute(EXPORTED_RUNS)]
                names = ", ".join(f'"{column}"' for column in columns)
                insert = f'INSERT INTO "{table}" ({names}) VALUES ({", ".join("?" * len(columns))})'
                counts[table] = 0
                for rows in stream_rows(pg, query, params):
                    db.executemany(insert, rows)
                    counts[table] += len(rows)
            # Dropped now rather than at commit: a test (or any caller) may hold an outer transaction.
            cursor.execute("DROP TABLE export_elements, export_servers")
        db.execute("COMMIT")
        broken = db.execute("PRAGMA foreign_key_check").fetchall()
        if broken:
            table, _, parent, _ = broken[0]
            raise ExportError(f"{len(broken)} rows reference missing rows, the first one from {table} to {parent}.")
    finally:
        db.close()
    return counts


def export_filename(export):
    corpus_name = "".join(c if c.isalnum() or c in "-_" else "-" for c in export.corpus.name).strip("-") or "corpus"
    return f"{corpus_name}-{export.created:%Y%m%d-%H%M%S}.sqlite"


def store_file(key, path):
    """Save a complete local file at `key` of the storage: written whole or not at all."""
    with open(path, "rb") as source:
        if storage.is_local():
            storage.backend().write(key, source)
        else:
            default_storage.save(key, File(source))


# Services


def export_is_small(export):
    """
    Whether the export reads at most SYNC_EXPORT_LIMIT rows of elements and paths below the
    dataset's elements: at most that many rows are counted, whatever the size of the corpus.
    """
    limit = SYNC_EXPORT_LIMIT + 1
    with connections[export.source].cursor() as cursor:
        if export.dataset_id is None:
            cursor.execute(
                f"SELECT COUNT(*) FROM (SELECT 1 FROM {ELEMENTS} WHERE corpus_id = %s LIMIT %s) AS elements",
                [str(export.corpus_id), limit],
            )
        else:
            cursor.execute(
                f"""
                WITH members AS (
                    SELECT element_id FROM {DATASET_ELEMENTS} WHERE dataset_id = %(dataset)s LIMIT %(limit)s
                )
                SELECT (SELECT COUNT(*) FROM members) + (
                    SELECT COUNT(*) FROM (
                        SELECT 1 FROM {PATHS} WHERE path && ARRAY(SELECT element_id FROM members) LIMIT %(limit)s
                    ) AS descendants
                )
                """,
                {"dataset": str(export.dataset_id), "limit": limit},
            )
        (rows,) = cursor.fetchone()
    return rows <= SYNC_EXPORT_LIMIT


def fail_stale_exports(*, corpus, dataset):
    """Mark failed the exports of this corpus and dataset that outlived the job timeout (see the docstring)."""
    stale = CorpusExport.objects.filter(
        corpus=corpus,
        dataset=dataset,
        state__in=ACTIVE_EXPORT_STATES,
        updated__lt=timezone.now() - timedelta(seconds=export_timeout()),
    )
    for export_id in stale.values_list("id", flat=True):
        logger.warning("Export %s outlived its job: marking it failed", export_id)
    stale.update(state=CorpusExportState.Failed, updated=timezone.now())


def check_export_delay(*, corpus, dataset):
    """
    400 `existing_export` within EXPORT_DELAY seconds of a successful export of the same corpus and
    dataset: the caller downloads that one (DatasetWorkers do), or waits for the time it says.
    """
    if settings.EXPORT_DELAY <= 0:
        return
    recent = (
        CorpusExport.objects.filter(
            corpus=corpus,
            dataset=dataset,
            state=CorpusExportState.Done,
            updated__gt=timezone.now() - timedelta(seconds=settings.EXPORT_DELAY),
        )
        .order_by("-updated")
        .first()
    )
    if recent is not None:
        what = f"dataset {dataset.name}" if dataset else f"corpus {corpus.name}"
        allowed = recent.updated + timedelta(seconds=settings.EXPORT_DELAY)
        raise StandardValidationError(
            f"An export of {what} was done at {recent.updated:%Y-%m-%d %H:%M:%S %Z}: download that one "
            f"(export {recent.id}), or start a new one after {allowed:%Y-%m-%d %H:%M:%S %Z}.",
            code="existing_export",
        )


def export_start(*, corpus, user, dataset=None, source="default"):
    """
    Start an export of a corpus, or of one of its datasets: built at once when small, else by a
    job. 400 `running_export` while another export of the same corpus and dataset is being built,
    400 `existing_export` within EXPORT_DELAY seconds of the last one done.
    """
    fail_stale_exports(corpus=corpus, dataset=dataset)
    check_export_delay(corpus=corpus, dataset=dataset)
    try:
        with transaction.atomic():
            # The corpus row is held until the export is recorded: a deletion asked meanwhile waits for
            # it (and deletes the export with the corpus), or came first, and the corpus is gone.
            if not Corpus.objects.select_for_update(no_key=True).filter(pk=corpus.pk, deleting__isnull=True).exists():
                raise NotFound(f"Corpus {corpus.id} not found, or you have no access to it.")
            export = CorpusExport.objects.create(corpus=corpus, dataset=dataset, user=user, source=source)
    except IntegrityError as error:
        if constraint_of(error) == "unique_active_export":
            raise StandardValidationError(RUNNING_EXPORT, code="running_export") from None
        raise
    if export_is_small(export):
        export_build(export)
    else:
        enqueue_job(
            EXPORT_JOB,
            str(export.id),
            description=f"Export {'dataset ' + dataset.name if dataset else 'corpus ' + corpus.name}",
            user=user,
            queue=EXPORT_QUEUE,
            key=f"export-{export.id}",
            timeout=export_timeout(),
        )
    return export


def export_build(export):
    """
    Build a created export: running, then done with its file in the storage, or failed with no
    file. Does nothing to an export another process already started. Returns the export.
    """
    if not export.start():
        logger.info("Export %s is no longer waiting to be built", export.id)
        return export
    try:
        with tempfile.TemporaryDirectory(prefix="arkindex-export-") as folder:
            path = Path(folder) / "export.sqlite"
            counts = write_sqlite(export, path)
            store_file(export.storage_key, path)
    except Exception:
        logger.exception("Export %s failed", export.id)
        export.fail()
        return export
    if export.finish():
        logger.info("Export %s is done: %s", export.id, ", ".join(f"{n} {table}" for table, n in counts.items()))
    else:
        # Deleted (with its corpus) or marked failed while being built: nothing may hold the file.
        logger.warning("Export %s ended while being built: its file is deleted", export.id)
        storage.delete(export.storage_key)
    return export


def export_destroy(*, export):
    """Delete an export and, once committed, its file; 409 while it is being built."""
    with transaction.atomic():
        current = CorpusExport.objects.select_for_update().filter(pk=export.pk).first()
        if current is None:
            return
        if current.state in ACTIVE_EXPORT_STATES:
            raise Conflict(f"Export {current.id} is {current.state}: it can be deleted once it is built or failed.")
        current.delete()


def export_download_url(export):
    """A URL that serves the export's file without credentials, for a limited time."""
    return storage.download_url(export.storage_key, content_type=CONTENT_TYPE, filename=export_filename(export))


def delete_folder(folder):
    """Delete the files of a folder of the storage (S3 has no folders: the files under a prefix)."""
    try:
        _, files = default_storage.listdir(folder)
    except FileNotFoundError:
        return
    for name in files:
        default_storage.delete(f"{folder}/{name}")


@receiver(post_delete, sender=CorpusExport)
def delete_export_file(sender, instance, **kwargs):
    """An export deleted through Django (DestroyExport, the admin, a dataset's deletion) takes its file along."""
    key = instance.storage_key
    transaction.on_commit(lambda: storage.delete(key))


@receiver(corpus_deleting, sender=Corpus)
def delete_corpus_exports(sender, cursor, corpus_id, **kwargs):
    cursor.execute(f"DELETE FROM {EXPORTS} WHERE corpus_id = %s", [corpus_id])
    transaction.on_commit(lambda: delete_folder(export_folder(corpus_id)))


# Cleanup (`arkindex.cleanup`): exports older than the retention go, files of exports that no longer exist too.


@register_sweeper
class ExportSweeper(ObjectFilesSweeper):
    name = "Exports"
    folders = ("exports/",)
    key_pattern = re.compile(rf"^exports/{UUID}/(?P<id>{UUID})\.sqlite$")
    model = CorpusExport

    def expired(self, cutoff):
        old = (
            CorpusExport.objects.filter(updated__lt=cutoff)
            .exclude(state__in=ACTIVE_EXPORT_STATES)
            .select_related("corpus", "dataset")
            .order_by("updated")
        )
        for export in old.iterator():
            what = f"dataset {export.dataset.name}" if export.dataset else f"corpus {export.corpus.name}"
            yield Expired(
                f"export {export.id} of {what} ({export.state}, {export.updated:%Y-%m-%d})",
                [export.storage_key] if export.state == CorpusExportState.Done else [],
                lambda export=export: CorpusExport.objects.filter(pk=export.pk).delete(),
            )
