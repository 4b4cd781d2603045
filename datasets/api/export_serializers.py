"""
Shapes of exports, as the base worker reads them (API.md §3.4): `{id, created, updated, corpus_id,
user{id, email, display_name}, state, source}`, plus the `dataset_id` of a dataset's export.
"""

from django.conf import settings
from rest_framework import serializers

from datasets.models import CorpusExport, CorpusExportState


class ExportUserSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    email = serializers.EmailField(read_only=True)
    display_name = serializers.CharField(read_only=True)


class CorpusExportSerializer(serializers.ModelSerializer):
    corpus_id = serializers.UUIDField(read_only=True)
    dataset_id = serializers.UUIDField(
        read_only=True, allow_null=True, help_text="The dataset exported; null for an export of the whole corpus."
    )
    user = ExportUserSerializer(read_only=True, help_text="Who started the export.")
    state = serializers.ChoiceField(
        choices=CorpusExportState.choices,
        read_only=True,
        help_text="created → running → done or failed. Only a done export can be downloaded.",
    )

    class Meta:
        model = CorpusExport
        fields = ("id", "created", "updated", "corpus_id", "dataset_id", "user", "state", "source")
        read_only_fields = fields


class CorpusExportCreateSerializer(serializers.Serializer):
    dataset_id = serializers.UUIDField(
        required=False,
        allow_null=True,
        help_text="Export only this dataset of the corpus, its elements with their ancestors and descendants.",
    )
    source = serializers.ChoiceField(
        choices=[(alias, alias) for alias in settings.DATABASES],
        default="default",
        help_text="The database to read.",
    )
