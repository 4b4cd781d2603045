"""
Bulk request bodies validated in one pass: the items of a bulk operation (the transcriptions of
CreateTranscriptions, the classifications of CreateClassifications…) are declared once, as a
`BulkItemSerializer`, which gives the OpenAPI schema and the rules; a list of them is validated by
`BulkListSerializer`, which runs each field's own conversion and validators on each item without
DRF's per-item machinery (binding, empty-value handling, ordered dicts, error collection).

An item that is anything but plain (not an object, a missing required field, a null where none is
allowed, a blank text, a value a field refuses) is validated again by DRF itself, alone, so that a
refused item gets exactly DRF's messages, in DRF's format, under its index. A serializer with
serializer-wide validators is always validated by DRF.
"""

from django.core import validators
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import ProhibitNullCharactersValidator
from rest_framework import serializers
from rest_framework.fields import empty
from rest_framework.validators import ProhibitSurrogateCharactersValidator

from arkindex.api.prototypes import PrototypeFields


class Fallback(Exception):
    """The item is DRF's to validate."""


def _no_nul(value):
    return "\x00" not in str(value)


def _no_surrogate(value):
    value = str(value)
    if value.isascii():
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _check(validator):
    """
    A test that `validator` passes a value, for the validators every text and number field has,
    whose own code walks a text character by character or builds its message beforehand; a value
    that fails it goes to DRF, which gives the validator's message. None for any other validator.
    """
    kind = type(validator)
    if kind is ProhibitNullCharactersValidator:
        return _no_nul
    if kind is ProhibitSurrogateCharactersValidator:
        return _no_surrogate
    limit = getattr(validator, "limit_value", None)
    if callable(limit) or not isinstance(limit, int | float):
        return None
    if kind is validators.MinValueValidator:
        return lambda value: value >= limit
    if kind is validators.MaxValueValidator:
        return lambda value: value <= limit
    if kind is validators.MaxLengthValidator:
        return lambda value: len(value) <= limit
    if kind is validators.MinLengthValidator:
        return lambda value: len(value) >= limit
    return None


def _field_plan(field):
    """How the one-pass validation converts one field: its own conversion, and its validators."""
    plain = type(field).run_validation in (serializers.Field.run_validation, serializers.CharField.run_validation)
    if isinstance(field, serializers.BaseSerializer) or field.source == "*" or not plain:
        return None
    char = isinstance(field, serializers.CharField)
    trim = char and field.trim_whitespace
    to_internal_value, run_validators = field.to_internal_value, field.run_validators
    checks = [_check(validator) for validator in field.validators]
    if None in checks:
        # A validator of its own: DRF runs them all, as `run_validation` would.
        checks, others = [], True
    else:
        others = False

    def convert(value):
        if char and isinstance(value, str) and (value == "" or (trim and not value.strip())):
            raise Fallback
        try:
            value = to_internal_value(value)
            if others:
                run_validators(value)
        except (serializers.ValidationError, DjangoValidationError):
            raise Fallback from None
        for check in checks:
            if not check(value):
                raise Fallback
        return value

    return convert


def compile_item_validation(child):
    """A function validating one item as `child.run_validation` would, raising Fallback; None if unsupported."""
    if child.validators:
        return None
    plan = []
    for field in child._writable_fields:
        convert = _field_plan(field)
        if convert is None:
            return None
        method = getattr(child, f"validate_{field.field_name}", None)
        plan.append((field.field_name, field.source_attrs, field, convert, method))
    validate = child.validate if type(child).validate is not serializers.Serializer.validate else None
    set_value = child.set_value

    def validate_item(data):
        if not isinstance(data, dict):
            raise Fallback
        ret = {}
        for name, source_attrs, field, convert, method in plan:
            value = data.get(name, empty)
            if value is empty:
                if field.required or field.default is empty:
                    if field.required:
                        raise Fallback
                    continue
                value = field.get_default()
            elif value is None:
                if not field.allow_null:
                    raise Fallback
            else:
                value = convert(value)
            if method is not None:
                try:
                    value = method(value)
                except serializers.ValidationError:
                    raise Fallback from None
            set_value(ret, source_attrs, value)
        if validate is not None:
            try:
                ret = validate(ret)
            except (serializers.ValidationError, DjangoValidationError):
                raise Fallback from None
        return ret

    return validate_item


class BulkListSerializer(serializers.ListSerializer):
    def run_child_validation(self, data):
        if not hasattr(self, "_validate_item"):
            self._validate_item = compile_item_validation(self.child)
        if self._validate_item is not None:
            try:
                return self._validate_item(data)
            except Fallback:
                pass
        return self.child.run_validation(data)


class BulkItemSerializer(PrototypeFields, serializers.Serializer):
    """One item of a bulk body; `many=True` validates the list in one pass (`BulkListSerializer`)."""

    class Meta:
        list_serializer_class = BulkListSerializer
