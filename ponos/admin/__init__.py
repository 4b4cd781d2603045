"""
Tasks in the Django admin, for instance administrators; farms, agents and secrets are in
`ponos.admin.agents`.

An administrator repairs a task by hand: its state, agent and GPU are editable (seed 002), and its
artifacts are listed read-only under it, so that they are never part of what the form validates
(a task with artifacts saves like any other). A state changed here lets the scheduler run for the
process after the commit: the task's children start, or the process ends. A task's token is its
credential: never shown, never editable. Artifacts also have a read-only list of their own.
"""

from django.contrib import admin

from arkindex.admin_tools import EstimatedCountPaginator, IdSearchMixin, RecordAdminMixin
from ponos.admin import agents  # noqa: F401  (farms, agents, secrets: their pages register themselves)
from ponos.models import Artifact, Task
from ponos.scheduler import schedule_process_on_commit


class ArtifactInline(admin.TabularInline):
    """A task's files, as the agent stored them: shown, never added, changed or deleted here."""

    model = Artifact
    fields = ("path", "size", "content_type", "created")
    readonly_fields = fields
    ordering = ("path",)
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Task)
class TaskAdmin(IdSearchMixin, admin.ModelAdmin):
    list_display = ("slug", "id", "process_id", "run", "depth", "state", "requires_gpu", "started", "finished")
    list_filter = ("state", "requires_gpu")
    search_fields = ("slug",)
    search_help_text = "Part of the slug, or the UUID of the task, its process, its worker run or its agent."
    id_search_fields = ("id", "process", "worker_run", "agent")
    raw_id_fields = ("process", "worker_run", "parents", "agent", "gpu")
    readonly_fields = ("id", "created", "updated", "started", "finished")
    ordering = ("-created",)
    paginator = EstimatedCountPaginator
    show_full_result_count = False
    # `token` is in no fieldset: the form neither shows nor accepts it.
    fieldsets = (
        (None, {"fields": ("id", "process", "run", "slug", "depth", "chunk", "parents", "state", "worker_run")}),
        ("Execution", {"fields": ("image", "command", "env", "requires_gpu", "shm_size", "extra_files")}),
        ("Agent", {"fields": ("agent", "gpu", "attempt")}),
        ("Times", {"fields": ("created", "updated", "started", "finished")}),
    )
    inlines = (ArtifactInline,)

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if change and "state" in form.changed_data:
            schedule_process_on_commit(obj.process_id)


@admin.register(Artifact)
class ArtifactAdmin(RecordAdminMixin, IdSearchMixin, admin.ModelAdmin):
    """Files as the agents stored them: listed and shown, never added or changed here."""

    list_display = ("path", "task", "size", "content_type", "created")
    list_filter = (("created", admin.DateFieldListFilter),)
    search_fields = ("path",)
    search_help_text = "Part of the path, or the UUID of the artifact or its task."
    id_search_fields = ("id", "task")
    list_select_related = ("task",)
    fields = ("id", "task", "path", "size", "content_type", "created", "updated")
    readonly_fields = fields
    paginator = EstimatedCountPaginator
    show_full_result_count = False
