from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import status
from rest_framework.generics import ListCreateAPIView, RetrieveUpdateAPIView, RetrieveUpdateDestroyAPIView
from rest_framework.response import Response

from arkindex.api.params import QueryCharField, QueryParameters
from users.models import Role
from workers.api.model_serializers import ModelSerializer, ModelVersionSerializer
from workers.models import ModelVersion
from workers.services.ml_models import (
    get_model,
    get_model_version,
    model_create,
    model_update,
    model_version_create,
    model_version_destroy,
    model_version_update,
    readable_models,
    visible_versions,
)

WRITE_METHODS = {"POST", "PUT", "PATCH"}


class ModelListParameters(QueryParameters):
    name = QueryCharField(help_text="Keep models whose name contains this text.")


@extend_schema(tags=["models"])
@extend_schema_view(
    get=extend_schema(
        operation_id="ListModels",
        parameters=[ModelListParameters],
    ),
    post=extend_schema(
        operation_id="CreateModel",
        description=(
            "Create a model; its creator becomes its admin. When the name is taken, the answer is a 400 with the "
            "existing model's `id` if the user may add versions to it, a 403 otherwise."
        ),
    ),
)
class ModelList(ListCreateAPIView):
    """Models the user can read, by name."""

    serializer_class = ModelSerializer

    def get_queryset(self):
        models = readable_models(self.request.user)
        if name := ModelListParameters.parse(self.request).get("name"):
            models = models.filter(name__icontains=name)
        return models.order_by("name", "id")

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        model = model_create(
            user=request.user,
            name=data["name"],
            description=data.get("description", ""),
            public=data.get("public", False),
        )
        return Response(self.get_serializer(model).data, status=status.HTTP_201_CREATED)


@extend_schema(tags=["models"])
@extend_schema_view(
    get=extend_schema(operation_id="RetrieveModel"),
    patch=extend_schema(operation_id="PartialUpdateModel", description="Rename or describe a model: admins only."),
)
class ModelDetails(RetrieveUpdateAPIView):
    """A model the user can read."""

    serializer_class = ModelSerializer
    http_method_names = ["get", "patch", "head", "options"]

    def get_object(self):
        level = Role.ADMIN if self.request.method in WRITE_METHODS else Role.GUEST
        return get_model(user=self.request.user, model_id=self.kwargs["id"], level=level, action="change it")

    def update(self, request, *args, **kwargs):
        model = self.get_object()
        serializer = self.get_serializer(model, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        model = model_update(model=model, user=request.user, data=dict(serializer.validated_data))
        return Response(self.get_serializer(model).data)


@extend_schema(tags=["models"])
@extend_schema_view(
    get=extend_schema(
        operation_id="ListModelVersions",
        description="Versions of a model, newest first. Guests see the available ones only.",
    ),
    post=extend_schema(
        operation_id="CreateModelVersion",
        description=(
            "Add a version to a model (contributor right). The version awaits its archive: PUT it to `s3_put_url` "
            "or upload it in parts with `CreateMultipartUpload`, then set its state to available."
        ),
    ),
)
class ModelVersionList(ListCreateAPIView):
    serializer_class = ModelVersionSerializer

    def get_model(self):
        if not hasattr(self, "_model"):
            level = Role.CONTRIBUTOR if self.request.method in WRITE_METHODS else Role.GUEST
            self._model = get_model(
                user=self.request.user, model_id=self.kwargs["id"], level=level, action="add versions to it"
            )
        return self._model

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return ModelVersion.objects.none()
        return visible_versions(self.get_model()).order_by("-created", "id")

    def get_serializer_context(self):
        context = super().get_serializer_context()
        if "id" in self.kwargs:
            context["level"] = self.get_model().max_level
        return context

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        version = model_version_create(model=self.get_model(), user=request.user, data=serializer.to_service_data())
        return Response(self.get_serializer(version).data, status=status.HTTP_201_CREATED)


@extend_schema(tags=["models"])
@extend_schema_view(
    get=extend_schema(operation_id="RetrieveModelVersion"),
    put=extend_schema(
        operation_id="UpdateModelVersion",
        description="Change a version (contributor right); fields left out are kept.",
    ),
    patch=extend_schema(
        operation_id="PartialUpdateModelVersion",
        description=(
            "Change a version (contributor right). Setting the state to available checks that the archive was "
            "uploaded with the size and MD5 given, and records them."
        ),
    ),
    delete=extend_schema(
        operation_id="DestroyModelVersion",
        description="Delete a version and its archive (admin right); 409 while worker runs use it.",
    ),
)
class ModelVersionDetails(RetrieveUpdateDestroyAPIView):
    serializer_class = ModelVersionSerializer

    def get_object(self):
        if not hasattr(self, "_version"):
            level = {"PUT": Role.CONTRIBUTOR, "PATCH": Role.CONTRIBUTOR, "DELETE": Role.ADMIN}.get(
                self.request.method, Role.GUEST
            )
            action = "delete its versions" if self.request.method == "DELETE" else "change its versions"
            self._version = get_model_version(
                user=self.request.user, version_id=self.kwargs["id"], level=level, action=action
            )
        return self._version

    def get_serializer_context(self):
        context = super().get_serializer_context()
        if "id" in self.kwargs:
            context["level"] = self.get_object().model.max_level
        return context

    def update(self, request, *args, **kwargs):
        version = self.get_object()
        # Every field is optional, even on PUT: the base worker sends only the values it has.
        serializer = self.get_serializer(version, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        version = model_version_update(version=version, user=request.user, data=serializer.to_service_data())
        return Response(self.get_serializer(version).data)

    def perform_destroy(self, instance):
        model_version_destroy(version=instance)
