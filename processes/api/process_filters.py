"""
Query filters of `ListProcesses`. `state` filters on the state the database derives from the tasks
(`Process.objects.with_state()`), in the same query as the page; `started` replaces the former
"configured" filter (seed 001): started processes, or those still being configured.
"""

import django_filters

from arkindex.api.filters import ClientBooleanFilter
from processes.models import Process, ProcessMode, ProcessState


class ProcessFilterSet(django_filters.FilterSet):
    mode = django_filters.ChoiceFilter(choices=ProcessMode.choices, help_text="Only processes of this mode.")
    state = django_filters.ChoiceFilter(
        choices=ProcessState.choices, field_name="state_value", help_text="Only processes in this state."
    )
    name = django_filters.CharFilter(
        field_name="name", lookup_expr="icontains", help_text="Only processes whose name contains this text (any case)."
    )
    creator = django_filters.NumberFilter(
        field_name="creator_id", help_text="Only processes created by this user (id)."
    )
    created_by_me = ClientBooleanFilter(
        method="filter_created_by_me",
        help_text="True: only your processes; false: only the processes of others.",
    )
    corpus = django_filters.UUIDFilter(field_name="corpus_id", help_text="Only the processes of this corpus.")
    repository_id = django_filters.UUIDFilter(
        field_name="repository_id", help_text="Only the repository processes importing this repository."
    )
    started = ClientBooleanFilter(
        method="filter_started", help_text="True: only started processes; false: only those not started yet."
    )

    class Meta:
        model = Process
        fields = ("mode", "state", "name", "creator", "created_by_me", "corpus", "repository_id", "started")

    def filter_created_by_me(self, queryset, name, value):
        user = self.request.user
        return queryset.filter(creator_id=user.id) if value else queryset.exclude(creator_id=user.id)

    def filter_started(self, queryset, name, value):
        return queryset.filter(started__isnull=not value)
