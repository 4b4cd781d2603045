"""
Every change to corpora and to the element tree.

Paths (see `documents.models`) are maintained with set-based SQL: linking an element under a new
parent, unlinking it, or deleting a subtree touches all descendants' paths in a few statements,
whatever the size of the subtree. Changes that rewrite existing paths (linking, unlinking,
deleting) take an exclusive per-corpus lock for their transaction; creating a new element under a
parent only adds paths, and takes the same lock in shared mode, so that workers creating elements
in parallel do not wait for each other but never read paths that a link change is rewriting.
Checks that depend on the tree (cycles, existing links) run inside that lock.
"""

import logging

from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models.functions import Now

from arkindex.jobs import enqueue_job
from arkindex.prepared import insert_objects, new_objects
from documents.models import Corpus, Element, ElementPath, ElementType
from documents.services.deletion import children_lock, delete_corpus_results, subtrees_delete, tree_lock
from documents.signals import corpus_deleting
from users.models import Right, Role

logger = logging.getLogger(__name__)

# Above this number of descendants, DestroyElement deletes in a background job instead of the request.
SYNC_DELETE_LIMIT = 1000

PATHS = ElementPath._meta.db_table
ELEMENTS = Element._meta.db_table


def _ids(values):
    return [str(value) for value in values]


# Corpora


def corpus_create(*, user, name, description="", public=False):
    """A new corpus, administered by the user who creates it."""
    with transaction.atomic():
        corpus = Corpus.objects.create(name=name, description=description, public=public, creator=user)
        Right.objects.create(content_object=corpus, user=user, level=Role.ADMIN)
    return corpus


def corpus_destroy(*, corpus, user=None):
    """
    Ask for the deletion of a corpus and everything in it: the corpus is out of reach at once
    (`deleting`), and a durable job (`arkindex.jobs`) deletes it.
    """
    with transaction.atomic():
        Corpus.objects.filter(pk=corpus.pk).update(deleting=Now())
        enqueue_job(
            "documents.jobs.corpus_delete",
            str(corpus.id),
            description=f"Delete corpus {corpus.name} and everything in it",
            user=user,
            key=f"corpus-delete-{corpus.id}",
        )


def corpus_delete(*, corpus_id):
    """
    Delete a corpus with its elements, paths, types and rights, one statement per table. Idempotent:
    deleting a corpus that is already gone does nothing.
    """
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"SELECT id FROM {Corpus._meta.db_table} WHERE id = %s FOR UPDATE", [str(corpus_id)])
        if cursor.fetchone() is None:
            logger.info("Corpus %s is already deleted", corpus_id)
            return False
        tree_lock(corpus_id)
        # Apps below this one clear their tables first (`documents.signals`).
        corpus_deleting.send(sender=Corpus, cursor=cursor, corpus_id=str(corpus_id))
        delete_corpus_results(cursor, str(corpus_id))
        cursor.execute(
            f"DELETE FROM {PATHS} AS path USING {ELEMENTS} AS element "
            "WHERE path.element_id = element.id AND element.corpus_id = %s",
            [str(corpus_id)],
        )
        cursor.execute(f"DELETE FROM {ELEMENTS} WHERE corpus_id = %s", [str(corpus_id)])
        elements = cursor.rowcount
        cursor.execute(f"UPDATE {Corpus._meta.db_table} SET top_level_type_id = NULL WHERE id = %s", [str(corpus_id)])
        cursor.execute(f"DELETE FROM {ElementType._meta.db_table} WHERE corpus_id = %s", [str(corpus_id)])
        cursor.execute(
            f"DELETE FROM {Right._meta.db_table} WHERE content_type_id = %s AND object_id = %s",
            [ContentType.objects.get_for_model(Corpus).id, str(corpus_id)],
        )
        cursor.execute(f"DELETE FROM {Corpus._meta.db_table} WHERE id = %s", [str(corpus_id)])
    logger.info("Deleted corpus %s and its %d elements", corpus_id, elements)
    return True


# Elements


def element_create(
    *,
    corpus,
    type,
    name,
    creator=None,
    parent=None,
    image=None,
    polygon=None,
    confidence=None,
    rotation_angle=0,
    mirrored=False,
    worker_run=None,
):
    """
    A new element, at the top level of its corpus or as the last child of `parent`, signed by
    `worker_run` when a worker made it (checked by `documents.provenance.resolve_worker_run`).
    """
    with transaction.atomic():
        if parent is not None:
            tree_lock(corpus.id, shared=True)
            # Siblings created at the same time must not get the same position.
            Element.objects.select_for_update(no_key=True).filter(pk=parent.pk).values_list("pk").first()
        element = Element.objects.create(
            corpus=corpus,
            type=type,
            name=name,
            creator=creator,
            image=image,
            polygon=polygon,
            confidence=confidence,
            rotation_angle=rotation_angle,
            mirrored=mirrored,
            worker_run=worker_run,
        )
        if parent is None:
            ElementPath.objects.create(element=element, path=[], ordering=0)
        else:
            with connection.cursor() as cursor:
                cursor.execute(
                    f"""
                    INSERT INTO {PATHS} (id, created, updated, element_id, path, ordering)
                    SELECT gen_random_uuid(), now(), now(), %(element)s, path || %(parent)s::uuid,
                        (SELECT COALESCE(MAX(ordering) + 1, 0) FROM {PATHS} WHERE parent = %(parent)s::uuid)
                    FROM {PATHS} WHERE element_id = %(parent)s::uuid
                    """,
                    {"element": str(element.id), "parent": str(parent.id)},
                )
    return element


def elements_create(*, parent, elements, creator=None, worker_run=None):
    """
    Create `elements` (dicts of Element fields: type_id, name, image_id, polygon, confidence) as the last
    children of `parent`, in their order, signed by `worker_run` (CreateElements). One INSERT for
    the elements and one for their paths (one per path of the parent), whatever their number;
    like `element_create`, a shared tree lock and a lock on the parent row serialise only the
    positions among siblings.
    """
    with transaction.atomic():
        children_lock(parent.corpus_id, parent.id)
        created = insert_objects(
            new_objects(Element, elements, corpus_id=parent.corpus_id, creator=creator, worker_run=worker_run)
        )
        ids = _ids(element.id for element in created)
        with connection.cursor() as cursor:
            cursor.execute(
                f"""
                WITH first AS (
                    SELECT COALESCE(MAX(ordering) + 1, 0) AS ordering FROM {PATHS} WHERE parent = %(parent)s::uuid
                )
                INSERT INTO {PATHS} (id, created, updated, element_id, path, ordering)
                SELECT gen_random_uuid(), now(), now(), child.id, parent_path.path || %(parent)s::uuid,
                    first.ordering + child.position - 1
                FROM unnest(%(ids)s::uuid[]) WITH ORDINALITY AS child (id, position)
                CROSS JOIN first
                CROSS JOIN {PATHS} AS parent_path
                WHERE parent_path.element_id = %(parent)s::uuid
                """,
                {"parent": str(parent.id), "ids": ids},
            )
    return created


def element_destroy(*, element, user=None):
    """
    Delete an element and the descendants that have no other way up. Small subtrees go at once;
    a larger one is deleted by a background job. Returns whether the element is already deleted.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT COUNT(*) FROM (SELECT 1 FROM {PATHS} WHERE path @> ARRAY[%s]::uuid[] LIMIT %s) AS subtree",
            [str(element.id), SYNC_DELETE_LIMIT + 1],
        )
        (descendant_paths,) = cursor.fetchone()
    if descendant_paths > SYNC_DELETE_LIMIT:
        enqueue_job(
            "documents.jobs.element_delete",
            str(element.id),
            description=f"Delete element {element.name} and the descendants it alone holds",
            user=user,
            key=f"element-delete-{element.id}",
        )
        return False
    element_delete(element_id=element.id)
    return True


def element_delete(*, element_id):
    """
    Delete an element, its paths, and every descendant all of whose paths go through it; the other
    descendants only lose their paths through it. Idempotent.
    """
    corpus_id = Element.objects.filter(pk=element_id).values_list("corpus_id", flat=True).first()
    if corpus_id is None:
        logger.info("Element %s is already deleted", element_id)
        return 0
    with transaction.atomic(), connection.cursor() as cursor:
        tree_lock(corpus_id)
        cursor.execute("CREATE TEMPORARY TABLE doomed_roots (id uuid PRIMARY KEY) ON COMMIT DROP")
        cursor.execute("INSERT INTO doomed_roots VALUES (%s)", [str(element_id)])
        deleted = subtrees_delete(cursor)
    logger.info("Deleted element %s and %d descendants", element_id, max(deleted - 1, 0))
    return deleted


def _check_can_link(parent, children):
    """Refuse links across corpora and links that would make an element its own ancestor."""
    child_ids = {child.id for child in children}
    foreign = [str(child.id) for child in children if child.corpus_id != parent.corpus_id]
    if foreign:
        raise ValidationError(
            {"parent": [f"Parent {parent.id} is not in the corpus of element(s) {', '.join(foreign)}."]}
        )
    cyclic = set()
    if parent.id in child_ids:
        cyclic.add(parent.id)
    for path in ElementPath.objects.filter(element_id=parent.id, path__overlap=list(child_ids)).values_list(
        "path", flat=True
    ):
        cyclic.update(child_ids.intersection(path))
    if cyclic:
        names = ", ".join(sorted(map(str, cyclic)))
        message = f"Element {parent.id} cannot be a parent of {names}: it is one of its descendants (or itself)."
        raise ValidationError({"parent": [message]})


def _link(parent, children):
    """
    Add `parent` as the last parent of each of `children` (not yet its children): each child and
    each of its descendants gets one new path per path of the parent; paths that started at a
    child that was at the top level are removed, as it no longer is.
    """
    child_ids = _ids(child.id for child in children)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COALESCE(MAX(ordering) + 1, 0) FROM {PATHS} WHERE parent = %s::uuid", [str(parent.id)])
        (first_position,) = cursor.fetchone()
        params = {
            "parent": str(parent.id),
            "children": child_ids,
            "orderings": list(range(first_position, first_position + len(child_ids))),
        }
        cursor.execute(
            f"""
            WITH parent_path AS (
                SELECT path || %(parent)s::uuid AS path FROM {PATHS} WHERE element_id = %(parent)s::uuid
            )
            INSERT INTO {PATHS} (id, created, updated, element_id, path, ordering)
            SELECT gen_random_uuid(), now(), now(), new.element_id, new.path, new.ordering FROM (
                SELECT child.id AS element_id, parent_path.path AS path, child.ordering
                FROM unnest(%(children)s::uuid[], %(orderings)s::integer[]) AS child (id, ordering)
                CROSS JOIN parent_path
                UNION
                SELECT descendant.element_id,
                    parent_path.path || descendant.path[array_position(descendant.path, child.id):],
                    descendant.ordering
                FROM unnest(%(children)s::uuid[]) AS child (id)
                JOIN {PATHS} AS descendant ON descendant.path @> ARRAY[child.id]
                CROSS JOIN parent_path
            ) AS new
            ON CONFLICT (element_id, path) DO NOTHING
            """,
            params,
        )
        cursor.execute(
            f"DELETE FROM {PATHS} WHERE element_id = ANY(%(children)s::uuid[]) AND path = '{{}}'::uuid[]", params
        )
        # A path starting with a child was a path below a top-level element that now has a parent.
        cursor.execute(
            f"DELETE FROM {PATHS} WHERE path && %(children)s::uuid[] AND path[1] = ANY(%(children)s::uuid[])",
            params,
        )


def element_add_parent(*, child, parent):
    """Make `parent` an additional parent of `child` (CreateElementParent)."""
    with transaction.atomic():
        tree_lock(child.corpus_id)
        _check_can_link(parent, [child])
        if ElementPath.objects.filter(element_id=child.id, parent=parent.id).exists():
            raise ValidationError({"parent": [f"Element {parent.id} is already a parent of element {child.id}."]})
        _link(parent, [child])


def element_add_children(*, parent, children):
    """
    Make `children` children of `parent`, in the given order after its current children
    (CreateElementChildren). Elements that already are children of `parent` stay as they are, so
    that a batch sent twice gives the same tree.
    """
    with transaction.atomic():
        tree_lock(parent.corpus_id)
        _check_can_link(parent, children)
        existing = set(
            ElementPath.objects.filter(element_id__in=[child.id for child in children], parent=parent.id).values_list(
                "element_id", flat=True
            )
        )
        new_children = [child for child in children if child.id not in existing]
        if new_children:
            _link(parent, new_children)
    return children


def element_remove_parent(*, child, parent):
    """
    Remove the link between `child` and `parent` (DestroyElementParent): the paths through that
    link go, for the child and all its descendants. A child left without parents becomes a
    top-level element, and its descendants' paths then start with it.
    """
    with transaction.atomic(), connection.cursor() as cursor:
        tree_lock(child.corpus_id)
        paths = ElementPath.objects.filter(element_id=child.id)
        if not paths.filter(parent=parent.id).exists():
            raise ValidationError({"parent": [f"Element {parent.id} is not a parent of element {child.id}."]})
        params = {"child": str(child.id), "parent": str(parent.id)}
        # The paths of the descendants that go down through parent → child.
        through_link = (
            "path @> ARRAY[%(child)s::uuid] AND path[array_position(path, %(child)s::uuid) - 1] = %(parent)s::uuid"
        )
        if not paths.exclude(parent=parent.id).exists():
            cursor.execute(
                f"""
                INSERT INTO {PATHS} (id, created, updated, element_id, path, ordering)
                SELECT gen_random_uuid(), now(), now(), new.element_id, new.path, new.ordering FROM (
                    SELECT %(child)s::uuid AS element_id, '{{}}'::uuid[] AS path, 0 AS ordering
                    UNION
                    SELECT element_id, path[array_position(path, %(child)s::uuid):], ordering
                    FROM {PATHS} WHERE {through_link}
                ) AS new
                ON CONFLICT (element_id, path) DO NOTHING
                """,
                params,
            )
        cursor.execute(
            f"DELETE FROM {PATHS} "
            f"WHERE (element_id = %(child)s::uuid AND parent = %(parent)s::uuid) OR ({through_link})",
            params,
        )
