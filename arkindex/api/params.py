"""Parsing of query-string values the way the clients send them (Python's `True`/`False` included)."""

import uuid

from rest_framework.exceptions import ValidationError

# The largest integers PostgreSQL's `integer` and `bigint` columns hold: larger input is a 400, not an overflow.
INT_MAX = 2**31 - 1
BIGINT_MAX = 2**63 - 1

TRUE_STRINGS = {"true", "1", "yes", "on"}
FALSE_STRINGS = {"false", "0", "no", "off"}


def parse_bool(value, *, field, default=None):
    if value is None or value == "":
        return default
    lowered = value.strip().lower()
    if lowered in TRUE_STRINGS:
        return True
    if lowered in FALSE_STRINGS:
        return False
    raise ValidationError({field: [f"'{value}' is not a boolean: use true or false."]})


def parse_uuid_or_false(value, *, field):
    """A UUID, or `False` meaning "no value" (for example results made by a person, not a worker)."""
    if value is None or value == "":
        return None
    if value.strip().lower() in FALSE_STRINGS:
        return False
    try:
        return uuid.UUID(value)
    except ValueError:
        raise ValidationError({field: [f"'{value}' is not a valid UUID, nor false."]}) from None


def parse_uuid(value, *, field):
    if value is None or value == "":
        return None
    try:
        return uuid.UUID(value)
    except ValueError:
        raise ValidationError({field: [f"'{value}' is not a valid UUID."]}) from None
