"""
API of one task: what people see of it (its details, its log, its artifacts), what they do to it
(stop, restart), and what the task itself does with its `Ponos` token while it runs (read itself,
report its end, declare artifacts).

Who reaches a task:

- people with guest on the process's corpus read it; contributors stop and restart it;
- a task token reads the tasks and artifacts of its own process only: any other task is a 404,
  as if it did not exist (the token's process creator may see it, the task may not);
- the `from-agent` endpoints and CreateArtifact serve the task itself: only its own token opens
  them (403 for a person, 404 for another task).

Views resolve the task and check access here, then call `ponos.services.tasks` or
`ponos.artifacts`; the bytes of logs and artifacts never go through the API except the log, which
is text read from the storage (`ponos.logs`).
"""

import os

from django.contrib.postgres.expressions import ArraySubquery
from django.db.models import OuterRef
from django.http import HttpResponse, HttpResponseRedirect
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.generics import GenericAPIView, ListCreateAPIView
from rest_framework.permissions import IsAuthenticated
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response

from arkindex import storage
from arkindex.api.params import INT_MAX, QueryParameters
from ponos import artifacts, logs
from ponos.api.task_serializers import (
    ArtifactCreateSerializer,
    ArtifactSerializer,
    TaskReportSerializer,
    TaskSerializer,
    TaskStopSerializer,
)
from ponos.models import Artifact, Task
from ponos.services import tasks as task_services
from processes.selectors import process_for_user, processes_with_level
from users.callers import calling_task
from users.models import Role

TAGS = ["ponos"]


def tasks_queryset():
    """Tasks with their parents' IDs, in the same query (the serializer's `parents`)."""
    parents = Task.parents.through.objects.filter(from_task_id=OuterRef("pk")).order_by("to_task_id")
    return Task.objects.annotate(parent_ids=ArraySubquery(parents.values("to_task_id")))


def readable_task(request, pk, queryset=None):
    """
    The task `pk` if the caller may read it, in one query: a person reads the tasks of processes
    they see as guests, a task token those of its own process (the only one it sees). 404 otherwise.
    """
    queryset = Task.objects.all() if queryset is None else queryset
    # A process being deleted is out of `processes_with_level`: its tasks are hidden too.
    task = queryset.filter(pk=pk, process_id__in=processes_with_level(request.user).values("id")).first()
    if task is None:
        raise NotFound(f"Task {pk} not found, or you have no access to it.")
    return task


def task_for_contributor(request, pk):
    """The task `pk` for a person with contributor on its process: 404 when hidden, 403 below the level."""
    task = Task.objects.filter(pk=pk).first()
    if task is None:
        raise NotFound(f"Task {pk} not found, or you have no access to it.")
    process_for_user(request.user, task.process_id, Role.CONTRIBUTOR, action="stop or restart its tasks")
    return task


def own_task(request, pk):
    """The calling task itself: these endpoints open only with the task's own `Ponos` token."""
    caller = calling_task(request)
    if caller is None:
        raise PermissionDenied("Only the task itself, with its own `Ponos` token, can call this endpoint.")
    if caller.task_id != pk:
        # Whether the other task exists is none of this task's business.
        raise NotFound(f"Task {pk} not found, or you have no access to it.")
    return caller.task


class TaskDetailsBase(GenericAPIView):
    permission_classes = (IsAuthenticated,)
    serializer_class = TaskSerializer

    def task_response(self, pk):
        task = tasks_queryset().get(pk=pk)
        return Response(TaskSerializer(task).data)


@extend_schema(tags=TAGS)
class TaskDetails(TaskDetailsBase):
    """
    A task of a process: its state, its parents (IDs of the tasks it waits for), its agent and GPU
    while it runs, its command and environment. Readable by guests of the process's corpus, and
    by the tasks of the same process with their token.
    """

    @extend_schema(operation_id="RetrieveTask", responses={200: TaskSerializer, 404: OpenApiResponse()})
    def get(self, request, pk):
        task = readable_task(request, pk, tasks_queryset())
        return Response(TaskSerializer(task).data)

    @extend_schema(
        operation_id="PartialUpdateTask",
        request=TaskStopSerializer,
        responses={
            200: TaskSerializer,
            400: OpenApiResponse(description="Only `state: stopping` can be sent."),
            409: OpenApiResponse(description="The task already ended."),
        },
    )
    def patch(self, request, pk):
        """
        Stop a task (contributors of the process's corpus): `{"state": "stopping"}` moves a running
        task to stopping (its agent ends it, then sets it stopped), and stops at once a task that has
        not started yet. An ended task is a 409.
        """
        task = task_for_contributor(request, pk)
        serializer = TaskStopSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        task_services.task_stop(task)
        return self.task_response(task.pk)


@extend_schema(tags=TAGS)
class TaskFromAgent(TaskDetailsBase):
    """A running task reads itself, or reports how it ended, with its own `Ponos` token."""

    @extend_schema(operation_id="RetrieveTaskFromAgent", responses={200: TaskSerializer, 403: OpenApiResponse()})
    def get(self, request, pk):
        task = own_task(request, pk)
        return self.task_response(task.pk)

    @extend_schema(
        operation_id="PartialUpdateTaskFromAgent",
        request=TaskReportSerializer,
        responses={
            200: TaskSerializer,
            400: OpenApiResponse(description="Only `state` can be sent: completed, failed or error."),
            403: OpenApiResponse(description="Not this task's own token."),
            409: OpenApiResponse(description="The task is not running."),
        },
    )
    def patch(self, request, pk):
        task = own_task(request, pk)
        serializer = TaskReportSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        task_services.task_report_state(task, serializer.validated_data["state"])
        return self.task_response(task.pk)


@extend_schema(tags=TAGS)
class TaskRestart(TaskDetailsBase):
    @extend_schema(
        operation_id="RestartTask",
        request=None,
        responses={
            200: TaskSerializer,
            409: OpenApiResponse(
                description="The task has not ended, belongs to an earlier run, or tasks after it still run."
            ),
        },
    )
    def post(self, request, pk):
        """
        Run an ended task of the process's last run again (contributors): a new attempt with its own
        log, no agent nor GPU, then the tasks depending on it that had ended run again after it.
        The previous attempts' logs stay readable with the log's `attempt` parameter.
        """
        task = task_for_contributor(request, pk)
        task, _ = task_services.task_restart(task)
        return self.task_response(task.pk)


class PlainTextRenderer(BaseRenderer):
    media_type = "text/plain"
    format = "txt"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if isinstance(data, bytes):
            return data
        if isinstance(data, dict) and "detail" in data:
            return str(data["detail"]).encode()
        return str(data).encode()


class TaskLogParameters(QueryParameters):
    attempt = serializers.IntegerField(
        min_value=0,
        max_value=INT_MAX,
        required=False,
        help_text="An earlier attempt of a restarted task, from 0; the current one by default.",
    )


@extend_schema(tags=TAGS)
class TaskLog(GenericAPIView):
    """
    The log of a task as plain text: what the agent has stored so far, so that reading it again
    follows a running task. An empty log (a task that printed nothing, or has not started) is an
    empty body. Only the last PONOS_LOG_MAX_SIZE bytes of a larger log are kept.
    """

    permission_classes = (IsAuthenticated,)
    renderer_classes = (JSONRenderer, PlainTextRenderer)
    serializer_class = None

    def finalize_response(self, request, response, *args, **kwargs):
        # The log is text; its errors are JSON, as everywhere else, whatever format was asked.
        if response.status_code >= 400:
            request.accepted_renderer, request.accepted_media_type = JSONRenderer(), JSONRenderer.media_type
        return super().finalize_response(request, response, *args, **kwargs)

    @extend_schema(
        operation_id="RetrieveTaskLog",
        parameters=[TaskLogParameters],
        responses={(200, "text/plain"): OpenApiTypes.STR, 400: OpenApiResponse(), 404: OpenApiResponse()},
    )
    def get(self, request, pk):
        task = readable_task(request, pk, Task.objects.select_related("process"))
        if task.process.files_cleaned:
            notice = (
                f"[ponos] This log was removed by the instance's cleanup on {task.process.files_cleaned:%Y-%m-%d}, "
                "long after its process ended.\n"
            )
            return HttpResponse(notice, content_type="text/plain; charset=utf-8")
        attempt = TaskLogParameters.parse(request).get("attempt", task.attempt)
        if attempt > task.attempt:
            raise serializers.ValidationError(
                {"attempt": [f"This task has had {task.attempt + 1} attempt(s): choose one from 0 to {task.attempt}."]}
            )
        return HttpResponse(logs.read_log(task, attempt), content_type="text/plain; charset=utf-8")


@extend_schema(tags=TAGS)
class TaskArtifacts(ListCreateAPIView):
    """
    The files a task produced, by path, as one JSON array (not paginated). Readable by guests of
    the process's corpus and by the tasks of the same process.
    """

    permission_classes = (IsAuthenticated,)
    serializer_class = ArtifactSerializer
    pagination_class = None

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Artifact.objects.none()
        task = readable_task(self.request, self.kwargs["pk"])
        return Artifact.objects.filter(task=task).order_by("path", "id")

    @extend_schema(operation_id="ListArtifacts")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        operation_id="CreateArtifact",
        request=ArtifactCreateSerializer,
        responses={
            201: ArtifactSerializer,
            400: OpenApiResponse(description="Invalid path, or an artifact already exists at this path."),
            403: OpenApiResponse(description="Not this task's own token."),
        },
    )
    def post(self, request, pk):
        """
        Declare an artifact of the calling task (its own token only), then PUT the file to the
        `s3_put_url` of the response with the same Content-Type.
        """
        task = own_task(request, pk)
        serializer = ArtifactCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        artifact = artifacts.create_artifact(task=task, **serializer.validated_data)
        data = ArtifactSerializer(artifact, context={"with_upload_url": True}).data
        return Response(data, status=status.HTTP_201_CREATED)


@extend_schema(tags=TAGS)
class ArtifactDownload(GenericAPIView):
    """
    An artifact's file: a redirect to a download URL of the storage, valid for a limited time and
    needing no credentials. Readable like the task's artifacts list.
    """

    permission_classes = (IsAuthenticated,)
    serializer_class = None

    @extend_schema(
        operation_id="DownloadArtifact",
        responses={302: OpenApiResponse(description="Redirects to the file."), 404: OpenApiResponse()},
    )
    def get(self, request, pk, path):
        task = readable_task(request, pk)
        artifact = Artifact.objects.filter(task=task, path=path).first()
        if artifact is None:
            raise NotFound(f"Task {pk} has no artifact at `{path}`.")
        if not storage.exists(artifact.storage_key):
            # Declared with CreateArtifact, but its file was never uploaded.
            raise NotFound(f"The file of the artifact `{path}` was never uploaded.")
        url = storage.download_url(
            artifact.storage_key, content_type=artifact.content_type, filename=os.path.basename(artifact.path)
        )
        return HttpResponseRedirect(url)
