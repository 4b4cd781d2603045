"""
SearchCorpus: the texts of a corpus's indexed elements matching a query (`documents.services.search`), with
facets to narrow it down. Guests of the corpus search it; a corpus that is not indexable answers
400, since nothing of it is indexed. Three queries whatever the page: the corpus with the caller's
level, the facets (whose counts also give the total), the page.
"""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.exceptions import ValidationError
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from arkindex.api.pagination import PageNumberPagination
from documents.api.search_serializers import (
    SearchFacetsSerializer,
    SearchParametersSerializer,
    SearchResponseSerializer,
    SearchResultSerializer,
)
from documents.selectors import get_corpus
from documents.services.search import facets, page_of, ranked, search_entries
from users.models import Role


class SearchPage:
    """
    The results as the paginator slices them: their number is known already (from the facets), and
    a slice is one query, the page's ids sorted without joins, then those entries with their texts.
    """

    ordered = True

    def __init__(self, entries, count, query, by_name):
        self.entries, self._count, self.query, self.by_name = entries, count, query, by_name

    def count(self):
        return self._count

    def __len__(self):
        return self._count

    def __getitem__(self, key):
        if key.stop is not None and key.stop <= (key.start or 0):
            return []
        ids = ranked(self.entries, self.query, by_name=self.by_name)[key]
        return list(page_of(ids, self.query, by_name=self.by_name))


class CorpusSearch(GenericAPIView):
    """
    Full-text search of the elements of an indexable corpus, by their names and by the
    transcriptions and metadata of them and of their descendants: a line's transcription finds
    its page when pages are the indexed type. Each result is one text; `facets` count the texts
    found by indexed element type, by source and by worker run, for the filters of a next query.
    """

    serializer_class = SearchResultSerializer
    pagination_class = PageNumberPagination

    @extend_schema(
        operation_id="SearchCorpus",
        parameters=[
            SearchParametersSerializer,
            OpenApiParameter("page", OpenApiTypes.INT, description="A page number within the results."),
            OpenApiParameter("page_size", OpenApiTypes.INT, description="Number of results per page."),
        ],
        responses={200: SearchResponseSerializer},
        # Pages as the other page-numbered lists, for the clients' `paginate`.
        extensions={"x-paginated": True},
    )
    def get(self, request, corpus):
        options = SearchParametersSerializer.parse(request)
        corpus = get_corpus(request.user, corpus, Role.GUEST)
        if not corpus.indexable:
            raise ValidationError(
                {
                    "corpus": [
                        f"Corpus {corpus.name} is not indexable, so nothing of it can be searched: an instance "
                        "administrator marks it and its element types indexable in the admin."
                    ]
                }
            )
        entries = search_entries(
            corpus,
            query=options["query"],
            sources=sorted(options.get("sources") or ()),
            element_type=options.get("element_type"),
            worker_run=options.get("worker_run"),
            confidence_min=options.get("confidence_min"),
            confidence_max=options.get("confidence_max"),
            metadata_name=options.get("metadata_name"),
        )
        found = facets(entries)
        total = sum(item["count"] for item in found["source"])
        if options["only_facets"]:
            facets_only = {"count": total, "number": 1, "previous": None, "next": None, "results": []}
            return Response({**facets_only, "facets": SearchFacetsSerializer(found).data})
        by_name = options["sort"] == "element_name"
        page = self.paginate_queryset(SearchPage(entries, total, options["query"], by_name))
        response = self.get_paginated_response(self.get_serializer(page, many=True).data)
        response.data["facets"] = SearchFacetsSerializer(found).data
        return response
