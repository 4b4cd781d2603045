"""
Shapes of worker runs as the base worker and the CLI read them (`RetrieveWorkerRun`): the process
the run belongs to, its worker version with the worker, its model version with the model, its
configuration and its summary. `ListWorkerRuns` returns the same items: the configuration table of
a process or a template. Request bodies only carry IDs; the rules live in `processes.services.worker_runs`.
"""

from rest_framework import serializers

from processes.models import Process, WorkerRun
from workers.api.serializers import WorkerConfigurationSerializer, WorkerVersionSerializer
from workers.models import Model, ModelVersion


class TrainingFieldsMixin(serializers.Serializer):
    """What a training process learns from and publishes to (null for every other mode)."""

    model_id = serializers.UUIDField(read_only=True, allow_null=True)
    train_folder_id = serializers.UUIDField(read_only=True, allow_null=True)
    validation_folder_id = serializers.UUIDField(read_only=True, allow_null=True)
    test_folder_id = serializers.UUIDField(read_only=True, allow_null=True)


TRAINING_FIELDS = ("model_id", "train_folder_id", "validation_folder_id", "test_folder_id")


class ProcessLightSerializer(TrainingFieldsMixin, serializers.ModelSerializer):
    state = serializers.CharField(read_only=True)
    corpus = serializers.UUIDField(source="corpus_id", read_only=True, allow_null=True)

    class Meta:
        model = Process
        fields = (
            "id",
            "name",
            "mode",
            "state",
            "corpus",
            "activity_state",
            "skip_elements_json",
            "use_cache",
            "use_gpu",
            "chunks",
            "created",
            "started",
            "finished",
            *TRAINING_FIELDS,
        )
        read_only_fields = fields


class ModelLightSerializer(serializers.ModelSerializer):
    class Meta:
        model = Model
        fields = ("id", "name")
        read_only_fields = fields


class WorkerRunModelVersionSerializer(serializers.ModelSerializer):
    model = ModelLightSerializer(read_only=True)
    configuration = serializers.DictField(read_only=True)

    class Meta:
        model = ModelVersion
        fields = ("id", "model", "tag", "state", "configuration", "size", "archive_hash", "created")
        read_only_fields = fields


class WorkerRunSerializer(serializers.ModelSerializer):
    process = ProcessLightSerializer(source="process_with_state", read_only=True)
    worker_version = WorkerVersionSerializer(source="version", read_only=True)
    model_version = WorkerRunModelVersionSerializer(read_only=True, allow_null=True)
    configuration = WorkerConfigurationSerializer(read_only=True, allow_null=True)
    parents = serializers.ListField(child=serializers.UUIDField(), read_only=True)

    class Meta:
        model = WorkerRun
        fields = (
            "id",
            "summary",
            "parents",
            "use_gpu",
            "process",
            "worker_version",
            "model_version",
            "configuration",
            "created",
            "updated",
        )
        read_only_fields = fields


class UserWorkerRunCreateSerializer(serializers.Serializer):
    worker_version_id = serializers.UUIDField(help_text="A version of a worker you can use.")
    model_version_id = serializers.UUIDField(
        required=False, allow_null=True, help_text="A version of a model you can use, if the worker uses models."
    )
    configuration_id = serializers.UUIDField(
        required=False, allow_null=True, help_text="A configuration of the version's worker that is not archived."
    )


class WorkerRunCreateSerializer(UserWorkerRunCreateSerializer):
    parents = serializers.ListField(
        child=serializers.UUIDField(),
        required=False,
        default=list,
        help_text="Worker runs of the same process that must finish before this one, each at most once.",
    )


class WorkerRunUpdateSerializer(serializers.Serializer):
    """
    What can change in a worker run before its process starts. With PATCH, a field left out is kept;
    with PUT, a field left out is reset (no model version, no configuration, no parents).
    """

    model_version_id = serializers.UUIDField(
        required=False, allow_null=True, help_text="A version of a model you can use, or null for none."
    )
    configuration_id = serializers.UUIDField(
        required=False, allow_null=True, help_text="A configuration of the version's worker, or null for the defaults."
    )
    parents = serializers.ListField(
        child=serializers.UUIDField(),
        required=False,
        help_text="Worker runs of the same process that must finish before this one, each at most once.",
    )


class ProcessTemplateSerializer(ProcessLightSerializer):
    """A process with the template it was configured from, if any (`template_id`)."""

    template_id = serializers.UUIDField(read_only=True, allow_null=True)
    creator = serializers.EmailField(source="creator.email", read_only=True)

    class Meta(ProcessLightSerializer.Meta):
        fields = (*ProcessLightSerializer.Meta.fields, "template_id", "creator")
        read_only_fields = fields


class ProcessTemplateCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=250, help_text="The name of the new template.")

    def validate_name(self, value):
        if not value.strip():
            raise serializers.ValidationError("This field may not be blank.")
        return value.strip()


class ApplyProcessTemplateSerializer(serializers.Serializer):
    process_id = serializers.UUIDField(
        help_text="A workers or dataset process that has not started, on which you are a contributor."
    )


class RuntimeConfigurationItemSerializer(serializers.Serializer):
    key = serializers.CharField()
    value = serializers.JSONField(allow_null=True)
    secret = serializers.BooleanField()


class RuntimeConfigurationSerializer(serializers.Serializer):
    configuration = RuntimeConfigurationItemSerializer(many=True)
