"""
Writes of worker results: transcriptions, ML classes, classifications, metadata.

Bulk writes are one INSERT per table whatever the number of items, and the deletion of elements
or corpora removes their results with one statement per table (called by `documents.services`).
Rights and the worker run are checked by the views before these run.
"""

import re

from django.db import IntegrityError, connection, transaction
from rest_framework.exceptions import ValidationError

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

DUPLICATE_CLASSIFICATION = "The fields element, worker_run, ml_class must make a unique set."

T = Transcription._meta.db_table
TE = TranscriptionEntity._meta.db_table
ELEMENTS = Element._meta.db_table
PATHS = ElementPath._meta.db_table


def element_results_deletion():
    """SQL statements deleting the results of the elements listed in `doomed_elements`."""
    doomed = "(SELECT id FROM doomed_elements)"
    return [
        f"DELETE FROM {TE} WHERE transcription_id IN (SELECT id FROM {T} WHERE element_id IN {doomed})",
        f"DELETE FROM {T} WHERE element_id IN {doomed}",
        f"DELETE FROM {Classification._meta.db_table} WHERE element_id IN {doomed}",
        f"DELETE FROM {MetaData._meta.db_table} WHERE element_id IN {doomed}",
        f"DELETE FROM {Embedding._meta.db_table} WHERE element_id IN {doomed}",
    ]


def corpus_results_deletion():
    """SQL statements deleting the results and the classes and entities of the corpus `%(corpus)s`."""
    in_corpus = f"(SELECT id FROM {ELEMENTS} WHERE corpus_id = %(corpus)s::uuid)"
    return [
        f"DELETE FROM {TE} WHERE entity_id IN "
        f"(SELECT id FROM {Entity._meta.db_table} WHERE corpus_id = %(corpus)s::uuid)",
        f"DELETE FROM {TE} WHERE transcription_id IN (SELECT id FROM {T} WHERE element_id IN {in_corpus})",
        f"DELETE FROM {T} WHERE element_id IN {in_corpus}",
        f"DELETE FROM {Classification._meta.db_table} WHERE element_id IN {in_corpus}",
        f"DELETE FROM {MetaData._meta.db_table} WHERE element_id IN {in_corpus}",
        f"DELETE FROM {Embedding._meta.db_table} WHERE element_id IN {in_corpus}",
        f"DELETE FROM {Entity._meta.db_table} WHERE corpus_id = %(corpus)s::uuid",
        f"DELETE FROM {EntityType._meta.db_table} WHERE corpus_id = %(corpus)s::uuid",
        f"DELETE FROM {MLClass._meta.db_table} WHERE corpus_id = %(corpus)s::uuid",
    ]


# Transcriptions


def transcriptions_create(items, *, worker_run):
    """Transcriptions from dicts with `element_id`, `text`, `confidence`, `orientation`: one INSERT."""
    return Transcription.objects.bulk_create(
        [
            Transcription(
                element_id=item["element_id"],
                text=item["text"],
                confidence=item.get("confidence"),
                orientation=item.get("orientation") or "horizontal-lr",
                worker_run=worker_run,
            )
            for item in items
        ]
    )


def element_transcriptions_create(*, parent, element_type, items, worker_run, creator):
    """
    Child elements of `parent` on its image, one per polygon, each with its transcription. A child of
    the same type with the same polygon is reused (`created: false`), so that a worker retrying a
    batch does not duplicate its lines. One INSERT per table; returns `[(transcription, element_id, created)]`.
    """
    from documents.services import _tree_lock

    with transaction.atomic():
        _tree_lock(parent.corpus_id, shared=True)
        # Siblings created at the same time must not get the same position.
        Element.objects.select_for_update(no_key=True).filter(pk=parent.pk).values_list("pk").first()
        existing = {
            tuple(map(tuple, polygon)): element_id
            for element_id, polygon in Element.objects.filter(
                paths__parent=parent.id, type=element_type, image_id=parent.image_id
            ).values_list("id", "polygon")
        }
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT COALESCE(MAX(ordering) + 1, 0) FROM {PATHS} WHERE parent = %s", [str(parent.id)])
            (next_position,) = cursor.fetchone()

        new_elements, targets = [], []
        for item in items:
            key = tuple(map(tuple, item["polygon"]))
            if key in existing:
                targets.append((existing[key], False))
                continue
            element = Element(
                corpus_id=parent.corpus_id,
                type=element_type,
                name=str(next_position + len(new_elements) + 1),
                image_id=parent.image_id,
                polygon=item["polygon"],
                confidence=item.get("element_confidence"),
                creator=creator,
                worker_run=worker_run,
            )
            new_elements.append(element)
            existing[key] = element.id
            targets.append((element.id, True))
        if new_elements:
            Element.objects.bulk_create(new_elements)
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
    if MLClass.objects.filter(corpus=corpus, name=name).exists():
        raise ValidationError({"name": [f"An ML class named '{name}' already exists in corpus {corpus.id}: use it."]})
    return MLClass.objects.create(corpus=corpus, name=name)


def classifications_create(*, element_ids, items, worker_run, user):
    """
    Classifications from dicts with `ml_class`, `confidence`, `high_confidence`, on elements `element_ids`
    (one per item). A person's classification (no worker run) is validated by its author. One INSERT;
    an existing (element, class, run) answers the duplicate message the base worker recognises.
    """
    manual = worker_run is None
    pairs = [(element_id, item["ml_class"].id) for element_id, item in zip(element_ids, items, strict=True)]
    if len(set(pairs)) != len(pairs):
        raise ValidationError({"non_field_errors": [DUPLICATE_CLASSIFICATION]})
    duplicates = Classification.objects.filter(
        element_id__in={e for e, _ in pairs}, ml_class_id__in={c for _, c in pairs}, worker_run=worker_run
    ).values_list("element_id", "ml_class_id")
    if set(duplicates) & set(pairs):
        raise ValidationError({"non_field_errors": [DUPLICATE_CLASSIFICATION]})
    objects = [
        Classification(
            element_id=element_id,
            ml_class=item["ml_class"],
            confidence=item.get("confidence", 1.0 if manual else None),
            high_confidence=item.get("high_confidence", manual),
            state=ClassificationState.Validated if manual else ClassificationState.Pending,
            moderator=user if manual else None,
            worker_run=worker_run,
        )
        for element_id, item in zip(element_ids, items, strict=True)
    ]
    try:
        with transaction.atomic():
            return Classification.objects.bulk_create(objects)
    except IntegrityError:
        # Created by a concurrent request between the check and the INSERT.
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
            float(value)
        except (TypeError, ValueError):
            raise ValueError(f"'{value}' is not a number.") from None
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


def metadata_create(*, element, items, worker_run):
    """
    Metadata from dicts with `type`, `name`, `value` (as sent) on `element`: one INSERT. Metadata
    already on the element with the same name, type and value answer the message the CLI parses
    (API.md §1.7: a set of `(name, type, value)` it re-sends the others without).
    """
    keys = [(item["name"], item["type"], metadata_value(item["type"], item["value"])) for item in items]
    existing = set(
        MetaData.objects.filter(element=element, name__in={k[0] for k in keys}).values_list("name", "type", "value")
    )
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
    return MetaData.objects.bulk_create(
        [
            MetaData(element=element, name=name, type=meta_type, value=value, worker_run=worker_run)
            for name, meta_type, value in keys
        ]
    )


# Entities


def entity_type_create(*, corpus, name, color=None):
    if EntityType.objects.filter(corpus=corpus, name=name).exists():
        raise ValidationError(
            {"name": [f"An entity type named '{name}' already exists in corpus {corpus.id}: use it."]}
        )
    return EntityType.objects.create(corpus=corpus, name=name, **({"color": color} if color else {}))


def transcription_entities_create(*, transcription, items, worker_run):
    """
    Entities found in a transcription, from dicts with `type` (an EntityType of its corpus), `offset`,
    `length`, `confidence`: each creates the entity named by the text it spans, and its place in the
    transcription. An entity of the same type already at the same place (from the same run) answers
    400, so that a retried batch does not duplicate. One INSERT per table.
    """
    text = transcription.text
    keys = [(item["offset"], item["length"], item["type"].id) for item in items]
    errors = {}
    for index, item in enumerate(items):
        if item["offset"] + item["length"] > len(text):
            errors[index] = {"length": [f"offset + length exceeds the transcription's {len(text)} characters."]}
        elif keys.index(keys[index]) != index:
            errors[index] = {"non_field_errors": ["The fields offset, length, type_id must make a unique set."]}
    existing = set(
        TranscriptionEntity.objects.filter(transcription=transcription, worker_run=worker_run).values_list(
            "offset", "length", "entity__type_id"
        )
    )
    for index, key in enumerate(keys):
        if key in existing and index not in errors:
            errors[index] = {"non_field_errors": ["This entity is already at this place in the transcription."]}
    if errors:
        raise ValidationError({"transcription_entities": errors})
    with transaction.atomic():
        entities = Entity.objects.bulk_create(
            [
                Entity(
                    corpus_id=transcription.element.corpus_id,
                    type=item["type"],
                    name=text[item["offset"] : item["offset"] + item["length"]],
                    worker_run=worker_run,
                )
                for item in items
            ]
        )
        return TranscriptionEntity.objects.bulk_create(
            [
                TranscriptionEntity(
                    transcription=transcription,
                    entity=entity,
                    offset=item["offset"],
                    length=item["length"],
                    confidence=item.get("confidence"),
                    worker_run=worker_run,
                )
                for entity, item in zip(entities, items, strict=True)
            ]
        )


# Embeddings


def embedding_create(*, element, value, worker_run):
    return Embedding.objects.create(element=element, value=value, worker_run=worker_run)


# A worker run's results


def worker_run_results_delete(*, worker_run_id):
    """
    Delete every result signed by a worker run but its elements (whose deletion walks the element
    tree, see `documents.services.element_delete`): one statement per table, in one transaction.
    Entities found by the run go with every place they are marked at, even by another run, and
    metadata pointing at them lose the link. Returns the number of rows deleted per model.
    """
    run = {"run": str(worker_run_id)}
    run_entities = f"(SELECT id FROM {Entity._meta.db_table} WHERE worker_run_id = %(run)s::uuid)"
    statements = [
        ("transcription entities", f"DELETE FROM {TE} WHERE worker_run_id = %(run)s::uuid"),
        (
            "transcription entities",
            f"DELETE FROM {TE} WHERE transcription_id IN (SELECT id FROM {T} WHERE worker_run_id = %(run)s::uuid) "
            f"OR entity_id IN {run_entities}",
        ),
        ("metadata", f"UPDATE {MetaData._meta.db_table} SET entity_id = NULL WHERE entity_id IN {run_entities}"),
        ("transcriptions", f"DELETE FROM {T} WHERE worker_run_id = %(run)s::uuid"),
        ("classifications", f"DELETE FROM {Classification._meta.db_table} WHERE worker_run_id = %(run)s::uuid"),
        ("metadata", f"DELETE FROM {MetaData._meta.db_table} WHERE worker_run_id = %(run)s::uuid"),
        ("embeddings", f"DELETE FROM {Embedding._meta.db_table} WHERE worker_run_id = %(run)s::uuid"),
        ("entities", f"DELETE FROM {Entity._meta.db_table} WHERE worker_run_id = %(run)s::uuid"),
    ]
    counts = {}
    with transaction.atomic(), connection.cursor() as cursor:
        for name, sql in statements:
            cursor.execute(sql, run)
            if sql.startswith("DELETE"):
                counts[name] = counts.get(name, 0) + cursor.rowcount
    return counts
