"""
Query strings, declared once: a list's parameters are the fields of a `QueryParameters`
serializer, which both documents them (`extend_schema(parameters=[TheSerializer])`) and parses them
(`TheSerializer.parse(request)`). The fields read values the way the clients send them: Python's
`True`/`False` for booleans, `false` for "made by a person" on worker filters. A bad value answers
400 naming each bad parameter; an empty value counts as absent.
"""

import uuid

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

# The largest integers PostgreSQL's `integer` and `bigint` columns hold: larger input is a 400, not an overflow.
INT_MAX = 2**31 - 1
BIGINT_MAX = 2**63 - 1

TRUE_STRINGS = {"true", "1", "yes", "on"}
FALSE_STRINGS = {"false", "0", "no", "off"}


def boolean_value(value):
    """`True`, `False`, or None for anything else."""
    lowered = str(value).strip().lower()
    if lowered in TRUE_STRINGS:
        return True
    if lowered in FALSE_STRINGS:
        return False
    return None


def uuid_value(value):
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


class QueryField:
    """A query parameter: optional unless told, and `deprecated=True` marks it so in the schema."""

    def __init__(self, *args, deprecated=False, **kwargs):
        kwargs.setdefault("required", False)
        self.deprecated = deprecated
        super().__init__(*args, **kwargs)


@extend_schema_field(OpenApiTypes.BOOL)
class QueryBooleanField(QueryField, serializers.Field):
    def to_internal_value(self, data):
        if isinstance(data, bool):
            return data
        value = boolean_value(data)
        if value is None:
            raise serializers.ValidationError(f"'{data}' is not a boolean: use true or false.")
        return value

    def to_representation(self, value):
        return value


@extend_schema_field(OpenApiTypes.UUID)
class QueryUUIDField(QueryField, serializers.Field):
    def to_internal_value(self, data):
        value = uuid_value(data)
        if value is None:
            raise serializers.ValidationError(f"'{data}' is not a valid UUID.")
        return value

    def to_representation(self, value):
        return str(value)


@extend_schema_field(OpenApiTypes.STR)
class UUIDOrFalseField(QueryUUIDField):
    """A UUID, or `False` meaning "no value" (for example results made by a person, not a worker)."""

    def to_internal_value(self, data):
        if data is False or str(data).strip().lower() in FALSE_STRINGS:
            return False
        if uuid_value(data) is None:
            raise serializers.ValidationError(f"'{data}' is not a valid UUID, nor false.")
        return super().to_internal_value(data)

    def to_representation(self, value):
        return value if value is False else super().to_representation(value)


class QueryCharField(QueryField, serializers.CharField):
    """Text; an empty value is an absent one, so the schema does not forbid it."""

    def __init__(self, **kwargs):
        kwargs.setdefault("allow_blank", True)
        super().__init__(**kwargs)


class QueryChoiceField(QueryField, serializers.ChoiceField):
    """A choice whose refusal lists the choices, named after the parameter."""

    def to_internal_value(self, data):
        if str(data) not in self.choice_strings_to_values:
            raise serializers.ValidationError(
                f"'{data}' is not a valid {self.field_name}: use one of {', '.join(self.choice_strings_to_values)}."
            )
        return self.choice_strings_to_values[str(data)]


class QueryParameters(serializers.Serializer):
    """The query string of one operation; subclasses declare its parameters as fields."""

    @classmethod
    def parse(cls, request, **kwargs):
        """The validated parameters of `request` (or of a `QueryDict`), defaults included."""
        query_params = getattr(request, "query_params", request)
        parameters = cls(data={}, **kwargs)
        data = {}
        for name, field in parameters.fields.items():
            if isinstance(field, serializers.MultipleChoiceField):
                values = [value for value in query_params.getlist(name) if value != ""]
                if values:
                    data[name] = values
            elif (value := query_params.get(name)) not in (None, ""):
                data[name] = value
        parameters.initial_data = data
        parameters.is_valid(raise_exception=True)
        return parameters.validated_data
