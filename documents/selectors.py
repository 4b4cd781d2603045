"""
Reads of corpora and elements under the requesting user's rights.

Elements carry no rights of their own: a user's level on an element is their level on its corpus.
It is computed in the same SQL query as the element (a correlated subquery on the corpus), so that
fetching an object and checking access cost one query. `Corpus.max_level` / `Element.corpus_level`
are 0 when the user has no access; callers answer 404 then (a hidden object does not exist), and
403 when the object is readable but the level is below what the action needs.
"""

from collections import namedtuple

from django.contrib.postgres.expressions import ArraySubquery
from django.db.models import Case, Exists, F, Func, IntegerField, OuterRef, Q, Subquery, UUIDField, Value, When
from django.db.models.functions import Coalesce, JSONObject

from arkindex.prepared import Statement
from documents.models import (
    Classification,
    ClassificationState,
    Corpus,
    Element,
    ElementPath,
    ElementType,
    Image,
    MetaData,
    MLClass,
    Transcription,
)
from users.callers import task_scope_of
from users.models import Role
from users.rights import check_level, filter_rights


class Unnest(Func):
    """One row per item of a UUID array (a set-returning function, for a subquery's select list)."""

    function = "unnest"
    output_field = UUIDField()


LEVEL_ACTIONS = ((Role.GUEST, "read"), (Role.CONTRIBUTOR, "write"), (Role.ADMIN, "admin"))


def rights_from_level(level):
    """The actions a level allows, as listed in a corpus's `rights`."""
    return [action for minimum, action in LEVEL_ACTIONS if (level or 0) >= minimum]


def check_corpus_level(level, needed, *, what, action):
    """`users.rights.check_level` for an object whose rights are its corpus's."""
    check_level(level, needed, what=what, holder="the corpus", action=action)


def get_corpus(user, corpus_id, needed=Role.GUEST, action="read it", **kwargs):
    """The corpus `corpus_id` (see `corpus_with_level`) if `user` has `needed` on it: else 404 or 403."""
    corpus = corpus_with_level(user, corpus_id, **kwargs)
    check_corpus_level(getattr(corpus, "max_level", 0), needed, what=f"Corpus {corpus_id}", action=action)
    return corpus


def get_element(user, element_id, needed=Role.GUEST, action="read it", **kwargs):
    """The element `element_id` (see `element_with_level`) if `user` has `needed` on its corpus: else 404 or 403."""
    element = element_with_level(user, element_id, **kwargs)
    check_corpus_level(getattr(element, "corpus_level", 0), needed, what=f"Element {element_id}", action=action)
    return element


def corpora_for_user(user, level=Role.GUEST):
    """Corpora on which `user` has at least `level`, annotated with `max_level`."""
    return filter_rights(user, Corpus.objects.all(), level)


def corpus_types_subquery(corpus_ref):
    """
    The element types of the outer query's corpus as a list of `{id, slug, folder}`. Element lists
    turn their `type` and `folder` filters into literal type ids with it, for which PostgreSQL knows
    how many elements match (a subquery or a join would leave it guessing, and a wrong guess for a
    rare type reads a whole corpus), without a query of their own.
    """
    return ArraySubquery(
        ElementType.objects.filter(corpus_id=OuterRef(corpus_ref))
        .order_by()
        .values(json=JSONObject(id="id", slug="slug", folder="folder"))
    )


def corpus_with_level(user, corpus_id, *, with_types=False, provenance=None):
    """
    One corpus annotated with the user's `max_level` (possibly 0), or None when it does not exist;
    with its `type_list` (see `corpus_types_subquery`) on demand, and the `provenance_runs` of a
    `documents.provenance.ProvenanceFilter` when it selects runs (see its `runs_subquery`).
    """
    queryset = filter_rights(user, Corpus.objects.filter(pk=corpus_id), level=0).select_related("top_level_type")
    if with_types:
        queryset = queryset.annotate(type_list=corpus_types_subquery("pk"))
    queryset = with_provenance_runs(queryset, provenance, "pk")
    return queryset.first()


def with_provenance_runs(queryset, provenance, corpus_ref):
    """
    Annotate `provenance_runs`, the literal ids of the worker runs a provenance filter selects, when
    it selects any: lists filter their results with them without a query of their own.
    """
    runs = provenance.runs_subquery(corpus_ref) if provenance is not None else None
    if runs is None:
        return queryset
    return queryset.annotate(provenance_runs=runs)


# The corpus of each of many elements, the ids sent as one array: the statement's text does not
# depend on their number, so that the driver prepares it once per connection.
ELEMENT_CORPORA = Statement(f'SELECT id, corpus_id FROM "{Element._meta.db_table}" WHERE id = ANY(%(ids)s::uuid[])')


def element_corpora(element_ids):
    """`{element id: corpus id}` of those of `element_ids` that exist, in one prepared statement."""
    with ELEMENT_CORPORA.execute({"ids": list(set(element_ids))}) as cursor:
        return dict(cursor.fetchall())


ELEMENT_CORPUS_CLASSES = Statement(
    f"""
    SELECT element.corpus_id, ARRAY(
        SELECT ml_class.id FROM "{MLClass._meta.db_table}" AS ml_class
        WHERE ml_class.corpus_id = element.corpus_id AND ml_class.id = ANY(%(classes)s::uuid[])
    )
    FROM "{Element._meta.db_table}" AS element
    WHERE element.id = %(element)s::uuid
    """
)


def element_corpus_classes(element_id, ml_class_ids):
    """
    `({element id: corpus id}, the ids among `ml_class_ids` of ML classes of that corpus)` for an
    element to classify (empty when it does not exist): one prepared statement for both.
    """
    with ELEMENT_CORPUS_CLASSES.execute({"element": element_id, "classes": list(set(ml_class_ids))}) as cursor:
        row = cursor.fetchone()
    if row is None:
        return {}, set()
    return {element_id: row[0]}, set(row[1])


def get_element_corpus(user, element_id, needed, action):
    """
    The corpus id of element `element_id` if `user` has `needed` on that corpus, else 404 or 403 as
    `get_element` answers: for a caller that needs nothing else of the element, one prepared statement.
    """
    corpus_id = element_corpora([element_id]).get(element_id)
    check_reached(user, corpus_id, needed, what=f"Element {element_id}", action=action)
    return corpus_id


def check_reached(user, corpus_id, needed, *, what, action):
    """404 or 403, as `check_corpus_level`, for an object of corpus `corpus_id` (None: no such object)."""
    level = corpus_levels(user, [corpus_id])[corpus_id] if corpus_id is not None else 0
    check_corpus_level(level, needed, what=what, action=action)


# What creating children on an element needs of it: its corpus, its zone, and the size of its image
# that their polygons must lie within (`image` is None for an element without one).
ParentZone = namedtuple("ParentZone", "id corpus_id image_id polygon image")
ImageSize = namedtuple("ImageSize", "id width height")

PARENT_ZONE = Statement(
    f"""
    SELECT element.corpus_id, element.image_id, element.polygon, image.width, image.height
    FROM "{Element._meta.db_table}" AS element
    LEFT JOIN "{Image._meta.db_table}" AS image ON image.id = element.image_id
    WHERE element.id = %(id)s::uuid
    """
)


def get_parent_zone(user, element_id, needed, action):
    """
    The element `element_id` as a `ParentZone` if `user` has `needed` on its corpus, else 404 or 403
    as `get_element` answers: one prepared statement, and the level as `corpus_levels` reads it.
    """
    with PARENT_ZONE.execute({"id": element_id}) as cursor:
        row = cursor.fetchone()
    check_reached(user, row and row[0], needed, what=f"Element {element_id}", action=action)
    corpus_id, image_id, polygon, width, height = row
    image = ImageSize(image_id, width, height) if image_id is not None else None
    return ParentZone(element_id, corpus_id, image_id, polygon, image)


ELEMENT_TYPES = Statement(
    f"""
    SELECT slug, id FROM "{ElementType._meta.db_table}"
    WHERE corpus_id = %(corpus)s::uuid AND slug = ANY(%(slugs)s::text[])
    """
)


def element_type_ids(corpus_id, slugs):
    """`{slug: id}` of those of `slugs` that are element types of the corpus, in one prepared statement."""
    with ELEMENT_TYPES.execute({"corpus": corpus_id, "slugs": list(set(slugs))}) as cursor:
        return dict(cursor.fetchall())


# What publishing in a transcription needs of it: its text and its element's corpus.
PublishedTranscription = namedtuple("PublishedTranscription", "id text corpus_id")

TRANSCRIPTION_CORPUS = Statement(
    f"""
    SELECT transcription.text, element.corpus_id
    FROM "{Transcription._meta.db_table}" AS transcription
    JOIN "{Element._meta.db_table}" AS element ON element.id = transcription.element_id
    WHERE transcription.id = %(id)s::uuid
    """
)


def get_published_transcription(user, transcription_id, needed, action):
    """
    The transcription `transcription_id` as a `PublishedTranscription` if `user` has `needed` on its
    corpus, else 404 or 403: one prepared statement, and the level as `corpus_levels` reads it.
    """
    with TRANSCRIPTION_CORPUS.execute({"id": transcription_id}) as cursor:
        row = cursor.fetchone()
    check_reached(user, row and row[1], needed, what=f"Transcription {transcription_id}", action=action)
    return PublishedTranscription(transcription_id, *row)


def corpus_levels(user, corpus_ids):
    """
    The user's level on each corpus of `corpus_ids` (0 on those hidden from them), as
    `corpus_level_subquery` reads it: a task's is read with its token, without a query.
    """
    corpus_ids = set(corpus_ids)
    scope = task_scope_of(user)
    if scope is not None and scope.corpus_level is not None:
        return {corpus_id: scope.corpus_level if corpus_id == scope.corpus_id else 0 for corpus_id in corpus_ids}
    levels = dict(filter_rights(user, Corpus.objects.filter(pk__in=corpus_ids), level=0).values_list("pk", "max_level"))
    return {corpus_id: levels.get(corpus_id) or 0 for corpus_id in corpus_ids}


def corpus_level_subquery(user, corpus_ref="corpus_id"):
    """The user's level on the corpus named by the outer query's `corpus_ref` column (0 when none)."""
    scope = task_scope_of(user)
    if scope is not None and scope.corpus_level is not None:
        # A task reaches its process's corpus only, with its creator's level there, read with its token.
        if scope.corpus_id is None:
            return Value(0, output_field=IntegerField())
        return Case(
            When(**{corpus_ref: scope.corpus_id}, then=Value(scope.corpus_level)),
            default=Value(0),
            output_field=IntegerField(),
        )
    levels = (
        filter_rights(user, Corpus.objects.filter(pk=OuterRef(corpus_ref)), level=0).order_by().values("max_level")[:1]
    )
    return Coalesce(Subquery(levels, output_field=IntegerField()), Value(0))


# What an element's serialisation reads besides its own row, fetched in the same query: the worker
# run gives `worker_run` ({id, summary}) and `worker_version_id` (its version) without a query per element.
ELEMENT_RELATED = ("corpus", "type", "image__server", "worker_run")


def elements_with_level(user):
    """Elements with what their serialisation needs, annotated with the user's `corpus_level`."""
    return Element.objects.select_related(*ELEMENT_RELATED).annotate(corpus_level=corpus_level_subquery(user))


def element_with_level(user, element_id, *, for_listing=False, provenance=None, with_classifications=False, bare=False):
    """
    One element annotated with `corpus_level`, or None; `bare` leaves out its related rows (corpus,
    type, image, worker run) for a caller that needs only its own columns. For the lists of its children and parents,
    `first_path` (any one of its paths, see `element_children`) and its corpus's `type_list` are
    fetched in the same query, as are the `provenance_runs` of a provenance filter (see
    `with_provenance_runs`) and, for RetrieveElement, its `classification_list`.
    """
    if bare:
        queryset = Element.objects.annotate(corpus_level=corpus_level_subquery(user)).filter(pk=element_id)
    else:
        queryset = elements_with_level(user).filter(pk=element_id)
    if for_listing:
        queryset = queryset.annotate(
            first_path=Subquery(ElementPath.objects.filter(element=OuterRef("pk")).order_by("id").values("path")[:1]),
            type_list=corpus_types_subquery("corpus_id"),
        )
    if with_classifications:
        queryset = queryset.annotate(classification_list=element_classifications_subquery("pk"))
    return with_provenance_runs(queryset, provenance, "corpus_id").first()


# An element's best classes, as element lists show them `with_classes`: those a person validated,
# and those their worker was confident in that nobody rejected.
BEST_CLASSIFICATIONS = Q(state=ClassificationState.Validated) | (
    Q(high_confidence=True) & ~Q(state=ClassificationState.Rejected)
)


def element_classifications_subquery(element_ref, *, best=False):
    """
    The classifications of the outer query's element (`element_ref`), as a list of JSON objects
    with their class and the worker run that made them (see `ElementClassificationSerializer`), so
    that RetrieveElement reads them in the element's own query, and element lists (`best` only)
    in the page's.
    """
    classifications = Classification.objects.filter(element_id=OuterRef(element_ref))
    if best:
        classifications = classifications.filter(BEST_CLASSIFICATIONS)
    return ArraySubquery(
        classifications.order_by("created", "id").values(
            json=JSONObject(
                id="id",
                ml_class=JSONObject(id="ml_class_id", name="ml_class__name"),
                state="state",
                confidence="confidence",
                high_confidence="high_confidence",
                worker_run_id="worker_run_id",
                worker_run_summary="worker_run__summary",
                worker_version="worker_run__version_id",
            )
        )
    )


def element_metadata_subquery(element_ref):
    """The metadata of the outer query's element as JSON objects (see `ElementMetaDataSerializer`), by name."""
    return ArraySubquery(
        MetaData.objects.filter(element_id=OuterRef(element_ref))
        .order_by("name", "id")
        .values(
            json=JSONObject(
                id="id",
                type="type",
                name="name",
                value="value",
                entity_id="entity_id",
                worker_run_id="worker_run_id",
                worker_run_summary="worker_run__summary",
                worker_version_id="worker_run__version_id",
                created="created",
            )
        )
    )


def with_has_children(queryset):
    return queryset.annotate(has_children=Exists(ElementPath.objects.filter(parent=OuterRef("pk"))))


def element_children(element, *, recursive=False):
    """
    The children of `element`, or all of its descendants when `recursive`, each listed once.

    Non-recursive: every child of X has, for each path P of X, the path P + [X] (see
    `documents.models`), so joining the paths equal to one chosen P + [X] yields each child exactly
    once, with its position, read from the (parent, ordering) index. The recursive set is a
    semi-join on the paths containing X (GIN index), restricted to X's corpus so that the corpus
    indexes can order the page.
    """
    base = Element.objects.filter(corpus_id=element.corpus_id)
    if recursive:
        descendants = ElementPath.objects.filter(path__contains=[element.id]).values("element_id")
        return base.filter(id__in=descendants)
    child_path = list(element.first_path or []) + [element.id]
    # `path[1:n] = P + [X]` rather than `path = P + [X]` (the same rows, as X is the path's last item):
    # PostgreSQL would otherwise intersect with the GIN index, which returns every path below X.
    # One filter() call, so that `paths__ordering` below reuses this join instead of adding one.
    head = {f"paths__path__0_{len(child_path)}": child_path}
    return base.filter(paths__parent=element.id, **head).alias(position=F("paths__ordering"))


def element_parents(element, *, recursive=False):
    """The parents of `element`, or all of its ancestors when `recursive`, each listed once."""
    base = Element.objects.filter(corpus_id=element.corpus_id)
    if recursive:
        ancestors = ElementPath.objects.filter(element_id=element.id).annotate(ancestor=Unnest("path"))
        return base.filter(id__in=ancestors.values("ancestor"))
    parents = ElementPath.objects.filter(element_id=element.id, parent__isnull=False).values("parent")
    return base.filter(id__in=parents)
