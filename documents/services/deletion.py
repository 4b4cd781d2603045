"""
Deleting elements and corpora with everything attached: what the element tree's writes
(`documents.services`) and the deletion of worker results (`documents.services.results`) share,
so that neither imports the other.

- `tree_lock` serialises the changes of a corpus's element tree (see `documents.services`).
- `subtrees_delete` removes elements with their descendants that have no other way up, their
  paths and their results, telling the apps below first (`documents.signals.elements_deleting`).
- The results of doomed elements, or of a whole corpus, go with one statement per table.
"""

from django.db import connection
from rest_framework.exceptions import NotFound

from arkindex.prepared import Statement
from documents.models import (
    Classification,
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
from documents.signals import elements_deleting

T = Transcription._meta.db_table
TE = TranscriptionEntity._meta.db_table
ELEMENTS = Element._meta.db_table
PATHS = ElementPath._meta.db_table

# Namespace of the advisory locks on a corpus's element tree (any constant int4, "elts").
TREE_LOCK_NAMESPACE = 0x656C7473


def _tree_lock_key(corpus_id):
    # Two int4 keys: the namespace, and the first 32 bits of the corpus id (a collision only serialises more).
    return int.from_bytes(corpus_id.bytes[:4], "big", signed=True)


def tree_lock(corpus_id, *, shared=False):
    """Lock the element tree of a corpus until the end of the transaction."""
    function = "pg_advisory_xact_lock_shared" if shared else "pg_advisory_xact_lock"
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {function}(%s, %s)", [TREE_LOCK_NAMESPACE, _tree_lock_key(corpus_id)])


# The corpus's tree in shared mode, then the parent's row: the row lock is taken on the joined row,
# after the tree lock's CTE has been read, in the order every writer of the tree takes them.
CHILDREN_LOCK = Statement(
    f"""
    WITH tree AS MATERIALIZED (SELECT pg_advisory_xact_lock_shared(%(namespace)s::int4, %(key)s::int4))
    SELECT element.id FROM tree, "{ELEMENTS}" AS element WHERE element.id = %(parent)s::uuid
    FOR NO KEY UPDATE OF element
    """
)


def children_lock(corpus_id, parent_id):
    """
    Lock a corpus's tree (shared) and the parent's row until the end of the transaction, so that
    children created on the parent at the same time do not get the same positions; one statement.
    Raises NotFound when the parent was deleted meanwhile.
    """
    with CHILDREN_LOCK.execute(
        {"namespace": TREE_LOCK_NAMESPACE, "key": _tree_lock_key(corpus_id), "parent": parent_id}
    ) as cursor:
        if cursor.fetchone() is None:
            raise NotFound(f"Element {parent_id} was deleted meanwhile: nothing was created under it.")


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


def delete_element_results(cursor):
    """Delete the worker results attached to the elements of `doomed_elements`, one statement per table."""
    for sql in element_results_deletion():
        cursor.execute(sql)


def delete_corpus_results(cursor, corpus_id):
    """Delete the worker results and result vocabularies (classes, entities) of a corpus."""
    for sql in corpus_results_deletion():
        cursor.execute(sql, {"corpus": corpus_id})


def subtrees_delete(cursor):
    """
    Delete the elements listed in the temporary table `doomed_roots (id)` with their paths, and
    every descendant all of whose paths go through one of them; the other descendants only lose
    their paths through them. The caller holds the corpus's tree lock. Returns the number of
    elements deleted; the temporary tables are dropped, so that it may run again in the same transaction.
    """
    # Each root's descendants' paths, read from the GIN index one root at a time: an overlap with
    # the whole list of roots would compare every path with every root.
    cursor.execute(
        f"""
        CREATE TEMPORARY TABLE doomed_paths ON COMMIT DROP AS
        SELECT path.id, path.element_id FROM doomed_roots AS root
        JOIN {PATHS} AS path ON path.path @> ARRAY[root.id]
        """
    )
    cursor.execute("CREATE INDEX ON doomed_paths (id)")
    cursor.execute("ANALYZE doomed_paths")
    # A descendant with a path avoiding every root keeps it: each ancestor on that path survives too.
    cursor.execute(
        f"""
        CREATE TEMPORARY TABLE doomed_elements ON COMMIT DROP AS
        SELECT id FROM doomed_roots
        UNION
        SELECT descendant.element_id FROM (SELECT DISTINCT element_id FROM doomed_paths) AS descendant
        WHERE NOT EXISTS (
            SELECT 1 FROM {PATHS} AS path
            WHERE path.element_id = descendant.element_id
            AND NOT EXISTS (SELECT 1 FROM doomed_paths WHERE doomed_paths.id = path.id)
        )
        """
    )
    cursor.execute("ANALYZE doomed_elements")
    elements_deleting.send(sender=Element, cursor=cursor)
    delete_element_results(cursor)
    cursor.execute(
        f"DELETE FROM {PATHS} WHERE id IN (SELECT id FROM doomed_paths) OR element_id IN (SELECT id FROM doomed_roots)"
    )
    cursor.execute(f"DELETE FROM {ELEMENTS} WHERE id IN (SELECT id FROM doomed_elements)")
    deleted = cursor.rowcount
    # Dropped now, not only at commit: the caller's transaction may delete more elements.
    cursor.execute("DROP TABLE doomed_elements, doomed_paths, doomed_roots")
    return deleted
