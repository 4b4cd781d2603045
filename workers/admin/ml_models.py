"""
Models and model versions in the Django admin, for instance administrators.

A model's rights are managed in the rights admin of the users app; here a model lists its
versions. The archive of a version is read-only: it is uploaded through the API, and its size and
hashes are those the API checked.
"""

from django.contrib import admin, messages
from django.utils import timezone

from arkindex.admin_tools import IdSearchMixin
from workers.models import Model, ModelVersion, ModelVersionState


class ModelVersionInline(admin.TabularInline):
    model = ModelVersion
    fields = ("tag", "state", "size", "created")
    readonly_fields = fields
    extra = 0
    show_change_link = True
    can_delete = False
    ordering = ("-created",)

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Model)
class ModelAdmin(IdSearchMixin, admin.ModelAdmin):
    list_display = ("name", "public", "archived", "creator", "created")
    list_filter = ("public", ("archived", admin.EmptyFieldListFilter))
    search_fields = ("name", "description")
    list_select_related = ("creator",)
    readonly_fields = ("id", "created", "updated")
    raw_id_fields = ("creator",)
    fields = ("id", "name", "description", "public", "archived", "creator", "created", "updated")
    inlines = (ModelVersionInline,)
    actions = ("archive", "unarchive")

    @admin.action(description="Archive the selected models (no new versions)")
    def archive(self, request, queryset):
        count = queryset.filter(archived__isnull=True).update(archived=timezone.now())
        self.message_user(request, f"{count} model(s) archived.", messages.SUCCESS)

    @admin.action(description="Un-archive the selected models")
    def unarchive(self, request, queryset):
        count = queryset.filter(archived__isnull=False).update(archived=None)
        self.message_user(request, f"{count} model(s) un-archived.", messages.SUCCESS)


@admin.register(ModelVersion)
class ModelVersionAdmin(IdSearchMixin, admin.ModelAdmin):
    list_display = ("__str__", "model", "tag", "state", "size", "created")
    list_filter = ("state",)
    search_fields = ("model__name", "tag", "description")
    search_help_text = "Part of the model's name, the tag or the description, or the UUID of the version or model."
    id_search_fields = ("id", "model")
    list_select_related = ("model",)
    raw_id_fields = ("model", "parent", "creator")
    # The state follows the archive's upload through the API, which checks the archive.
    readonly_fields = ("id", "state", "size", "hash", "archive_hash", "created", "updated")
    actions = ("mark_error",)
    fields = (
        "id",
        "model",
        "parent",
        "tag",
        "description",
        "state",
        "configuration",
        "size",
        "hash",
        "archive_hash",
        "archived",
        "creator",
        "created",
        "updated",
    )

    @admin.action(description="Mark the selected versions still awaiting their archive as failed")
    def mark_error(self, request, queryset):
        count = queryset.filter(state=ModelVersionState.Created).update(
            state=ModelVersionState.Error, updated=timezone.now()
        )
        self.message_user(request, f"{count} model version(s) marked as error.", messages.SUCCESS)
