"""
Filters shared by the lists of every app. Booleans accept what the clients send (`True`/`False`
from Python, `true`/`false` from anything else) and refuse anything else with a 400, instead of
silently ignoring the filter.
"""

import django_filters
from django import forms
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field

from arkindex.api.params import FALSE_STRINGS, TRUE_STRINGS


class ClientBooleanField(forms.Field):
    def to_python(self, value):
        if value is None or value == "":
            return None
        lowered = str(value).strip().lower()
        if lowered in TRUE_STRINGS:
            return True
        if lowered in FALSE_STRINGS:
            return False
        # The value goes in as a parameter: Django formats messages with `%`, which a raw `%` would break.
        raise forms.ValidationError(
            "'%(value)s' is not a boolean: use true or false.", code="invalid", params={"value": value}
        )


@extend_schema_field(OpenApiTypes.BOOL)
class ClientBooleanFilter(django_filters.Filter):
    field_class = ClientBooleanField
