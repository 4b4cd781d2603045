"""
Full-text search of a corpus's elements (SearchCorpus), on PostgreSQL alone: no search engine to
install or keep in step.

What is indexed. In a corpus marked indexable, each element of an indexable type (an *indexed
element*: pages, say) is found by its name, and by the text of every transcription and metadata
value of itself and of its descendants: the transcription of a line finds its page. Each (indexed
element, text) pair is one `SearchEntry` holding the text's words as a `tsvector`, with its worker
run and confidence, for the filters. Both flags are set by instance administrators in the admin.

How the index follows writes. Triggers of the database (migration documents 0009) write the
entries in the very transaction that writes the texts, elements and paths, whatever writes them;
entries are deleted with what they point at (foreign keys with ON DELETE CASCADE). A flag turned
on or off re-indexes the corpus with a background job (`reindex_corpus`), and until it has run,
queries already ignore the entries of what is no longer indexable. `arkindex-server reindex`
rebuilds corpora on demand (after a bulk load made with `SET arkindex.search_paused = on`, say).

The query language is PostgreSQL's web search syntax, on words folded to lower case without
accents: every word is required, "quoted words" must follow each other, `or` between words
accepts either, `-word` excludes. Results are ranked by `ts_rank`, or sorted by element name.
"""

import logging
import re

from django.contrib.postgres.search import SearchQuery, SearchRank
from django.db import connection, transaction
from django.db.models import BooleanField, F, Func, Subquery, Value
from django.db.models.signals import post_init, post_save
from django.dispatch import receiver

from arkindex.jobs import enqueue_job
from documents.models import Corpus, Element, ElementType, SearchEntry, SearchSource
from documents.services.deletion import tree_lock
from documents.signals import corpus_deleting, elements_deleting

logger = logging.getLogger(__name__)

# The job rebuilding a corpus's index (`documents.jobs`, which imports this module).
REINDEX_JOB = "documents.jobs.corpus_reindex"

ENTRIES = SearchEntry._meta.db_table
ELEMENTS = Element._meta.db_table
# Elements whose texts one statement of `reindex_corpus` indexes.
REINDEX_BATCH = 1000
ALL_SOURCES = [choice.value for choice in SearchSource]
# A query needs at least one letter or digit: punctuation alone gives PostgreSQL an empty query.
WORD = re.compile(r"\w")


def has_words(text):
    return bool(WORD.search(text or ""))


def search_query(text):
    """`text` in web search syntax, folded like the indexed texts (`search_fold`, migration 0009)."""
    return SearchQuery(Func(Value(text), function="search_fold"), config="simple", search_type="websearch")


def search_entries(
    corpus,
    *,
    query,
    sources=None,
    element_type=None,
    worker_run=None,
    confidence_min=None,
    confidence_max=None,
    metadata_name=None,
):
    """
    The entries of `corpus` matching `query` (web search syntax), of its element types that are
    indexable now. `worker_run` is a worker run id, or False for texts made by people; confidence
    bounds leave out texts without one. Filters read the entries alone, but for `metadata_name`.
    """
    types = ElementType.objects.filter(corpus_id=corpus.id, indexable=True)
    if element_type:
        types = types.filter(slug=element_type)
    entries = SearchEntry.objects.filter(corpus_id=corpus.id, vector=search_query(query), parent_type__in=types)
    if sources:
        entries = entries.filter(source__in=sources)
    if worker_run is False:
        entries = entries.filter(worker_run__isnull=True)
    elif worker_run is not None:
        entries = entries.filter(worker_run_id=worker_run)
    if confidence_min is not None:
        entries = entries.filter(confidence__gte=confidence_min)
    if confidence_max is not None:
        entries = entries.filter(confidence__lte=confidence_max)
    if metadata_name:
        entries = entries.filter(source=SearchSource.Metadata, metadata__name=metadata_name)
    return entries


def ranked(entries, query, *, by_name=False):
    """
    `entries` in order (best matches first, or by name of the indexed element) as a queryset of
    their ids: sliced for a page, it reads the matches and sorts them without any join.
    """
    if by_name:
        return entries.order_by("parent__name", "parent_id", "id").values("id")
    return entries.annotate(rank=SearchRank(F("vector"), search_query(query))).order_by("-rank", "id").values("id")


class InArrayOf(Func):
    """
    `column = ANY(ARRAY(subquery))`: PostgreSQL runs the subquery first and reads the rows by their
    key, where `IN (subquery)` lets it guess a size for a LIMIT it cannot see through, and join
    every row of the table before matching the few ids.
    """

    arg_joiner = " = ANY(ARRAY("
    template = "(%(expressions)s)))"
    output_field = BooleanField()


def page_of(ids, query, *, by_name=False):
    """The entries whose ids a slice of `ranked` gives, with what a result shows, in the same order."""
    entries = SearchEntry.objects.filter(InArrayOf(F("id"), Subquery(ids))).select_related(
        "parent__type", "element__type", "transcription", "metadata", "worker_run"
    )
    entries = entries.annotate(rank=SearchRank(F("vector"), search_query(query)))
    if by_name:
        return entries.order_by("parent__name", "parent_id", "id")
    return entries.order_by("-rank", "id")


FACETS_SQL = """
WITH matches AS MATERIALIZED ({matches})
SELECT 'element_type', type.slug, type.display_name, facet.count
FROM (SELECT parent_type_id, COUNT(*) AS count FROM matches GROUP BY parent_type_id) AS facet
JOIN {types} AS type ON type.id = facet.parent_type_id
UNION ALL
SELECT 'source', source, NULL, COUNT(*) FROM matches GROUP BY source
UNION ALL
SELECT 'worker_run', facet.worker_run_id::text, run.summary, facet.count
FROM (SELECT worker_run_id, COUNT(*) AS count FROM matches GROUP BY worker_run_id) AS facet
LEFT JOIN {runs} AS run ON run.id = facet.worker_run_id
"""


def facets(entries):
    """
    How many of `entries` each indexed element type, source and worker run has, in one query: the
    matches are counted by their own columns, and only the counts meet the types and worker runs:
    `{"element_type": [{value, display_name, count}], "source": [{value, count}],
    "worker_run": [{value, summary, count}]}`, the largest counts first.
    """
    matches, params = entries.order_by().values("parent_type_id", "source", "worker_run_id").query.sql_with_params()
    sql = FACETS_SQL.format(
        matches=matches,
        types=ElementType._meta.db_table,
        runs=SearchEntry.worker_run.field.related_model._meta.db_table,
    )
    found = {"element_type": [], "source": [], "worker_run": []}
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        for facet, value, label, count in cursor.fetchall():
            item = {"value": value, "count": count}
            if facet == "element_type":
                item["display_name"] = label
            elif facet == "worker_run":
                item["summary"] = label
            found[facet].append(item)
    for items in found.values():
        items.sort(key=lambda item: (-item["count"], item["value"] or ""))
    return found


# Indexing a whole corpus


def reindex_corpus(corpus_id, *, progress=None):
    """
    Make the entries of a corpus again from its texts, in one transaction (searches meanwhile read
    the former ones); an instance-wide lock per corpus keeps two reindexations apart, and a shared
    tree lock keeps the paths as they are. `progress(done, total)` is called after each batch of
    elements. Returns the number of entries.
    """
    progress = progress or (lambda done, total: None)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"SELECT indexable FROM {Corpus._meta.db_table} WHERE id = %s FOR SHARE", [str(corpus_id)])
        row = cursor.fetchone()
        if row is None:
            logger.info("Corpus %s no longer exists: nothing to index", corpus_id)
            return 0
        tree_lock(corpus_id, shared=True)
        cursor.execute("SELECT pg_advisory_xact_lock(hashtext('search-reindex'), hashtext(%s))", [str(corpus_id)])
        cursor.execute(f"DELETE FROM {ENTRIES} WHERE corpus_id = %s", [str(corpus_id)])
        if not row[0]:
            progress(0, 0)
            return 0
        cursor.execute(f"SELECT id FROM {ELEMENTS} WHERE corpus_id = %s ORDER BY id", [str(corpus_id)])
        element_ids = [str(element_id) for (element_id,) in cursor.fetchall()]
        entries = 0
        for start in range(0, len(element_ids), REINDEX_BATCH):
            batch = element_ids[start : start + REINDEX_BATCH]
            cursor.execute("SELECT search_add(%s::uuid[], %s::text[])", [batch, ALL_SOURCES])
            entries += cursor.fetchone()[0]
            progress(start + len(batch), len(element_ids))
        if not element_ids:
            progress(0, 0)
    logger.info("Indexed corpus %s: %d search entries", corpus_id, entries)
    return entries


def reindex_key(corpus_id):
    return f"search-reindex-{corpus_id}"


def enqueue_reindex(corpus_id, corpus_name=None):
    """Reindex a corpus once the transaction commits; requests made before the job starts share it."""
    enqueue_job(
        REINDEX_JOB,
        str(corpus_id),
        description=f"Index corpus {corpus_name or corpus_id} for search",
        key=reindex_key(corpus_id),
    )


# A flag turned on or off re-indexes the corpus. The loaded value is kept on the instance (read
# from its __dict__: a deferred field is not fetched for it), so that saving costs no query more.


@receiver(post_init, sender=Corpus)
@receiver(post_init, sender=ElementType)
def remember_indexable(sender, instance, **kwargs):
    instance._loaded_indexable = instance.__dict__.get("indexable")


@receiver(post_save, sender=Corpus)
@receiver(post_save, sender=ElementType)
def indexable_changed(sender, instance, created, **kwargs):
    before, instance._loaded_indexable = instance._loaded_indexable, instance.indexable
    if created or before is None or before == instance.indexable:
        return
    if sender is Corpus:
        enqueue_reindex(instance.id, instance.name)
    else:
        # The corpus's name when the admin loaded it with the type; its ID otherwise, not worth a query.
        corpus = instance.corpus if ElementType.corpus.is_cached(instance) else None
        enqueue_reindex(instance.corpus_id, corpus.name if corpus else None)


# Deletions: the entries go first, in one statement, rather than one cascade at a time.


@receiver(corpus_deleting, sender=Corpus)
def delete_corpus_entries(sender, cursor, corpus_id, **kwargs):
    cursor.execute(f"DELETE FROM {ENTRIES} WHERE corpus_id = %s", [corpus_id])


@receiver(elements_deleting, sender=Element)
def delete_element_entries(sender, cursor, **kwargs):
    cursor.execute(
        f"DELETE FROM {ENTRIES} WHERE parent_id IN (SELECT id FROM doomed_elements) "
        "OR element_id IN (SELECT id FROM doomed_elements)"
    )
