"""
Shapes of tasks and artifacts. Related objects are given by ID only, never by URL (seed 002: URLs
are rebuilt from IDs by the clients), and a task's token never appears in any response: the agent
gives it to the task in its environment.
"""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from arkindex import storage
from arkindex.api.params import BIGINT_MAX
from ponos.artifacts import artifact_path_error
from ponos.models import Artifact, Task, TaskState
from ponos.services.tasks import AGENT_FINAL_STATES

# Variables of a task's environment that are credentials: never shown, even if one was stored.
HIDDEN_ENV_VARIABLES = ("ARKINDEX_TASK_TOKEN", "ARKINDEX_API_TOKEN")


class TaskSerializer(serializers.ModelSerializer):
    """A task; `parent_ids` is annotated by the view (`ponos.api.task_views.tasks_queryset`)."""

    parents = serializers.ListField(
        child=serializers.UUIDField(),
        source="parent_ids",
        read_only=True,
        help_text="IDs of the tasks that must complete before this one runs.",
    )
    process_id = serializers.UUIDField(read_only=True)
    worker_run_id = serializers.UUIDField(read_only=True, allow_null=True)
    agent_id = serializers.UUIDField(read_only=True, allow_null=True)
    gpu_id = serializers.CharField(read_only=True, allow_null=True)
    env = serializers.SerializerMethodField()

    class Meta:
        model = Task
        fields = (
            "id",
            "process_id",
            "run",
            "depth",
            "slug",
            "state",
            "parents",
            "worker_run_id",
            "chunk",
            "agent_id",
            "gpu_id",
            "requires_gpu",
            "shm_size",
            "image",
            "command",
            "env",
            "attempt",
            "started",
            "finished",
            "created",
            "updated",
        )
        read_only_fields = fields

    @extend_schema_field({"type": "object", "additionalProperties": {"type": "string"}})
    def get_env(self, task):
        return {key: value for key, value in task.env.items() if key not in HIDDEN_ENV_VARIABLES}


class TaskStateSerializer(serializers.Serializer):
    """A body holding only a task's `state`: any other field is a 400, not silently ignored."""

    unknown_field_message = "Only the `state` of a task can be changed."

    def to_internal_value(self, data):
        unknown = sorted(set(data) - set(self.fields)) if hasattr(data, "keys") else []
        if unknown:
            raise serializers.ValidationError({name: [self.unknown_field_message] for name in unknown})
        return super().to_internal_value(data)


class TaskStopSerializer(TaskStateSerializer):
    """PartialUpdateTask: people can only ask a task to stop."""

    unknown_field_message = "Only the `state` of a task can be changed, to `stopping`."
    state = serializers.ChoiceField(
        choices=[TaskState.Stopping.value],
        help_text="`stopping` is the only state a user may ask for: a running task then stops, "
        "and a task that has not started yet is stopped at once.",
    )


class TaskReportSerializer(TaskStateSerializer):
    """PartialUpdateTaskFromAgent: a running task says how it ended."""

    unknown_field_message = "A task can only change its own `state`, to completed, failed or error."
    state = serializers.ChoiceField(
        choices=[state.value for state in AGENT_FINAL_STATES],
        help_text="The final state of the task, set by the task itself while it runs.",
    )


class ArtifactSerializer(serializers.ModelSerializer):
    s3_put_url = serializers.SerializerMethodField(
        help_text="Where to PUT the file's bytes, with its Content-Type: set only in the response that creates it."
    )

    class Meta:
        model = Artifact
        fields = ("id", "path", "size", "content_type", "s3_put_url", "created", "updated")
        read_only_fields = fields

    @extend_schema_field(serializers.URLField(allow_null=True))
    def get_s3_put_url(self, artifact):
        if not self.context.get("with_upload_url"):
            return None
        return storage.upload_url(artifact.storage_key, content_type=artifact.content_type)


class ArtifactCreateSerializer(serializers.Serializer):
    path = serializers.CharField(
        trim_whitespace=False,
        help_text="Path of the file relative to the task's folder (its working directory), without `..`.",
    )
    content_type = serializers.CharField(
        max_length=250,
        default="application/octet-stream",
        help_text="Content-Type of the file, sent again with the PUT to `s3_put_url`.",
    )
    size = serializers.IntegerField(min_value=0, max_value=BIGINT_MAX, help_text="Size of the file in bytes.")

    def validate_path(self, path):
        error = artifact_path_error(path)
        if error:
            raise serializers.ValidationError(error)
        return path
