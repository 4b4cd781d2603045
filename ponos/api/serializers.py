"""
Serializers of the scheduler's API: starting, retrying and stopping processes, the tasks they
create, and the tasks of a run as the process status page shows them. Related objects are IDs only,
and a task's token never appears.
"""

from rest_framework import serializers

from arkindex.api.params import INT_MAX, QueryParameters
from ponos.models import Farm, TaskState
from processes.models import ActivityState, ProcessState


class ProcessStartSerializer(serializers.Serializer):
    """The optional body of StartProcess."""

    farm_id = serializers.PrimaryKeyRelatedField(
        queryset=Farm.objects.all(),
        required=False,
        allow_null=True,
        help_text="Farm whose agents run the tasks. Defaults to the process's farm, else the default farm.",
    )


class ProcessTaskSerializer(serializers.Serializer):
    """A task of a started process, as its DAG was built."""

    id = serializers.UUIDField(read_only=True)
    slug = serializers.CharField(read_only=True)
    state = serializers.ChoiceField(choices=TaskState.choices, read_only=True)
    run = serializers.IntegerField(read_only=True)
    depth = serializers.IntegerField(read_only=True)
    chunk = serializers.IntegerField(read_only=True, allow_null=True)
    parents = serializers.ListField(
        child=serializers.UUIDField(), source="parent_ids", read_only=True, help_text="IDs of the parent tasks."
    )
    worker_run_id = serializers.UUIDField(read_only=True, allow_null=True)
    requires_gpu = serializers.BooleanField(read_only=True)


class ProcessRunSerializer(serializers.Serializer):
    """A process just started or retried, with the tasks of the run this created."""

    id = serializers.UUIDField(read_only=True)
    state = serializers.ChoiceField(choices=ProcessState.choices, read_only=True)
    started = serializers.DateTimeField(read_only=True)
    finished = serializers.DateTimeField(read_only=True, allow_null=True)
    activity_state = serializers.ChoiceField(choices=ActivityState.choices, read_only=True)
    tasks = ProcessTaskSerializer(many=True, read_only=True, source="run_tasks")


class ProcessTaskStatusSerializer(ProcessTaskSerializer):
    """A task of a run as the process status page shows it: where it runs and since when."""

    agent_id = serializers.UUIDField(read_only=True, allow_null=True, help_text="The agent running or that ran it.")
    gpu_id = serializers.CharField(read_only=True, allow_null=True, help_text="The GPU it holds or held.")
    started = serializers.DateTimeField(read_only=True, allow_null=True)
    finished = serializers.DateTimeField(read_only=True, allow_null=True)
    attempt = serializers.IntegerField(
        read_only=True, help_text="0, then one more each time RestartTask runs it again (each has its own log)."
    )


class ProcessTasksParameters(QueryParameters):
    """Query parameters of ListProcessTasks."""

    run = serializers.IntegerField(
        min_value=0,
        max_value=INT_MAX,
        required=False,
        help_text="An earlier run of the process, from 0; the last one by default.",
    )
