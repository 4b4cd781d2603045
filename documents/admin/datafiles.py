"""
Data files in the Django admin: listed by corpus and name (the index of ListCorpusDataFiles),
searched by name or exact UUID. Their content lives in the storage; deleting one here goes
through the same rule as DestroyDataFile (never while a running process reads it).
"""

from django.contrib import admin, messages
from rest_framework.exceptions import APIException

from arkindex.admin_tools import IdSearchMixin
from documents.models import DataFile
from documents.services import datafiles


@admin.register(DataFile)
class DataFileAdmin(IdSearchMixin, admin.ModelAdmin):
    list_display = ("name", "corpus", "content_type", "size", "status", "created")
    list_filter = ("status",)
    search_fields = ("name",)
    search_help_text = "Part of the name, or a UUID (data file, corpus)."
    id_search_fields = ("id", "corpus")
    list_select_related = ("corpus",)
    raw_id_fields = ("corpus", "creator")
    fields = ("id", "corpus", "name", "content_type", "size", "hash", "status", "creator", "created", "updated")
    readonly_fields = ("id", "corpus", "size", "hash", "status", "creator", "created", "updated")
    actions = ("delete_files",)

    def has_add_permission(self, request):
        # A data file without its content is of no use: the API creates and uploads them.
        return False

    def has_delete_permission(self, request, obj=None):
        # Deletions go through `delete_files`, which keeps the files read by running processes.
        return False

    @admin.action(description="Delete the selected data files and their content")
    def delete_files(self, request, queryset):
        deleted = 0
        for data_file in queryset:
            try:
                datafiles.data_file_destroy(data_file=data_file)
            except APIException as error:
                self.message_user(request, f"{data_file.name}: {error.detail}", messages.ERROR)
            else:
                deleted += 1
        self.message_user(request, f"{deleted} data file(s) deleted.", messages.SUCCESS)
