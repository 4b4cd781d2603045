"""
Errors in the formats the Arkindex clients recognise.

Most errors keep Django REST framework's shapes (`{"field": ["message"]}` for a 400,
`{"detail": "…"}` for 401, 403 and 404): many client call sites read those keys. Conflicts and a
few validations use the "standard" shape `{"type", "errors": [{"attr", "code", "detail"}]}` that
the client turns into typed exceptions, with `existing_id` when the conflict names an object.

A database or Redis that cannot be reached is a 503 in the standard shape, which the clients retry,
rather than a 500: nothing about the request was wrong.
"""

import logging

from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, InterfaceError, OperationalError
from django.db.models import ProtectedError, RestrictedError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.views import exception_handler as drf_exception_handler

from arkindex.api.parsers import body_too_large

logger = logging.getLogger(__name__)


def standard_body(error_type, errors):
    return {
        "type": error_type,
        "errors": [
            {"attr": error.get("attr"), "code": error.get("code", "error"), "detail": str(error["detail"])}
            for error in errors
        ],
    }


class Conflict(exceptions.APIException):
    """A request that the current state of an object forbids (409)."""

    status_code = status.HTTP_409_CONFLICT
    default_detail = "This action conflicts with the current state of the object."
    default_code = "conflict"

    def __init__(self, detail=None, *, code=None, existing_id=None):
        super().__init__(detail, code)
        self.existing_id = existing_id

    def get_body(self):
        body = standard_body("client_error", [{"attr": None, "code": self.detail.code, "detail": self.detail}])
        if self.existing_id is not None:
            body["existing_id"] = str(self.existing_id)
        return body


class StandardValidationError(exceptions.APIException):
    """
    A 400 in the standard shape, for the operations whose callers read error codes
    (for example `StartExport`'s `running_export`).
    """

    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "invalid"

    def __init__(self, detail, *, code="invalid", attr=None):
        super().__init__(detail, code)
        self.errors = [{"attr": attr, "code": code, "detail": detail}]

    def get_body(self):
        return standard_body("validation_error", self.errors)


class NotAuthenticatedWith(exceptions.NotAuthenticated):
    """
    A 401 whose body carries more than the error, as is (DRF would turn every value into a string):
    for instance the instance features that `arkindex login` reads before anyone logged in. The
    standard shape makes the client raise `ArkindexClientError`, which is what the CLI catches;
    `detail` stays for readers of DRF's shape.
    """

    def __init__(self, **extra):
        super().__init__()
        self.extra = extra

    def get_body(self):
        error = {"attr": None, "code": self.detail.code, "detail": self.detail}
        return {**standard_body("client_error", [error]), "detail": str(self.detail), **self.extra}


# PostgreSQL's codes of a foreign key and of a unique violation.
INTEGRITY_CONFLICTS = {
    "23503": "An object this request refers to was deleted while it ran: check that it still exists.",
    "23505": "An object like this one was created at the same time by another request: look for it.",
}


def unavailable_service(exc):
    """Which service an error says is unreachable ("database", "cache"), or None."""
    if isinstance(exc, OperationalError | InterfaceError):
        return "database"
    if isinstance(exc, RedisConnectionError | RedisTimeoutError):
        return "cache"
    return None


def exception_handler(exc, context):
    if isinstance(exc, RequestDataTooBig):
        exc = body_too_large(context["request"].META.get("CONTENT_LENGTH", "more than allowed"))
    elif isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(as_serializer_error(exc))
    elif isinstance(exc, IntegrityError) and getattr(exc.__cause__, "pgcode", None) in INTEGRITY_CONFLICTS:
        # What a service did not foresee in a race: an object deleted, or created, by a concurrent request.
        logger.warning("Integrity conflict on %s: %s", context["request"].path, exc)
        exc = Conflict(INTEGRITY_CONFLICTS[exc.__cause__.pgcode], code="concurrent_change")
    elif isinstance(exc, ProtectedError | RestrictedError):
        exc = Conflict(
            "This object is still used by other objects and cannot be deleted; archive it instead.",
            code="protected",
        )

    if isinstance(exc, Conflict | StandardValidationError | NotAuthenticatedWith):
        # DRF's view set `auth_header` on authentication errors: the header a client answers with.
        auth_header = getattr(exc, "auth_header", None)
        headers = {"WWW-Authenticate": auth_header} if auth_header else None
        return Response(exc.get_body(), status=exc.status_code, headers=headers)

    unavailable = unavailable_service(exc)
    if unavailable is not None:
        logger.error("%s unavailable on %s: %s", unavailable, context["request"].path, exc)
        return Response(
            standard_body(
                "server_error",
                [
                    {
                        "code": "service_unavailable",
                        "detail": f"The {unavailable} is unavailable: try again in a moment.",
                    }
                ],
            ),
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": "10"},
        )

    response = drf_exception_handler(exc, context)
    if response is not None:
        return response

    logger.exception("Unhandled error on %s", context["request"].path if context.get("request") else "?")
    return Response(
        standard_body("server_error", [{"code": "error", "detail": "A server error occurred."}]),
        status=status.HTTP_500_INTERNAL_SERVER_ERROR,
    )
