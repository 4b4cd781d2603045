"""
Admin of datasets. Each dataset shows its sets inline; dataset elements, which can be many, have
their own list, searched by exact ids, filtered by set name, without counting the whole table.
Relations are raw ids: a select would list every corpus, element or user of the instance.
"""

from django.contrib import admin
from django.utils.html import format_html

from arkindex.admin_tools import IdSearchMixin, RecordAdminMixin
from datasets.models import CorpusExport, CorpusExportState, Dataset, DatasetElement, DatasetSet, ProcessSet
from datasets.services.exports import export_download_url


class DatasetSetInline(admin.TabularInline):
    model = DatasetSet
    fields = ("name",)
    extra = 0


@admin.register(Dataset)
class DatasetAdmin(admin.ModelAdmin):
    list_display = ("name", "corpus", "state", "unique_elements", "creator", "created")
    list_filter = ("state", "unique_elements")
    search_fields = ("name", "=id", "corpus__name", "creator__email")
    list_select_related = ("corpus", "creator")
    raw_id_fields = ("corpus", "creator")
    readonly_fields = ("id", "created", "updated")
    date_hierarchy = "created"
    inlines = (DatasetSetInline,)

    def get_readonly_fields(self, request, obj=None):
        # Changing the corpus would leave the elements of another corpus in the dataset; turning
        # `unique_elements` on may fail on the database (PartialUpdateDataset explains why).
        if obj is not None:
            return (*self.readonly_fields, "corpus", "unique_elements")
        return self.readonly_fields


class SetNameFilter(admin.SimpleListFilter):
    """By set name, listed from the sets (a few rows), not from the dataset elements (many)."""

    title = "set"
    parameter_name = "set_name"

    def lookups(self, request, model_admin):
        names = DatasetSet.objects.order_by("name").values_list("name", flat=True).distinct()[:100]
        return [(name, name) for name in names]

    def queryset(self, request, queryset):
        if self.value() is None:
            return queryset
        return queryset.filter(set__name=self.value())


@admin.register(DatasetElement)
class DatasetElementAdmin(RecordAdminMixin, admin.ModelAdmin):
    """
    Not added nor changed here: `dataset` and `unique_elements` repeat the set's, which
    CreateDatasetElement keeps right.
    """

    list_display = ("element", "set", "dataset")
    list_filter = (SetNameFilter, "dataset__state")
    search_fields = ("=element__id", "=dataset__id", "dataset__name")
    list_select_related = ("element", "set", "dataset")
    raw_id_fields = ("element",)
    show_full_result_count = False


@admin.register(CorpusExport)
class CorpusExportAdmin(RecordAdminMixin, admin.ModelAdmin):
    """
    Exports are started with StartExport and written by their build only: the admin lists them,
    links to the file of a done one, and deletes them (with their file).
    """

    list_display = ("id", "corpus", "dataset", "user", "state", "source", "created", "updated")
    list_filter = ("state", "source")
    search_fields = ("=id", "=corpus__id", "corpus__name", "dataset__name", "user__email")
    list_select_related = ("corpus", "dataset", "user")
    raw_id_fields = ("corpus", "dataset", "user")
    fields = ("id", "corpus", "dataset", "user", "state", "source", "created", "updated", "file")
    readonly_fields = fields
    date_hierarchy = "created"

    @admin.display(description="SQLite file")
    def file(self, export):
        if export.state != CorpusExportState.Done:
            return "-"
        return format_html('<a href="{}">Download</a>', export_download_url(export))


@admin.register(DatasetSet)
class DatasetSetAdmin(IdSearchMixin, admin.ModelAdmin):
    list_display = ("name", "dataset")
    search_fields = ("name", "dataset__name")
    id_search_fields = ("id", "dataset__id")
    list_select_related = ("dataset",)
    raw_id_fields = ("dataset",)
    readonly_fields = ("id", "created", "updated")


@admin.register(ProcessSet)
class ProcessSetAdmin(IdSearchMixin, admin.ModelAdmin):
    """The inputs of dataset processes. They change through CreateProcessSet until the process starts."""

    list_display = ("process", "set", "dataset_name")
    search_fields = ("set__name", "set__dataset__name")
    id_search_fields = ("id", "process__id", "set__id", "set__dataset__id")
    list_select_related = ("process", "set__dataset")
    raw_id_fields = ("process", "set")
    show_full_result_count = False

    @admin.display(description="dataset", ordering="set__dataset__name")
    def dataset_name(self, process_set):
        return process_set.set.dataset.name

    def has_change_permission(self, request, obj=None):
        return False
