"""
Reads of corpora and elements under the requesting user's rights.

Elements carry no rights of their own: a user's level on an element is their level on its corpus.
It is computed in the same SQL query as the element (a correlated subquery on the corpus), so that
fetching an object and checking access cost one query. `Corpus.max_level` / `Element.corpus_level`
are 0 when the user has no access; callers answer 404 then (a hidden object does not exist), and
403 when the object is readable but the level is below what the action needs.
"""

from django.contrib.postgres.expressions import ArraySubquery
from django.db.models import Exists, F, Func, IntegerField, OuterRef, Subquery, UUIDField, Value
from django.db.models.functions import Coalesce, JSONObject

from documents.models import Corpus, Element, ElementPath, ElementType
from users.models import Role
from users.rights import filter_rights


class Unnest(Func):
    """One row per item of a UUID array (a set-returning function, for a subquery's select list)."""

    function = "unnest"
    output_field = UUIDField()


LEVEL_ACTIONS = ((Role.GUEST, "read"), (Role.CONTRIBUTOR, "write"), (Role.ADMIN, "admin"))


def rights_from_level(level):
    """The actions a level allows, as listed in a corpus's `rights`."""
    return [action for minimum, action in LEVEL_ACTIONS if (level or 0) >= minimum]


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


def worker_version_runs_subquery(version_id):
    """
    The ids of the worker runs of a worker version, in any process, as a list. Element lists filter
    by version with these literal ids (`worker_run_id = ANY(…)`), for which PostgreSQL knows how many
    elements match, as for types; joining the runs would leave it guessing, and a wrong guess walks
    a whole corpus in name order for a version that made a few elements. The run model is reached
    through the element's foreign key: documents does not import processes.
    """
    worker_run_model = Element._meta.get_field("worker_run").related_model
    return ArraySubquery(worker_run_model.objects.filter(version_id=version_id).order_by().values("id"))


def corpus_with_level(user, corpus_id, *, with_types=False, worker_version=None):
    """
    One corpus annotated with the user's `max_level` (possibly 0), or None when it does not exist;
    with its `type_list` (see `corpus_types_subquery`) on demand, and the `version_runs` of
    `worker_version` (see `worker_version_runs_subquery`) when one is given.
    """
    queryset = filter_rights(user, Corpus.objects.filter(pk=corpus_id), level=0).select_related("top_level_type")
    if with_types:
        queryset = queryset.annotate(type_list=corpus_types_subquery("pk"))
    if worker_version:
        queryset = queryset.annotate(version_runs=worker_version_runs_subquery(worker_version))
    return queryset.first()


def corpus_level_subquery(user, corpus_ref="corpus_id"):
    """The user's level on the corpus named by the outer query's `corpus_ref` column (0 when none)."""
    levels = filter_rights(user, Corpus.objects.filter(pk=OuterRef(corpus_ref)), level=0).values("max_level")[:1]
    return Coalesce(Subquery(levels, output_field=IntegerField()), Value(0))


# What an element's serialisation reads besides its own row, fetched in the same query: the worker
# run gives `worker_run` ({id, summary}) and `worker_version_id` (its version) without a query per element.
ELEMENT_RELATED = ("corpus", "type", "image__server", "worker_run")


def elements_with_level(user):
    """Elements with what their serialisation needs, annotated with the user's `corpus_level`."""
    return Element.objects.select_related(*ELEMENT_RELATED).annotate(corpus_level=corpus_level_subquery(user))


def element_with_level(user, element_id, *, for_listing=False, worker_version=None):
    """
    One element annotated with `corpus_level`, or None. For the lists of its children and parents,
    `first_path` (any one of its paths, see `element_children`), its corpus's `type_list` and the
    `version_runs` of `worker_version` when given are fetched in the same query.
    """
    queryset = elements_with_level(user).filter(pk=element_id)
    if for_listing:
        queryset = queryset.annotate(
            first_path=Subquery(ElementPath.objects.filter(element=OuterRef("pk")).order_by("id").values("path")[:1]),
            type_list=corpus_types_subquery("corpus_id"),
        )
    if worker_version:
        queryset = queryset.annotate(version_runs=worker_version_runs_subquery(worker_version))
    return queryset.first()


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
