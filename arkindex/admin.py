from django.contrib import admin, messages
from django.db import transaction

from arkindex.admin_tools import IdSearchMixin, RecordAdminMixin
from arkindex.jobs import submit
from arkindex.models import Job, JobState


@admin.register(Job)
class JobAdmin(IdSearchMixin, RecordAdminMixin, admin.ModelAdmin):
    """
    Background jobs as the server recorded them (see `arkindex.jobs`): what was asked, by whom, and
    what became of it. A failed job can be run again once its cause is fixed.
    """

    list_display = ("description", "state", "attempts", "user", "created", "finished")
    list_filter = ("state", "queue")
    search_fields = ("description", "function", "user__email")
    id_search_fields = ("id",)
    list_select_related = ("user",)
    raw_id_fields = ("user",)
    readonly_fields = [field.name for field in Job._meta.fields]
    date_hierarchy = "created"
    actions = ("run_again",)

    @admin.action(description="Run the selected failed jobs again", permissions=("view",))
    def run_again(self, request, queryset):
        failed = list(queryset.filter(state=JobState.Failed).values_list("id", "queue", "timeout"))
        with transaction.atomic():
            Job.objects.filter(pk__in=[job_id for job_id, _, _ in failed]).update(
                state=JobState.Pending, attempts=0, last_error="", finished=None, not_before=None
            )
            for job_id, queue, timeout in failed:
                transaction.on_commit(
                    lambda job_id=job_id, queue=queue, timeout=timeout: submit(job_id, queue, timeout)
                )
        self.message_user(request, f"{len(failed)} failed job(s) will run again.", messages.SUCCESS)
