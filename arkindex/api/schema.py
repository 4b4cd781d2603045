"""
The OpenAPI schema the Arkindex clients load.

The clients resolve every call by operationId, read the request body from a field named by
`x-name`, and decide how to paginate from `x-paginated` and from the declared `page` or `cursor`
parameter. This module adds those extensions to what drf-spectacular generates.
"""

import re
import typing

from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.plumbing import force_instance, is_basic_serializer

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

    def _process_override_parameters(self, direction="request"):
        """Query parameters declared as serializer fields carry their own deprecation (`QueryField`)."""
        parameters = super()._process_override_parameters(direction)
        for declared in self.get_override_parameters():
            fields = getattr(force_instance(declared), "fields", None) if is_basic_serializer(declared) else None
            for name, field in (fields or {}).items():
                parameter = parameters.get((name, "query"))
                if parameter and getattr(field, "deprecated", False):
                    parameter["deprecated"] = True
        return parameters

    def get_tags(self):
        return [self.view.__module__.split(".")[0]]

    def _map_basic_serializer(self, serializer, direction):
        """
        A serializer's `Meta.optional_response_fields` are left out of its answers on request
        (`with_zone=false`…): the schema does not require them.
        """
        schema = super()._map_basic_serializer(serializer, direction)
        optional = getattr(getattr(serializer, "Meta", None), "optional_response_fields", ())
        if direction == "response" and optional and "required" in schema:
            schema["required"] = [name for name in schema["required"] if name not in optional]
            if not schema["required"]:
                del schema["required"]
        return schema

    def _map_response_type_hint(self, method):
        """
        A method field whose type hint admits None is nullable, also when `extend_schema_field`
        gives its type (`-> str | None` under `@extend_schema_field(OpenApiTypes.UUID)`).
        """
        schema = super()._map_response_type_hint(method)
        try:
            hint = typing.get_type_hints(method).get("return")
        except (NameError, TypeError):
            return schema
        if type(None) not in typing.get_args(hint) or not isinstance(schema, dict) or schema.get("nullable"):
            return schema
        if "$ref" in schema:
            return {"allOf": [schema], "nullable": True}
        return {**schema, "nullable": True}


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
    document_errors(result)
    return result


ERROR_SCHEMA = "Error"
ERROR_COMPONENT = {
    "type": "object",
    "description": (
        "An error. Refused input names each field with its messages (`{field: [message]}`, "
        "`non_field_errors` for the body as a whole); other errors say why in `detail`; conflicts, "
        "some validations and unavailable services use the standard shape `{type, errors: [{attr, "
        "code, detail}]}`, with `existing_id` when a conflict names an existing object."
    ),
    # No declared properties: a refused body's fields are its keys, and may be named `type` or `detail`.
    "additionalProperties": {},
}
ERROR_DESCRIPTIONS = {
    "400": "Invalid parameters or body: each problem is named.",
    "401": "No valid credentials: authenticate with `Token <key>`, or `Ponos <key>` from a running task.",
    "403": "The credentials do not allow this action (the level it needs is said; task tokens call few operations).",
    "404": "No such object, or one the caller cannot see.",
    "409": "The state of an object forbids the action now.",
    "413": "The body is over the server's limit.",
    "429": "Too many attempts: try again later (see Retry-After).",
    "503": "The database or Redis is unavailable: try again in a moment.",
}
UNAUTHENTICATED_OPERATIONS = ("HealthCheck", "Login")
WRITE_METHODS = ("post", "put", "patch", "delete")


def error_statuses(method, operation):
    """The error statuses an operation can answer, from what it takes and how it is called."""
    parameters = operation.get("parameters", [])
    statuses = {"503"}
    if parameters or "requestBody" in operation or method in WRITE_METHODS:
        statuses.add("400")
    if operation["operationId"] not in UNAUTHENTICATED_OPERATIONS:
        statuses |= {"401", "403"}
    if operation["operationId"] not in UNAUTHENTICATED_OPERATIONS:
        # Objects named in the path, the query or the body may not exist, or be hidden.
        statuses.add("404")
    if method in WRITE_METHODS:
        statuses.add("409")
    if "requestBody" in operation:
        statuses.add("413")
    if operation["operationId"] == "Login":
        statuses.add("429")
    return statuses


def document_errors(result):
    """Every operation documents the errors it can answer, each with the one error body of the API."""
    result.setdefault("components", {}).setdefault("schemas", {})[ERROR_SCHEMA] = ERROR_COMPONENT
    error_content = {"application/json": {"schema": {"$ref": f"#/components/schemas/{ERROR_SCHEMA}"}}}
    for path_item in result.get("paths", {}).values():
        for method in HTTP_METHODS:
            operation = path_item.get(method)
            if not isinstance(operation, dict):
                continue
            responses = operation.setdefault("responses", {})
            for status in error_statuses(method, operation) | {code for code in responses if code[0] in "45"}:
                response = responses.setdefault(status, {"description": ERROR_DESCRIPTIONS.get(status, "An error.")})
                if not response.get("content"):
                    response["content"] = error_content


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
