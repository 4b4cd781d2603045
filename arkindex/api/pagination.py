"""
Pagination in the two shapes the Arkindex clients read.

Page numbers: `{count, number, previous, next, results}`, with a constant page size so that the
client can compute the number of pages from the first one. Cursors: `{previous, next, results}`
plus `count` only when `with_count=true` was asked for on that request.
"""

from django.conf import settings
from rest_framework import pagination
from rest_framework.response import Response

from arkindex.api.params import QueryBooleanField, QueryParameters


class CountParameters(QueryParameters):
    with_count = QueryBooleanField(default=False)


class PageNumberPagination(pagination.PageNumberPagination):
    page_size_query_param = "page_size"

    @property
    def max_page_size(self):
        return settings.API_MAX_PAGE_SIZE

    def get_paginated_response(self, data):
        return Response(
            {
                "count": self.page.paginator.count,
                "number": self.page.number,
                "previous": self.get_previous_link(),
                "next": self.get_next_link(),
                "results": data,
            }
        )

    def get_paginated_response_schema(self, schema):
        return {
            "type": "object",
            "required": ["count", "results"],
            "properties": {
                "count": {"type": "integer"},
                "number": {"type": "integer"},
                "previous": {"type": "string", "nullable": True, "format": "uri"},
                "next": {"type": "string", "nullable": True, "format": "uri"},
                "results": schema,
            },
        }


class CountCursorPagination(pagination.CursorPagination):
    """
    Cursor pagination ordered by a unique key, fast at any depth. Counting a large set costs a
    full scan, so `count` is computed only when the request says `with_count=true`.
    """

    ordering = "id"
    page_size_query_param = "page_size"

    @property
    def max_page_size(self):
        return settings.API_MAX_PAGE_SIZE

    def paginate_queryset(self, queryset, request, view=None):
        self.count = None
        if CountParameters.parse(request)["with_count"]:
            self.count = queryset.count()
        return super().paginate_queryset(queryset, request, view)

    def get_paginated_response(self, data):
        body = {"previous": self.get_previous_link(), "next": self.get_next_link()}
        if self.count is not None:
            body["count"] = self.count
        body["results"] = data
        return Response(body)

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        parameters.append(
            {
                "name": "with_count",
                "required": False,
                "in": "query",
                "description": "Count the results in the `count` field of the response (slower on large sets).",
                "schema": {"type": "boolean"},
            }
        )
        return parameters

    def get_paginated_response_schema(self, schema):
        return {
            "type": "object",
            "required": ["next", "results"],
            "properties": {
                "count": {"type": "integer"},
                "previous": {"type": "string", "nullable": True, "format": "uri"},
                "next": {"type": "string", "nullable": True, "format": "uri"},
                "results": schema,
            },
        }
