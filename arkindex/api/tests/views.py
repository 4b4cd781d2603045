"""
Test-only views exercising the API plumbing (pagination, query parsing, error formats, schema
generation) without depending on any app's endpoints. Routed by `arkindex.api.tests.urls`, under
`/api/v1/tests/` so that the schema rules of the real API (absolute `/api/v1/` paths) hold here too.
"""

import uuid

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import DecimalValidator, RegexValidator
from django.db.models import ProtectedError, RestrictedError
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, permissions, serializers
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from arkindex.api.exceptions import Conflict, StandardValidationError
from arkindex.api.pagination import CountCursorPagination, PageNumberPagination
from arkindex.api.params import QueryBooleanField, QueryParameters

# A fixed ID so that tests can assert the exact `existing_id` of a conflict.
EXISTING_ID = uuid.UUID("12345678-1234-5678-1234-567812345678")


class OpenView:
    """Anonymous access: these tests are about response shapes, not rights."""

    permission_classes = (permissions.AllowAny,)
    authentication_classes = ()


class UserItemSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    email = serializers.EmailField()


class PageNumberList(OpenView, ListAPIView):
    serializer_class = UserItemSerializer
    pagination_class = PageNumberPagination

    def get_queryset(self):
        return get_user_model().objects.order_by("id")

    @extend_schema(operation_id="ListTestPageNumber")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class CursorItemSerializer(UserItemSerializer):
    """A serializer of its own, so that the two paginated response components do not collide."""


class CursorList(PageNumberList):
    serializer_class = CursorItemSerializer
    pagination_class = CountCursorPagination

    @extend_schema(operation_id="ListTestCursor")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class UnpaginatedList(PageNumberList):
    pagination_class = None

    @extend_schema(operation_id="ListTestUnpaginated")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class FlagParameters(QueryParameters):
    flag = QueryBooleanField()


class BoolParameter(OpenView, APIView):
    @extend_schema(
        operation_id="RetrieveTestBool",
        responses={200: dict},
        parameters=[
            FlagParameters,
            # What drf-spectacular emits for a decimal filter: OpenAPI 3.0 boolean exclusive bounds
            # directly in a parameter's schema, where typesystem validates them strictly.
            OpenApiParameter(
                "score",
                {"type": "number", "minimum": -100, "exclusiveMinimum": True, "maximum": 100, "exclusiveMaximum": True},
            ),
            # A pattern valid in ECMAScript but not for Python's `re`, which typesystem compiles.
            OpenApiParameter("name", {"type": "string", "pattern": "^(?<word>\\w+)$"}),
        ],
    )
    def get(self, request):
        return Response({"flag": FlagParameters.parse(request).get("flag")})


class NonFieldSerializer(serializers.Serializer):
    name = serializers.CharField()

    def validate(self, data):
        raise serializers.ValidationError("The fields element, worker_run, ml_class must make a unique set.")


def raise_error(kind):
    """Raise the error named `kind`, as a view or a service would."""
    if kind == "legacy_field":
        raise exceptions.ValidationError({"name": ["This field is required."]})
    if kind == "non_field":
        NonFieldSerializer(data={"name": "a"}).is_valid(raise_exception=True)
    if kind == "conflict":
        raise Conflict("This transition is not allowed.", code="forbidden_transition")
    if kind == "conflict_existing":
        raise Conflict("An image with this URL already exists.", code="existing", existing_id=EXISTING_ID)
    if kind == "standard_validation":
        raise StandardValidationError("An export is already running.", code="running_export")
    if kind == "standard_validation_attr":
        raise StandardValidationError("Unknown set.", code="invalid", attr=["set"])
    if kind == "django_validation":
        raise DjangoValidationError("This polygon is not closed.")
    if kind == "django_validation_dict":
        raise DjangoValidationError({"polygon": ["This polygon is not closed."]})
    if kind == "protected":
        raise ProtectedError("Cannot delete: referenced.", set())
    if kind == "restricted":
        raise RestrictedError("Cannot delete: restricted.", set())
    if kind == "not_found":
        raise exceptions.NotFound()
    if kind == "permission_denied":
        raise exceptions.PermissionDenied()
    if kind == "unhandled":
        raise RuntimeError("Something nobody expected")
    raise AssertionError(f"Unknown error kind {kind!r}")


class ErrorView(OpenView, APIView):
    @extend_schema(operation_id="RetrieveTestError", responses={200: dict})
    def get(self, request, kind):
        raise_error(kind)


class SchemaFeaturesSerializer(serializers.Serializer):
    """
    Fields for which drf-spectacular emits constructs typesystem 0.4.1 may choke on: boolean
    exclusive bounds (decimals as numbers), nullable and blank choices (`oneOf` of enum
    components), formats, patterns, read-only and nullable fields, free JSON.
    """

    confidence = serializers.DecimalField(max_digits=4, decimal_places=3, coerce_to_string=False)
    ratio = serializers.DecimalField(max_digits=5, decimal_places=2)
    # Decimal bounds on a number: OpenAPI 3.0 boolean `exclusiveMaximum`, which typesystem refuses.
    score = serializers.FloatField(validators=[DecimalValidator(4, 2)], required=False)
    state = serializers.ChoiceField(choices=["queued", "started"], allow_null=True, allow_blank=True)
    empty_choice = serializers.ChoiceField(choices=[], required=False)
    url = serializers.URLField(allow_null=True)
    email = serializers.EmailField(allow_blank=True, required=False)
    slug = serializers.CharField(validators=[RegexValidator(r"^[a-z0-9_-]+\Z")], required=False)
    configuration = serializers.JSONField(required=False)
    polygon = serializers.ListField(
        child=serializers.ListField(child=serializers.IntegerField(min_value=0), min_length=2, max_length=2),
        allow_null=True,
        min_length=3,
    )
    image = serializers.UUIDField(allow_null=True)
    created = serializers.DateTimeField(read_only=True)
    nested = UserItemSerializer(read_only=True, allow_null=True)


class SchemaFeatures(OpenView, APIView):
    @extend_schema(
        operation_id="CreateTestSchemaFeatures",
        request=SchemaFeaturesSerializer,
        responses={201: SchemaFeaturesSerializer},
    )
    def post(self, request, pk):
        serializer = SchemaFeaturesSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return Response(serializer.data, status=201)
