"""
Answers listing many objects serialised in one pass. `OnePassRepresentation`, mixed into a
serializer, reads each readable field's value with a plain `getattr` when its source is one
attribute of the object, and converts it with the field's own `to_representation`; DRF's per-field
lookup (nested sources, dictionaries, callables, missing attributes, related fields' primary-key
shortcut) is used for anything else, so the answer is the one DRF would give, field for field.

The plan (which fields, read how) is built once per serializer instance, and a list serializer
reuses its one child for every item: a bulk answer of fifty results pays for it once. The plan
also holds each field's conversion: DRF's `to_representation` itself, or its one-call equivalent
for the fields whose conversion is a single built-in (`str` of a UUID or a text, `float`, `int`)
or a method of the serializer (bound once); a date or a choice is converted once for the run of
items sharing it (the rows of one INSERT share their creation time), a boolean is its own answer,
a dotted source is read attribute by attribute, and a nested object is converted once however many
items share it.
"""

from collections.abc import Mapping

from rest_framework import fields, relations, serializers
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
        elif isinstance(field, RELATED_FIELDS):
            attribute = None
        elif len(field.source_attrs) == 1:
            attribute = field.source_attrs[0]
        else:
            attribute = _chain(field)
        plan.append((field.field_name, attribute, field, _conversion(serializer, field)))
    return plan


class _chain(tuple):
    """
    A dotted source (`moderator.email`), read attribute after attribute. When an object on the way
    is None, DRF answers the field's default (or null, or leaves the field out) whatever the item:
    that answer is asked of DRF once, unless the default is computed (a callable).
    """

    def __new__(cls, field):
        chain = super().__new__(cls, field.source_attrs)
        chain.field = field
        chain.memorable = field.default is fields.empty or not callable(field.default)
        chain.answer = MISSING
        return chain

    def read(self, instance):
        value = instance
        last = len(self) - 1
        for position, attribute in enumerate(self):
            value = getattr(value, attribute, MISSING)
            if value is MISSING or callable(value):
                return self.field.get_attribute(instance)
            if value is None and position < last:
                if not self.memorable:
                    return self.field.get_attribute(instance)
                if self.answer is MISSING:
                    try:
                        self.answer = (self.field.get_attribute(instance),)
                    except SkipField:
                        self.answer = ()
                if not self.answer:
                    raise SkipField
                return self.answer[0]
        return value


# Fields of exactly these classes convert a value with one built-in call, as their `to_representation` does.
BUILT_IN_CONVERSIONS = {fields.CharField: str, fields.FloatField: float, fields.IntegerField: int}


def _conversion(serializer, field):
    kind = type(field)
    if kind is fields.UUIDField and field.uuid_format == "hex_verbose":
        return str
    if kind in BUILT_IN_CONVERSIONS:
        return BUILT_IN_CONVERSIONS[kind]
    if kind is fields.BooleanField:
        return _boolean(field.to_representation)
    if kind is fields.SerializerMethodField:
        return getattr(serializer, field.method_name)
    if kind in (fields.DateTimeField, fields.ChoiceField):
        return _repeating(field.to_representation)
    if isinstance(field, serializers.BaseSerializer) and not isinstance(field, serializers.ListSerializer):
        return _shared(field.to_representation)
    return field.to_representation


def _boolean(convert):
    """A boolean field's conversion: a bool is its own answer."""

    def converted(value):
        return value if type(value) is bool else convert(value)

    return converted


def _shared(convert):
    """`convert` of a nested object, once per object however many items share it (the type of fifty entities)."""
    done = {}

    def converted(value):
        key = id(value)
        if key not in done:
            # The object is kept with its answer, so that its id names no other object meanwhile.
            done[key] = (value, convert(value))
        return done[key][1]

    return converted


def _repeating(convert):
    """`convert`, called again only when the value differs from the previous call's."""
    last = [MISSING, None]

    def converted(value):
        if value is not last[0] and value != last[0]:
            last[0], last[1] = value, convert(value)
        return last[1]

    return converted


class OnePassRepresentation:
    def to_representation(self, instance):
        if isinstance(instance, Mapping):
            return super().to_representation(instance)
        plan = self.__dict__.get("_representation_plan")
        if plan is None:
            plan = self.__dict__["_representation_plan"] = _plan(self)
        representation = {}
        for name, attribute, field, convert in plan:
            if attribute is WHOLE_OBJECT:
                value = instance
            elif type(attribute) is _chain:
                try:
                    value = attribute.read(instance)
                except SkipField:
                    continue
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
            representation[name] = None if value is None else convert(value)
        return representation
