import logging

import django_rq
from django.db import connection
from drf_spectacular.renderers import OpenApiJsonRenderer, OpenApiJsonRenderer2, OpenApiYamlRenderer
from drf_spectacular.utils import extend_schema, inline_serializer
from drf_spectacular.views import SpectacularAPIView
from rest_framework import permissions, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from arkindex.rq import DEFAULT_QUEUE

logger = logging.getLogger(__name__)


class HealthCheck(APIView):
    """Whether the API can reach its database and Redis; 503 naming the failing service otherwise."""

    permission_classes = (permissions.AllowAny,)
    authentication_classes = ()

    @extend_schema(
        operation_id="HealthCheck",
        responses={
            200: inline_serializer("Health", {"database": serializers.CharField(), "redis": serializers.CharField()})
        },
        tags=["arkindex"],
    )
    def get(self, request):
        checks = {}
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
            checks["database"] = "ok"
        except Exception as e:
            logger.warning("Health check: database unreachable: %s", e)
            checks["database"] = "unreachable"
        try:
            django_rq.get_connection(DEFAULT_QUEUE).ping()
            checks["redis"] = "ok"
        except Exception as e:
            logger.warning("Health check: Redis unreachable: %s", e)
            checks["redis"] = "unreachable"
        healthy = all(value == "ok" for value in checks.values())
        return Response(checks, status=status.HTTP_200_OK if healthy else status.HTTP_503_SERVICE_UNAVAILABLE)


class OpenApiJsonAliasRenderer(OpenApiJsonRenderer2):
    """`?format=openapi-json`, as some client tests ask for the schema."""

    format = "openapi-json"


class OpenAPIView(SpectacularAPIView):
    renderer_classes = [OpenApiJsonRenderer2, OpenApiJsonRenderer, OpenApiJsonAliasRenderer, OpenApiYamlRenderer]
