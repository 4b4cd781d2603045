from django.contrib import admin

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
    Selection,
    Transcription,
    TranscriptionEntity,
)


class ElementTypeInline(admin.TabularInline):
    model = ElementType
    fields = ("slug", "display_name", "folder", "color")
    extra = 0


@admin.register(Corpus)
class CorpusAdmin(admin.ModelAdmin):
    list_display = ("name", "public", "indexable", "creator", "created")
    list_filter = ("public", "indexable")
    search_fields = ("name",)
    raw_id_fields = ("creator",)
    readonly_fields = ("id", "created", "updated")
    inlines = (ElementTypeInline,)

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
class ElementTypeAdmin(admin.ModelAdmin):
    list_display = ("slug", "display_name", "corpus", "folder")
    list_filter = ("folder",)
    search_fields = ("slug", "display_name", "corpus__name")
    raw_id_fields = ("corpus",)


@admin.register(ImageServer)
class ImageServerAdmin(admin.ModelAdmin):
    list_display = ("display_name", "url", "version", "max_width", "max_height")
    list_filter = ("version",)
    search_fields = ("display_name", "url")


@admin.register(Image)
class ImageAdmin(admin.ModelAdmin):
    list_display = ("path", "server", "width", "height", "status")
    list_filter = ("status", "server")
    search_fields = ("path",)
    raw_id_fields = ("server",)
    readonly_fields = ("id", "created", "updated")
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
class ElementAdmin(admin.ModelAdmin):
    list_display = ("name", "type", "corpus", "created")
    list_filter = ("corpus", "type__slug")
    search_fields = ("=id", "name")
    # An instance holds many worker runs: a select listing them all would be slow to render.
    raw_id_fields = ("corpus", "type", "creator", "worker_run")
    # A zone (image and polygon) is checked against the image by the API; it is shown here, not edited.
    readonly_fields = ("id", "image", "polygon", "created", "updated")
    list_select_related = ("corpus", "type")
    inlines = (ElementPathInline,)
    # Counting every element of a large instance on each page load is not worth it.
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


@admin.register(Selection)
class SelectionAdmin(admin.ModelAdmin):
    list_display = ("user", "element", "created")
    search_fields = ("user__email", "=element__id")
    raw_id_fields = ("user", "element")
    list_select_related = ("user", "element")
    readonly_fields = ("created",)
    show_full_result_count = False


# Worker results. Result tables are large: every relation is a raw id, searches match ids exactly
# or text by prefix, and lists do not count the whole table.


class ResultAdmin(admin.ModelAdmin):
    readonly_fields = ("id", "created", "updated")
    show_full_result_count = False


@admin.register(Transcription)
class TranscriptionAdmin(ResultAdmin):
    list_display = ("id", "element", "text", "confidence", "orientation", "worker_run")
    search_fields = ("=id", "=element__id", "text")
    raw_id_fields = ("element", "worker_run")
    list_select_related = ("element", "worker_run")


@admin.register(MLClass)
class MLClassAdmin(ResultAdmin):
    list_display = ("name", "corpus")
    search_fields = ("name", "=corpus__id")
    raw_id_fields = ("corpus",)
    list_select_related = ("corpus",)


@admin.register(Classification)
class ClassificationAdmin(ResultAdmin):
    list_display = ("id", "element", "ml_class", "confidence", "state", "worker_run")
    list_filter = ("state", "high_confidence")
    search_fields = ("=id", "=element__id", "ml_class__name")
    raw_id_fields = ("element", "ml_class", "moderator", "worker_run")
    list_select_related = ("element", "ml_class", "worker_run")


@admin.register(MetaData)
class MetaDataAdmin(ResultAdmin):
    list_display = ("id", "element", "type", "name", "value", "worker_run")
    list_filter = ("type",)
    search_fields = ("=id", "=element__id", "name")
    raw_id_fields = ("element", "entity", "worker_run")
    list_select_related = ("element", "worker_run")


@admin.register(EntityType)
class EntityTypeAdmin(ResultAdmin):
    list_display = ("name", "corpus", "color")
    search_fields = ("name", "=corpus__id")
    raw_id_fields = ("corpus",)
    list_select_related = ("corpus",)


@admin.register(Entity)
class EntityAdmin(ResultAdmin):
    list_display = ("id", "name", "type", "corpus", "worker_run")
    search_fields = ("=id", "name", "=corpus__id")
    raw_id_fields = ("corpus", "type", "worker_run")
    list_select_related = ("corpus", "type", "worker_run")


@admin.register(TranscriptionEntity)
class TranscriptionEntityAdmin(ResultAdmin):
    list_display = ("id", "transcription", "entity", "offset", "length", "worker_run")
    search_fields = ("=id", "=transcription__id", "=entity__id")
    raw_id_fields = ("transcription", "entity", "worker_run")
    list_select_related = ("transcription", "entity", "worker_run")


@admin.register(Embedding)
class EmbeddingAdmin(ResultAdmin):
    list_display = ("id", "element", "worker_run", "created")
    search_fields = ("=id", "=element__id")
    raw_id_fields = ("element", "worker_run")
    list_select_related = ("element", "worker_run")
