"""
Admin of processes and worker runs. User worker runs are the worker runs of `local` processes:
the filter on the process mode lists them, and each local process shows its owner's runs.
"""

from django.contrib import admin

from processes.models import Process, WorkerRun


class WorkerRunInline(admin.TabularInline):
    model = WorkerRun
    fields = ("summary", "version", "model_version", "configuration", "parents", "use_gpu", "created")
    readonly_fields = fields
    show_change_link = True
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Process)
class ProcessAdmin(admin.ModelAdmin):
    list_display = ("__str__", "mode", "corpus", "creator", "activity_state", "created", "started", "finished")
    list_filter = ("mode", "activity_state", "use_gpu", "use_cache")
    search_fields = ("name", "id", "creator__email", "corpus__name")
    list_select_related = ("corpus", "creator")
    raw_id_fields = ("corpus", "creator", "element", "element_type", "template")
    readonly_fields = ("id", "created", "updated", "started", "finished")
    date_hierarchy = "created"
    inlines = (WorkerRunInline,)


class UserWorkerRunFilter(admin.SimpleListFilter):
    title = "kind"
    parameter_name = "kind"

    def lookups(self, request, model_admin):
        return (("user", "User worker runs"), ("process", "Process worker runs"))

    def queryset(self, request, queryset):
        if self.value() == "user":
            return queryset.filter(process__mode="local")
        if self.value() == "process":
            return queryset.exclude(process__mode="local")
        return queryset


@admin.register(WorkerRun)
class WorkerRunAdmin(admin.ModelAdmin):
    list_display = ("summary", "process", "created")
    list_filter = (UserWorkerRunFilter, "process__mode", "use_gpu")
    search_fields = ("summary", "id", "process__id", "process__creator__email")
    list_select_related = ("process",)
    raw_id_fields = ("process", "version", "model_version", "configuration")
    readonly_fields = ("id", "summary", "created", "updated")
