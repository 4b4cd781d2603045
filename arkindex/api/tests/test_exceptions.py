"""
Error bodies, as the clients tell them apart (API.md §1.7).

The client raises a typed exception only for the exact "standard" shape `{"type", "errors": [{"attr",
"code", "detail"}]}` (409 + `existing_id` → `ArkindexConflictError`, `validation_error` →
`ArkindexValidationError`, 5xx `server_error` → `ArkindexServerError`); many call sites instead read
legacy DRF bodies (`{"field": [...]}`, `{"non_field_errors": [...]}`). Every error is a JSON
object with a JSON content type, since the client crashes on undecodable 4xx bodies.
"""

import logging

import pytest

from arkindex.api.tests.views import EXISTING_ID

pytestmark = pytest.mark.urls("arkindex.api.tests.urls")


def get_error(client, kind):
    response = client.get(f"/api/v1/tests/errors/{kind}/")
    assert response["Content-Type"] == "application/json"
    return response.status_code, response.json()


def is_standard(body):
    """The client's own test (`ArkindexClient._parse_error`) for a standard error body."""
    return (
        isinstance(body, dict)
        and isinstance(body.get("type"), str)
        and isinstance(body.get("errors"), list)
        and all(
            isinstance(error, dict)
            and "attr" in error
            and (
                error["attr"] is None
                or (isinstance(error["attr"], list) and all(isinstance(attr, str | int) for attr in error["attr"]))
            )
            and isinstance(error.get("code"), str)
            and isinstance(error.get("detail"), str)
            for error in body["errors"]
        )
    )


def test_legacy_field_error(anonymous_client):
    assert get_error(anonymous_client, "legacy_field") == (400, {"name": ["This field is required."]})


def test_legacy_non_field_error(anonymous_client):
    """CreateClassification duplicates are recognised by this exact body."""
    assert get_error(anonymous_client, "non_field") == (
        400,
        {"non_field_errors": ["The fields element, worker_run, ml_class must make a unique set."]},
    )


def test_conflict_with_existing_id(anonymous_client):
    status, body = get_error(anonymous_client, "conflict_existing")
    assert status == 409
    assert body == {
        "type": "client_error",
        "errors": [{"attr": None, "code": "existing", "detail": "An image with this URL already exists."}],
        "existing_id": str(EXISTING_ID),
    }
    assert is_standard(body)


def test_conflict_without_existing_id(anonymous_client):
    """Without `existing_id` the client raises `ArkindexClientError`, not a conflict error."""
    status, body = get_error(anonymous_client, "conflict")
    assert status == 409
    assert body == {
        "type": "client_error",
        "errors": [{"attr": None, "code": "forbidden_transition", "detail": "This transition is not allowed."}],
    }
    assert is_standard(body)


def test_standard_validation_error(anonymous_client):
    """StartExport's callers read `errors[0].code` (`running_export`, `existing_export`)."""
    status, body = get_error(anonymous_client, "standard_validation")
    assert status == 400
    assert body == {
        "type": "validation_error",
        "errors": [{"attr": None, "code": "running_export", "detail": "An export is already running."}],
    }
    assert is_standard(body)


def test_standard_validation_error_attr(anonymous_client):
    status, body = get_error(anonymous_client, "standard_validation_attr")
    assert status == 400
    assert body["errors"] == [{"attr": ["set"], "code": "invalid", "detail": "Unknown set."}]
    assert is_standard(body)


def test_django_validation_error(anonymous_client):
    """A model's `full_clean()` or a service's ValidationError is a 400, never a 500."""
    assert get_error(anonymous_client, "django_validation") == (
        400,
        {"non_field_errors": ["This polygon is not closed."]},
    )
    assert get_error(anonymous_client, "django_validation_dict") == (400, {"polygon": ["This polygon is not closed."]})


@pytest.mark.parametrize("kind", ["protected", "restricted"])
def test_protected_error_is_conflict(anonymous_client, kind):
    status, body = get_error(anonymous_client, kind)
    assert status == 409
    assert body["type"] == "client_error"
    assert [error["code"] for error in body["errors"]] == ["protected"]
    assert "existing_id" not in body
    assert is_standard(body)


@pytest.mark.parametrize(
    "kind, status",
    [("not_found", 404), ("permission_denied", 403)],
)
def test_drf_errors_keep_detail(anonymous_client, kind, status):
    """401, 403 and 404 keep DRF's `{"detail": …}`: the CLI prints it."""
    code, body = get_error(anonymous_client, kind)
    assert code == status
    assert list(body) == ["detail"]


def test_unhandled_exception(anonymous_client, caplog):
    """A bug is a JSON 500 the client recognises (and retries), and it is logged with its traceback."""
    with caplog.at_level(logging.ERROR, logger="arkindex.api.exceptions"):
        status, body = get_error(anonymous_client, "unhandled")
    assert status == 500
    assert body == {
        "type": "server_error",
        "errors": [{"attr": None, "code": "error", "detail": "A server error occurred."}],
    }
    assert is_standard(body)
    assert "Something nobody expected" not in str(body)
    records = [record for record in caplog.records if record.name == "arkindex.api.exceptions"]
    assert records and records[0].exc_info is not None


def test_real_urls_still_routed(anonymous_client):
    """The test URLs include the real API: tests marked with them can still call real endpoints."""
    response = anonymous_client.get("/api/v1/user/")
    assert response.status_code in (401, 403)
    assert "detail" in response.json()
