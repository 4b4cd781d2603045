"""
API of the scheduler on whole processes: starting, retrying and stopping them, and the tasks of a
run (the data of the process status page). Views validate, call `ponos.services` and serialise;
the rules live in the services and in `processes.services.starting`.
"""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from ponos import services
from ponos.api.serializers import (
    ProcessRunSerializer,
    ProcessStartSerializer,
    ProcessTasksParameters,
    ProcessTaskStatusSerializer,
)
from processes.selectors import process_for_user
from users.models import Role

TAGS = ["processes"]


def run_response(process, tasks):
    process.run_tasks = tasks
    return Response(ProcessRunSerializer(process).data)


@extend_schema(tags=TAGS)
class ProcessStart(APIView):
    permission_classes = (IsAuthenticated,)

    @extend_schema(
        operation_id="StartProcess",
        description=(
            "Start a workers or dataset process: contributor access to its corpus is required. Every rule is "
            "checked at once and each broken one named in a 400: worker versions and model versions that are "
            "not available, missing model versions, archived configurations, required configuration fields "
            "left unset, versions that cannot run in a process, a process without worker runs or whose "
            "filters select no element. On success the task DAG is created (an initialisation task, then one "
            "task per worker run and chunk) and worker activities are initialised in the background when "
            "they are on. 409 when the process already started. The body is optional."
        ),
        request=ProcessStartSerializer,
        responses={
            200: ProcessRunSerializer,
            400: OpenApiResponse(description="The process cannot start; every reason is named."),
            409: OpenApiResponse(description="The process already started."),
        },
    )
    def post(self, request, pk):
        process = process_for_user(request.user, pk, Role.CONTRIBUTOR, action="start it")
        serializer = ProcessStartSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        process, tasks = services.process_start(process=process, farm=serializer.validated_data.get("farm_id"))
        return run_response(process, tasks)


@extend_schema(tags=TAGS)
class ProcessRetry(APIView):
    permission_classes = (IsAuthenticated,)

    @extend_schema(
        operation_id="RetryProcess",
        description=(
            "Run an ended process again: its tasks are recreated as a new run (a repository process recreates "
            "only its initial task) and the previous runs are kept. Worker activities left started or in error "
            "are queued again; processed ones are kept. Contributor access to the corpus is required. 409 "
            "unless the process started and ended; 400 for a mode without tasks (template, local), and for what "
            "StartProcess refuses (an archived configuration, a model version no longer available…)."
        ),
        request=None,
        responses={
            200: ProcessRunSerializer,
            400: OpenApiResponse(description="This mode of process has no tasks."),
            409: OpenApiResponse(description="The process did not start or has not ended."),
        },
    )
    def post(self, request, pk):
        process = process_for_user(request.user, pk, Role.CONTRIBUTOR, action="retry it")
        process, tasks = services.process_retry(process=process)
        return run_response(process, tasks)


@extend_schema(tags=TAGS)
class ProcessStop(APIView):
    permission_classes = (IsAuthenticated,)

    @extend_schema(
        operation_id="StopProcess",
        description=(
            "Stop a running process (contributors of its corpus): the running tasks of its last run move to "
            "stopping, and their agents end them and set them stopped; the tasks that have not started yet "
            "(unscheduled or pending) are stopped at once. Stopping a process that is already stopping "
            "changes nothing. 409 when the process has not started or has already ended. Task tokens "
            "cannot stop processes. The answer is the process with the tasks of its last run."
        ),
        request=None,
        responses={
            200: ProcessRunSerializer,
            403: OpenApiResponse(description="Below contributor on the corpus, or a task token."),
            409: OpenApiResponse(description="The process has not started, or has already ended."),
        },
    )
    def post(self, request, pk):
        process = process_for_user(request.user, pk, Role.CONTRIBUTOR, action="stop it")
        process = services.process_stop(process=process)
        return run_response(process, list(services.process_run_tasks(process.id)))


@extend_schema(tags=TAGS)
class ProcessTasks(APIView):
    permission_classes = (IsAuthenticated,)

    @extend_schema(
        operation_id="ListProcessTasks",
        description=(
            "The tasks of a run of a process, as its status page shows them: state, parents, agent and GPU, "
            "times and attempt, ordered by depth then slug, as one JSON array (not paginated). The last run "
            "by default; an earlier one with `run` (a run that does not exist has no tasks). Readable by "
            "guests of the process's corpus, and by the tasks of the same process with their token."
        ),
        parameters=[ProcessTasksParameters],
        responses={200: ProcessTaskStatusSerializer(many=True), 400: OpenApiResponse(), 404: OpenApiResponse()},
    )
    def get(self, request, pk):
        process = process_for_user(request.user, pk, Role.GUEST)
        tasks = services.process_run_tasks(process.id, ProcessTasksParameters.parse(request).get("run"))
        return Response(ProcessTaskStatusSerializer(tasks, many=True).data)
