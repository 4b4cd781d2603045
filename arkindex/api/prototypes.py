"""
Serializers whose fields are built once per class. DRF builds a serializer's fields for every
instance: a deep copy of the declared fields and, for a model serializer, the model's fields read
again and turned into serializer fields. A bulk call builds several serializers (its body, its
items, its answer and the answer's nested objects) for every request; `PrototypeFields` keeps the
unbound fields its class would build and gives each instance copies of them: a plain field is
copied as it is (binding it to the instance sets its own attributes only), a nested serializer is
copied deeply, since it holds fields and state of its own.
"""

import copy

from rest_framework import serializers


class PrototypeFields:
    def get_fields(self):
        cls = type(self)
        prototypes = cls.__dict__.get("_field_prototypes")
        if prototypes is None:
            # Built by DRF, once per class (a concurrent first build only builds the same twice).
            prototypes = super().get_fields()
            cls._field_prototypes = prototypes
        return {
            name: copy.deepcopy(field) if isinstance(field, serializers.BaseSerializer) else copy.copy(field)
            for name, field in prototypes.items()
        }
