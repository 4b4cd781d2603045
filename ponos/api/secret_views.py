"""
RetrieveSecret: a worker reads a secret of its configuration by name (API.md §2.7).

Secrets are for workers: a running task reads, with its `Ponos` token, the secrets its worker run
declares (`workers.configuration.declared_secrets`: the version's `secrets`, and the values of the
`secret` fields of the run's configuration), and instance administrators read any. Any other name
is a 404 for a task, whether it exists or not, and every other user gets a 403 whatever the name,
so that no answer tells which names exist. The path has no trailing slash and the name may contain
`/` (clients send it `%2F`-encoded, which the server decodes before routing).
"""

from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, permissions, status
from rest_framework.exceptions import NotFound
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from ponos.api.secret_serializers import SecretSerializer
from ponos.models import Secret
from ponos.secret_store import SecretDecryptionError, decrypt
from processes.models import WorkerRun
from users.callers import calling_task
from workers.configuration import declared_secrets

TAGS = ["ponos"]


class CanReadSecrets(permissions.BasePermission):
    message = "Only running tasks (with their Ponos token) and instance administrators can read secrets."

    def has_permission(self, request, view):
        if calling_task(request) is not None:
            return True
        return bool(request.user and request.user.is_authenticated and request.user.is_admin)


def task_secret_names(task):
    """The secrets a task may read: those its worker run declares, none for a task without a run."""
    if task.worker_run_id is None:
        return set()
    run = WorkerRun.objects.select_related("version", "configuration").get(pk=task.worker_run_id)
    return declared_secrets(run.version.configuration, run.configuration.configuration if run.configuration else None)


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
            "A secret's decrypted content, by name. For instance administrators, and for running tasks (Ponos "
            "token) the secrets their worker run declares: those its worker version lists in `secrets`, and "
            "the values of the `secret` fields of its configuration."
        ),
    )
    def get(self, request, name):
        task = calling_task(request)
        # A task gets the same answer for an undeclared secret as for one that does not exist.
        hidden = NotFound(f"Secret {name} not found" + (", or your worker run does not declare it." if task else "."))
        if task is not None and name not in task_secret_names(task):
            raise hidden
        secret = Secret.objects.only("id", "name", "nonce", "content").filter(name=name).first()
        if secret is None:
            raise hidden
        try:
            content = decrypt(secret)
        except SecretDecryptionError as e:
            raise SecretUnreadable(str(e)) from None
        return Response(SecretSerializer({"id": secret.id, "name": secret.name, "content": content}).data)
