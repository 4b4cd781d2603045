"""
Git repositories in the Django admin. Their credentials never appear: not as a field, not in the
list, not in a search. An administrator sees whether a repository has some, and removes them with
an action; new ones are set through the API (PartialUpdateRepository), which seals them.
"""

from django.contrib import admin, messages
from django.db.models import Q

from arkindex.admin_tools import IdSearchMixin
from workers.models import Repository
from workers.services.repositories import repositories_clear_credentials


class HasCredentialsFilter(admin.SimpleListFilter):
    title = "credentials"
    parameter_name = "credentials"

    def lookups(self, request, model_admin):
        return (("yes", "With credentials"), ("no", "Without credentials"))

    def queryset(self, request, queryset):
        if self.value() in ("yes", "no"):
            return queryset.filter(Q(credentials__isnull=self.value() == "no"))
        return queryset


@admin.register(Repository)
class RepositoryAdmin(IdSearchMixin, admin.ModelAdmin):
    list_display = ("url", "has_credentials", "creator", "created")
    list_filter = (HasCredentialsFilter,)
    search_fields = ("url",)
    search_help_text = "Part of the URL, or the repository's UUID."
    list_select_related = ("creator",)
    raw_id_fields = ("creator",)
    fields = ("id", "url", "has_credentials", "creator", "created", "updated")
    readonly_fields = ("id", "has_credentials", "created", "updated")
    actions = ("remove_credentials",)

    @admin.display(boolean=True, description="Credentials")
    def has_credentials(self, obj):
        return obj.has_credentials

    @admin.action(description="Remove the credentials of the selected repositories")
    def remove_credentials(self, request, queryset):
        count = repositories_clear_credentials(queryset=queryset)
        self.message_user(request, f"Credentials removed from {count} repository(ies).", messages.SUCCESS)
