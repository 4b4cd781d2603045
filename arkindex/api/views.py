import logging
import threading

import django_rq
from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.views import defaults
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
    """
    The schema every client loads when it starts. It only changes with the code, so each server
    process builds it once, under a lock: drf-spectacular's generator is not safe to run in several
    threads at once (a worker fleet starting together would get errors), and building it costs a second.
    """

    renderer_classes = [OpenApiJsonRenderer2, OpenApiJsonRenderer, OpenApiJsonAliasRenderer, OpenApiYamlRenderer]
    _schemas = {}
    _lock = threading.Lock()

    def _get_schema_response(self, request):
        version = self.api_version or request.version or self._get_version_parameter(request)
        key = (version, self.urlconf or getattr(request, "urlconf", None) or settings.ROOT_URLCONF)
        with self._lock:
            if key not in self._schemas:
                generator = self.generator_class(urlconf=self.urlconf, api_version=version, patterns=self.patterns)
                self._schemas[key] = generator.get_schema(request=request, public=self.serve_public)
        return Response(
            data=self._schemas[key],
            headers={"Content-Disposition": f'inline; filename="{self._get_filename(request, version)}"'},
        )


def not_found(request, exception=None):
    """A URL that names no operation: under the API, a 404 in the API's error shape, as its clients expect."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": f"No API operation at {request.path}: see /api/v1/docs/."}, status=404)
    return defaults.page_not_found(request, exception)


def server_error(request):
    if request.path.startswith("/api/"):
        return JsonResponse(
            {"type": "server_error", "errors": [{"attr": None, "code": "error", "detail": "A server error occurred."}]},
            status=500,
        )
    return defaults.server_error(request)
