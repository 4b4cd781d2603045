"""
Shapes of workers, worker versions and worker configurations, as the Arkindex clients read them.

A worker's `type` is its type's slug, the free text it was created with: `arkindex worker import`
compares it with the `type` of the definition to decide whether to update the worker. The light
worker and the version serializers are also what a worker run embeds (`worker_version.worker`).
"""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from workers import configuration as config
from workers.models import FeatureUsage, Worker, WorkerConfiguration, WorkerType, WorkerVersion, WorkerVersionState

SLUG_HELP = "Letters, digits, dashes and underscores, at most 100 characters."


@extend_schema_field({"type": "object", "additionalProperties": True})
class ObjectField(serializers.JSONField):
    pass


class VersionConfigurationField(ObjectField):
    """A version's configuration, validated with the rules of `workers.configuration`."""

    def to_internal_value(self, data):
        data = super().to_internal_value(data)
        try:
            return config.normalize_version_configuration(data)
        except config.DefinitionError as e:
            raise serializers.ValidationError(e.errors) from None


class WorkerTypeSerializer(serializers.ModelSerializer):
    class Meta:
        model = WorkerType
        fields = ("id", "slug", "display_name")
        read_only_fields = fields


class WorkerLightSerializer(serializers.ModelSerializer):
    type = serializers.CharField(source="type.slug", read_only=True)

    class Meta:
        model = Worker
        fields = ("id", "name", "slug", "type", "repository_url")
        read_only_fields = fields


class WorkerSerializer(serializers.ModelSerializer):
    type = serializers.CharField(source="type.slug", read_only=True)

    class Meta:
        model = Worker
        fields = ("id", "name", "slug", "type", "description", "repository_url", "public", "archived", "created")
        read_only_fields = fields


def _non_blank(value):
    if not value.strip():
        raise serializers.ValidationError("This field may not be blank.")
    return value.strip()


class WorkerCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    slug = serializers.RegexField(
        r"^[-a-zA-Z0-9_]{1,100}$",
        max_length=100,
        help_text=SLUG_HELP,
        error_messages={"invalid": f"Not a slug: {SLUG_HELP[0].lower()}{SLUG_HELP[1:]}"},
    )
    type = serializers.CharField(max_length=100, help_text="Free text, for example `classifier` or `recognizer`.")
    description = serializers.CharField(required=False, allow_blank=True, default="", trim_whitespace=False)
    repository_url = serializers.URLField(
        max_length=250,
        required=False,
        allow_null=True,
        allow_blank=True,
        default=None,
        help_text="The Git repository of the worker; leave it out for a local worker.",
    )

    def validate_type(self, value):
        return _non_blank(value)

    def validate_name(self, value):
        return _non_blank(value)


class WorkerUpdateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100, required=False)
    type = serializers.CharField(max_length=100, required=False)
    description = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False)

    def validate_type(self, value):
        return _non_blank(value)

    def validate_name(self, value):
        return _non_blank(value)


class WorkerVersionSerializer(serializers.ModelSerializer):
    worker = WorkerLightSerializer(read_only=True)
    configuration = ObjectField(read_only=True)

    class Meta:
        model = WorkerVersion
        fields = (
            "id",
            "worker",
            "version",
            "state",
            "gpu_usage",
            "model_usage",
            "docker_image_iid",
            "revision_url",
            "tag",
            "branch",
            "configuration",
            "created",
            "updated",
        )
        read_only_fields = fields


class WorkerVersionCreateSerializer(serializers.Serializer):
    """Every field may be left out: an empty body makes a version for local use."""

    docker_image_iid = serializers.CharField(max_length=512, required=False, allow_null=True, allow_blank=True)
    revision_url = serializers.URLField(max_length=250, required=False, allow_null=True, allow_blank=True)
    tag = serializers.CharField(max_length=50, required=False, allow_null=True, allow_blank=True)
    branch = serializers.CharField(max_length=100, required=False, allow_null=True, allow_blank=True)
    configuration = VersionConfigurationField(
        required=False,
        help_text="`docker` (`command`, `shm_size`), `user_configuration` fields, static `configuration` values.",
    )
    state = serializers.ChoiceField(
        WorkerVersionState.choices,
        required=False,
        help_text="Defaults to `available`: a version is usable as soon as it is created.",
    )
    gpu_usage = serializers.ChoiceField(FeatureUsage.choices, required=False, default=FeatureUsage.Disabled)
    model_usage = serializers.ChoiceField(FeatureUsage.choices, required=False, default=FeatureUsage.Disabled)


class WorkerVersionUpdateSerializer(serializers.Serializer):
    tag = serializers.CharField(max_length=50, required=False, allow_null=True, allow_blank=True)
    branch = serializers.CharField(max_length=100, required=False, allow_null=True, allow_blank=True)
    state = serializers.ChoiceField(WorkerVersionState.choices, required=False)
    docker_image_iid = serializers.CharField(max_length=512, required=False, allow_null=True, allow_blank=True)
    gpu_usage = serializers.ChoiceField(FeatureUsage.choices, required=False)
    model_usage = serializers.ChoiceField(FeatureUsage.choices, required=False)


class WorkerVersionImportSerializer(serializers.Serializer):
    yaml = serializers.CharField(
        max_length=1_000_000,
        trim_whitespace=False,
        help_text="The worker definition YAML, as in the worker's `arkindex/<slug>.yml`.",
    )
    revision_url = serializers.URLField(max_length=250, required=False, allow_null=True, allow_blank=True)
    docker_image_iid = serializers.CharField(max_length=512, required=False, allow_null=True, allow_blank=True)
    branch = serializers.CharField(max_length=100, required=False, allow_null=True, allow_blank=True)
    tag = serializers.CharField(max_length=50, required=False, allow_null=True, allow_blank=True)


class WorkerConfigurationSerializer(serializers.ModelSerializer):
    configuration = ObjectField(read_only=True)

    class Meta:
        model = WorkerConfiguration
        fields = ("id", "name", "configuration", "archived")
        read_only_fields = fields


class WorkerConfigurationCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=250)
    configuration = ObjectField(help_text="Values of the worker version's configuration fields, by key.")
    worker_version = serializers.UUIDField(
        required=False,
        allow_null=True,
        help_text="The version whose fields check the values; by default the worker's latest available one.",
    )

    def validate_name(self, value):
        return _non_blank(value)

    def validate_configuration(self, value):
        if not isinstance(value, dict):
            raise serializers.ValidationError("Must be a mapping of field keys to values.")
        return value


class WorkerConfigurationUpdateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=250)
    archived = serializers.BooleanField(
        required=False, help_text="Archive the configuration; only instance administrators un-archive one."
    )

    def validate_name(self, value):
        return _non_blank(value)
