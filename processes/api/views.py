"""
API of worker runs: the configuration table of processes and templates, a user's own worker runs,
and what a worker reads about the run it executes. Views resolve the process and the user's level
on it (`selectors.process_for_user`), then hand the rules to `processes.services.worker_runs`.

A task calling with its `Ponos` token acts as its process's creator narrowed to its own process
(`users.callers`): it reads the worker runs of that process only, and never changes a configuration
(the task allow-list has no such operation).
"""

import django_filters
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.generics import GenericAPIView, ListAPIView, ListCreateAPIView, RetrieveAPIView
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from documents.selectors import get_corpus
from processes import selectors, services
from processes.api.serializers import (
    ApplyProcessTemplateSerializer,
    ProcessTemplateCreateSerializer,
    ProcessTemplateSerializer,
    RuntimeConfigurationSerializer,
    UserWorkerRunCreateSerializer,
    WorkerRunCreateSerializer,
    WorkerRunSerializer,
    WorkerRunUpdateSerializer,
)
from processes.models import Process, ProcessMode, WorkerRun
from processes.services import worker_runs
from users.models import Role
from workers.configuration import runtime_configuration

TAGS = ["processes"]
WORKER_RUN_RELATIONS = (
    "process",
    "version__worker__type",
    "model_version__model",
    "configuration",
)


def detailed_runs(queryset):
    """Worker runs with everything `WorkerRunSerializer` shows, in the same query."""
    return queryset.select_related(*WORKER_RUN_RELATIONS).with_process_state()


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
        return selectors.user_worker_runs(self.request.user).select_related(*WORKER_RUN_RELATIONS).with_process_state()

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
class CorpusWorkerRuns(ListAPIView):
    """
    The worker runs of a corpus's processes, newest first, each with its worker version, model
    version, configuration, process and parents: what may have produced the corpus's results, to
    filter them by. Templates are left out (they never run); personal worker runs
    (ListUserWorkerRuns) belong to no corpus and are not listed. Guests of the corpus.
    """

    permission_classes = (IsAuthenticated,)
    serializer_class = WorkerRunSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return WorkerRun.objects.none()
        corpus = get_corpus(self.request.user, self.kwargs["pk"], Role.GUEST)
        runs = WorkerRun.objects.filter(process__corpus=corpus, process__deleting__isnull=True).exclude(
            process__mode=ProcessMode.Template
        )
        return detailed_runs(runs).order_by("-created", "id")

    @extend_schema(operation_id="ListCorpusWorkerRuns")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


@extend_schema(tags=TAGS)
class ProcessWorkerRuns(ListCreateAPIView):
    """
    The configuration table of a process or a template: its worker runs, each with its worker
    version, model version, configuration, parents and summary. Readable by guests of the
    process's corpus, also once the process has started.
    """

    permission_classes = (IsAuthenticated,)
    serializer_class = WorkerRunSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return WorkerRun.objects.none()
        process = selectors.process_for_user(self.request.user, self.kwargs["pk"], Role.GUEST)
        return detailed_runs(WorkerRun.objects.filter(process=process)).order_by("created", "id")

    @extend_schema(operation_id="ListWorkerRuns")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        operation_id="CreateWorkerRun",
        request=WorkerRunCreateSerializer,
        responses={201: WorkerRunSerializer},
        description=(
            "Add a worker run to a workers, dataset or template process that has not started (409 "
            "after). Contributors only. The version must be available, on a worker you can use; the "
            "model version available, on a model you can use, and given exactly when the version's "
            "`model_usage` allows it; the configuration one of the worker's, not archived; the parents "
            "runs of the same process, each once. A process runs a version at most once with the same "
            "model version and configuration. `use_gpu` follows the version's `gpu_usage`, and the "
            "process's `use_gpu` when the version only supports GPUs."
        ),
    )
    def post(self, request, *args, **kwargs):
        process = selectors.process_for_user(request.user, kwargs["pk"], Role.CONTRIBUTOR, action="configure it")
        serializer = WorkerRunCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        run = worker_runs.worker_run_create(
            user=request.user,
            process=process,
            version_id=data["worker_version_id"],
            model_version_id=data.get("model_version_id"),
            configuration_id=data.get("configuration_id"),
            parents=data["parents"],
        )
        run = detailed_runs(WorkerRun.objects.filter(pk=run.pk)).get()
        return Response(WorkerRunSerializer(run).data, status=status.HTTP_201_CREATED)


@extend_schema(tags=TAGS)
class WorkerRunDetails(RetrieveAPIView):
    """A worker run with its process, worker version, model version and configuration."""

    permission_classes = (IsAuthenticated,)
    serializer_class = WorkerRunSerializer

    def get_queryset(self):
        return detailed_runs(selectors.readable_worker_runs(self.request.user))

    def get_run_to_change(self):
        """The run, 404 when hidden, 403 unless the user is a contributor of its process."""
        run = self.get_object()
        run.process = selectors.process_for_user(
            self.request.user, run.process_id, Role.CONTRIBUTOR, action="configure it"
        )
        return run

    @extend_schema(operation_id="RetrieveWorkerRun")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def update(self, request, partial):
        run = self.get_run_to_change()
        serializer = WorkerRunUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        if not partial:
            data = {"model_version_id": None, "configuration_id": None, "parents": [], **data}
        worker_runs.worker_run_update(
            user=request.user,
            run=run,
            model_version_id=data.get("model_version_id", worker_runs.UNSET),
            configuration_id=data.get("configuration_id", worker_runs.UNSET),
            parents=data.get("parents", worker_runs.UNSET),
        )
        run = self.get_queryset().get(pk=run.pk)
        return Response(WorkerRunSerializer(run).data)

    @extend_schema(
        operation_id="PartialUpdateWorkerRun",
        request=WorkerRunUpdateSerializer,
        responses={200: WorkerRunSerializer},
        description=(
            "Change the model version, configuration or parents of a worker run, with the rules of "
            "`CreateWorkerRun` (parents must not make a cycle), until its process starts (409 after). "
            "Contributors only. User worker runs cannot change (400): results may already be signed "
            "with them."
        ),
    )
    def patch(self, request, *args, **kwargs):
        return self.update(request, partial=True)

    @extend_schema(
        operation_id="UpdateWorkerRun",
        request=WorkerRunUpdateSerializer,
        responses={200: WorkerRunSerializer},
        description=(
            "Like `PartialUpdateWorkerRun`, but a field left out is reset: no model version, no "
            "configuration, no parents."
        ),
    )
    def put(self, request, *args, **kwargs):
        return self.update(request, partial=False)

    @extend_schema(
        operation_id="DestroyWorkerRun",
        responses={204: None},
        description=(
            "Remove a worker run from its process, and from the parents of the other runs, until the "
            "process starts (409 after). Contributors only. The owner of a user worker run may delete "
            "it unless results signed with it still exist (409)."
        ),
    )
    def delete(self, request, *args, **kwargs):
        run = self.get_run_to_change()
        worker_runs.worker_run_destroy(run=run)
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(tags=TAGS)
class WorkerRunConfiguration(RetrieveAPIView):
    """
    The configuration a worker runs with: the version's defaults overridden by the run's worker
    configuration, one `{key, value, secret}` per key. A secret's value is its name, never its content.
    """

    permission_classes = (IsAuthenticated,)
    serializer_class = RuntimeConfigurationSerializer

    def get_queryset(self):
        return selectors.readable_worker_runs(self.request.user).select_related("version", "configuration")

    @extend_schema(operation_id="RetrieveWorkerRunConfiguration")
    def get(self, request, *args, **kwargs):
        run = self.get_object()
        values = run.configuration.configuration if run.configuration_id else None
        return Response({"configuration": runtime_configuration(run.version.configuration, values)})


class ProcessTemplateFilterSet(django_filters.FilterSet):
    corpus = django_filters.UUIDFilter(field_name="corpus_id", help_text="Only the templates of this project.")
    name = django_filters.CharFilter(
        field_name="name", lookup_expr="icontains", help_text="Part of the template's name, in any case."
    )

    class Meta:
        model = Process
        fields = ("corpus", "name")


@extend_schema(tags=TAGS)
class ProcessTemplateList(ListAPIView):
    """Templates on the projects you can read, the newest first. Their worker runs are listed by `ListWorkerRuns`."""

    permission_classes = (IsAuthenticated,)
    serializer_class = ProcessTemplateSerializer
    filterset_class = ProcessTemplateFilterSet

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Process.objects.none()
        return (
            selectors.processes_with_level(self.request.user)
            .filter(mode=ProcessMode.Template)
            .select_related("creator")
            .with_state()
            .order_by("-created", "id")
        )

    @extend_schema(operation_id="ListProcessTemplates")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


@extend_schema(tags=TAGS)
class ProcessTemplateCreate(GenericAPIView):
    permission_classes = (IsAuthenticated,)
    serializer_class = ProcessTemplateCreateSerializer

    @extend_schema(
        operation_id="CreateProcessTemplate",
        request=ProcessTemplateCreateSerializer,
        responses={201: ProcessTemplateSerializer},
        description=(
            "Save the configuration of a workers or dataset process (any other mode is a 400) as a "
            "template on the same project: copies of its worker runs with their model versions, "
            "configurations and parents. Contributors of the process's project only."
        ),
    )
    def post(self, request, *args, **kwargs):
        process = selectors.process_for_user(request.user, kwargs["pk"], Role.CONTRIBUTOR)
        serializer = ProcessTemplateCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        template = worker_runs.template_create(
            user=request.user, process=process, name=serializer.validated_data["name"]
        )
        return Response(ProcessTemplateSerializer(template).data, status=status.HTTP_201_CREATED)


@extend_schema(tags=TAGS)
class ProcessTemplateApply(GenericAPIView):
    permission_classes = (IsAuthenticated,)
    serializer_class = ApplyProcessTemplateSerializer

    @extend_schema(
        operation_id="ApplyProcessTemplate",
        request=ApplyProcessTemplateSerializer,
        responses={200: ProcessTemplateSerializer},
        description=(
            "Replace the worker runs of a workers or dataset process that has not started (409 after) "
            "with copies of the template's, and record the template on the process. Needs guest access "
            "to the template and contributor access to the process. Refused (400, naming each) when a "
            "worker version or model version of the template is no longer available or usable, or one "
            "of its configurations is archived."
        ),
    )
    def post(self, request, *args, **kwargs):
        template = selectors.process_for_user(request.user, kwargs["pk"], Role.GUEST)
        serializer = ApplyProcessTemplateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        process_id = serializer.validated_data["process_id"]
        queryset = selectors.processes_with_level(request.user).select_related("creator")
        try:
            process = selectors.process_for_user(request.user, process_id, Role.CONTRIBUTOR, queryset=queryset)
        except NotFound:
            raise ValidationError({"process_id": [f"No process {process_id} that you can see."]}) from None
        process = worker_runs.template_apply(user=request.user, template=template, process=process)
        return Response(ProcessTemplateSerializer(process).data)
