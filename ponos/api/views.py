"""
API of the scheduler: starting and retrying processes. Views validate, call `ponos.services` and
serialise; the rules live in the services and in `processes.starting`.
"""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from ponos import services
from ponos.api.serializers import ProcessRunSerializer, ProcessStartSerializer
from processes.services import process_for_user
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
        process = process_for_user(request.user, pk, Role.CONTRIBUTOR)
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
            "unless the process started and ended; 400 for a mode without tasks (template, local)."
        ),
        request=None,
        responses={
            200: ProcessRunSerializer,
            400: OpenApiResponse(description="This mode of process has no tasks."),
            409: OpenApiResponse(description="The process did not start or has not ended."),
        },
    )
    def post(self, request, pk):
        process = process_for_user(request.user, pk, Role.CONTRIBUTOR)
        process, tasks = services.process_retry(process=process)
        return run_response(process, tasks)
