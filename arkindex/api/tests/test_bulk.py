"""
Bulk bodies validated in one pass (`arkindex.api.bulk`) against DRF's own validation of the same
declarations: the same values for plain items, the same messages, under the same index, for the
others.
"""

import uuid

import pytest
from rest_framework import serializers

from arkindex.api.bulk import BulkItemSerializer, BulkListSerializer, compile_item_validation

ID = str(uuid.uuid4())


class Item(BulkItemSerializer):
    name = serializers.CharField(max_length=10)
    note = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False)
    count = serializers.IntegerField(min_value=0, default=1)
    score = serializers.FloatField(min_value=0, max_value=1, required=False, allow_null=True)
    kind = serializers.ChoiceField(choices=["a", "b"], default="a")
    ref = serializers.UUIDField(required=False)

    def validate_name(self, value):
        if value == "taboo":
            raise serializers.ValidationError("Not this name.")
        return value.upper()

    def validate(self, data):
        if data.get("kind") == "b" and data.get("score") is None:
            raise serializers.ValidationError({"score": ["A b needs a score."]})
        return data


def both(item_serializer, items):
    """(one pass, DRF alone): validated data or errors of a list of `items`."""
    results = []
    for list_class in (BulkListSerializer, serializers.ListSerializer):
        serializer = list_class(child=item_serializer(), data=items)
        results.append(serializer.validated_data if serializer.is_valid() else serializer.errors)
    return results


CASES = {
    "plain": [{"name": "ada", "score": 0.5, "ref": ID}, {"name": "bob", "count": 3, "kind": "b", "score": 1}],
    "defaults and nulls": [{"name": "cy", "score": None}],
    "unknown keys ignored": [{"name": "dee", "extra": 1}],
    "missing required": [{"score": 0.2}],
    "too long": [{"name": "x" * 11}],
    "blank": [{"name": "   "}],
    "blank allowed, spaces kept": [{"name": "e", "note": "  "}],
    "null not allowed": [{"name": None}],
    "out of range": [{"name": "f", "score": 2}, {"name": "g", "count": -1}],
    "bad choice": [{"name": "h", "kind": "c"}],
    "bad uuid": [{"name": "i", "ref": "nope"}],
    "uuid in another form": [{"name": "j", "ref": ID.upper().replace("-", "")}],
    "field method refuses": [{"name": "taboo"}],
    "serializer validate refuses": [{"name": "k", "kind": "b"}],
    "not an object": ["name", 12, None],
    "numbers as strings": [{"name": "l", "count": "4", "score": "0.25"}],
    "mixed": [{"name": "ok"}, {"name": ""}, {"name": "ok2", "score": "x"}],
    "texts beyond ASCII": [{"name": "été", "note": "Ærø ☃ 𝔘 " * 20}],
    "NUL in a text": [{"name": "a\x00b"}, {"name": "m", "note": "\x00"}],
    "lone surrogate": [{"name": "n", "note": "ok \ud800 ko"}, {"name": "\udfff"}],
    "at the limits": [{"name": "x" * 10, "score": 0, "count": 0}, {"name": "o", "score": 1.0}],
    "numbers just out": [{"name": "p", "score": 1.0000001}, {"name": "q", "score": -1e-9}],
}


@pytest.mark.parametrize("items", CASES.values(), ids=CASES.keys())
def test_same_as_drf(items):
    fast, drf = both(Item, items)
    assert fast == drf


def test_serializer_wide_validators_are_left_to_drf():
    class Guarded(BulkItemSerializer):
        name = serializers.CharField()

        class Meta(BulkItemSerializer.Meta):
            validators = [lambda data: None]

    assert compile_item_validation(Guarded()) is None
    assert compile_item_validation(Item()) is not None


def test_plain_items_skip_drf_and_refused_ones_reach_it(monkeypatch):
    validated = []
    original = Item.run_validation

    def counted(self, data):
        validated.append(data)
        return original(self, data)

    monkeypatch.setattr(Item, "run_validation", counted)
    serializer = BulkListSerializer(child=Item(), data=[{"name": "ada"}, {"name": ""}, {"name": "bob"}])
    assert not serializer.is_valid()
    assert validated == [{"name": ""}]
