"""
Admin of corpora, element types, images, elements and worker results.

Element and result tables hold millions of rows: their pages read indexes only. Relations are raw
ids (a select would list every element, run or user of the instance), lists are ordered by an
indexed column and do not count the whole table, searches match exact UUIDs (see
`arkindex.admin_tools.IdSearchMixin`) or text that a trigram index answers, and the corpus page
links to its rights instead of listing them (seed 002: 100,000 memberships on a corpus).
"""

from django.contrib import admin
from django.contrib.contenttypes.models import ContentType
from django.db import models

from arkindex.admin_tools import DerivedTableAdminMixin, EstimatedCountPaginator, IdSearchMixin, related_link
from documents import services
from documents.models import (
    Classification,
    Corpus,
    Element,
    ElementPath,
    ElementType,
    Embedding,
    Entity,
    EntityType,
    Image,
    ImageServer,
    MetaData,
    MLClass,
    SearchEntry,
    Selection,
    Transcription,
    TranscriptionEntity,
)
from users.models import Right

# Results made by a person have no worker run: `worker_run IS NULL` reads the (worker run, …) indexes.
MADE_BY_A_PERSON = ("worker_run", admin.EmptyFieldListFilter)


class ElementTypeInline(admin.TabularInline):
    model = ElementType
    fields = ("slug", "display_name", "folder", "indexable", "color")
    extra = 0


@admin.register(Corpus)
class CorpusAdmin(IdSearchMixin, admin.ModelAdmin):
    list_display = ("name", "public", "indexable", "creator", "created")
    list_filter = ("public", "indexable")
    search_fields = ("name",)
    search_help_text = "Part of the name, or the corpus's UUID."
    list_select_related = ("creator",)
    raw_id_fields = ("creator",)
    readonly_fields = ("id", "rights", "created", "updated")
    fields = (
        "id",
        "name",
        "description",
        "public",
        "indexable",
        "top_level_type",
        "creator",
        "rights",
        "created",
        "updated",
    )
    inlines = (ElementTypeInline,)

    @admin.display(description="rights")
    def rights(self, corpus):
        """Who has access: a link to the rights on the corpus, which may be many, never a list of them."""
        if corpus.pk is None:
            return "-"
        content_type = ContentType.objects.get_for_model(Corpus)
        count = Right.objects.filter(content_type=content_type, object_id=corpus.pk).count()
        return related_link(Right, count, content_type=content_type.pk, object_id=corpus.pk)

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        # Only the corpus's own types can be its top-level type.
        field = form.base_fields.get("top_level_type")
        if field is not None:
            field.queryset = ElementType.objects.filter(corpus=obj) if obj else ElementType.objects.none()
        return form

    # A corpus can hold millions of elements: the confirmation page does not list them, and the
    # deletion uses set-based SQL instead of loading each object.
    def get_deleted_objects(self, objs, request):
        return [str(obj) for obj in objs], {}, set(), []

    def delete_model(self, request, obj):
        services.corpus_delete(corpus_id=obj.id)

    def delete_queryset(self, request, queryset):
        for corpus_id in queryset.values_list("id", flat=True):
            services.corpus_delete(corpus_id=corpus_id)


@admin.register(ElementType)
class ElementTypeAdmin(IdSearchMixin, admin.ModelAdmin):
    list_display = ("slug", "display_name", "corpus", "folder", "indexable")
    list_filter = ("folder", "indexable")
    search_fields = ("slug", "display_name", "corpus__name")
    search_help_text = "Part of the slug, name or corpus name, or the UUID of the type or its corpus."
    id_search_fields = ("id", "corpus")
    list_select_related = ("corpus",)
    raw_id_fields = ("corpus",)
    readonly_fields = ("id", "created", "updated")


@admin.register(ImageServer)
class ImageServerAdmin(IdSearchMixin, admin.ModelAdmin):
    list_display = ("display_name", "url", "version", "max_width", "max_height")
    list_filter = ("version",)
    search_fields = ("display_name", "url")
    readonly_fields = ("id", "created", "updated")
    # Server URLs typed without a scheme are read as HTTPS.
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}


@admin.register(Image)
class ImageAdmin(IdSearchMixin, admin.ModelAdmin):
    list_display = ("path", "server", "width", "height", "status")
    list_filter = ("status", "server")
    # No index answers a part of a path: such a search reads the images, an order of magnitude
    # fewer than the elements; the list itself reads the (server, path) index.
    search_fields = ("path",)
    search_help_text = "Part of the path, or the image's UUID."
    list_select_related = ("server",)
    raw_id_fields = ("server",)
    readonly_fields = ("id", "created", "updated")
    paginator = EstimatedCountPaginator
    show_full_result_count = False


class ElementPathInline(admin.TabularInline):
    model = ElementPath
    fields = ("path", "ordering", "parent")
    readonly_fields = ("path", "ordering", "parent")
    extra = 0
    can_delete = False

    # Paths are maintained by the services: the API's parent operations change them.
    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Element)
class ElementAdmin(IdSearchMixin, admin.ModelAdmin):
    list_display = ("name", "type", "corpus", "created")
    list_filter = ("corpus", "type__slug")
    # Names through the trigram index on UPPER(name); UUIDs exactly.
    search_fields = ("name",)
    search_help_text = "Part of the name, or the UUID of the element, its corpus, image or worker run."
    id_search_fields = ("id", "corpus", "image", "worker_run")
    # Read from the (corpus, name, id) index, with or without the corpus filter.
    ordering = ("corpus_id", "name", "id")
    sortable_by = ("name",)
    # An instance holds many worker runs: a select listing them all would be slow to render.
    raw_id_fields = ("corpus", "type", "creator", "worker_run")
    # A zone (image and polygon) is checked against the image by the API; it is shown here, not edited.
    readonly_fields = ("id", "image", "polygon", "created", "updated")
    list_select_related = ("corpus", "type")
    inlines = (ElementPathInline,)
    # Counting every element of a large instance on each page load is not worth it.
    paginator = EstimatedCountPaginator
    show_full_result_count = False

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if not change:
            ElementPath.objects.get_or_create(element=obj, path=[], defaults={"ordering": 0})

    # Descendants go with their element, and other descendants' paths are kept consistent; the
    # confirmation page does not list a subtree that may be huge.
    def get_deleted_objects(self, objs, request):
        return [str(obj) for obj in objs], {}, set(), []

    def delete_model(self, request, obj):
        services.element_delete(element_id=obj.id)

    def delete_queryset(self, request, queryset):
        for element_id in queryset.values_list("id", flat=True):
            services.element_delete(element_id=element_id)


class PathLevelFilter(admin.SimpleListFilter):
    title = "level"
    parameter_name = "level"

    def lookups(self, request, model_admin):
        return (("top", "Top level"), ("child", "Under a parent"))

    def queryset(self, request, queryset):
        # `parent IS NULL` leads the (parent, ordering) index.
        if self.value() == "top":
            return queryset.filter(parent__isnull=True)
        if self.value() == "child":
            return queryset.filter(parent__isnull=False)
        return queryset


@admin.register(ElementPath)
class ElementPathAdmin(DerivedTableAdminMixin, IdSearchMixin, admin.ModelAdmin):
    """The materialised paths, to inspect the tree: only the services change them."""

    list_display = ("id", "element", "parent", "ordering")
    list_filter = (PathLevelFilter,)
    search_help_text = "The UUID of an element: its paths and its children's paths."
    id_search_fields = ("element", "parent")
    list_select_related = ("element",)
    fields = ("id", "element", "path", "parent", "ordering", "created", "updated")


@admin.register(SearchEntry)
class SearchEntryAdmin(DerivedTableAdminMixin, IdSearchMixin, admin.ModelAdmin):
    """The search index, to see what SearchCorpus finds: the database writes it, `reindex` rebuilds it."""

    list_display = ("id", "parent", "source", "element", "worker_run", "confidence")
    list_filter = ("source",)
    search_help_text = "The UUID of an indexed element, of the element holding a text, of a text or of a corpus."
    id_search_fields = ("parent", "element", "object_id", "corpus")
    list_select_related = ("parent", "element", "worker_run")
    fields = ("id", "corpus", "parent", "element", "source", "object_id", "worker_run", "confidence", "vector")


@admin.register(Selection)
class SelectionAdmin(IdSearchMixin, admin.ModelAdmin):
    list_display = ("user", "element", "created")
    search_fields = ("user__email",)
    search_help_text = "Part of the user's email, or the UUID of a selected element."
    id_search_fields = ("element",)
    raw_id_fields = ("user", "element")
    list_select_related = ("user", "element")
    readonly_fields = ("created",)
    paginator = EstimatedCountPaginator
    show_full_result_count = False


# Worker results. Result tables are the largest: every relation is a raw id, searches match UUIDs
# exactly (text is searched only where an index answers it), lists are in primary key order (the
# models' `created` order has no index) and do not count the whole table.


class ResultAdmin(IdSearchMixin, admin.ModelAdmin):
    readonly_fields = ("id", "created", "updated")
    ordering = ("id",)
    sortable_by = ()
    paginator = EstimatedCountPaginator
    show_full_result_count = False


@admin.register(Transcription)
class TranscriptionAdmin(ResultAdmin):
    list_display = ("id", "element", "text", "confidence", "orientation", "worker_run")
    list_filter = ("orientation", MADE_BY_A_PERSON)
    search_help_text = "The UUID of the transcription, its element or its worker run."
    id_search_fields = ("id", "element", "worker_run")
    raw_id_fields = ("element", "worker_run")
    list_select_related = ("element", "worker_run")


@admin.register(MLClass)
class MLClassAdmin(ResultAdmin):
    list_display = ("name", "corpus")
    search_fields = ("name",)
    search_help_text = "Part of the name, or the UUID of the class or its corpus."
    id_search_fields = ("id", "corpus")
    raw_id_fields = ("corpus",)
    list_select_related = ("corpus",)


@admin.register(Classification)
class ClassificationAdmin(ResultAdmin):
    list_display = ("id", "element", "ml_class", "confidence", "state", "worker_run")
    list_filter = ("state", "high_confidence", MADE_BY_A_PERSON)
    search_help_text = "The UUID of the classification, its element, its class or its worker run."
    id_search_fields = ("id", "element", "ml_class", "worker_run")
    raw_id_fields = ("element", "ml_class", "moderator", "worker_run")
    list_select_related = ("element", "ml_class", "worker_run")


@admin.register(MetaData)
class MetaDataAdmin(ResultAdmin):
    list_display = ("id", "element", "type", "name", "value", "worker_run")
    list_filter = ("type", MADE_BY_A_PERSON)
    search_help_text = "The UUID of the metadata, its element, its entity or its worker run."
    id_search_fields = ("id", "element", "entity", "worker_run")
    raw_id_fields = ("element", "entity", "worker_run")
    list_select_related = ("element", "worker_run")


@admin.register(EntityType)
class EntityTypeAdmin(ResultAdmin):
    list_display = ("name", "corpus", "color")
    search_fields = ("name",)
    search_help_text = "Part of the name, or the UUID of the type or its corpus."
    id_search_fields = ("id", "corpus")
    raw_id_fields = ("corpus",)
    list_select_related = ("corpus",)


@admin.register(Entity)
class EntityAdmin(ResultAdmin):
    list_display = ("id", "name", "type", "corpus", "worker_run")
    list_filter = (MADE_BY_A_PERSON,)
    # Names through the trigram index on UPPER(name), as ListCorpusEntities.
    search_fields = ("name",)
    search_help_text = "Part of the name, or the UUID of the entity, its corpus, its type or its worker run."
    id_search_fields = ("id", "corpus", "type", "worker_run")
    raw_id_fields = ("corpus", "type", "worker_run")
    list_select_related = ("corpus", "type", "worker_run")


@admin.register(TranscriptionEntity)
class TranscriptionEntityAdmin(ResultAdmin):
    list_display = ("id", "transcription", "entity", "offset", "length", "worker_run")
    list_filter = (MADE_BY_A_PERSON,)
    search_help_text = "The UUID of the link, its transcription, its entity or its worker run."
    id_search_fields = ("id", "transcription", "entity", "worker_run")
    raw_id_fields = ("transcription", "entity", "worker_run")
    list_select_related = ("transcription", "entity", "worker_run")


@admin.register(Embedding)
class EmbeddingAdmin(ResultAdmin):
    list_display = ("id", "element", "worker_run", "created")
    list_filter = (MADE_BY_A_PERSON,)
    search_help_text = "The UUID of the embedding, its element or its worker run."
    id_search_fields = ("id", "element", "worker_run")
    raw_id_fields = ("element", "worker_run")
    list_select_related = ("element", "worker_run")


from documents.admin import datafiles as datafile_admin  # noqa: F401,E402
