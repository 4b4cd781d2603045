"""
Shapes of worker runs as the base worker and the CLI read them (`RetrieveWorkerRun`): the process
the run belongs to, its worker version with the worker, its model version with the model, its
configuration and its summary.
"""

from rest_framework import serializers

from processes.models import Process, WorkerRun
from workers.api.serializers import WorkerConfigurationSerializer, WorkerVersionSerializer
from workers.models import Model, ModelVersion


class ProcessLightSerializer(serializers.ModelSerializer):
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


class RuntimeConfigurationItemSerializer(serializers.Serializer):
    key = serializers.CharField()
    value = serializers.JSONField(allow_null=True)
    secret = serializers.BooleanField()


class RuntimeConfigurationSerializer(serializers.Serializer):
    configuration = RuntimeConfigurationItemSerializer(many=True)
