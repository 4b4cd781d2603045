"""
Writes of worker results: transcriptions, ML classes, classifications, metadata.

Bulk writes are one INSERT per table whatever the number of items, and the deletion of elements
or corpora removes their results with one statement per table (`documents.services.deletion`).
Rights and the worker run are checked by the views before these run.
"""

import math
import re
import uuid

from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from rest_framework.exceptions import ValidationError

from arkindex.models import constraint_of
from arkindex.prepared import Statement, insert_objects, mark_saved, new_objects
from documents.models import (
    Classification,
    ClassificationState,
    Element,
    ElementPath,
    Embedding,
    Entity,
    EntityType,
    MetaData,
    MLClass,
    Transcription,
    TranscriptionEntity,
)
from documents.services.deletion import children_lock, subtrees_delete, tree_lock

DUPLICATE_CLASSIFICATION = "The fields element, worker_run, ml_class must make a unique set."
UNIQUE_CLASSIFICATION = "unique_classification"

T = Transcription._meta.db_table
TE = TranscriptionEntity._meta.db_table
ELEMENTS = Element._meta.db_table
PATHS = ElementPath._meta.db_table


# Transcriptions


# Transcriptions of many elements in one statement, prepared by the driver: the rows come as
# arrays, one per column, their ids and creation time made here as `bulk_create` would.
TRANSCRIPTIONS_INSERT = Statement(
    f"""
    INSERT INTO {T} (id, created, updated, element_id, text, confidence, orientation, worker_run_id)
    SELECT item.id, %(now)s::timestamptz, %(now)s::timestamptz, item.element_id, item.text, item.confidence,
        item.orientation, %(worker_run)s::uuid
    FROM unnest(%(ids)b::uuid[], %(elements)b::uuid[], %(texts)b::text[], %(confidences)b::float8[],
        %(orientations)b::varchar[]) AS item (id, element_id, text, confidence, orientation)
    """
)


def transcriptions_create(items, *, worker_run):
    """Transcriptions from dicts with `element_id`, `text`, `confidence`, `orientation`: one INSERT."""
    now = timezone.now()
    transcriptions = new_objects(
        Transcription,
        [
            {
                "element_id": item["element_id"],
                "text": item["text"],
                "confidence": item.get("confidence"),
                "orientation": item.get("orientation") or "horizontal-lr",
            }
            for item in items
        ],
        created=now,
        updated=now,
        worker_run=worker_run,
    )
    values = {
        "now": now,
        "worker_run": worker_run.id if worker_run is not None else None,
        "ids": [t.id for t in transcriptions],
        "elements": [t.element_id for t in transcriptions],
        "texts": [t.text for t in transcriptions],
        "confidences": [t.confidence for t in transcriptions],
        "orientations": [t.orientation for t in transcriptions],
    }
    TRANSCRIPTIONS_INSERT.execute(values).close()
    return mark_saved(transcriptions)


# The children of one type on the parent's image, read from the parent's paths first whatever the
# statistics say: a type new in the corpus looks empty to the planner until its next ANALYZE, which
# would otherwise scan all of the type's elements for each of the parent's children. One more row
# holds the position after the parent's last child (the only row with a position).
EXISTING_CHILDREN = Statement(
    f"""
    WITH child AS MATERIALIZED (SELECT element_id, ordering FROM {PATHS} WHERE parent = %(parent)s::uuid)
    SELECT NULL::uuid, NULL::integer[], (SELECT COALESCE(MAX(ordering) + 1, 0) FROM child)
    UNION ALL
    SELECT element.id, element.polygon, NULL
    FROM child JOIN {ELEMENTS} AS element ON element.id = child.element_id
    WHERE element.type_id = %(type)s::uuid AND element.image_id = %(image)s::uuid
    """
)


def element_transcriptions_create(*, parent, element_type_id, items, worker_run, creator):
    """
    Child elements of `parent` on its image, one per polygon, each with its transcription. A child of
    the same type with the same polygon is reused (`created: false`), so that a worker retrying a
    batch does not duplicate its lines. One INSERT per table; returns `[(transcription, element_id, created)]`.
    """
    with transaction.atomic():
        children_lock(parent.corpus_id, parent.id)
        with EXISTING_CHILDREN.execute(
            {"parent": parent.id, "type": element_type_id, "image": parent.image_id}
        ) as cursor:
            existing = {}
            for element_id, polygon, position in cursor.fetchall():
                if position is None:
                    existing[tuple(map(tuple, polygon))] = element_id
                else:
                    next_position = position

        new_elements, targets = [], []
        for item in items:
            key = tuple(map(tuple, item["polygon"]))
            if key in existing:
                targets.append((existing[key], False))
                continue
            element_id = uuid.uuid4()
            new_elements.append(
                {
                    "id": element_id,
                    "name": str(next_position + len(new_elements) + 1),
                    "polygon": item["polygon"],
                    "confidence": item.get("element_confidence"),
                }
            )
            existing[key] = element_id
            targets.append((element_id, True))
        if new_elements:
            new_elements = new_objects(
                Element,
                new_elements,
                corpus_id=parent.corpus_id,
                type_id=element_type_id,
                image_id=parent.image_id,
                creator=creator,
                worker_run=worker_run,
            )
            insert_objects(new_elements)
            with connection.cursor() as cursor:
                cursor.execute(
                    f"""
                    INSERT INTO {PATHS} (id, created, updated, element_id, path, ordering)
                    SELECT gen_random_uuid(), now(), now(), child.id, path.path || %(parent)s::uuid,
                        %(start)s + child.n - 1
                    FROM unnest(%(children)s::uuid[]) WITH ORDINALITY AS child(id, n)
                    CROSS JOIN {PATHS} AS path
                    WHERE path.element_id = %(parent)s::uuid
                    """,
                    {"parent": str(parent.id), "children": [str(e.id) for e in new_elements], "start": next_position},
                )
        transcriptions = transcriptions_create(
            [{**item, "element_id": element_id} for item, (element_id, _) in zip(items, targets, strict=True)],
            worker_run=worker_run,
        )
    return [(t, element_id, created) for t, (element_id, created) in zip(transcriptions, targets, strict=True)]


# Classes and classifications


def ml_class_create(*, corpus, name):
    """
    A new class of the corpus; 400 when the name is taken, which the base worker reads as "reload
    the classes". The unique constraint decides between concurrent creations of one name.
    """
    try:
        with transaction.atomic():
            return MLClass.objects.create(corpus=corpus, name=name)
    except IntegrityError:
        raise ValidationError(
            {"name": [f"An ML class named '{name}' already exists in corpus {corpus.id}: use it."]}
        ) from None


def classifications_create(*, element_ids, items, worker_run, user):
    """
    Classifications from dicts with `ml_class` (an id), `confidence`, `high_confidence`, on elements `element_ids`
    (one per item). A person's classification (no worker run) is validated by its author. One INSERT;
    an existing (element, class, run) answers the duplicate message the base worker recognises.
    """
    manual = worker_run is None
    pairs = [(element_id, item["ml_class"]) for element_id, item in zip(element_ids, items, strict=True)]
    if len(set(pairs)) != len(pairs):
        raise ValidationError({"non_field_errors": [DUPLICATE_CLASSIFICATION]})
    objects = new_objects(
        Classification,
        [
            {
                "element_id": element_id,
                "ml_class_id": item["ml_class"],
                "confidence": item.get("confidence", 1.0 if manual else None),
                "high_confidence": item.get("high_confidence", manual),
            }
            for element_id, item in zip(element_ids, items, strict=True)
        ],
        state=ClassificationState.Validated if manual else ClassificationState.Pending,
        moderator=user if manual else None,
        worker_run=worker_run,
    )
    try:
        if not connection.in_atomic_block:
            # One statement, atomic by itself: a duplicate leaves nothing to roll back.
            return insert_objects(objects)
        with transaction.atomic():
            return insert_objects(objects)
    except IntegrityError as error:
        # The unique constraint (null runs included) is the check: one already there, or created concurrently.
        if constraint_of(error) != UNIQUE_CLASSIFICATION:
            raise
        raise ValidationError({"non_field_errors": [DUPLICATE_CLASSIFICATION]}) from None


def classification_reject(*, classification, user):
    """
    Reject a classification. A worker's is kept, rejected, so that the worker's results stay
    traceable; a person's is simply deleted (returns None then).
    """
    if classification.worker_run_id is None:
        classification.delete()
        return None
    classification.state = ClassificationState.Rejected
    classification.moderator = user
    classification.save(update_fields=["state", "moderator", "updated"])
    return classification


# Metadata


def metadata_value(meta_type, value):
    """
    The text stored for a metadata value of `meta_type`, or a ValueError saying what is expected:
    numbers are stored as sent (ints and floats alike), dates as ISO `YYYY[-MM[-DD]]`.
    """
    if isinstance(value, bool):
        raise ValueError("A metadata value is a string or a number.")
    if meta_type == "numeric":
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"'{value}' is not a number.") from None
        if not math.isfinite(number):
            raise ValueError(f"'{value}' is not a finite number.")
        return str(value)
    value = str(value)
    if meta_type == "date" and not metadata_dates(value):
        raise ValueError(f"'{value}' is not a date: use YYYY, YYYY-MM or YYYY-MM-DD.")
    if meta_type == "url" and not re.match(r"^https?://\S+$", value):
        raise ValueError(f"'{value}' is not an http(s) URL.")
    return value


DATE_PATTERN = re.compile(r"^(\d{4})(?:-(0[1-9]|1[0-2])(?:-(0[1-9]|[12]\d|3[01]))?)?$")


def metadata_dates(value):
    """The dates a date metadata holds, as `[{type, year, month, day}]` (empty when not a date)."""
    match = DATE_PATTERN.match(value.strip())
    if not match:
        return []
    year, month, day = (int(part) if part else None for part in match.groups())
    return [{"type": "exact", "year": year, "month": month, "day": day}]


# The metadata of a source (a worker run, or a person: a null run) on an element, among some names.
EXISTING_METADATA = Statement(
    f"""
    SELECT name, type, value FROM {MetaData._meta.db_table}
    WHERE element_id = %(element)s::uuid AND worker_run_id IS NOT DISTINCT FROM %(run)s::uuid
        AND name = ANY(%(names)s::text[])
    """
)


def metadata_create(*, element_id, items, worker_run):
    """
    Metadata from dicts with `type`, `name`, `value` (as sent) on element `element_id`: one INSERT. Metadata
    already on the element with the same name, type and value from the same source (this worker
    run, or a person when none) answer the message the CLI parses (API.md §1.7: a set of `(name,
    type, value)` it re-sends the others without); other sources' metadata coexist with them, as
    their transcriptions and classifications do.
    """
    keys = [(item["name"], item["type"], metadata_value(item["type"], item["value"])) for item in items]
    with EXISTING_METADATA.execute(
        {
            "element": element_id,
            "run": worker_run.id if worker_run is not None else None,
            "names": list({key[0] for key in keys}),
        }
    ) as cursor:
        existing = set(cursor.fetchall())
    duplicates = {
        (item["name"], item["type"], item["value"]) for item, key in zip(items, keys, strict=True) if key in existing
    }
    if len(set(keys)) != len(keys):
        duplicates |= {
            (item["name"], item["type"], item["value"])
            for item, key in zip(items, keys, strict=True)
            if keys.count(key) > 1
        }
    if duplicates:
        raise ValidationError({"non_field_errors": [f"Metadata {duplicates!r} already exist(s) on this element."]})
    return insert_objects(
        new_objects(
            MetaData,
            [{"name": name, "type": meta_type, "value": value} for name, meta_type, value in keys],
            element_id=element_id,
            worker_run=worker_run,
        )
    )


# Entities


def entity_type_create(*, corpus, name, color=None):
    if EntityType.objects.filter(corpus=corpus, name=name).exists():
        raise ValidationError(
            {"name": [f"An entity type named '{name}' already exists in corpus {corpus.id}: use it."]}
        )
    return EntityType.objects.create(corpus=corpus, name=name, **({"color": color} if color else {}))


# Where the entities of a source (a worker run, or a person: a null run) already are in a transcription.
PLACED_ENTITIES = Statement(
    f"""
    SELECT placed."offset", placed.length, entity.type_id
    FROM {TE} AS placed JOIN {Entity._meta.db_table} AS entity ON entity.id = placed.entity_id
    WHERE placed.transcription_id = %(transcription)s::uuid
        AND placed.worker_run_id IS NOT DISTINCT FROM %(run)s::uuid
    """
)


def transcription_entities_create(*, transcription, items, worker_run):
    """
    Entities found in a transcription (its `id`, `text` and `corpus_id`: a `PublishedTranscription`),
    from dicts with `type` (an EntityType of its corpus), `offset`, `length`, `confidence`: each
    creates the entity named by the text it spans, and its place in the transcription. An entity of
    the same type already at the same place (from the same run) answers 400, so that a retried batch
    does not duplicate. One statement writes both tables.
    """
    text = transcription.text
    keys = [(item["offset"], item["length"], item["type"].id) for item in items]
    errors = {}
    for index, item in enumerate(items):
        if item["offset"] + item["length"] > len(text):
            errors[index] = {"length": [f"offset + length exceeds the transcription's {len(text)} characters."]}
        elif keys.index(keys[index]) != index:
            errors[index] = {"non_field_errors": ["The fields offset, length, type_id must make a unique set."]}
    with PLACED_ENTITIES.execute(
        {"transcription": transcription.id, "run": worker_run.id if worker_run is not None else None}
    ) as cursor:
        existing = set(cursor.fetchall())
    for index, key in enumerate(keys):
        if key in existing and index not in errors:
            errors[index] = {"non_field_errors": ["This entity is already at this place in the transcription."]}
    if errors:
        raise ValidationError({"transcription_entities": errors})
    now = timezone.now()
    run_id = worker_run.id if worker_run is not None else None
    entities = new_objects(
        Entity,
        [{"type": item["type"], "name": text[item["offset"] : item["offset"] + item["length"]]} for item in items],
        created=now,
        updated=now,
        corpus_id=transcription.corpus_id,
        worker_run=worker_run,
    )
    placed = new_objects(
        TranscriptionEntity,
        [
            {"entity": entity, "offset": item["offset"], "length": item["length"], "confidence": item.get("confidence")}
            for entity, item in zip(entities, items, strict=True)
        ],
        created=now,
        updated=now,
        transcription_id=transcription.id,
        worker_run=worker_run,
    )
    values = {
        "now": now,
        "corpus": transcription.corpus_id,
        "transcription": transcription.id,
        "run": run_id,
        "entities": [entity.id for entity in entities],
        "types": [entity.type_id for entity in entities],
        "names": [entity.name for entity in entities],
        "ids": [obj.id for obj in placed],
        "offsets": [obj.offset for obj in placed],
        "lengths": [obj.length for obj in placed],
        "confidences": [obj.confidence for obj in placed],
    }
    TRANSCRIPTION_ENTITIES_INSERT.execute(values).close()
    mark_saved(entities)
    return mark_saved(placed)


# Entities and their places in a transcription, in one statement (both tables, or neither).
TRANSCRIPTION_ENTITIES_INSERT = Statement(
    f"""
    WITH entity AS (
        INSERT INTO {Entity._meta.db_table} (id, created, updated, corpus_id, type_id, name, metas, worker_run_id)
        SELECT item.id, %(now)s::timestamptz, %(now)s::timestamptz, %(corpus)s::uuid, item.type_id, item.name, NULL,
            %(run)s::uuid
        FROM unnest(%(entities)b::uuid[], %(types)b::uuid[], %(names)b::text[]) AS item (id, type_id, name)
    )
    INSERT INTO {TE} (id, created, updated, transcription_id, entity_id, "offset", length, confidence, worker_run_id)
    SELECT item.id, %(now)s::timestamptz, %(now)s::timestamptz, %(transcription)s::uuid, item.entity_id,
        item.start, item.length, item.confidence, %(run)s::uuid
    FROM unnest(%(ids)b::uuid[], %(entities)b::uuid[], %(offsets)b::integer[], %(lengths)b::integer[],
        %(confidences)b::float8[]) AS item (id, entity_id, start, length, confidence)
    """
)


# Embeddings


def embedding_create(*, element, value, worker_run):
    return Embedding.objects.create(element=element, value=value, worker_run=worker_run)


# A worker run's results


def worker_results_delete(*, corpus_id, runs_sql, runs_params, scope_ids=None):
    """
    Delete, on one corpus, every result signed by the worker runs that `runs_sql` selects (a query
    returning their `id` and `bound`, run with `runs_params`), in one transaction and with a few
    statements per table whatever the number of rows:

    - the elements they created, with their descendants that have no other way up (see
      `documents.services.deletion.subtrees_delete`) and everything attached to those;
    - their transcriptions (with every entity marked in them), classifications, metadata,
      embeddings and transcription entities;
    - the entities they found, with every place those are marked at, even by another run; metadata
      pointing at them lose the link. Within a scope, only the entities no longer marked anywhere go.

    A `bound` run belongs to a process of this corpus, so its results can only be here and are read
    from the (worker run, element) indexes alone; the others (user worker runs) are matched through
    the corpus of their elements. `scope_ids` restricts the deletion to those elements of the corpus
    and their descendants. Results of other runs and made by hand stay. Returns the number of rows
    deleted per kind of result.
    """
    params = {"corpus": str(corpus_id)}
    counts = {}
    scoped = scope_ids is not None

    with transaction.atomic(), connection.cursor() as cursor:

        def execute(name, sql):
            cursor.execute(sql, params)
            if name:
                counts[name] = counts.get(name, 0) + cursor.rowcount

        tree_lock(corpus_id)
        cursor.execute(
            f"CREATE TEMPORARY TABLE doomed_runs ON COMMIT DROP AS SELECT id, bound FROM ({runs_sql}) AS runs",
            runs_params,
        )
        cursor.execute("ALTER TABLE doomed_runs ADD PRIMARY KEY (id)")
        cursor.execute("ANALYZE doomed_runs")
        cursor.execute("SELECT coalesce(bool_or(NOT bound), false) FROM doomed_runs")
        (has_unbound,) = cursor.fetchone()
        if scoped:
            cursor.execute(
                f"""
                CREATE TEMPORARY TABLE results_scope ON COMMIT DROP AS
                SELECT id FROM {ELEMENTS} WHERE id = ANY(%(roots)s::uuid[]) AND corpus_id = %(corpus)s::uuid
                UNION
                SELECT path.element_id FROM {ELEMENTS} AS root
                JOIN {PATHS} AS path ON path.path @> ARRAY[root.id]
                WHERE root.id = ANY(%(roots)s::uuid[]) AND root.corpus_id = %(corpus)s::uuid
                """,
                {"roots": [str(i) for i in scope_ids], "corpus": str(corpus_id)},
            )
            cursor.execute("ALTER TABLE results_scope ADD PRIMARY KEY (id)")
            cursor.execute("ANALYZE results_scope")

        def signed(on_elements):
            """
            WHERE clauses, one per statement, matching the rows signed by the doomed runs on the
            corpus (and the scope); `on_elements(subquery)` restricts rows to elements of a subquery.
            """
            if scoped:
                in_scope = on_elements("SELECT id FROM results_scope")
                return [f"worker_run_id IN (SELECT id FROM doomed_runs) AND {in_scope}"]
            clauses = ["worker_run_id IN (SELECT id FROM doomed_runs WHERE bound)"]
            if has_unbound:
                on_corpus = on_elements(f"SELECT id FROM {ELEMENTS} WHERE corpus_id = %(corpus)s::uuid")
                clauses.append(f"worker_run_id IN (SELECT id FROM doomed_runs WHERE NOT bound) AND {on_corpus}")
            return clauses

        def on_element(subquery):
            return f"element_id IN ({subquery})"

        def on_transcription(subquery):
            return f"transcription_id IN (SELECT id FROM {T} WHERE element_id IN ({subquery}))"

        # Elements first: everything attached to them goes with them, whoever signed it.
        root_clause = signed(lambda subquery: f"id IN ({subquery})")
        cursor.execute("CREATE TEMPORARY TABLE doomed_roots (id uuid PRIMARY KEY) ON COMMIT DROP")
        for clause in root_clause:
            cursor.execute(
                f"INSERT INTO doomed_roots SELECT id FROM {ELEMENTS} WHERE corpus_id = %(corpus)s::uuid AND {clause}",
                params,
            )
        counts["elements"] = subtrees_delete(cursor)

        for clause in signed(on_transcription):
            execute("transcription entities", f"DELETE FROM {TE} WHERE {clause}")
        for clause in signed(on_element):
            # Transcription entities refer to transcriptions through a deferred foreign key: the
            # marks in the deleted transcriptions go in the same statement, reading them once.
            cursor.execute(
                f"""
                WITH gone AS (DELETE FROM {T} WHERE {clause} RETURNING id),
                marks AS (DELETE FROM {TE} WHERE transcription_id IN (SELECT id FROM gone) RETURNING 1)
                SELECT (SELECT count(*) FROM gone), (SELECT count(*) FROM marks)
                """,
                params,
            )
            transcriptions, marks = cursor.fetchone()
            counts["transcriptions"] = counts.get("transcriptions", 0) + transcriptions
            counts["transcription entities"] = counts.get("transcription entities", 0) + marks
            for name, model in (("classifications", Classification), ("metadata", MetaData), ("embeddings", Embedding)):
                execute(name, f"DELETE FROM {model._meta.db_table} WHERE {clause}")

        entities = Entity._meta.db_table
        unmarked = f" AND NOT EXISTS (SELECT 1 FROM {TE} WHERE entity_id = {entities}.id)" if scoped else ""
        cursor.execute(
            f"""
            CREATE TEMPORARY TABLE doomed_entities ON COMMIT DROP AS
            SELECT id FROM {entities} WHERE corpus_id = %(corpus)s::uuid
            AND worker_run_id IN (SELECT id FROM doomed_runs){unmarked}
            """,
            params,
        )
        doomed_entities = "(SELECT id FROM doomed_entities)"
        execute(None, f"UPDATE {MetaData._meta.db_table} SET entity_id = NULL WHERE entity_id IN {doomed_entities}")
        execute("transcription entities", f"DELETE FROM {TE} WHERE entity_id IN {doomed_entities}")
        execute("entities", f"DELETE FROM {entities} WHERE id IN {doomed_entities}")
        cursor.execute("DROP TABLE doomed_runs, doomed_entities" + (", results_scope" if scoped else ""))
    return counts
