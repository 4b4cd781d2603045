"""
API of workers, worker versions and worker configurations.

Access follows the worker's rights: guest (or a public worker) to see it, its versions and its
configurations; contributor to add versions and edit the worker or its versions; admin to manage
its configurations. A worker the user cannot see answers 404; one they see without the level an
action needs answers 403. Instance administrators have every right.

Versions and configurations are reached by their own ID as well, so their worker's level is
computed in the same query as the object, by a subquery over the rights.
"""

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import exceptions, serializers, status
from rest_framework.generics import GenericAPIView, ListAPIView
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error

from arkindex.api.exceptions import StandardValidationError
from users.models import Role
from users.rights import get_max_level
from workers import services
from workers.api.filters import WorkerConfigurationFilterSet, WorkerFilterSet, WorkerVersionFilterSet
from workers.api.serializers import (
    WorkerConfigurationCreateSerializer,
    WorkerConfigurationSerializer,
    WorkerConfigurationUpdateSerializer,
    WorkerCreateSerializer,
    WorkerSerializer,
    WorkerTypeSerializer,
    WorkerUpdateSerializer,
    WorkerVersionCreateSerializer,
    WorkerVersionImportSerializer,
    WorkerVersionSerializer,
    WorkerVersionUpdateSerializer,
)
from workers.models import WorkerConfiguration, WorkerVersion
from workers.selectors import (
    get_worker,
    get_worker_configuration,
    get_worker_version,
    readable_worker_types,
    readable_workers,
)

TAGS = ["workers"]


@extend_schema(tags=TAGS)
class WorkerTypeList(ListAPIView):
    """
    The types of the workers the user can see, by slug. A type is free text: the first worker that
    names one creates it.
    """

    serializer_class = WorkerTypeSerializer

    def get_queryset(self):
        return readable_worker_types(self.request.user)

    @extend_schema(operation_id="ListWorkerTypes")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


@extend_schema(tags=TAGS)
class WorkerList(ListAPIView):
    """
    Workers the user can see: their own rights, their groups' rights, and public workers.
    Instance administrators see every worker.
    """

    serializer_class = WorkerSerializer
    filterset_class = WorkerFilterSet

    def get_queryset(self):
        return readable_workers(self.request.user).order_by("name", "id")

    @extend_schema(operation_id="ListWorkers")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        operation_id="CreateWorker",
        request=WorkerCreateSerializer,
        responses={201: WorkerSerializer, 200: WorkerSerializer},
        description=(
            "Create a worker; its creator gets the admin right on it. Without `repository_url` the worker "
            "is local (used from scripts or to sign results made outside a process). With a "
            "`repository_url`, an existing worker of that repository with the same slug is returned "
            "unchanged (200) instead of a new one (201)."
        ),
    )
    def post(self, request, *args, **kwargs):
        serializer = WorkerCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        worker, created = services.worker_create(user=request.user, **serializer.validated_data)
        if not created and get_max_level(request.user, worker) < Role.GUEST:
            raise exceptions.PermissionDenied(
                "A worker with this slug already exists for this repository and you have no access to it: "
                "ask one of its administrators for access."
            )
        return Response(
            WorkerSerializer(worker).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK
        )


@extend_schema(tags=TAGS)
class WorkerDetail(GenericAPIView):
    serializer_class = WorkerSerializer

    @extend_schema(operation_id="RetrieveWorker", description="A worker the user can see.")
    def get(self, request, pk):
        worker = get_worker(request.user, pk, Role.GUEST, "see it")
        return Response(WorkerSerializer(worker).data)

    @extend_schema(
        operation_id="PartialUpdateWorker",
        request=WorkerUpdateSerializer,
        responses={200: WorkerSerializer},
        description="Change a worker's name, type or description. Needs contributor access to the worker.",
    )
    def patch(self, request, pk):
        worker = get_worker(request.user, pk, Role.CONTRIBUTOR, "update it")
        serializer = WorkerUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        worker = services.worker_update(worker=worker, **serializer.validated_data)
        return Response(WorkerSerializer(worker).data)


@extend_schema(tags=TAGS)
class WorkerVersionList(ListAPIView):
    """Versions of a worker the user can see, the latest first."""

    serializer_class = WorkerVersionSerializer
    filterset_class = WorkerVersionFilterSet

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return WorkerVersion.objects.none()
        worker = get_worker(self.request.user, self.kwargs["pk"], Role.GUEST, "see its versions")
        versions = WorkerVersion.objects.filter(worker=worker).select_related("worker__type")
        return versions.order_by("-version", "-created")

    @extend_schema(operation_id="ListWorkerVersions")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        operation_id="CreateWorkerVersion",
        request=WorkerVersionCreateSerializer,
        responses={201: WorkerVersionSerializer},
        description=(
            "Add a version to a worker; needs contributor access. Every field may be left out: a version "
            "without Docker image is what signs results made outside a process. The version is "
            "`available` at once unless `state` says otherwise. 409 with `existing_id` when the worker "
            "already has a version of this `revision_url`."
        ),
    )
    def post(self, request, pk):
        worker = get_worker(request.user, pk, Role.CONTRIBUTOR, "add versions to it")
        serializer = WorkerVersionCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        version = services.worker_version_create(worker=worker, **serializer.validated_data)
        return Response(WorkerVersionSerializer(version).data, status=status.HTTP_201_CREATED)


def standard_validation_error(detail):
    """A 400 in the standard shape (`type`, `errors`), which `arkindex worker import` reads."""
    errors = []
    for attr, messages in detail.items():
        for message in messages if isinstance(messages, list) else [messages]:
            errors.append(
                {
                    "attr": None if attr == "non_field_errors" else attr,
                    "code": getattr(message, "code", None) or "invalid",
                    "detail": str(message),
                }
            )
    error = StandardValidationError(errors[0]["detail"], code=errors[0]["code"], attr=errors[0]["attr"])
    error.errors = errors
    return error


@extend_schema(tags=TAGS)
class WorkerVersionImport(GenericAPIView):
    serializer_class = WorkerVersionImportSerializer

    @extend_schema(
        operation_id="ImportWorkerVersion",
        request=WorkerVersionImportSerializer,
        responses={201: WorkerVersionSerializer},
        description=(
            "Add a version described by a worker definition YAML (`arkindex/<slug>.yml`, as `arkindex worker "
            "import` sends it), validated with the same rules as the CLI: an unknown key is an "
            "`Unexpected element`. Needs contributor access. Errors come in the standard shape; 409 with "
            "`existing_id` when the worker already has a version of this `revision_url`."
        ),
    )
    def post(self, request, pk):
        worker = get_worker(request.user, pk, Role.CONTRIBUTOR, "add versions to it")
        serializer = WorkerVersionImportSerializer(data=request.data)
        try:
            serializer.is_valid(raise_exception=True)
            data = serializer.validated_data
            version = services.worker_version_import(
                worker=worker,
                definition_text=data["yaml"],
                revision_url=data.get("revision_url"),
                docker_image_iid=data.get("docker_image_iid"),
                branch=data.get("branch"),
                tag=data.get("tag"),
            )
        except serializers.ValidationError as e:
            raise standard_validation_error(e.detail) from None
        except DjangoValidationError as e:
            raise standard_validation_error(as_serializer_error(e)) from None
        return Response(WorkerVersionSerializer(version).data, status=status.HTTP_201_CREATED)


@extend_schema(tags=TAGS)
class WorkerVersionDetail(GenericAPIView):
    serializer_class = WorkerVersionSerializer

    def get_version(self, required, action):
        return get_worker_version(self.request.user, self.kwargs["pk"], required, action)

    @extend_schema(operation_id="RetrieveWorkerVersion", description="A version of a worker the user can see.")
    def get(self, request, pk):
        return Response(WorkerVersionSerializer(self.get_version(Role.GUEST, "see it")).data)

    @extend_schema(
        operation_id="PartialUpdateWorkerVersion",
        request=WorkerVersionUpdateSerializer,
        responses={200: WorkerVersionSerializer},
        description=(
            "Change a version's tag, branch, state, GPU or model usage, or its Docker image while it is not "
            "available with one. Needs contributor access to the worker. The configuration never changes: "
            "create a new version instead."
        ),
    )
    def patch(self, request, pk):
        version = self.get_version(Role.CONTRIBUTOR, "update its versions")
        serializer = WorkerVersionUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        version = services.worker_version_update(version=version, **serializer.validated_data)
        return Response(WorkerVersionSerializer(version).data)

    @extend_schema(
        operation_id="DestroyWorkerVersion",
        request=None,
        responses={204: None},
        description=(
            "Delete a version that no worker run uses; needs admin access to the worker. A version used by a "
            "worker run or its results answers 409: it stays, so that results keep their provenance."
        ),
    )
    def delete(self, request, pk):
        self.get_version(Role.ADMIN, "delete its versions").delete()
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(tags=TAGS)
class WorkerConfigurationList(ListAPIView):
    """Configurations of a worker the user can see, by name."""

    serializer_class = WorkerConfigurationSerializer
    filterset_class = WorkerConfigurationFilterSet

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return WorkerConfiguration.objects.none()
        worker = get_worker(self.request.user, self.kwargs["pk"], Role.GUEST, "see its configurations")
        return WorkerConfiguration.objects.filter(worker=worker).order_by("name", "id")

    @extend_schema(operation_id="ListWorkerConfigurations")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        operation_id="CreateWorkerConfiguration",
        request=WorkerConfigurationCreateSerializer,
        responses={201: WorkerConfigurationSerializer},
        description=(
            "Save named values for a worker's configuration fields; needs admin access to the worker. The "
            "values are checked against the fields of `worker_version` (by default the latest available "
            "version): known keys, types, choices, required fields. Refused when they equal the version's "
            "defaults or another configuration of this worker, whatever the key order."
        ),
    )
    def post(self, request, pk):
        worker = get_worker(request.user, pk, Role.ADMIN, "create configurations")
        serializer = WorkerConfigurationCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        version = None
        if data.get("worker_version"):
            version = WorkerVersion.objects.filter(pk=data["worker_version"]).first()
            if version is None:
                raise exceptions.ValidationError({"worker_version": ["No worker version has this ID."]})
        worker_configuration = services.worker_configuration_create(
            worker=worker, name=data["name"], values=data["configuration"], version=version
        )
        return Response(WorkerConfigurationSerializer(worker_configuration).data, status=status.HTTP_201_CREATED)


@extend_schema_view(
    put=extend_schema(
        operation_id="UpdateWorkerConfiguration",
        request=WorkerConfigurationUpdateSerializer,
        responses={200: WorkerConfigurationSerializer},
    ),
    patch=extend_schema(
        operation_id="PartialUpdateWorkerConfiguration",
        request=WorkerConfigurationUpdateSerializer,
        responses={200: WorkerConfigurationSerializer},
    ),
)
@extend_schema(tags=TAGS)
class WorkerConfigurationDetail(GenericAPIView):
    """
    A configuration of a worker the user can see. Renaming or archiving one needs admin access to
    the worker; un-archiving is for instance administrators only. Values never change: create
    another configuration instead.
    """

    serializer_class = WorkerConfigurationSerializer

    def get_configuration(self, required, action):
        return get_worker_configuration(self.request.user, self.kwargs["pk"], required, action)

    @extend_schema(operation_id="RetrieveWorkerConfiguration")
    def get(self, request, pk):
        return Response(WorkerConfigurationSerializer(self.get_configuration(Role.GUEST, "see it")).data)

    def update(self, request, partial):
        worker_configuration = self.get_configuration(Role.ADMIN, "manage its configurations")
        serializer = WorkerConfigurationUpdateSerializer(data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        worker_configuration = services.worker_configuration_update(
            worker_configuration=worker_configuration, user=request.user, **serializer.validated_data
        )
        return Response(WorkerConfigurationSerializer(worker_configuration).data)

    def put(self, request, pk):
        return self.update(request, partial=False)

    def patch(self, request, pk):
        return self.update(request, partial=True)

    @extend_schema(
        operation_id="DestroyWorkerConfiguration",
        request=None,
        responses={204: None},
        description=(
            "Delete a configuration (admins of the worker). Refused (409) while results signed by its worker runs "
            "exist, and while a process that has not ended, or a template, uses it: archive it instead, or delete "
            "those results or remove it from those processes first. The worker runs of ended processes that used "
            "it stay, for their history: they keep their summary, which names the configuration, and no longer "
            "link to it (`configuration` becomes null)."
        ),
    )
    def delete(self, request, pk):
        worker_configuration = self.get_configuration(Role.ADMIN, "delete its configurations")
        services.worker_configuration_destroy(worker_configuration=worker_configuration)
        return Response(status=status.HTTP_204_NO_CONTENT)
