"""Query filters of the worker lists (booleans as `arkindex.api.filters` reads them)."""

import uuid

import django_filters

from arkindex.api.filters import ClientBooleanFilter
from workers.models import Worker, WorkerConfiguration, WorkerVersion, WorkerVersionState


class WorkerFilterSet(django_filters.FilterSet):
    type = django_filters.CharFilter(method="filter_type", help_text="A worker type, by slug or by ID.")
    name = django_filters.CharFilter(
        field_name="name", lookup_expr="icontains", help_text="Part of the worker's name, in any case."
    )
    repository_url = django_filters.CharFilter(
        field_name="repository_url", help_text="Only the workers of this Git repository (exact URL)."
    )
    local = ClientBooleanFilter(
        method="filter_local", help_text="True: only local workers (no repository); false: only repository ones."
    )

    class Meta:
        model = Worker
        fields = ("type", "name", "repository_url", "local")

    def filter_type(self, queryset, name, value):
        try:
            return queryset.filter(type_id=uuid.UUID(value))
        except ValueError:
            return queryset.filter(type__slug=value)

    def filter_local(self, queryset, name, value):
        return queryset.filter(repository_url__isnull=value)


class WorkerVersionFilterSet(django_filters.FilterSet):
    state = django_filters.ChoiceFilter(choices=WorkerVersionState.choices, help_text="Only versions in this state.")
    mode = django_filters.ChoiceFilter(
        choices=(("all", "All versions"), ("tagged", "Only versions with a tag")),
        method="filter_mode",
        help_text="`all` (default) or `tagged`: only the versions that carry a tag.",
    )

    class Meta:
        model = WorkerVersion
        fields = ("state", "mode")

    def filter_mode(self, queryset, name, value):
        if value == "tagged":
            return queryset.filter(tag__isnull=False).exclude(tag="")
        return queryset


class WorkerConfigurationFilterSet(django_filters.FilterSet):
    archived = ClientBooleanFilter(field_name="archived", help_text="Only archived (true) or usable (false) ones.")

    class Meta:
        model = WorkerConfiguration
        fields = ("archived",)
