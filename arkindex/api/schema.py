"""
The OpenAPI schema the Arkindex clients load.

The clients resolve every call by operationId, read the request body from a field named by
`x-name`, and decide how to paginate from `x-paginated` and from the declared `page` or `cursor`
parameter. This module adds those extensions to what drf-spectacular generates.
"""

import re

from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema

ACTION_PREFIXES = {
    "list": "List",
    "retrieve": "Retrieve",
    "create": "Create",
    "update": "Update",
    "partial_update": "PartialUpdate",
    "destroy": "Destroy",
}
METHOD_PREFIXES = {
    "get": "Retrieve",
    "post": "Create",
    "put": "Update",
    "patch": "PartialUpdate",
    "delete": "Destroy",
}


class AutoSchema(SpectacularAutoSchema):
    def get_operation_id(self):
        """
        Every view is expected to name its operation with `extend_schema(operation_id=…)`; this
        fallback keeps the schema valid (PascalCase, from the action and the model) if one does not.
        """
        model = getattr(getattr(self.view, "queryset", None), "model", None)
        name = model.__name__ if model is not None else re.sub(r"(View|ViewSet|APIView)$", "", type(self.view).__name__)
        action = getattr(self.view, "action", None)
        if action in ACTION_PREFIXES:
            prefix = ACTION_PREFIXES[action]
        elif self._is_list_view():
            prefix = "List"
        else:
            prefix = METHOD_PREFIXES.get(self.method.lower(), self.method.capitalize())
        return f"{prefix}{name}"

    def get_operation(self, *args, **kwargs):
        operation = super().get_operation(*args, **kwargs)
        if operation is None:
            return None
        if self.method == "GET" and self._is_list_view():
            operation["x-paginated"] = self._get_paginator() is not None
        return operation

    def get_tags(self):
        return [self.view.__module__.split(".")[0]]


HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")

# Keys of a JSON schema whose value is a schema, a list of schemas, or a mapping of schemas.
SUBSCHEMA_KEYS = ("items", "additionalProperties", "additionalItems", "not", "if", "then", "else")
SUBSCHEMA_LIST_KEYS = ("allOf", "anyOf", "oneOf", "items")
SUBSCHEMA_MAP_KEYS = ("properties", "patternProperties", "definitions")


def postprocess_arkindex_schema(result, generator, request, public):
    """
    Adapt drf-spectacular's output to what the clients parse.

    The client validates the document with typesystem 0.4.1 and converts every JSON schema it holds
    (components, parameters, request bodies) with `typesystem.from_json_schema`; one schema it cannot
    convert makes `ArkindexClient()` raise (`re.error`, `AssertionError`…), whatever the endpoint. Fixed here rather
    than view by view:

    - every request body is named `body` (`x-name`), as every client call passes it, and keeps only
      its JSON media type, the only one the client reads;
    - parameters live on operations: the client concatenates path-level parameters into a list it
      then mutates in place, which leaks parameters between the operations of one path;
    - no `servers` on paths or operations: the client would send those calls to that URL instead of
      the one it was given;
    - a `pattern` Python cannot compile is dropped: typesystem compiles every one with `re`, and
      drf-spectacular passes on ECMAScript syntax (`(?<name>…)`, `\\p{L}`) from explicit schemas;
    - OpenAPI 3.0 boolean `exclusiveMinimum`/`exclusiveMaximum` (decimal bounds) are dropped:
      typesystem's JSON-schema validator declares numbers there, and `from_json_schema` would read
      `True` as the bound 1; `minimum`/`maximum` stay;
    - an empty `enum` (a choice field without choices) is dropped: typesystem requires one item.

    `nullable`, `readOnly`, `writeOnly`, `format: uri`, `oneOf`/`allOf` of enum components and
    siblings of `$ref` are all accepted by typesystem (it ignores unknown keys and `$ref` siblings),
    and the client validates call arguments against `Any`, so they are left as generated.
    """
    for path_item in result.get("paths", {}).values():
        path_item.pop("servers", None)
        path_parameters = path_item.pop("parameters", [])
        for method in HTTP_METHODS:
            operation = path_item.get(method)
            if not isinstance(operation, dict):
                continue
            operation.pop("servers", None)
            operation["parameters"] = _merge_parameters(path_parameters, operation.get("parameters", []))
            if not operation["parameters"]:
                del operation["parameters"]
            for parameter in operation.get("parameters", []):
                if isinstance(parameter.get("schema"), dict):
                    _make_plain(parameter["schema"])

            request_body = operation.get("requestBody")
            if request_body is not None:
                request_body["x-name"] = "body"
                content = request_body.get("content", {})
                if "application/json" in content:
                    request_body["content"] = {"application/json": content["application/json"]}
                for media_type in request_body.get("content", {}).values():
                    if isinstance(media_type.get("schema"), dict):
                        _make_plain(media_type["schema"])

    for schema in result.get("components", {}).get("schemas", {}).values():
        _make_plain(schema)
    return result


def _merge_parameters(path_parameters, operation_parameters):
    """Path-level parameters copied on an operation, unless the operation redefines them."""
    declared = {(parameter.get("name"), parameter.get("in")) for parameter in operation_parameters}
    inherited = [
        dict(parameter) for parameter in path_parameters if (parameter.get("name"), parameter.get("in")) not in declared
    ]
    return inherited + list(operation_parameters)


def _make_plain(schema):
    """Fix, in place and recursively, what typesystem 0.4.1 refuses in one JSON schema."""
    if not isinstance(schema, dict):
        return
    for key in ("exclusiveMinimum", "exclusiveMaximum"):
        if isinstance(schema.get(key), bool):
            del schema[key]
    if "pattern" in schema:
        try:
            re.compile(schema["pattern"])
        except (re.error, TypeError):
            del schema["pattern"]
    if schema.get("enum") == []:
        del schema["enum"]

    for key in SUBSCHEMA_KEYS:
        if isinstance(schema.get(key), dict):
            _make_plain(schema[key])
    for key in SUBSCHEMA_LIST_KEYS:
        if isinstance(schema.get(key), list):
            for item in schema[key]:
                _make_plain(item)
    for key in SUBSCHEMA_MAP_KEYS:
        if isinstance(schema.get(key), dict):
            for item in schema[key].values():
                _make_plain(item)
