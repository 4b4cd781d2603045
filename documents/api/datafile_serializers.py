"""Shapes of data files (see `documents.services.datafiles`): serialising one runs no query."""

import re

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from arkindex.api.params import BIGINT_MAX
from documents.api.serializers import writable_corpus
from documents.models import DataFile, ImageStatus
from documents.services import datafiles
from users.models import Role

# type/subtype, with optional parameters: what a Content-Type header holds.
CONTENT_TYPE = re.compile(r"^[\w.+-]+/[\w.+-]+(\s*;.*)?$")


class DataFileSerializer(serializers.ModelSerializer):
    corpus = serializers.UUIDField(source="corpus_id", read_only=True)
    s3_url = serializers.SerializerMethodField()

    class Meta:
        model = DataFile
        fields = ("id", "name", "corpus", "content_type", "size", "hash", "status", "s3_url", "created")
        read_only_fields = fields

    @extend_schema_field(OpenApiTypes.URI)
    def get_s3_url(self, data_file) -> str | None:
        """
        A signed, time-limited URL to download the content, for contributors of the corpus (and the
        import tasks they start) once the file is checked; null otherwise.
        """
        if data_file.status != ImageStatus.Checked or getattr(data_file, "corpus_level", 0) < Role.CONTRIBUTOR:
            return None
        return datafiles.download_url(data_file)


class DataFileCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=DataFile._meta.get_field("name").max_length)
    corpus = serializers.UUIDField(help_text="Corpus that the data file belongs to.")
    content_type = serializers.CharField(
        max_length=DataFile._meta.get_field("content_type").max_length, help_text="MIME type of the content."
    )
    size = serializers.IntegerField(min_value=1, max_value=BIGINT_MAX, help_text="Size of the content in bytes.")

    def validate_corpus(self, corpus_id):
        return writable_corpus(self.context["request"].user, corpus_id, action="upload data files")

    def validate_content_type(self, value):
        if not CONTENT_TYPE.match(value):
            raise serializers.ValidationError("Send a MIME type, such as text/plain or application/json.")
        return value
