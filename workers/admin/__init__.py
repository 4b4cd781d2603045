"""
Admin of worker types, workers, worker versions and worker configurations.

Instance administrators un-archive configurations here (the API lets them too); archiving and
un-archiving go through the service so that both places apply the same change. A worker
published from CI gains a version per commit: its page links to its versions instead of listing
them.
"""

from django.contrib import admin, messages
from django.db import models

from arkindex.admin_tools import IdSearchMixin, related_link
from workers import services
from workers.models import Worker, WorkerConfiguration, WorkerType, WorkerVersion

# Repository and revision URLs typed without a scheme are read as HTTPS, as Git hosts serve them.
URL_FIELD_OVERRIDES = {models.URLField: {"assume_scheme": "https"}}


@admin.register(WorkerType)
class WorkerTypeAdmin(IdSearchMixin, admin.ModelAdmin):
    list_display = ("slug", "display_name", "created")
    search_fields = ("slug", "display_name")
    readonly_fields = ("id", "created", "updated")


@admin.register(Worker)
class WorkerAdmin(IdSearchMixin, admin.ModelAdmin):
    list_display = ("name", "slug", "type", "repository_url", "public", "archived", "created")
    list_filter = ("type", "public", ("archived", admin.EmptyFieldListFilter))
    search_fields = ("name", "slug", "repository_url")
    search_help_text = "Part of the name, slug or repository URL, or the worker's UUID."
    list_select_related = ("type",)
    raw_id_fields = ("creator",)
    readonly_fields = ("id", "versions", "created", "updated")
    formfield_overrides = URL_FIELD_OVERRIDES

    @admin.display(description="versions")
    def versions(self, worker):
        if worker.pk is None:
            return "-"
        return related_link(WorkerVersion, worker.versions.count(), worker=worker.pk)


@admin.register(WorkerVersion)
class WorkerVersionAdmin(IdSearchMixin, admin.ModelAdmin):
    list_display = ("__str__", "worker", "version", "state", "tag", "branch", "gpu_usage", "model_usage", "created")
    list_filter = ("state", "gpu_usage", "model_usage")
    search_fields = ("worker__name", "worker__slug", "revision_url", "tag", "branch", "docker_image_iid")
    search_help_text = "Part of the worker's name or slug, revision URL, tag, branch or image, or a UUID."
    id_search_fields = ("id", "worker")
    list_select_related = ("worker",)
    raw_id_fields = ("worker",)
    readonly_fields = ("id", "version", "created", "updated")
    formfield_overrides = URL_FIELD_OVERRIDES
    show_full_result_count = False


@admin.register(WorkerConfiguration)
class WorkerConfigurationAdmin(IdSearchMixin, admin.ModelAdmin):
    list_display = ("name", "worker", "archived", "created")
    list_filter = ("archived",)
    search_fields = ("name", "worker__name", "worker__slug")
    search_help_text = "Part of the name or of the worker's name or slug, or the UUID of the configuration or worker."
    id_search_fields = ("id", "worker")
    list_select_related = ("worker",)
    raw_id_fields = ("worker",)
    # Values are what results were produced with: they never change once saved.
    readonly_fields = ("id", "configuration", "configuration_hash", "created", "updated")
    actions = ("archive", "unarchive")

    def get_readonly_fields(self, request, obj=None):
        fields = ("id", "configuration_hash", "created", "updated") if obj is None else self.readonly_fields
        if not request.user.is_admin:
            # Staff who are not instance administrators could otherwise un-archive from the form.
            fields = (*fields, "archived")
        return fields

    @admin.action(description="Archive the selected configurations")
    def archive(self, request, queryset):
        count = services.worker_configurations_set_archived(queryset=queryset, archived=True)
        self.message_user(request, f"{count} configuration(s) archived.", messages.SUCCESS)

    @admin.action(description="Un-archive the selected configurations")
    def unarchive(self, request, queryset):
        if not request.user.is_admin:
            self.message_user(request, "Only instance administrators can un-archive a configuration.", messages.ERROR)
            return
        count = services.worker_configurations_set_archived(queryset=queryset, archived=False)
        self.message_user(request, f"{count} configuration(s) un-archived.", messages.SUCCESS)


from workers.admin import ml_models  # noqa: F401,E402
from workers.admin import repositories as repository_admin  # noqa: F401,E402
