"""
API of worker runs: a user's own worker runs, and what a worker reads about the run it executes.
"""

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.generics import ListCreateAPIView, RetrieveAPIView
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from processes import services
from processes.api.serializers import RuntimeConfigurationSerializer, UserWorkerRunCreateSerializer, WorkerRunSerializer
from processes.models import ProcessMode, WorkerRun
from workers.configuration import runtime_configuration

TAGS = ["processes"]
WORKER_RUN_RELATIONS = (
    "process",
    "version__worker__type",
    "model_version__model",
    "configuration",
)


@extend_schema(tags=TAGS)
class UserWorkerRuns(ListCreateAPIView):
    """
    The worker runs of the current user: personal, used to sign results made outside of any
    process (scripts, the CLI, a worker run on a laptop). At most one per worker version.
    """

    permission_classes = (IsAuthenticated,)
    serializer_class = WorkerRunSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return WorkerRun.objects.none()
        return (
            WorkerRun.objects.filter(process__mode=ProcessMode.Local, process__creator=self.request.user)
            .select_related(*WORKER_RUN_RELATIONS)
            .with_process_state()
            .order_by("-created", "id")
        )

    @extend_schema(operation_id="ListUserWorkerRuns")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        operation_id="CreateUserWorkerRun",
        request=UserWorkerRunCreateSerializer,
        responses={201: WorkerRunSerializer},
    )
    def post(self, request, *args, **kwargs):
        serializer = UserWorkerRunCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        run = services.create_user_worker_run(
            request.user,
            version_id=serializer.validated_data["worker_version_id"],
            model_version_id=serializer.validated_data.get("model_version_id"),
            configuration_id=serializer.validated_data.get("configuration_id"),
        )
        run = self.get_queryset().get(pk=run.pk)
        return Response(WorkerRunSerializer(run).data, status=status.HTTP_201_CREATED)


@extend_schema(tags=TAGS)
class WorkerRunDetails(RetrieveAPIView):
    """A worker run with its process, worker version, model version and configuration."""

    permission_classes = (IsAuthenticated,)
    serializer_class = WorkerRunSerializer

    def get_queryset(self):
        runs = services.readable_worker_runs(self.request.user)
        return runs.select_related(*WORKER_RUN_RELATIONS).with_process_state()

    @extend_schema(operation_id="RetrieveWorkerRun")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


@extend_schema(tags=TAGS)
class WorkerRunConfiguration(RetrieveAPIView):
    """
    The configuration a worker runs with: the version's defaults overridden by the run's worker
    configuration, one `{key, value, secret}` per key. A secret's value is its name, never its content.
    """

    permission_classes = (IsAuthenticated,)
    serializer_class = RuntimeConfigurationSerializer

    def get_queryset(self):
        return services.readable_worker_runs(self.request.user).select_related("version", "configuration")

    @extend_schema(operation_id="RetrieveWorkerRunConfiguration")
    def get(self, request, *args, **kwargs):
        run = self.get_object()
        values = run.configuration.configuration if run.configuration_id else None
        return Response({"configuration": runtime_configuration(run.version.configuration, values)})
