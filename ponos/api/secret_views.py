"""
RetrieveSecret: a worker reads a secret of its configuration by name (API.md §2.7).

Secrets are for workers: any running task reads them with its `Ponos` token, and instance
administrators with their own credentials; every other user gets a 403 whatever the name, so that
the answer does not tell which names exist. The path has no trailing slash and the name may contain
`/` (clients send it `%2F`-encoded, which the server decodes before routing).
"""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, permissions, status
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from ponos.api.secret_serializers import SecretSerializer
from ponos.authentication import request_task
from ponos.models import Secret
from ponos.secret_store import SecretDecryptionError, decrypt

TAGS = ["ponos"]


class CanReadSecrets(permissions.BasePermission):
    message = "Only running tasks (with their Ponos token) and instance administrators can read secrets."

    def has_permission(self, request, view):
        if request_task(request) is not None:
            return True
        return bool(request.user and request.user.is_authenticated and request.user.is_admin)


class SecretUnreadable(exceptions.APIException):
    """The key changed or the row was altered: a server-side problem the caller cannot fix."""

    status_code = status.HTTP_500_INTERNAL_SERVER_ERROR
    default_code = "secret_unreadable"


@extend_schema(tags=TAGS)
class SecretDetails(GenericAPIView):
    serializer_class = SecretSerializer
    permission_classes = (CanReadSecrets,)
    queryset = Secret.objects.all()

    @extend_schema(
        operation_id="RetrieveSecret",
        description=(
            "A secret's decrypted content, by name. For running tasks (Ponos token) and instance administrators."
        ),
    )
    def get(self, request, name):
        secret = get_object_or_404(Secret.objects.only("id", "name", "nonce", "content"), name=name)
        try:
            content = decrypt(secret)
        except SecretDecryptionError as e:
            raise SecretUnreadable(str(e)) from None
        return Response(SecretSerializer({"id": secret.id, "name": secret.name, "content": content}).data)
