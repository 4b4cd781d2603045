"""
Farms and agents, as the process pages show them ("View agents").

Agents are listed by hostname, then pid (seed 002: sorting by last ping reordered the list under
the reader's eyes). Agents describe the execution hosts, so only instance administrators see
them; farms are chosen when starting a process, so every authenticated user lists them.
"""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import permissions
from rest_framework.generics import GenericAPIView, ListAPIView, RetrieveAPIView
from rest_framework.response import Response

from ponos.api.agent_serializers import (
    AgentActionsSerializer,
    AgentDetailsSerializer,
    AgentSerializer,
    FarmSerializer,
)
from ponos.models import Agent, Farm
from ponos.selectors import agent_actions, agents_queryset, running_tasks_prefetch

TAGS = ["ponos"]


class IsInstanceAdmin(permissions.BasePermission):
    message = "Only instance administrators can see the agents."

    def has_permission(self, request, view):
        return bool(request.user and request.user.is_authenticated and request.user.is_admin)


@extend_schema(tags=TAGS)
class AgentList(ListAPIView):
    """Agents of every farm, sorted by hostname then process ID. Instance administrators only."""

    serializer_class = AgentSerializer
    permission_classes = (IsInstanceAdmin,)

    def get_queryset(self):
        return agents_queryset()

    @extend_schema(operation_id="ListAgents")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


@extend_schema(tags=TAGS)
class AgentDetails(RetrieveAPIView):
    """An agent with its GPUs and the tasks it is running now. Instance administrators only."""

    serializer_class = AgentDetailsSerializer
    permission_classes = (IsInstanceAdmin,)

    def get_queryset(self):
        return agents_queryset().prefetch_related(running_tasks_prefetch())

    @extend_schema(operation_id="RetrieveAgent")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


@extend_schema(tags=TAGS)
class AgentActions(GenericAPIView):
    serializer_class = AgentActionsSerializer
    permission_classes = (IsInstanceAdmin,)

    @extend_schema(
        operation_id="RetrieveAgentActions",
        responses={
            200: AgentActionsSerializer,
            403: OpenApiResponse(description="Not an instance administrator."),
            404: OpenApiResponse(description="No such agent."),
        },
        description=(
            "What an agent does next (instance administrators only): `stop_task` for each of its tasks set to "
            "stopping, whose command it ends, then `start_task` for the pending tasks of its farm that its free "
            "slots take next, in the order the farm's queues give them out: as many tasks without GPU as it has "
            "free slots, and one task needing a GPU per free GPU (`gpu_id`). Our agents take their tasks from "
            "the farm's queues themselves rather than asking for actions: these are the same decisions read "
            "from the database, and another agent of the farm may take a pending task first (a task never runs "
            "twice). An agent that stopped, or has not pinged within PONOS_AGENT_TIMEOUT seconds, starts nothing."
        ),
    )
    def get(self, request, pk):
        agent = get_object_or_404(Agent.objects.select_related("farm"), pk=pk)
        return Response(AgentActionsSerializer({"actions": agent_actions(agent)}).data)


@extend_schema(tags=TAGS)
class FarmList(ListAPIView):
    """Every farm, by name: a process runs on the farm chosen when it starts, or the default one."""

    serializer_class = FarmSerializer
    permission_classes = (permissions.IsAuthenticated,)

    def get_queryset(self):
        return Farm.objects.order_by("name", "id")

    @extend_schema(operation_id="ListFarms")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)
