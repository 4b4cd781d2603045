"""
Query strings declared as `QueryParameters`: booleans as the clients send them (the paginator
writes `with_count=true`, while `requests` renders Python booleans as `True`/`False`), UUIDs,
`false` for "made by a person", choices, empty values, and one 400 naming every bad parameter.
"""

import pytest
from django.http import QueryDict
from rest_framework import serializers
from rest_framework.exceptions import ValidationError

from arkindex.api.params import (
    QueryBooleanField,
    QueryChoiceField,
    QueryParameters,
    QueryUUIDField,
    UUIDOrFalseField,
)


class Parameters(QueryParameters):
    flag = QueryBooleanField()
    default_flag = QueryBooleanField(default=True)
    id = QueryUUIDField()
    worker_run = UUIDOrFalseField()
    order = QueryChoiceField(("name", "created"), default="name")
    sources = serializers.MultipleChoiceField(choices=("a", "b"), required=False)


def parse(**query):
    params = QueryDict(mutable=True)
    for name, value in query.items():
        params.setlist(name, value if isinstance(value, list) else [value])
    return Parameters.parse(params)


@pytest.mark.parametrize(
    "value, expected",
    [("true", True), ("True", True), ("TRUE", True), ("1", True), ("false", False), ("False", False), ("0", False)],
)
def test_boolean(value, expected):
    assert parse(flag=value)["flag"] is expected


def test_empty_values_are_absent_and_defaults_apply():
    assert parse(flag="", id="", worker_run="") == {"default_flag": True, "order": "name"}


@pytest.mark.parametrize("value", ["maybe", "2", "tru", "null"])
def test_boolean_invalid(value):
    with pytest.raises(ValidationError) as excinfo:
        parse(flag=value)
    assert list(excinfo.value.detail) == ["flag"]
    assert value in str(excinfo.value.detail["flag"][0])


def test_uuid():
    assert str(parse(id="12345678-1234-5678-1234-567812345678")["id"]) == "12345678-1234-5678-1234-567812345678"
    with pytest.raises(ValidationError) as excinfo:
        parse(id="nope")
    assert excinfo.value.detail == {"id": ["'nope' is not a valid UUID."]}


def test_uuid_or_false():
    assert parse(worker_run="False")["worker_run"] is False
    assert parse(worker_run="false")["worker_run"] is False
    assert "worker_run" not in parse()
    with pytest.raises(ValidationError) as excinfo:
        parse(worker_run="nope")
    assert excinfo.value.detail == {"worker_run": ["'nope' is not a valid UUID, nor false."]}


def test_choice_names_the_choices():
    assert parse(order="created")["order"] == "created"
    with pytest.raises(ValidationError) as excinfo:
        parse(order="size")
    assert excinfo.value.detail == {"order": ["'size' is not a valid order: use one of name, created."]}


def test_every_bad_parameter_is_named():
    with pytest.raises(ValidationError) as excinfo:
        parse(flag="maybe", id="nope")
    assert set(excinfo.value.detail) == {"flag", "id"}


def test_repeated_values():
    assert set(parse(sources=["a", "b"])["sources"]) == {"a", "b"}
    assert parse(flag=["true", "false"])["flag"] is False  # the last value, as QueryDict.get


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
