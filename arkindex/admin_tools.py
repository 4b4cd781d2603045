"""
What the admin pages of every app share so that they stay fast on large tables (seed 002: a
corpus with 100,000 exports or memberships must still open and save quickly).

- `EstimatedCountPaginator`: an unfiltered list of a table of millions of rows shows PostgreSQL's
  estimate of their number instead of counting them on every page load.
- `IdSearchMixin`: a search term that is a UUID matches the `id_search_fields` exactly (`field =
  value`, read from an index), where Django's own search would compare each row's id as text. Other
  terms go through `search_fields`, which list only what an index answers on large tables.
- `related_link`: a change page links to the changelist of an unbounded relation (a corpus's rights,
  a group's memberships, a worker's versions), with a count read from an index, instead of an
  inline or a select box that would render every related row.
- `RecordAdminMixin`: rows that only the server writes (artifacts, exports, GPUs, paths) are listed
  and shown, never added or changed by hand; whether they may be deleted stays each page's choice.
  `DerivedTableAdminMixin` adds, for the large tables the server derives (paths, the search index),
  no deletion, an order by id and an estimated count.
- `summarised_deletion`: the deletion confirmation of an object with many dependants counts them per
  model instead of listing each one.
"""

import uuid

from django.contrib.admin.utils import lookup_spawns_duplicates
from django.core.paginator import Paginator
from django.db import connections, router
from django.db.models import ProtectedError, Q, RestrictedError
from django.db.models.deletion import Collector
from django.urls import reverse
from django.utils.functional import cached_property
from django.utils.html import format_html
from django.utils.text import capfirst


class EstimatedCountPaginator(Paginator):
    """
    Counting an unfiltered list reads the whole table; above `estimate_above` rows, the number shown
    is PostgreSQL's estimate (`pg_class.reltuples`, kept by autovacuum and ANALYZE), close enough to
    page through. Filtered and searched lists, narrower and served by indexes, are counted exactly.
    """

    estimate_above = 100_000

    @cached_property
    def count(self):
        queryset = self.object_list
        query = getattr(queryset, "query", None)
        if query is not None and not query.where and not query.distinct:
            with connections[queryset.db].cursor() as cursor:
                cursor.execute(
                    "SELECT reltuples::bigint FROM pg_class WHERE oid = to_regclass(%s)",
                    [queryset.model._meta.db_table],
                )
                row = cursor.fetchone()
            if row is not None and row[0] >= self.estimate_above:
                return row[0]
        return super().count


class IdSearchMixin:
    """
    Searches that read indexes. A term that parses as a UUID matches `id_search_fields` exactly
    (the object's id and the ids of its relations); any other term is searched in `search_fields`
    by Django, or matches nothing when a large table has no indexed text to search.
    """

    id_search_fields = ("id",)

    def get_search_fields(self, request):
        # The search box shows when there is anything to search, ids included.
        return self.search_fields or self.id_search_fields

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term:
            return queryset, False
        try:
            value = uuid.UUID(term)
        except ValueError:
            if not self.search_fields:
                return queryset.none(), False
            return super().get_search_results(request, queryset, search_term)
        query = Q.create([(field, value) for field in self.id_search_fields], connector=Q.OR)
        duplicates = any(lookup_spawns_duplicates(self.opts, field) for field in self.id_search_fields)
        return queryset.filter(query), duplicates


class RecordAdminMixin:
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class DerivedTableAdminMixin(RecordAdminMixin):
    """
    A table the server derives from others (materialised paths, the search index): shown to
    inspect, never edited or deleted by hand; large, so listed by id with an estimated count.
    Subclasses set `fields`, which are all read-only.
    """

    ordering = ("id",)
    sortable_by = ()
    paginator = EstimatedCountPaginator
    show_full_result_count = False

    def get_readonly_fields(self, request, obj=None):
        return self.fields

    def has_delete_permission(self, request, obj=None):
        return False


def related_link(model, count, **filters):
    """
    A link to the changelist of `model` filtered by `filters` (plain field lookups, which the
    admin always allows), labelled with `count` objects.
    """
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
    query = "&".join(f"{key}={value}" for key, value in filters.items())
    name = model._meta.verbose_name if count == 1 else model._meta.verbose_name_plural
    return format_html('<a href="{}?{}">{} {}</a>', url, query, count, name)


def summarised_deletion(model_admin, objs, request):
    """
    `get_deleted_objects` without listing every dependant: Django's collector, keeping the
    dependants it deletes in bulk as querysets (counted, not loaded), as the deletion itself does.
    Protected or restricted dependants stop the deletion as usual.
    """
    collector = Collector(using=router.db_for_write(model_admin.model))
    protected = []
    try:
        collector.collect(objs)
    except (ProtectedError, RestrictedError) as error:
        protected = [f"{capfirst(obj._meta.verbose_name)}: {obj}" for obj in list(error.args[1])[:100]]
    counts = {}
    for model, instances in collector.data.items():
        counts[model._meta.verbose_name_plural] = counts.get(model._meta.verbose_name_plural, 0) + len(instances)
    for queryset in collector.fast_deletes:
        name = queryset.model._meta.verbose_name_plural
        counts[name] = counts.get(name, 0) + queryset.count()
    counts = {name: count for name, count in counts.items() if count}
    perms_needed = set()
    for obj in objs:
        if not model_admin.has_delete_permission(request, obj):
            perms_needed.add(model_admin.opts.verbose_name)
    return [str(obj) for obj in objs], counts, perms_needed, protected
