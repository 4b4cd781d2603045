"""The bulk bodies of the results' operations validated in one pass, against DRF's own validation."""

import uuid

import pytest
from rest_framework import serializers

from arkindex.api.bulk import BulkListSerializer
from documents.api.result_serializers import (
    BulkClassificationItemSerializer,
    BulkTranscriptionItemSerializer,
    ElementTranscriptionItemSerializer,
    MetaDataItemSerializer,
    TranscriptionEntityItemSerializer,
)
from documents.api.serializers import BulkElementSerializer

ID = str(uuid.uuid4())


def validated(list_class, item_serializer, items):
    serializer = list_class(child=item_serializer(), data=items)
    return serializer.validated_data if serializer.is_valid() else serializer.errors


CASES = [
    (BulkTranscriptionItemSerializer, [{"element_id": ID, "text": "a line", "confidence": 0.5}]),
    (BulkTranscriptionItemSerializer, [{"element_id": ID, "text": " kept spaces "}, {"element_id": ID, "text": " "}]),
    (BulkTranscriptionItemSerializer, [{"element_id": ID, "text": "x", "orientation": "sideways"}]),
    (BulkClassificationItemSerializer, [{"ml_class": "dog", "confidence": 0.9}, {"ml_class": "", "confidence": 2}]),
    (
        ElementTranscriptionItemSerializer,
        [{"polygon": [[0, 0], [0, 10], [10, 10]], "text": "t"}, {"polygon": [[0, 0], [1]], "text": "t"}],
    ),
    (BulkElementSerializer, [{"name": "1", "type": "line", "polygon": [[0, 0], [5, 0], [5, 5], [0, 0]]}]),
    (BulkElementSerializer, [{"name": "2", "type": "not a slug!", "polygon": [[0, 0], [5, True], [5, 5]]}]),
    (BulkElementSerializer, [{"name": "3", "type": "line", "polygon": [[0, 0], [2**31, 0], [5, 5]]}]),
    (
        MetaDataItemSerializer,
        [{"type": "numeric", "name": "n", "value": 3}, {"type": "numeric", "name": "n", "value": "x"}],
    ),
    (
        MetaDataItemSerializer,
        [{"type": "date", "name": "d", "value": "1901"}, {"type": "text", "name": "", "value": "v"}],
    ),
    (TranscriptionEntityItemSerializer, [{"type_id": ID, "offset": 0, "length": 3}, {"type_id": ID, "offset": -1}]),
]


@pytest.mark.parametrize("item_serializer,items", CASES)
def test_same_as_drf(item_serializer, items):
    fast = validated(BulkListSerializer, item_serializer, items)
    assert fast == validated(serializers.ListSerializer, item_serializer, items)
