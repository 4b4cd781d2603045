"""Shapes of worker activities: what StartWorkerActivity hands out, reports, and statistics."""

from rest_framework import serializers

from processes.models import WorkerActivityState


class StartedElementSerializer(serializers.Serializer):
    """The element a task must process next (the base worker reads `id`, then retrieves it)."""

    id = serializers.UUIDField()
    type_id = serializers.UUIDField()
    name = serializers.CharField()


class UpdateWorkerActivitySerializer(serializers.Serializer):
    element_id = serializers.UUIDField(help_text="Element the worker run started, processed or failed.")
    process_id = serializers.UUIDField(
        help_text="Process of the worker run; names the worker run when the path holds a (deprecated) version id."
    )
    state = serializers.ChoiceField(
        choices=[WorkerActivityState.Started, WorkerActivityState.Processed, WorkerActivityState.Error],
        help_text="`started` (from queued or error), then `processed` or `error`.",
    )


class ActivityStatisticsSerializer(serializers.Serializer):
    worker_run_id = serializers.UUIDField()
    worker_version_id = serializers.UUIDField()
    model_version_id = serializers.UUIDField(allow_null=True)
    configuration_id = serializers.UUIDField(allow_null=True)
    summary = serializers.CharField()
    queued = serializers.IntegerField()
    started = serializers.IntegerField()
    processed = serializers.IntegerField()
    error = serializers.IntegerField()
    retried = serializers.IntegerField(
        help_text="Elements taken again after a task ended while holding them (its agent died, it was stopped…)."
    )
    failed = serializers.IntegerField(
        help_text="Elements in error because tasks ended holding them ACTIVITY_MAX_ATTEMPTS times in a row."
    )
    average_processing_time = serializers.FloatField(
        allow_null=True, help_text="Mean seconds between start and end of the processed elements; null before any."
    )
    estimated_completion = serializers.DateTimeField(
        allow_null=True,
        help_text=(
            "Estimated end of the worker run: now + mean time × (queued + started) / max(started, 1), the "
            "elements being processed standing for the tasks running in parallel. Null once the process "
            "finished or nothing is left, and before any element was processed."
        ),
    )
