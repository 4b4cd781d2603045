"""
Shapes of corpora, element types and elements, as the Arkindex clients read them (API.md §3.4).

Every per-row value comes from the row and the objects fetched with it (`select_related`,
annotations such as `max_level`, `has_children`): nothing here runs a query while serialising a list.
An element's `classes` and `metadata` list options are in the shapes, empty, because the base
worker reads those keys; RetrieveElement lists the element's `classifications`, read in the
element's own query (`selectors.element_classifications_subquery`).
"""

from django.core.exceptions import ImproperlyConfigured
from django.utils.dateparse import parse_datetime
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import exceptions, serializers

from arkindex.api.bulk import BulkItemSerializer
from arkindex.api.params import INT_MAX
from documents.models import ClassificationState, Corpus, Element, ElementType, Image, ImageServer, MetaType
from documents.selectors import check_corpus_level, corpus_with_level, element_type_ids, rights_from_level
from documents.services.results import metadata_dates
from users.models import Role

THUMBNAIL_HEIGHT = 400


def writable_corpus(user, corpus_id, *, action):
    """
    The corpus the request writes into: a validation error on the field when it is missing or
    hidden, a 403 when it is readable but the user is not a contributor.
    """
    corpus = corpus_with_level(user, corpus_id)
    try:
        check_corpus_level(getattr(corpus, "max_level", 0), Role.CONTRIBUTOR, what=f"Corpus {corpus_id}", action=action)
    except exceptions.NotFound as hidden:
        # The corpus is a field of the body: a 400 on that field rather than a 404 of the URL.
        raise serializers.ValidationError(str(hidden.detail)) from None
    return corpus


# Corpora and types


class ElementTypeSerializer(serializers.ModelSerializer):
    class Meta:
        model = ElementType
        fields = ("id", "slug", "display_name", "folder", "color")
        read_only_fields = ("id",)


class ElementTypeCreateSerializer(serializers.ModelSerializer):
    corpus = serializers.UUIDField(help_text="Corpus in which to create the type.")
    color = serializers.RegexField(r"^[0-9a-fA-F]{6}$", required=False, help_text="Hexadecimal RGB colour, no `#`.")

    class Meta:
        model = ElementType
        fields = ("id", "corpus", "slug", "display_name", "folder", "color")
        read_only_fields = ("id",)
        # Uniqueness is checked in validate(), with a message naming the corpus.
        validators = []

    def validate_corpus(self, corpus_id):
        return writable_corpus(self.context["request"].user, corpus_id, action="create element types")

    def validate(self, data):
        if ElementType.objects.filter(corpus=data["corpus"], slug=data["slug"]).exists():
            raise serializers.ValidationError(
                {
                    "slug": [
                        f"An element type with slug '{data['slug']}' already exists in corpus {data['corpus'].id}: "
                        "use it (RetrieveCorpus lists the types)."
                    ]
                }
            )
        return data

    def to_representation(self, instance):
        data = super().to_representation(instance)
        data["corpus"] = str(instance.corpus_id)
        return data


class CorpusTypeField(serializers.SlugRelatedField):
    """An element type of the corpus being updated, by slug."""

    def __init__(self, **kwargs):
        super().__init__(slug_field="slug", **kwargs)

    def get_queryset(self):
        instance = getattr(self.parent, "instance", None)
        if not isinstance(instance, Corpus):
            return ElementType.objects.none()
        return ElementType.objects.filter(corpus=instance)


class CorpusSerializer(serializers.ModelSerializer):
    top_level_type = CorpusTypeField(
        required=False, allow_null=True, help_text="Slug of the type of the elements shown first, or null."
    )
    rights = serializers.SerializerMethodField()
    types = ElementTypeSerializer(many=True, read_only=True)

    class Meta:
        model = Corpus
        fields = ("id", "name", "description", "public", "indexable", "top_level_type", "created", "rights", "types")
        read_only_fields = ("id", "indexable", "created", "rights", "types")

    def get_rights(self, corpus) -> list[str]:
        """What the requesting user may do on this corpus: `read`, `write`, `admin`."""
        return rights_from_level(getattr(corpus, "max_level", 0))


class CorpusLightSerializer(serializers.ModelSerializer):
    class Meta:
        model = Corpus
        fields = ("id", "name", "public")
        read_only_fields = fields


# Images and zones


class ImageServerSerializer(serializers.ModelSerializer):
    class Meta:
        model = ImageServer
        fields = ("display_name", "url", "version", "max_width", "max_height")
        read_only_fields = fields


class ImageSerializer(serializers.ModelSerializer):
    url = serializers.CharField(read_only=True, help_text="IIIF base URL of the image.")
    s3_url = serializers.SerializerMethodField()
    server = ImageServerSerializer(read_only=True)

    class Meta:
        model = Image
        fields = ("id", "path", "width", "height", "url", "s3_url", "status", "server")
        read_only_fields = fields

    @extend_schema_field(OpenApiTypes.URI)
    def get_s3_url(self, image) -> str | None:
        """Direct download URL when the image is stored by this instance; IIIF images have none."""
        return None


def bounding_box(polygon):
    xs = [point[0] for point in polygon]
    ys = [point[1] for point in polygon]
    return min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)


def iiif_region_url(element, size):
    x, y, width, height = bounding_box(element.polygon)
    return f"{element.image.url}/{x},{y},{width},{height}/{size}/0/default.jpg"


def full_size(server):
    # IIIF 3 dropped the `full` size keyword for `max`.
    return "max" if server.version >= 3 else "full"


class ZoneSerializer(serializers.Serializer):
    """The region of an image an element covers; the element itself is the source, and its id the zone's."""

    id = serializers.UUIDField(read_only=True)
    polygon = serializers.ListField(
        child=serializers.ListField(child=serializers.IntegerField(), min_length=2, max_length=2), read_only=True
    )
    url = serializers.SerializerMethodField()
    image = ImageSerializer(read_only=True)

    def get_url(self, element) -> str:
        """IIIF URL of the polygon's bounding box, at full size."""
        return iiif_region_url(element, full_size(element.image.server))

    def to_representation(self, element):
        if element.image_id is None or not element.polygon:
            return None
        return super().to_representation(element)


class WorkerRunSummarySerializer(serializers.Serializer):
    id = serializers.UUIDField(read_only=True)
    summary = serializers.CharField(read_only=True)


# Elements


class ElementClassificationClassSerializer(serializers.Serializer):
    id = serializers.UUIDField(read_only=True)
    name = serializers.CharField(read_only=True)


class ElementClassificationSerializer(serializers.Serializer):
    """A classification as RetrieveElement lists it (arkindex-cli reads `ml_class.name` and `worker_version`)."""

    id = serializers.UUIDField(read_only=True)
    ml_class = ElementClassificationClassSerializer(read_only=True)
    state = serializers.ChoiceField(choices=ClassificationState.choices, read_only=True)
    confidence = serializers.FloatField(read_only=True, allow_null=True)
    high_confidence = serializers.BooleanField(read_only=True)
    worker_version = serializers.UUIDField(
        read_only=True, allow_null=True, help_text="Version of the worker run that made it; null for a person's."
    )
    worker_run = WorkerRunSummarySerializer(read_only=True, allow_null=True)

    def to_representation(self, row):
        # `row` is one item of the element's `classification_list` (JSON from the element's query).
        run = {"id": row["worker_run_id"], "summary": row["worker_run_summary"]} if row["worker_run_id"] else None
        return {
            "id": row["id"],
            "ml_class": row["ml_class"],
            "state": row["state"],
            "confidence": row["confidence"],
            "high_confidence": row["high_confidence"],
            "worker_version": row["worker_version"],
            "worker_run": run,
        }


class MetaDataDateSerializer(serializers.Serializer):
    type = serializers.CharField(read_only=True)
    year = serializers.IntegerField(read_only=True)
    month = serializers.IntegerField(read_only=True, allow_null=True)
    day = serializers.IntegerField(read_only=True, allow_null=True)


class ElementMetaDataSerializer(serializers.Serializer):
    """A metadata as element lists show it `with_metadata`: the shape of ListElementMetaData's items."""

    id = serializers.UUIDField(read_only=True)
    type = serializers.ChoiceField(choices=MetaType.choices, read_only=True)
    name = serializers.CharField(read_only=True)
    value = serializers.CharField(read_only=True)
    dates = MetaDataDateSerializer(many=True, read_only=True, help_text="The dates of a date metadata, parsed.")
    entity_id = serializers.UUIDField(read_only=True, allow_null=True)
    worker_run = WorkerRunSummarySerializer(read_only=True, allow_null=True)
    worker_run_id = serializers.UUIDField(read_only=True, allow_null=True)
    worker_version_id = serializers.UUIDField(read_only=True, allow_null=True)
    created = serializers.DateTimeField(read_only=True)

    def to_representation(self, row):
        # `row` is one item of the element's `metadata_list` (JSON from the page's query).
        run_id = row["worker_run_id"]
        return {
            "id": row["id"],
            "type": row["type"],
            "name": row["name"],
            "value": row["value"],
            "dates": metadata_dates(row["value"]) if row["type"] == MetaType.Date else [],
            "entity_id": row["entity_id"],
            "worker_run": {"id": run_id, "summary": row["worker_run_summary"]} if run_id else None,
            "worker_run_id": run_id,
            "worker_version_id": row["worker_version_id"],
            "created": self.fields["created"].to_representation(parse_datetime(row["created"])),
        }


class ElementSerializer(serializers.ModelSerializer):
    """
    An element as lists return it. `has_children` is present when the list was asked
    `with_has_children`; `zone` and `corpus` are left out when asked `with_zone=false` /
    `with_corpus=false`; `classes` and `metadata` (empty until those objects exist) when asked for.
    """

    type = serializers.SlugRelatedField(slug_field="slug", read_only=True, help_text="Slug of the element type.")
    corpus = CorpusLightSerializer(read_only=True)
    zone = ZoneSerializer(source="*", read_only=True, allow_null=True)
    worker_run = serializers.SerializerMethodField()
    worker_version_id = serializers.SerializerMethodField()
    worker_run_id = serializers.SerializerMethodField()
    thumbnail_url = serializers.SerializerMethodField()
    has_children = serializers.BooleanField(read_only=True, required=False)
    classes = serializers.SerializerMethodField()
    metadata = serializers.SerializerMethodField()

    class Meta:
        model = Element
        fields = (
            "id",
            "name",
            "type",
            "corpus",
            "zone",
            "rotation_angle",
            "mirrored",
            "confidence",
            "worker_run",
            "worker_version_id",
            "worker_run_id",
            "thumbnail_url",
            "created",
            "has_children",
            "classes",
            "metadata",
        )
        read_only_fields = fields
        optional_response_fields = ("has_children", "zone", "corpus", "classes", "metadata")

    # The worker run comes with the element (`selectors.ELEMENT_RELATED`): no query per element.
    @extend_schema_field(WorkerRunSummarySerializer(allow_null=True))
    def get_worker_run(self, element):
        """The worker run that produced this element; null for an element made by a person."""
        if element.worker_run_id is None:
            return None
        return WorkerRunSummarySerializer(element.worker_run).data

    @extend_schema_field(OpenApiTypes.UUID)
    def get_worker_version_id(self, element) -> str | None:
        """The version of the worker run that produced this element; null for an element made by a person."""
        if element.worker_run_id is None:
            return None
        return str(element.worker_run.version_id)

    @extend_schema_field(OpenApiTypes.UUID)
    def get_worker_run_id(self, element) -> str | None:
        """The worker run that produced this element; null for an element made by a person."""
        return str(element.worker_run_id) if element.worker_run_id else None

    @extend_schema_field(OpenApiTypes.URI)
    def get_thumbnail_url(self, element) -> str | None:
        """A small IIIF rendering of a folder's zone, null for other elements and elements without image."""
        if not element.type.folder or element.image_id is None or not element.polygon:
            return None
        return iiif_region_url(element, f",{THUMBNAIL_HEIGHT}")

    # Both come in the page's own query (`documents.selectors`, annotated by the lists that ask).
    @extend_schema_field(ElementClassificationSerializer(many=True))
    def get_classes(self, element):
        """With `with_classes`: the element's best classes, validated or high-confidence and not rejected."""
        return ElementClassificationSerializer(getattr(element, "best_class_list", None) or [], many=True).data

    @extend_schema_field(ElementMetaDataSerializer(many=True))
    def get_metadata(self, element):
        """With `with_metadata`: the element's metadata, by name."""
        return ElementMetaDataSerializer(getattr(element, "metadata_list", None) or [], many=True).data

    def to_representation(self, element):
        # `has_children` is left out by DRF when the list did not annotate it (the field is not required).
        data = super().to_representation(element)
        options = self.context.get("list_options", {})
        if not options.get("with_zone", True):
            data.pop("zone")
        if not options.get("with_corpus", True):
            data.pop("corpus")
        # Absent from the fields of RetrieveElement's serializer, which lists all `classifications`.
        if not options.get("with_classes"):
            data.pop("classes", None)
        if not options.get("with_metadata"):
            data.pop("metadata", None)
        return data


class PolygonField(serializers.ListField):
    child = serializers.ListField(
        child=serializers.IntegerField(min_value=-INT_MAX, max_value=INT_MAX), min_length=2, max_length=2
    )

    def to_internal_value(self, data):
        # The usual polygon, [[x, y], …] of plain integers, in one pass; anything else through the
        # declared fields, for their messages.
        if (
            isinstance(data, list)
            and len(data) >= (self.min_length or 0)
            and (self.max_length is None or len(data) <= self.max_length)
            and all(
                type(point) is list
                and len(point) == 2
                and type(point[0]) is int
                and type(point[1]) is int
                and -INT_MAX <= point[0] <= INT_MAX
                and -INT_MAX <= point[1] <= INT_MAX
                for point in data
            )
        ):
            return [[x, y] for x, y in data]
        return super().to_internal_value(data)

    def __init__(self, **kwargs):
        kwargs.setdefault("min_length", 3)
        kwargs.setdefault(
            "help_text",
            "Points [x, y] of the zone on the image, at least 3 distinct ones; the polygon is closed if it is not.",
        )
        super().__init__(**kwargs)


def zone_polygon(image, polygon):
    """
    The polygon to store for an element on `image`: the one given, checked and closed, or the
    whole image when none is given. Raises a validation error on `polygon`.
    """
    if image is None:
        if polygon is not None:
            raise serializers.ValidationError({"polygon": ["A polygon needs an image: send `image` too."]})
        return None
    if polygon is None:
        if not image.width or not image.height:
            raise serializers.ValidationError(
                {"polygon": [f"The size of image {image.id} is not known yet: send the polygon of the element."]}
            )
        w, h = image.width, image.height
        return [[0, 0], [0, h], [w, h], [w, 0], [0, 0]]

    points = [list(point) for point in polygon]
    if len({tuple(point) for point in points}) < 3:
        raise serializers.ValidationError({"polygon": ["A polygon needs at least 3 distinct points."]})
    if any(x < 0 or y < 0 for x, y in points) or (
        image.width and image.height and any(x > image.width or y > image.height for x, y in points)
    ):
        raise serializers.ValidationError(
            {"polygon": [f"Every point must lie within the image, from (0, 0) to ({image.width}, {image.height})."]}
        )
    _, _, width, height = bounding_box(points)
    if not width or not height:
        raise serializers.ValidationError({"polygon": ["The polygon is flat: its points must span an area."]})
    if points[0] != points[-1]:
        points.append(points[0])
    return points


def find_image(image_id):
    image = Image.objects.select_related("server").filter(pk=image_id).first()
    if image is None:
        raise serializers.ValidationError({"image": [f"Image {image_id} does not exist."]})
    return image


def missing_type(corpus_id, slug):
    """What to say of a type slug the corpus does not have."""
    return f"Corpus {corpus_id} has no element type '{slug}': create it with CreateElementType first."


def find_type(corpus, slug):
    element_type = ElementType.objects.filter(corpus=corpus, slug=slug).first()
    if element_type is None:
        raise serializers.ValidationError({"type": [missing_type(corpus.id, slug)]})
    return element_type


class ElementCreateSerializer(serializers.Serializer):
    corpus = serializers.UUIDField(help_text="Corpus of the new element.")
    type = serializers.SlugField(help_text="Slug of an element type of the corpus.")
    name = serializers.CharField(max_length=250)
    parent = serializers.UUIDField(required=False, allow_null=True, help_text="Element to put the new one under.")
    image = serializers.UUIDField(required=False, allow_null=True, help_text="Image the element is a zone of.")
    polygon = PolygonField(required=False, allow_null=True)
    confidence = serializers.FloatField(required=False, allow_null=True, min_value=0, max_value=1)
    rotation_angle = serializers.IntegerField(required=False, default=0, min_value=0, max_value=359)
    mirrored = serializers.BooleanField(required=False, default=False)
    worker_run_id = serializers.UUIDField(
        required=False, allow_null=True, help_text="Worker run producing the element; null for a manual element."
    )

    def validate_corpus(self, corpus_id):
        return writable_corpus(self.context["request"].user, corpus_id, action="create elements")

    def validate(self, data):
        corpus = data["corpus"]
        data["type"] = find_type(corpus, data["type"])
        parent_id = data.pop("parent", None)
        if parent_id is not None:
            data["parent"] = Element.objects.filter(pk=parent_id, corpus=corpus).first()
            if data["parent"] is None:
                raise serializers.ValidationError(
                    {"parent": [f"Element {parent_id} does not exist in corpus {corpus.id}."]}
                )
        image_id = data.pop("image", None)
        data["image"] = find_image(image_id) if image_id is not None else None
        data["polygon"] = zone_polygon(data["image"], data.get("polygon"))
        # `worker_run_id` stays: the view checks it with `documents.provenance.resolve_worker_run`.
        return data


class ElementDetailSerializer(ElementSerializer):
    """An element as RetrieveElement returns it; also the body of (Partial)UpdateElement."""

    type = serializers.SlugField(help_text="Slug of an element type of the element's corpus.")
    image = serializers.UUIDField(
        write_only=True, required=False, allow_null=True, help_text="Image the element is a zone of, or null."
    )
    polygon = PolygonField(write_only=True, required=False, allow_null=True)
    classifications = serializers.SerializerMethodField()

    class Meta(ElementSerializer.Meta):
        # Its own `classifications` (all of them) stand for the lists' `classes` and `metadata`.
        fields = (
            *(name for name in ElementSerializer.Meta.fields if name not in ("classes", "metadata")),
            "image",
            "polygon",
            "classifications",
        )
        read_only_fields = (
            "id",
            "corpus",
            "zone",
            "worker_run",
            "worker_version_id",
            "worker_run_id",
            "thumbnail_url",
            "created",
            "has_children",
            "classifications",
        )
        extra_kwargs = {
            "confidence": {"min_value": 0, "max_value": 1},
            "rotation_angle": {"min_value": 0, "max_value": 359},
        }

    @extend_schema_field(ElementClassificationSerializer(many=True))
    def get_classifications(self, element):
        """Classifications of the element, in the order they were made, rejected ones included."""
        rows = getattr(element, "classification_list", None)
        if rows is None:
            # A query per element otherwise: the view must read them with the element.
            raise ImproperlyConfigured(
                "ElementDetailSerializer needs `classification_list` annotated on the element "
                "(documents.selectors.element_with_level(..., with_classifications=True))."
            )
        return ElementClassificationSerializer(rows, many=True).data

    def to_representation(self, element):
        data = super().to_representation(element)
        data["type"] = element.type.slug
        return data

    def validate(self, data):
        element = self.instance
        if "type" in data:
            data["type"] = find_type(element.corpus, data["type"])
        if "image" in data:
            image_id = data.pop("image")
            image = find_image(image_id) if image_id is not None else None
            data["image"] = image
            data["polygon"] = zone_polygon(image, data.get("polygon"))
        elif "polygon" in data:
            image = element.image
            if image is None and data["polygon"] is not None:
                raise serializers.ValidationError(
                    {"polygon": ["This element has no image: send `image` with the polygon."]}
                )
            data["polygon"] = zone_polygon(image, data["polygon"]) if data["polygon"] is not None else None
            if data["polygon"] is None and image is not None:
                raise serializers.ValidationError(
                    {"polygon": ["An element on an image needs a polygon; send `image: null` to remove the zone."]}
                )
        return data


class BulkElementSerializer(BulkItemSerializer):
    name = serializers.CharField(max_length=250)
    type = serializers.SlugField(help_text="Slug of an element type of the parent's corpus.")
    polygon = PolygonField(
        required=False,
        allow_null=True,
        help_text="Points [x, y] of the element on the parent's image; the whole image when absent.",
    )
    confidence = serializers.FloatField(required=False, allow_null=True, min_value=0, max_value=1)


class ElementsBulkSerializer(serializers.Serializer):
    """
    Body of CreateElements: new children of the parent, on the parent's image. Types and polygons
    are checked here, for all elements in one query; errors name the element's index.
    """

    worker_run_id = serializers.UUIDField(
        required=False, allow_null=True, help_text="Worker run producing the elements; null for manual elements."
    )
    elements = BulkElementSerializer(many=True, allow_empty=False, max_length=1000)

    def validate(self, data):
        parent = self.context["parent"]
        types = element_type_ids(parent.corpus_id, (item["type"] for item in data["elements"]))
        errors = {}
        for index, item in enumerate(data["elements"]):
            item_errors = {}
            if item["type"] not in types:
                item_errors["type"] = [missing_type(parent.corpus_id, item["type"])]
            else:
                item["type_id"] = types[item.pop("type")]
            polygon = item.get("polygon")
            item["image_id"] = parent.image_id
            if parent.image_id is None:
                if polygon is not None:
                    item_errors["polygon"] = [f"Parent {parent.id} has no image: its children cannot have a polygon."]
                item["polygon"] = None
            else:
                try:
                    item["polygon"] = zone_polygon(parent.image, polygon)
                except serializers.ValidationError as error:
                    item_errors.update(error.detail)
            if item_errors:
                errors[index] = item_errors
        if errors:
            raise serializers.ValidationError(
                {"elements": [errors.get(index, {}) for index in range(len(data["elements"]))]}
            )
        return data


class CreatedElementSerializer(serializers.Serializer):
    id = serializers.UUIDField(read_only=True)


class ElementChildrenSerializer(serializers.Serializer):
    children = serializers.ListField(
        child=serializers.UUIDField(),
        min_length=1,
        max_length=1000,
        help_text="Elements to put under the parent, in this order, after its current children.",
    )


class ElementParentSerializer(serializers.Serializer):
    parent = serializers.UUIDField(read_only=True)
    child = serializers.UUIDField(read_only=True)
