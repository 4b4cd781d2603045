"""
Query-string booleans, as the clients send them: the paginator writes `with_count=true`, while
`requests` renders Python booleans passed to `client.request()` as `True`/`False`.
"""

import pytest
from rest_framework.exceptions import ValidationError

from arkindex.api.params import parse_bool, parse_uuid, parse_uuid_or_false


@pytest.mark.parametrize(
    "value, expected",
    [("true", True), ("True", True), ("TRUE", True), ("1", True), ("false", False), ("False", False), ("0", False)],
)
def test_parse_bool(value, expected):
    assert parse_bool(value, field="flag") is expected


@pytest.mark.parametrize("value", [None, ""])
def test_parse_bool_default(value):
    assert parse_bool(value, field="flag") is None
    assert parse_bool(value, field="flag", default=True) is True


@pytest.mark.parametrize("value", ["maybe", "2", "tru", "null"])
def test_parse_bool_invalid(value):
    with pytest.raises(ValidationError) as excinfo:
        parse_bool(value, field="flag")
    assert list(excinfo.value.detail) == ["flag"]
    assert value in str(excinfo.value.detail["flag"][0])


def test_parse_uuid():
    assert str(parse_uuid("12345678-1234-5678-1234-567812345678", field="id")) == (
        "12345678-1234-5678-1234-567812345678"
    )
    assert parse_uuid("", field="id") is None
    with pytest.raises(ValidationError) as excinfo:
        parse_uuid("nope", field="id")
    assert list(excinfo.value.detail) == ["id"]


def test_parse_uuid_or_false():
    assert parse_uuid_or_false("False", field="worker_run") is False
    assert parse_uuid_or_false("false", field="worker_run") is False
    assert parse_uuid_or_false(None, field="worker_run") is None
    with pytest.raises(ValidationError):
        parse_uuid_or_false("nope", field="worker_run")


@pytest.mark.urls("arkindex.api.tests.urls")
@pytest.mark.parametrize("value, expected", [("true", True), ("True", True), ("False", False), ("0", False)])
def test_bool_query_parameter(anonymous_client, value, expected):
    response = anonymous_client.get("/api/v1/tests/bool/", {"flag": value})
    assert response.status_code == 200
    assert response.json() == {"flag": expected}


@pytest.mark.urls("arkindex.api.tests.urls")
def test_bool_query_parameter_invalid(anonymous_client):
    """A 400 naming the parameter, in the legacy field format, as for a body field."""
    response = anonymous_client.get("/api/v1/tests/bool/", {"flag": "maybe"})
    assert response.status_code == 400
    assert response.json() == {"flag": ["'maybe' is not a boolean: use true or false."]}
