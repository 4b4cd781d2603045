"""
Shapes of worker results (API.md §3.1): transcriptions, ML classes, classifications, metadata,
entities and embeddings.

Every result shows the worker run that produced it as `worker_run` ({id, summary}, null for a
person's) and `worker_run_id`; the run is fetched with the result (`select_related`). Request bodies
name the signing run `worker_run_id`, which views pass to `documents.provenance.resolve_worker_run`.
"""

import math

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from arkindex.api.bulk import BulkItemSerializer
from arkindex.api.params import INT_MAX
from arkindex.api.prototypes import PrototypeFields
from arkindex.api.representation import OnePassRepresentation
from documents.api.serializers import MetaDataDateSerializer, PolygonField, WorkerRunSummarySerializer
from documents.models import (
    Classification,
    Embedding,
    Entity,
    EntityType,
    MetaData,
    MetaType,
    MLClass,
    TextOrientation,
    Transcription,
    TranscriptionEntity,
)
from documents.services.results import metadata_dates, metadata_value

MAX_BULK = 1000


def worker_run_id_field():
    return serializers.UUIDField(
        required=False, allow_null=True, help_text="Worker run producing the results; null for a person's."
    )


def orientation_field():
    return serializers.ChoiceField(choices=TextOrientation.choices, default=TextOrientation.HorizontalLeftToRight)


def confidence_field(**kwargs):
    return serializers.FloatField(min_value=0, max_value=1, **kwargs)


class ResultSerializer(PrototypeFields, OnePassRepresentation, serializers.ModelSerializer):
    """The provenance keys every result shows."""

    worker_run = serializers.SerializerMethodField()
    worker_run_id = serializers.SerializerMethodField()
    worker_version_id = serializers.SerializerMethodField()

    @extend_schema_field(WorkerRunSummarySerializer(allow_null=True))
    def get_worker_run(self, result):
        """The worker run that produced this result; null for a result made by a person."""
        if result.worker_run_id is None:
            return None
        # The results of one answer mostly share their run: its summary is serialised once.
        summaries = self.__dict__.setdefault("_run_summaries", {})
        if result.worker_run_id not in summaries:
            summaries[result.worker_run_id] = WorkerRunSummarySerializer(result.worker_run).data
        return summaries[result.worker_run_id]

    @extend_schema_field(OpenApiTypes.UUID)
    def get_worker_run_id(self, result) -> str | None:
        return self._run_keys(result)[0]

    @extend_schema_field(OpenApiTypes.UUID)
    def get_worker_version_id(self, result) -> str | None:
        """The version of the worker run that produced this result; null for a person's."""
        return self._run_keys(result)[1]

    def _run_keys(self, result):
        """The ids of the result's run and its version, as text, once per run of the answer."""
        if result.worker_run_id is None:
            return None, None
        keys = self.__dict__.setdefault("_run_key_texts", {})
        if result.worker_run_id not in keys:
            keys[result.worker_run_id] = (str(result.worker_run_id), str(result.worker_run.version_id))
        return keys[result.worker_run_id]


# Transcriptions

RESULT_FIELDS = ("worker_run", "worker_run_id", "worker_version_id", "created")


class TranscriptionElementSerializer(serializers.Serializer):
    id = serializers.UUIDField(read_only=True)
    name = serializers.CharField(read_only=True)
    type = serializers.CharField(source="type.slug", read_only=True, help_text="Slug of the element type.")


class TranscriptionSerializer(ResultSerializer):
    element_id = serializers.UUIDField(read_only=True)

    class Meta:
        model = Transcription
        fields = ("id", "element_id", "text", "confidence", "orientation", *RESULT_FIELDS)
        read_only_fields = fields


class TranscriptionListSerializer(TranscriptionSerializer):
    """A transcription as ListTranscriptions returns it, with its element (useful when recursive)."""

    element = TranscriptionElementSerializer(read_only=True)

    class Meta(TranscriptionSerializer.Meta):
        fields = (*TranscriptionSerializer.Meta.fields, "element")
        read_only_fields = fields


class TranscriptionTextField(serializers.CharField):
    """A transcription's text, kept as sent (leading and trailing spaces included), but never only spaces."""

    def __init__(self, **kwargs):
        super().__init__(trim_whitespace=False, **kwargs)

    def to_internal_value(self, data):
        text = super().to_internal_value(data)
        if not text.strip():
            self.fail("blank")
        return text


class TranscriptionCreateSerializer(serializers.Serializer):
    text = TranscriptionTextField()
    confidence = confidence_field(required=False, allow_null=True)
    orientation = serializers.ChoiceField(
        choices=TextOrientation.choices, default=TextOrientation.HorizontalLeftToRight
    )
    worker_run_id = worker_run_id_field()


class BulkTranscriptionItemSerializer(BulkItemSerializer):
    element_id = serializers.UUIDField()
    text = TranscriptionTextField()
    confidence = confidence_field(required=False, allow_null=True)
    orientation = serializers.ChoiceField(
        choices=TextOrientation.choices, default=TextOrientation.HorizontalLeftToRight
    )


class TranscriptionsCreateSerializer(serializers.Serializer):
    worker_run_id = worker_run_id_field()
    transcriptions = BulkTranscriptionItemSerializer(many=True, min_length=1, max_length=MAX_BULK)


class TranscriptionsCreateResponseSerializer(serializers.Serializer):
    worker_run_id = serializers.UUIDField(allow_null=True, read_only=True)
    transcriptions = TranscriptionSerializer(many=True, read_only=True)


class ElementTranscriptionItemSerializer(BulkItemSerializer):
    polygon = PolygonField()
    text = TranscriptionTextField()
    confidence = confidence_field(required=False, allow_null=True)
    orientation = serializers.ChoiceField(
        choices=TextOrientation.choices, default=TextOrientation.HorizontalLeftToRight
    )
    element_confidence = confidence_field(required=False, allow_null=True, help_text="Confidence of the new element.")


class ElementTranscriptionsCreateSerializer(serializers.Serializer):
    element_type = serializers.SlugField(help_text="Slug of the type of the child elements.")
    worker_run_id = worker_run_id_field()
    transcriptions = ElementTranscriptionItemSerializer(many=True, min_length=1, max_length=MAX_BULK)
    return_elements = serializers.BooleanField(
        default=True, help_text="Accepted for compatibility: the response always lists the elements."
    )


class ElementTranscriptionResultSerializer(serializers.Serializer):
    id = serializers.UUIDField(read_only=True, help_text="The transcription.")
    element_id = serializers.UUIDField(read_only=True)
    created = serializers.BooleanField(read_only=True, help_text="Whether the element was created (else reused).")


# ML classes and classifications


class MLClassSerializer(serializers.ModelSerializer):
    class Meta:
        model = MLClass
        fields = ("id", "name")
        read_only_fields = ("id",)
        # Uniqueness is checked by the service, with a message naming the corpus.
        validators = []


class ClassificationSerializer(ResultSerializer):
    element = serializers.UUIDField(source="element_id", read_only=True)
    ml_class = serializers.UUIDField(source="ml_class_id", read_only=True)
    moderator = serializers.EmailField(source="moderator.email", read_only=True, allow_null=True, default=None)

    class Meta:
        model = Classification
        fields = (
            "id",
            "element",
            "ml_class",
            "confidence",
            "high_confidence",
            "state",
            "moderator",
            *RESULT_FIELDS,
        )
        read_only_fields = fields


class ClassificationListSerializer(ClassificationSerializer):
    """A classification as ListElementClassifications returns it: with its class's name."""

    ml_class = MLClassSerializer(read_only=True)


class ClassificationCreateSerializer(serializers.Serializer):
    element = serializers.UUIDField()
    ml_class = serializers.UUIDField(help_text="Id of an ML class of the element's corpus.")
    worker_run_id = worker_run_id_field()
    confidence = confidence_field(required=False, help_text="Required from a worker run; 1 for a person's.")
    high_confidence = serializers.BooleanField(required=False)


class BulkClassificationItemSerializer(BulkItemSerializer):
    ml_class = serializers.UUIDField()
    confidence = confidence_field()
    high_confidence = serializers.BooleanField(default=False)


class ClassificationsCreateSerializer(serializers.Serializer):
    parent = serializers.UUIDField(help_text="The element to classify.")
    worker_run_id = worker_run_id_field()
    classifications = BulkClassificationItemSerializer(many=True, min_length=1, max_length=MAX_BULK)


class ClassificationsCreateResponseSerializer(serializers.Serializer):
    parent = serializers.UUIDField(read_only=True)
    worker_run_id = serializers.UUIDField(allow_null=True, read_only=True)
    classifications = ClassificationSerializer(many=True, read_only=True)


# Metadata


@extend_schema_field({"oneOf": [{"type": "string"}, {"type": "number"}]})
class MetaDataValueField(serializers.Field):
    """A string or a number; checked against the metadata type by the serializer."""

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, str | int | float):
            raise serializers.ValidationError("A metadata value is a string or a number.")
        return data

    def to_representation(self, value):
        return value


class MetaDataSerializer(ResultSerializer):
    dates = serializers.SerializerMethodField()
    entity_id = serializers.UUIDField(read_only=True, allow_null=True)

    class Meta:
        model = MetaData
        fields = ("id", "type", "name", "value", "dates", "entity_id", *RESULT_FIELDS)
        read_only_fields = fields

    @extend_schema_field(MetaDataDateSerializer(many=True))
    def get_dates(self, metadata):
        """The dates of a date metadata, parsed; empty for other types."""
        return metadata_dates(metadata.value) if metadata.type == MetaType.Date else []


class MetaDataListSerializer(MetaDataSerializer):
    element_id = serializers.UUIDField(read_only=True)

    class Meta(MetaDataSerializer.Meta):
        fields = (*MetaDataSerializer.Meta.fields, "element_id")
        read_only_fields = fields


class MetaDataItemSerializer(BulkItemSerializer):
    type = serializers.ChoiceField(choices=MetaType.choices)
    name = serializers.CharField(max_length=250)
    value = MetaDataValueField(help_text="A string, or a number for `numeric` metadata.")

    def validate(self, data):
        try:
            metadata_value(data["type"], data["value"])
        except ValueError as error:
            raise serializers.ValidationError({"value": [str(error)]}) from None
        return data


class MetaDataCreateSerializer(MetaDataItemSerializer):
    worker_run_id = worker_run_id_field()


class MetaDataBulkCreateSerializer(serializers.Serializer):
    worker_run_id = worker_run_id_field()
    metadata_list = MetaDataItemSerializer(many=True, min_length=1, max_length=MAX_BULK)


class MetaDataBulkResponseSerializer(serializers.Serializer):
    worker_run_id = serializers.UUIDField(allow_null=True, read_only=True)
    metadata_list = MetaDataSerializer(many=True, read_only=True)


# Entities


class EntityTypeSerializer(PrototypeFields, OnePassRepresentation, serializers.ModelSerializer):
    class Meta:
        model = EntityType
        fields = ("id", "name", "color")
        read_only_fields = ("id",)


class EntityTypeCreateSerializer(serializers.ModelSerializer):
    corpus = serializers.UUIDField(help_text="Corpus in which to create the type.")
    color = serializers.RegexField(r"^[0-9a-fA-F]{6}$", required=False, help_text="Hexadecimal RGB colour, no `#`.")

    class Meta:
        model = EntityType
        fields = ("id", "name", "color", "corpus")
        read_only_fields = ("id",)
        validators = []

    def to_representation(self, instance):
        return {**EntityTypeSerializer(instance).data, "corpus": str(instance.corpus_id)}


class EntitySerializer(ResultSerializer):
    type = EntityTypeSerializer(read_only=True)

    class Meta:
        model = Entity
        fields = ("id", "name", "type", "metas", *RESULT_FIELDS)
        read_only_fields = fields


class TranscriptionEntitySerializer(ResultSerializer):
    entity = EntitySerializer(read_only=True)
    type_id = serializers.UUIDField(source="entity.type_id", read_only=True)
    transcription_id = serializers.UUIDField(read_only=True)

    class Meta:
        model = TranscriptionEntity
        fields = ("id", "transcription_id", "entity", "type_id", "offset", "length", "confidence", *RESULT_FIELDS)
        read_only_fields = fields


class TranscriptionEntityItemSerializer(BulkItemSerializer):
    type_id = serializers.UUIDField(help_text="An entity type of the transcription's corpus.")
    offset = serializers.IntegerField(min_value=0, max_value=INT_MAX)
    length = serializers.IntegerField(min_value=1, max_value=INT_MAX)
    confidence = confidence_field(required=False, allow_null=True)


class TranscriptionEntityCreateSerializer(TranscriptionEntityItemSerializer):
    worker_run_id = worker_run_id_field()


class TranscriptionEntitiesCreateSerializer(serializers.Serializer):
    worker_run_id = worker_run_id_field()
    transcription_entities = TranscriptionEntityItemSerializer(many=True, min_length=1, max_length=MAX_BULK)


class TranscriptionEntitiesResponseSerializer(serializers.Serializer):
    worker_run_id = serializers.UUIDField(allow_null=True, read_only=True)
    transcription_entities = TranscriptionEntitySerializer(many=True, read_only=True)


# Embeddings


class EmbeddingSerializer(ResultSerializer):
    class Meta:
        model = Embedding
        fields = ("id", "element_id", "value", "worker_run", "worker_run_id", "worker_version_id", "created", "updated")
        read_only_fields = fields


class EmbeddingCreateSerializer(serializers.Serializer):
    worker_run_id = worker_run_id_field()
    value = serializers.ListField(
        child=serializers.FloatField(), min_length=1, max_length=16384, help_text="The embedding vector."
    )

    def validate_value(self, value):
        if any(math.isnan(x) or math.isinf(x) for x in value):
            raise serializers.ValidationError("An embedding holds finite numbers only.")
        return value


class ClassificationClassNameSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=1024)


class ClassificationRejectSerializer(serializers.Serializer):
    """The body of RejectClassification: what the caller believes it rejects, checked against the classification."""

    ml_class = ClassificationClassNameSerializer(required=False, help_text="The class the classification gives.")
    state = serializers.ChoiceField(choices=["rejected"], required=False, help_text="Always `rejected`.")
