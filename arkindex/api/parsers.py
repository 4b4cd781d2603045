"""
Request bodies the database and the views can take as they are, refused otherwise with a 4xx that
says what is wrong, before any view sees them:

- a body over API_MAX_BODY_SIZE bytes is a 413 saying the limit, read no further;
- JSON nested deeper than API_MAX_JSON_DEPTH levels is a 400 (Python's parser would exhaust its
  recursion long after any real body);
- a string holding NUL or a lone UTF-16 surrogate, which PostgreSQL stores in neither text nor
  jsonb, and a number too large for a float (`1e400` would become infinity), are a 400 naming
  where they are in the body.
"""

import codecs
import itertools
import math
import re

from django.conf import settings
from rest_framework import parsers, status
from rest_framework.exceptions import APIException, ParseError, ValidationError
from rest_framework.utils import json


class RequestTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "request_too_large"


def body_too_large(size):
    return RequestTooLarge(
        f"The request body has {size} bytes, over the limit of {settings.API_MAX_BODY_SIZE} bytes: "
        "send less at a time (bulk operations take 50 items per call)."
    )


def check_content_length(request):
    """A 413 for a body announced larger than the limit, before anything reads it."""
    try:
        size = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise ParseError("Content-Length is not a number of bytes.") from None
    if size > settings.API_MAX_BODY_SIZE:
        raise body_too_large(size)


def unstorable(value):
    """Why PostgreSQL could not store this string or number, or None."""
    if isinstance(value, str):
        if "\x00" in value:
            return "It contains a NUL character, which cannot be stored: remove it."
        if not value.isascii():
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                return "It contains an unpaired UTF-16 surrogate, which is not valid Unicode: send valid text."
    elif isinstance(value, float) and not math.isfinite(value):
        return "This number is too large to be stored."
    return None


def _path_of(link):
    """The keys leading to a value, from the chain `(parent link, key)` built while walking."""
    keys = []
    while link is not None:
        link, key = link
        keys.append(key)
    return ".".join(map(str, reversed(keys))) or "non_field_errors"


def check_document(data):
    """
    Walk a parsed JSON document (without recursion): its depth, and every string and number in it.
    The path of a value is kept as a chain of links to its parent, spelled out only for an error.
    """
    errors = {}
    todo = [(data, None, 1)]
    max_depth = settings.API_MAX_JSON_DEPTH
    while todo:
        value, link, depth = todo.pop()
        if depth > max_depth or (depth == max_depth and value and isinstance(value, (dict, list))):
            # A container at the deepest level allowed holds values one level deeper.
            raise ParseError(f"JSON nested deeper than {max_depth} levels is refused.")
        if isinstance(value, dict):
            for key, item in value.items():
                if (problem := unstorable(key)) is not None:
                    errors.setdefault(_path_of(link), []).append(f"A key: {problem}")
                if isinstance(item, (dict, list)) or (problem := unstorable(item)) is None:
                    todo.append((item, (link, key), depth + 1))
                else:
                    errors.setdefault(_path_of((link, key)), []).append(problem)
        elif isinstance(value, list):
            for index, item in enumerate(value):
                if isinstance(item, (dict, list)):
                    todo.append((item, (link, index), depth + 1))
                elif (problem := unstorable(item)) is not None:
                    errors.setdefault(_path_of((link, index)), []).append(problem)
        elif (problem := unstorable(value)) is not None:
            errors.setdefault(_path_of(link), []).append(problem)
    if errors:
        raise ValidationError(errors)


# A JSON string (the text is known to be valid JSON), and what is not a bracket.
JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')
NOT_BRACKET = re.compile(r"[^\[\]{}]+")
NESTING_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}


def nesting(text):
    """How deep the containers of a valid JSON text nest (0 for a scalar): its brackets outside strings."""
    brackets = NOT_BRACKET.sub("", JSON_STRING.sub("", text))
    return max(itertools.accumulate(map(NESTING_STEP.__getitem__, brackets)), default=0)


class JSONParser(parsers.JSONParser):
    """
    DRF's parser, with the checks above. A UTF-8 body without any `\\u` escape holds neither NUL
    nor a lone surrogate (JSON refuses raw control characters, and the UTF-8 decoder refuses encoded
    surrogates), so its values are walked only when a float overflowed or its containers nest as
    deep as the limit: the walk then finds and names what is wrong.
    """

    def parse(self, stream, media_type=None, parser_context=None):
        parser_context = parser_context or {}
        request = parser_context.get("request")
        if request is not None:
            check_content_length(request)
        overflowed = []

        def parse_float(literal):
            value = float(literal)
            if math.isinf(value):
                overflowed.append(literal)
            return value

        encoding = parsers.get_encoding(parser_context)
        try:
            text = stream.read().decode(encoding)
            parse_constant = json.strict_constant if self.strict else None
            data = json.loads(text, parse_constant=parse_constant, parse_float=parse_float)
        except RecursionError:
            raise ParseError(f"JSON nested deeper than {settings.API_MAX_JSON_DEPTH} levels is refused.") from None
        except ValueError as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
        if (
            overflowed
            or "\\u" in text
            or codecs.lookup(encoding).name != "utf-8"
            or nesting(text) >= settings.API_MAX_JSON_DEPTH
        ):
            check_document(data)
        return data
