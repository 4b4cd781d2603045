"""
Shapes of farms and agents. Per-row figures (running tasks, busy GPUs) come from the annotations
and prefetches of `ponos.api.agent_views`, never from a query per row.
"""

from rest_framework import serializers

from ponos.models import GPU, Agent, Farm, Task
from ponos.selectors import active_since, agent_is_active


class FarmSerializer(serializers.ModelSerializer):
    class Meta:
        model = Farm
        fields = ("id", "name")
        read_only_fields = fields


class GPUSerializer(serializers.ModelSerializer):
    busy = serializers.BooleanField(read_only=True, help_text="A running or stopping task holds this GPU.")

    class Meta:
        model = GPU
        fields = ("id", "index", "name", "ram_total", "busy")
        read_only_fields = fields


class AgentSerializer(serializers.ModelSerializer):
    farm = FarmSerializer(read_only=True)
    active = serializers.SerializerMethodField(
        help_text="The agent pinged within the agent timeout (PONOS_AGENT_TIMEOUT seconds) and was not stopped."
    )
    running_tasks_count = serializers.IntegerField(read_only=True, help_text="Tasks running or stopping on it.")
    gpus = GPUSerializer(many=True, read_only=True)

    class Meta:
        model = Agent
        fields = (
            "id",
            "hostname",
            "pid",
            "farm",
            "cpu_cores",
            "ram_total",
            "concurrency",
            "executor",
            "last_ping",
            "active",
            "running_tasks_count",
            "gpus",
        )
        read_only_fields = fields

    def get_active(self, agent) -> bool:
        # Computed from the row alone: one clock reading per serializer, not per row.
        if "active_since" not in self.context:
            self.context["active_since"] = active_since()
        return agent_is_active(agent, self.context["active_since"])


class AgentTaskSerializer(serializers.ModelSerializer):
    process_id = serializers.UUIDField(read_only=True)
    gpu_id = serializers.CharField(read_only=True, allow_null=True)

    class Meta:
        model = Task
        fields = ("id", "slug", "process_id", "state", "started", "gpu_id")
        read_only_fields = fields


class AgentDetailsSerializer(AgentSerializer):
    running_tasks = AgentTaskSerializer(many=True, read_only=True)

    class Meta(AgentSerializer.Meta):
        fields = (*AgentSerializer.Meta.fields, "running_tasks")
        read_only_fields = fields


class AgentActionSerializer(serializers.Serializer):
    action = serializers.ChoiceField(
        choices=("start_task", "stop_task"),
        read_only=True,
        help_text="`start_task`: a free slot of the agent takes this pending task next; `stop_task`: the agent "
        "ends the command of this task, set to stopping, then sets it stopped.",
    )
    task_id = serializers.UUIDField(read_only=True)
    gpu_id = serializers.CharField(
        read_only=True, allow_null=True, help_text="The GPU a task that needs one would run on; null otherwise."
    )


class AgentActionsSerializer(serializers.Serializer):
    actions = AgentActionSerializer(many=True, read_only=True)
