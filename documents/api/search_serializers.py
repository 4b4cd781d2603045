"""The parameters and results of SearchCorpus (`documents.services.search`)."""

import math

from rest_framework import serializers

from arkindex.api.params import QueryBooleanField, QueryParameters, UUIDOrFalseField
from documents.models import SearchSource
from documents.services.search import has_words

SORTS = ("relevance", "element_name")


class SearchParametersSerializer(QueryParameters):
    query = serializers.CharField(
        max_length=1000,
        trim_whitespace=True,
        help_text=(
            'Words to find, all of them; "quoted words" in that order, `or` between words for either, `-word` to '
            "leave out. Case and accents do not matter."
        ),
    )
    sources = serializers.MultipleChoiceField(
        choices=SearchSource.choices,
        required=False,
        help_text="Which texts to search: element names, transcriptions, metadata values (all by default).",
    )
    element_type = serializers.SlugField(
        max_length=250, required=False, help_text="Only the indexed elements of this type (its slug)."
    )
    worker_run = UUIDOrFalseField(
        help_text="Only the texts of this worker run (its ID), or `false` for those made by people.",
    )
    confidence_min = serializers.FloatField(
        min_value=0, max_value=1, required=False, help_text="Only texts of at least this confidence."
    )
    confidence_max = serializers.FloatField(
        min_value=0, max_value=1, required=False, help_text="Only texts of at most this confidence."
    )
    metadata_name = serializers.CharField(
        max_length=250, required=False, help_text="Only the metadata of this name (implies metadata values)."
    )
    sort = serializers.ChoiceField(
        choices=SORTS, default="relevance", help_text="Best matches first, or by name of the indexed element."
    )
    only_facets = QueryBooleanField(
        default=False, help_text="Only the count and the facets, without results: for filters offered before a search."
    )

    def validate_query(self, value):
        if not has_words(value):
            raise serializers.ValidationError("The query needs at least one word (letters or digits).")
        return value

    def validate(self, data):
        for field in ("confidence_min", "confidence_max"):
            if field in data and not math.isfinite(data[field]):
                raise serializers.ValidationError({field: ["A confidence is a number from 0 to 1."]})
        low, high = data.get("confidence_min"), data.get("confidence_max")
        if low is not None and high is not None and low > high:
            raise serializers.ValidationError({"confidence_max": ["confidence_max is below confidence_min."]})
        return data


class SearchWorkerRunSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    summary = serializers.CharField()


class SearchResultSerializer(serializers.Serializer):
    """One text found: which indexed element it belongs to (`parent`), and which element holds it."""

    id = serializers.IntegerField()
    source = serializers.ChoiceField(choices=SearchSource.choices)
    text = serializers.SerializerMethodField(help_text="The element name, transcription text or metadata value.")
    rank = serializers.FloatField(help_text="How well the text matches the query; higher is better.")
    confidence = serializers.FloatField(allow_null=True)
    worker_run = SearchWorkerRunSerializer(allow_null=True, help_text="The worker run of the text; null for a person.")
    parent_id = serializers.UUIDField(source="parent.id")
    parent_name = serializers.CharField(source="parent.name")
    parent_type = serializers.CharField(source="parent.type.slug")
    element_id = serializers.UUIDField(source="element.id")
    element_name = serializers.CharField(source="element.name")
    element_type = serializers.CharField(source="element.type.slug")
    transcription_id = serializers.UUIDField(allow_null=True)
    metadata_id = serializers.UUIDField(allow_null=True)
    metadata_name = serializers.CharField(source="metadata.name", allow_null=True, default=None)

    def get_text(self, entry) -> str:
        if entry.source == SearchSource.Transcription:
            return entry.transcription.text
        if entry.source == SearchSource.Metadata:
            return entry.metadata.value
        return entry.element.name


class FacetValueSerializer(serializers.Serializer):
    value = serializers.CharField(allow_null=True)
    count = serializers.IntegerField()


class TypeFacetSerializer(FacetValueSerializer):
    display_name = serializers.CharField()


class WorkerRunFacetSerializer(FacetValueSerializer):
    summary = serializers.CharField(allow_null=True, help_text="Null for the texts made by people.")


class SearchFacetsSerializer(serializers.Serializer):
    element_type = TypeFacetSerializer(many=True)
    source = FacetValueSerializer(many=True)
    worker_run = WorkerRunFacetSerializer(many=True)


class SearchResponseSerializer(serializers.Serializer):
    """A page of results, as the other page-numbered lists give them, with the facets of the whole search."""

    count = serializers.IntegerField()
    number = serializers.IntegerField()
    previous = serializers.URLField(allow_null=True)
    next = serializers.URLField(allow_null=True)
    results = SearchResultSerializer(many=True)
    facets = SearchFacetsSerializer()
