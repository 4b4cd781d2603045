"""
Models and model versions as the API shows them.

The URLs of a version's archive depend on the user's level on the model, which the views compute
once (an annotation on the model) and pass in the serializer context as `level`: no serializer
method queries the database, and signing a URL is a computation, even with S3.
"""

import re

from rest_framework import serializers

from arkindex import storage
from arkindex.api.params import BIGINT_MAX
from users.models import Role
from workers.models import Model, ModelVersion, ModelVersionState
from workers.services.ml_models import ARCHIVE_CONTENT_TYPE, level_rights

MD5_HEX = re.compile(r"^[0-9a-fA-F]{32}$")
HASH_HEX = re.compile(r"^[0-9a-fA-F]{32,64}$")


class ModelSerializer(serializers.ModelSerializer):
    rights = serializers.SerializerMethodField(help_text="What the user may do: read, write (add versions), admin.")

    class Meta:
        model = Model
        fields = ("id", "name", "description", "public", "created", "updated", "rights")
        read_only_fields = ("id", "created", "updated", "rights")
        extra_kwargs = {
            "name": {"validators": []},  # a duplicate name is answered by the service, with the existing ID
            "public": {"required": False, "help_text": "Readable by everyone. Only instance administrators set it."},
            "description": {"required": False},
        }

    def get_rights(self, model) -> list[str]:
        return level_rights(getattr(model, "max_level", 0))

    def validate_name(self, value):
        value = value.strip()
        if not value:
            raise serializers.ValidationError("A model needs a name that is not blank.")
        return value


class ModelVersionSerializer(serializers.ModelSerializer):
    model_id = serializers.UUIDField(read_only=True)
    parent = serializers.UUIDField(
        allow_null=True, required=False, source="parent_id", help_text="The version this one was trained from."
    )
    tag = serializers.CharField(max_length=50, allow_null=True, allow_blank=True, required=False)
    description = serializers.CharField(allow_null=True, allow_blank=True, required=False)
    state = serializers.ChoiceField(
        choices=ModelVersionState.choices,
        required=False,
        help_text="created → available (once the archive is uploaded) or error.",
    )
    size = serializers.IntegerField(
        min_value=0, max_value=BIGINT_MAX, allow_null=True, required=False, help_text="Archive size in bytes."
    )
    hash = serializers.CharField(allow_null=True, required=False, help_text="Hash of the archive's content.")
    archive_hash = serializers.CharField(allow_null=True, required=False, help_text="MD5 (hexadecimal) of the archive.")
    configuration = serializers.DictField(required=False, allow_null=True)
    s3_url = serializers.SerializerMethodField(help_text="Where to download the archive, once available.")
    s3_put_url = serializers.SerializerMethodField(help_text="Where to PUT the archive, while the version is created.")

    class Meta:
        model = ModelVersion
        fields = (
            "id",
            "model_id",
            "parent",
            "description",
            "tag",
            "state",
            "size",
            "hash",
            "archive_hash",
            "configuration",
            "s3_url",
            "s3_put_url",
            "created",
            "updated",
        )
        read_only_fields = ("id", "created", "updated")

    def _level(self):
        return self.context.get("level") or 0

    def get_s3_url(self, version) -> str | None:
        if version.state != ModelVersionState.Available or self._level() < Role.GUEST:
            return None
        return storage.download_url(version.archive_path, content_type=ARCHIVE_CONTENT_TYPE)

    def get_s3_put_url(self, version) -> str | None:
        if version.state != ModelVersionState.Created or self._level() < Role.CONTRIBUTOR:
            return None
        return storage.upload_url(version.archive_path)

    def validate_tag(self, value):
        # An empty tag is no tag: the clients leave it out or send what a CI variable holds.
        if value is None or not value.strip():
            return None
        return value.strip()

    def validate_archive_hash(self, value):
        if value is not None and not MD5_HEX.match(value):
            raise serializers.ValidationError("Send the archive's MD5 digest, as 32 hexadecimal characters.")
        return value.lower() if value else value

    def validate_hash(self, value):
        if value is not None and not HASH_HEX.match(value):
            raise serializers.ValidationError("Send a hexadecimal digest of 32 to 64 characters.")
        return value.lower() if value else value

    def validate_state(self, value):
        if self.instance is None and value != ModelVersionState.Created:
            raise serializers.ValidationError("A new version is created without its archive: leave the state out.")
        return value

    def to_service_data(self):
        """The validated fields as the services name them (`parent` for the parent's ID)."""
        data = dict(self.validated_data)
        if "parent_id" in data:
            data["parent"] = data.pop("parent_id")
        return data
