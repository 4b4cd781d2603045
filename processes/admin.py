"""
Admin of processes and worker runs. User worker runs are the worker runs of `local` processes:
the filter on the process mode lists them, and each local process shows its owner's runs.

Foreign keys are raw ids (a select would list every element, corpus or user of the instance), and
deleting processes goes through the same service as DestroyProcess: checked, hidden at once and
deleted by a background job, instead of Django's row-by-row cascade. Worker activities, one per
element and worker run of a process, are listed in primary key order and searched by exact UUIDs.
"""

from django.contrib import admin, messages
from rest_framework.exceptions import APIException

from arkindex.admin_tools import EstimatedCountPaginator, IdSearchMixin
from processes import services
from processes.models import Process, WorkerActivity, WorkerRun


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
class ProcessAdmin(IdSearchMixin, admin.ModelAdmin):
    list_display = ("__str__", "mode", "state", "corpus", "creator", "farm", "created", "started", "finished")
    list_filter = ("mode", "farm", "activity_state", "use_gpu", "use_cache")
    search_fields = ("name", "creator__email", "corpus__name")
    search_help_text = "Part of the name, the creator's email or the corpus's name, or a UUID (process, corpus)."
    id_search_fields = ("id", "corpus")
    list_select_related = ("corpus", "creator", "farm")
    raw_id_fields = (
        "corpus",
        "creator",
        "element",
        "element_type",
        "folder_type",
        "template",
        "elements",
        "files",
        "model",
        "train_folder",
        "validation_folder",
        "test_folder",
    )
    readonly_fields = ("id", "state", "created", "updated", "started", "finished")
    date_hierarchy = "created"
    inlines = (WorkerRunInline,)
    actions = ("delete_in_background",)

    def get_queryset(self, request):
        # The state comes from the tasks, in the same query as the rows.
        return super().get_queryset(request).with_state()

    @admin.display(description="state")
    def state(self, process):
        return getattr(process, "state_value", None) or process.state

    def has_delete_permission(self, request, obj=None):
        # Deletions go through `delete_in_background`, as with DestroyProcess.
        return False

    @admin.action(description="Delete the selected processes (in the background)", permissions=("change",))
    def delete_in_background(self, request, queryset):
        scheduled = 0
        for process in queryset:
            try:
                services.process_destroy(process=process, user=request.user)
            except APIException as error:
                self.message_user(request, f"{process}: {error.detail}", messages.ERROR)
            else:
                scheduled += 1
        if scheduled:
            self.message_user(request, f"{scheduled} process(es) will be deleted in the background.", messages.SUCCESS)


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
class WorkerRunAdmin(IdSearchMixin, admin.ModelAdmin):
    list_display = ("summary", "process", "created")
    list_filter = (UserWorkerRunFilter, "process__mode", "use_gpu")
    search_fields = ("summary", "process__creator__email")
    search_help_text = "Part of the summary or of the process creator's email, or the UUID of the run or a relation."
    id_search_fields = ("id", "process", "version", "model_version", "configuration")
    list_select_related = ("process",)
    raw_id_fields = ("process", "version", "model_version", "configuration")
    readonly_fields = ("id", "summary", "created", "updated")


@admin.register(WorkerActivity)
class WorkerActivityAdmin(IdSearchMixin, admin.ModelAdmin):
    """
    An administrator may put an activity back in the queue (state `queued`) or mark it; everything
    else is what the activity initialisation and the workers wrote.
    """

    list_display = ("id", "element", "worker_run", "state", "started", "updated")
    list_filter = ("state",)
    search_help_text = "The UUID of a process, a worker run or an element."
    id_search_fields = ("process", "worker_run", "element")
    list_select_related = ("element", "worker_run")
    raw_id_fields = ("process", "worker_run", "element")
    fields = ("id", "process", "worker_run", "element", "state", "started", "created", "updated")
    readonly_fields = ("id", "process", "worker_run", "element", "started", "created", "updated")
    ordering = ("-id",)
    sortable_by = ()
    paginator = EstimatedCountPaginator
    show_full_result_count = False

    def has_add_permission(self, request):
        return False
