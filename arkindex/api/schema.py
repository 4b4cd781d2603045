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


def postprocess_arkindex_schema(result, generator, request, public):
    """Name every request body `body`, as every client call passes it, and keep schemas plain."""
    for path_item in result.get("paths", {}).values():
        for operation in path_item.values():
            if not isinstance(operation, dict):
                continue
            request_body = operation.get("requestBody")
            if request_body is not None:
                request_body["x-name"] = "body"
                # The clients only read JSON bodies; other media types would show up as extra fields.
                content = request_body.get("content", {})
                if "application/json" in content:
                    request_body["content"] = {"application/json": content["application/json"]}
    return result
