"""orjson's answers against DRF's own renderer."""

import datetime
import decimal
import json
import uuid
from collections import OrderedDict

from django.utils.translation import gettext_lazy
from rest_framework import renderers

from arkindex.api.renderers import JSONRenderer

DATA = {
    "id": uuid.UUID(int=7),
    "text": 'été ☃ "quoted" \\ back\nslash \t tab \x01',
    "numbers": [0, -3, 2**40, 0.5, 1.25, 3.0],
    "flags": [True, False, None],
    "nested": OrderedDict([("b", 1), ("a", [{"c": []}, {}])]),
    "when": datetime.datetime(2026, 12, 3, 17, 0, 1, 250, tzinfo=datetime.UTC),
    "day": datetime.date(2026, 12, 3),
    "price": decimal.Decimal("1.50"),
    "lazy": gettext_lazy("Not found."),
}


def drf(data, media_type=None):
    return renderers.JSONRenderer().render(data, media_type)


def test_the_same_bytes_as_drf():
    assert JSONRenderer().render(DATA) == drf(DATA)
    assert JSONRenderer().render([DATA] * 3) == drf([DATA] * 3)
    assert JSONRenderer().render(None) == b""


def test_numbers_in_another_notation_are_the_same_numbers():
    data = {"small": 1e-05, "large": 1e16, "negative": -2.5e-7}
    assert json.loads(JSONRenderer().render(data)) == json.loads(drf(data)) == data


def test_line_separators_are_escaped_as_drf_escapes_them():
    data = {"text": "a\u2028b\u2029c"}
    assert JSONRenderer().render(data) == drf(data) == b'{"text":"a\\u2028b\\u2029c"}'


def test_what_orjson_writes_otherwise_is_drf_s():
    for data in ({"big": 2**70}, {1: "integer key"}):
        assert JSONRenderer().render(data) == drf(data)
    indented = "application/json; indent=2"
    assert JSONRenderer().render(DATA, indented) == drf(DATA, indented)


def test_a_float_that_is_not_a_number_is_null():
    assert JSONRenderer().render({"score": float("nan")}) == b'{"score":null}'
