"""
API of worker activities: a task takes the next element of its worker run's queue
(StartWorkerActivity), reports what became of an element (UpdateWorkerActivity), and anyone who
reads the process follows the progress of each worker run (ListProcessActivityStats).

The rules and the SQL are in `processes.services.activities`; views resolve who calls (a task with its
`Ponos` token, or a person with their level on the process's corpus) and translate refusals.

A task's successful StartWorkerActivity, and UpdateWorkerActivity for its own worker run, are
answered before these views by `ponos.api.activity_views`, which routes both paths, with the same
SQL (`start_sql`, `update_sql`) and the same answer; what changes here in a successful answer must
change there too (its tests compare both answer for answer).
"""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import APIException, NotFound, PermissionDenied, ValidationError
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from processes import selectors
from processes.api.activity_serializers import (
    ActivityStatisticsSerializer,
    StartedElementSerializer,
    UpdateWorkerActivitySerializer,
)
from processes.models import Process
from processes.selectors import process_for_user
from processes.services import activities
from users.callers import calling_task
from users.models import Role

TAGS = ["processes"]


class Conflict(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"


def raise_activity_error(error):
    if error.status == 404:
        raise NotFound(error.message)
    if error.status == 409:
        raise Conflict(error.message)
    raise ValidationError({error.field: [error.message]} if error.field else [error.message])


@extend_schema(tags=TAGS)
class StartWorkerActivity(GenericAPIView):
    permission_classes = (IsAuthenticated,)
    serializer_class = StartedElementSerializer

    @extend_schema(
        operation_id="StartWorkerActivity",
        request=None,
        responses={
            200: StartedElementSerializer,
            400: OpenApiResponse(description="The process does not track activities, or not yet."),
            404: OpenApiResponse(description="No element left in the queue."),
        },
        description=(
            "Take the next queued element of the calling task's worker run and mark it started. Task "
            "tokens only: the process and the worker run are the task's. Each element is handed out once, "
            "whatever the number of tasks consuming the queue; 404 once the queue is empty."
        ),
    )
    def post(self, request, *args, **kwargs):
        task = calling_task(request)
        if task is None:
            raise PermissionDenied("Only a task, calling with its `Ponos` token, takes activities from a queue.")
        if task.worker_run_id is None:
            raise ValidationError(["This task runs no worker run: it has no activities to take."])
        try:
            row = activities.start_activity(
                process_id=task.process_id, worker_run_id=task.worker_run_id, task_id=task.task_id
            )
        except activities.ActivityError as error:
            raise_activity_error(error)
        if row is None:
            raise NotFound("No queued element is left for this worker run.")
        element_id, type_id, name = row
        return Response(StartedElementSerializer({"id": element_id, "type_id": type_id, "name": name}).data)


@extend_schema(tags=TAGS)
class UpdateWorkerActivity(GenericAPIView):
    permission_classes = (IsAuthenticated,)
    serializer_class = UpdateWorkerActivitySerializer

    @extend_schema(
        operation_id="UpdateWorkerActivity",
        # Not the whole operation: the worker run form is current, and the clients would warn on every call.
        parameters=[
            OpenApiParameter(
                "id",
                OpenApiTypes.UUID,
                OpenApiParameter.PATH,
                description=(
                    "The worker run (ARKINDEX_WORKER_RUN_ID). Deprecated: the id of a worker version, "
                    "accepted only while that version appears once in the process."
                ),
            )
        ],
        request=UpdateWorkerActivitySerializer,
        responses={200: OpenApiResponse(description="The activity changed state (empty body).")},
        description=(
            "Report what a worker run did with an element of its process: queued → started → processed or "
            "error, error → started. `id` is the worker run; the id of a worker version is still accepted "
            "(deprecated) when that version appears exactly once in the process `process_id`. A forbidden "
            "transition is a 409: for `started`, another task already has the element. Task tokens report "
            "for their own process; people need contributor access to the process's corpus."
        ),
    )
    def put(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            task = calling_task(request)
            if task is not None and kwargs["pk"] == task.worker_run_id:
                # A task reporting for its own run, as workers do for each element: its run and
                # process came with its token.
                run_id, process = task.worker_run_id, task.task.process
            else:
                # The process first: nothing is said of the runs of a process the caller cannot see
                # (a task sees its own process only).
                process = selectors.process_for_user(request.user, data["process_id"], Role.CONTRIBUTOR)
                run = activities.find_reporting_run(run_or_version_id=kwargs["pk"], process_id=process.id)
                run_id, process = run.id, run.process
            if process.id != data["process_id"]:
                raise ValidationError({"process_id": [f"Worker run {run_id} belongs to process {process.id}."]})
            activities.update_activity(
                run_id=run_id,
                process=process,
                element_id=data["element_id"],
                state=data["state"],
                task_id=task.task_id if task is not None else None,
            )
        except activities.ActivityError as error:
            raise_activity_error(error)
        return Response(status=status.HTTP_200_OK)


@extend_schema(tags=TAGS)
class ListProcessActivityStats(GenericAPIView):
    permission_classes = (IsAuthenticated,)
    serializer_class = ActivityStatisticsSerializer
    pagination_class = None
    queryset = Process.objects.none()  # for the schema: the process is fetched with the user's level

    @extend_schema(
        operation_id="ListProcessActivityStats",
        responses={200: ActivityStatisticsSerializer(many=True)},
        description=(
            "Progress of each worker run of a process: activities per state, mean processing time and, while "
            "unfinished, an estimated completion date. A plain array, one item per worker run, in their order "
            "of creation. Anyone who reads the process; a task token its own process only."
        ),
    )
    def get(self, request, *args, **kwargs):
        process = process_for_user(request.user, kwargs["pk"], Role.GUEST)
        rows = activities.activity_statistics(process.id, finished=process.finished is not None)
        return Response(ActivityStatisticsSerializer(rows, many=True).data)
