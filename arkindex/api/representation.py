"""
Answers listing many objects serialised in one pass. `OnePassRepresentation`, mixed into a
serializer, reads each readable field's value with a plain `getattr` when its source is one
attribute of the object, and converts it with the field's own `to_representation`; DRF's per-field
lookup (nested sources, dictionaries, callables, missing attributes, related fields' primary-key
shortcut) is used for anything else, so the answer is the one DRF would give, field for field.

The plan (which fields, read how) is built once per serializer instance, and a list serializer
reuses its one child for every item: a bulk answer of fifty results pays for it once.
"""

from collections.abc import Mapping

from rest_framework import relations
from rest_framework.fields import SkipField

WHOLE_OBJECT = object()  # a source of "*": the field reads the object itself
MISSING = object()
# Related fields read a primary key only (`PKOnlyObject`) through DRF's own lookup.
RELATED_FIELDS = (relations.RelatedField, relations.ManyRelatedField)


def _plan(serializer):
    plan = []
    for field in serializer._readable_fields:
        if field.source == "*":
            attribute = WHOLE_OBJECT
        elif len(field.source_attrs) == 1 and not isinstance(
            field, relations.RelatedField | relations.ManyRelatedField
        ):
            attribute = field.source_attrs[0]
        else:
            attribute = None
        plan.append((field.field_name, attribute, field))
    return plan


class OnePassRepresentation:
    def to_representation(self, instance):
        if isinstance(instance, Mapping):
            return super().to_representation(instance)
        plan = self.__dict__.get("_representation_plan")
        if plan is None:
            plan = self.__dict__["_representation_plan"] = _plan(self)
        representation = {}
        for name, attribute, field in plan:
            if attribute is WHOLE_OBJECT:
                value = instance
            else:
                value = getattr(instance, attribute, MISSING) if attribute is not None else MISSING
                if value is MISSING or callable(value):
                    # Anything but a plain attribute: DRF's own lookup, with its defaults and errors.
                    try:
                        value = field.get_attribute(instance)
                    except SkipField:
                        continue
                    if isinstance(value, relations.PKOnlyObject) and value.pk is None:
                        value = None
            representation[name] = None if value is None else field.to_representation(value)
        return representation
