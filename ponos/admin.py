"""
Tasks in the Django admin, for instance administrators; farms, agents and secrets are in
`ponos.extra_admin`. A task's token is its credential: read-only, and never shown in lists.
"""

from django.contrib import admin

from ponos import extra_admin  # noqa: F401  (farms, agents, secrets)
from ponos.models import Task


@admin.register(Task)
class TaskAdmin(admin.ModelAdmin):
    list_display = ("slug", "id", "process_id", "run", "depth", "state", "requires_gpu", "started", "finished")
    list_filter = ("state", "requires_gpu")
    search_fields = ("slug", "id", "process__id")
    raw_id_fields = ("process", "worker_run", "parents", "agent", "gpu")
    readonly_fields = ("id", "token", "created", "updated", "started", "finished")
    ordering = ("-created",)
    fieldsets = (
        (None, {"fields": ("id", "process", "run", "slug", "depth", "chunk", "parents", "state", "worker_run")}),
        ("Execution", {"fields": ("image", "command", "env", "requires_gpu", "shm_size", "extra_files")}),
        ("Agent", {"fields": ("agent", "gpu", "attempt")}),
        ("Times", {"fields": ("created", "updated", "started", "finished")}),
        ("Credential", {"fields": ("token",), "classes": ("collapse",)}),
    )
