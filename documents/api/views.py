"""
Corpora, element types and elements.

Rights are the corpus's: guests read, contributors write elements and types, admins change and
delete the corpus. A corpus or element the user cannot read answers 404, one they can read but not
change answers 403. Every view fetches its object together with the user's level in one query
(`documents.selectors`), and element lists run a fixed number of queries whatever the page size.
"""

from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import permissions, status
from rest_framework.generics import (
    CreateAPIView,
    GenericAPIView,
    ListAPIView,
    ListCreateAPIView,
    RetrieveUpdateDestroyAPIView,
)
from rest_framework.response import Response

from documents import services
from documents.api.filters import (
    CorpusElementsParameters,
    CreateElementParameters,
    ElementChildrenParameters,
    ElementListFilters,
    ElementParentsParameters,
)
from documents.api.serializers import (
    CorpusSerializer,
    CreatedElementSerializer,
    ElementChildrenSerializer,
    ElementCreateSerializer,
    ElementDetailSerializer,
    ElementParentSerializer,
    ElementsBulkSerializer,
    ElementSerializer,
    ElementTypeCreateSerializer,
)
from documents.models import Element
from documents.provenance import resolve_worker_run
from documents.selectors import (
    ELEMENT_RELATED,
    check_corpus_level,
    corpora_for_user,
    element_children,
    element_classifications_subquery,
    element_metadata_subquery,
    element_parents,
    elements_with_level,
    get_corpus,
    get_element,
    get_parent_zone,
)
from users.models import Role

READ_METHODS = ("GET", "HEAD", "OPTIONS")


# Corpora


@extend_schema(tags=["documents"])
@extend_schema_view(
    get=extend_schema(operation_id="ListCorpus", description="Corpora the user can read, as a plain array."),
    post=extend_schema(operation_id="CreateCorpus", description="Create a corpus; its creator becomes its admin."),
)
class CorpusList(ListCreateAPIView):
    serializer_class = CorpusSerializer
    pagination_class = None

    def get_queryset(self):
        return corpora_for_user(self.request.user).select_related("top_level_type").prefetch_related("types")

    def perform_create(self, serializer):
        data = serializer.validated_data
        corpus = services.corpus_create(
            user=self.request.user,
            name=data["name"],
            description=data.get("description", ""),
            public=data.get("public", False),
        )
        corpus.max_level = Role.ADMIN.value
        serializer.instance = corpus


@extend_schema(tags=["documents"])
@extend_schema_view(
    get=extend_schema(operation_id="RetrieveCorpus", description="A corpus with its element types."),
    patch=extend_schema(operation_id="PartialUpdateCorpus", description="Change a corpus (corpus admins)."),
    delete=extend_schema(
        operation_id="DestroyCorpus",
        description="Delete a corpus and all its elements (corpus admins). The deletion runs in the background.",
    ),
)
class CorpusDetail(RetrieveUpdateDestroyAPIView):
    serializer_class = CorpusSerializer
    http_method_names = ["get", "patch", "delete", "head", "options"]
    lookup_url_kwarg = "id"

    def get_object(self):
        needed = Role.GUEST if self.request.method in READ_METHODS else Role.ADMIN
        action = "read it" if needed == Role.GUEST else "change or delete it"
        return get_corpus(self.request.user, self.kwargs["id"], needed, action)

    def perform_destroy(self, corpus):
        services.corpus_destroy(corpus=corpus, user=self.request.user)


# Element types


@extend_schema(tags=["documents"])
@extend_schema_view(
    post=extend_schema(
        operation_id="CreateElementType",
        description="Create an element type in a corpus (contributors). 400 when the slug exists in the corpus.",
    )
)
class ElementTypeCreate(CreateAPIView):
    serializer_class = ElementTypeCreateSerializer
    permission_classes = (permissions.IsAuthenticated,)


# Elements


@extend_schema(tags=["documents"])
class ElementCreate(GenericAPIView):
    """Create an element in a corpus (contributors), at the top level or under a parent."""

    permission_classes = (permissions.IsAuthenticated,)
    serializer_class = ElementCreateSerializer

    @extend_schema(
        operation_id="CreateElement",
        parameters=[CreateElementParameters],
        request=ElementCreateSerializer,
        responses={201: ElementSerializer},
    )
    def post(self, request):
        slim_output = CreateElementParameters.parse(request)["slim_output"]
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        worker_run = resolve_worker_run(request, data.pop("worker_run_id", None), data["corpus"].id)
        element = services.element_create(creator=request.user, worker_run=worker_run, **data)
        if slim_output:
            return Response({"id": str(element.id)}, status=status.HTTP_201_CREATED)
        element = elements_with_level(request.user).get(pk=element.pk)
        return Response(ElementSerializer(element, context=self.get_serializer_context()).data, status=201)


@extend_schema(tags=["documents"])
@extend_schema_view(
    get=extend_schema(operation_id="RetrieveElement", description="An element, with its zone on an image."),
    put=extend_schema(operation_id="UpdateElement", description="Change an element (contributors)."),
    patch=extend_schema(operation_id="PartialUpdateElement", description="Change some fields of an element."),
    delete=extend_schema(
        operation_id="DestroyElement",
        description=(
            "Delete an element and its descendants that have no other parent outside it (contributors). "
            "Large subtrees are deleted in the background."
        ),
    ),
)
class ElementDetail(RetrieveUpdateDestroyAPIView):
    serializer_class = ElementDetailSerializer
    lookup_url_kwarg = "id"

    def get_object(self):
        writing = self.request.method not in READ_METHODS
        needed = Role.CONTRIBUTOR if writing else Role.GUEST
        action = "change or delete it" if writing else "read it"
        # Its classifications come in the element's own query (RetrieveElement and the answer to an update).
        return get_element(self.request.user, self.kwargs["id"], needed, action, with_classifications=True)

    def perform_destroy(self, element):
        services.element_destroy(element=element, user=self.request.user)


class ElementListBase(ListAPIView):
    serializer_class = ElementSerializer
    filter_backends = ()
    parameters = None

    def get_filters(self):
        if not hasattr(self, "_filters"):
            self._filters = ElementListFilters(self.request, self.parameters)
        return self._filters

    def get_serializer_context(self):
        context = super().get_serializer_context()
        context["list_options"] = self.get_filters().options
        return context

    def finish(self, queryset, parent, *, positioned=False):
        """Filter and sort the list; `parent` is the corpus or element fetched for it, with its `type_list`."""
        filters = self.get_filters()
        provenance_runs = getattr(parent, "provenance_runs", None)
        queryset = filters.filter(queryset.select_related(*ELEMENT_RELATED), parent.type_list, provenance_runs)
        if filters.options["with_classes"]:
            queryset = queryset.annotate(best_class_list=element_classifications_subquery("pk", best=True))
        if filters.options["with_metadata"]:
            queryset = queryset.annotate(metadata_list=element_metadata_subquery("pk"))
        return filters.sort(queryset, positioned=positioned)


@extend_schema(tags=["documents"])
@extend_schema_view(
    get=extend_schema(
        operation_id="ListElements", parameters=[CorpusElementsParameters], description="Elements of a corpus."
    )
)
class CorpusElementList(ElementListBase):
    parameters = CorpusElementsParameters

    def get_queryset(self):
        filters = self.get_filters()  # a bad parameter answers 400 before any query
        corpus = get_corpus(
            self.request.user, self.kwargs["corpus"], Role.GUEST, with_types=True, provenance=filters.provenance
        )
        return self.finish(Element.objects.filter(corpus=corpus), corpus)


@extend_schema(tags=["documents"])
@extend_schema_view(
    get=extend_schema(
        operation_id="ListElementChildren",
        parameters=[ElementChildrenParameters],
        description="Children of an element, in their order under it, or all its descendants with `recursive`.",
    )
)
class ElementChildrenList(ElementListBase):
    parameters = ElementChildrenParameters

    def get_queryset(self):
        filters = self.get_filters()
        element = get_element(
            self.request.user, self.kwargs["id"], Role.GUEST, for_listing=True, provenance=filters.provenance
        )
        queryset = element_children(element, recursive=filters.recursive)
        return self.finish(queryset, element, positioned=not filters.recursive)


@extend_schema(tags=["documents"])
@extend_schema_view(
    get=extend_schema(
        operation_id="ListElementParents",
        parameters=[ElementParentsParameters],
        description="Parents of an element, or all its ancestors with `recursive`.",
    )
)
class ElementParentsList(ElementListBase):
    parameters = ElementParentsParameters

    def get_queryset(self):
        filters = self.get_filters()
        element = get_element(
            self.request.user, self.kwargs["id"], Role.GUEST, for_listing=True, provenance=filters.provenance
        )
        return self.finish(element_parents(element, recursive=filters.recursive), element)


@extend_schema(tags=["documents"])
class ElementParent(GenericAPIView):
    """Link an element to an additional parent, or remove one of its parents."""

    permission_classes = (permissions.IsAuthenticated,)
    serializer_class = ElementParentSerializer

    def get_pair(self):
        child_id, parent_id = self.kwargs["child"], self.kwargs["parent"]
        found = elements_with_level(self.request.user).filter(pk__in=[child_id, parent_id]).in_bulk()
        child, parent = found.get(child_id), found.get(parent_id)
        check_corpus_level(getattr(child, "corpus_level", 0), Role.GUEST, what=f"Element {child_id}", action="read it")
        check_corpus_level(
            getattr(parent, "corpus_level", 0), Role.GUEST, what=f"Element {parent_id}", action="read it"
        )
        check_corpus_level(
            child.corpus_level, Role.CONTRIBUTOR, what=f"Element {child_id}", action="change its parents"
        )
        return child, parent

    @extend_schema(operation_id="CreateElementParent", request=None, responses={201: ElementParentSerializer})
    def post(self, request, *args, **kwargs):
        child, parent = self.get_pair()
        services.element_add_parent(child=child, parent=parent)
        return Response({"parent": str(parent.id), "child": str(child.id)}, status=status.HTTP_201_CREATED)

    @extend_schema(operation_id="DestroyElementParent", request=None, responses={204: OpenApiResponse()})
    def delete(self, request, *args, **kwargs):
        child, parent = self.get_pair()
        services.element_remove_parent(child=child, parent=parent)
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(tags=["documents"])
class ElementsBulkCreate(GenericAPIView):
    """
    Create many children of an element at once (contributors), after its current children, on the
    parent's image: what a worker finds in a page (lines, words). The answer is a plain array of
    the new ids, in the order sent.
    """

    permission_classes = (permissions.IsAuthenticated,)
    serializer_class = ElementsBulkSerializer
    pagination_class = None
    queryset = Element.objects.none()  # for the schema: the parent is fetched with the user's level

    @extend_schema(
        operation_id="CreateElements",
        request=ElementsBulkSerializer,
        responses={201: CreatedElementSerializer(many=True)},
    )
    def post(self, request, *args, **kwargs):
        parent = get_parent_zone(request.user, self.kwargs["id"], Role.CONTRIBUTOR, "add children to it")
        serializer = self.get_serializer(data=request.data, context={**self.get_serializer_context(), "parent": parent})
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        worker_run = resolve_worker_run(request, data.get("worker_run_id"), parent.corpus_id)
        created = services.elements_create(
            parent=parent, elements=data["elements"], creator=request.user, worker_run=worker_run
        )
        return Response([{"id": str(element.id)} for element in created], status=status.HTTP_201_CREATED)


@extend_schema(tags=["documents"])
class ElementChildrenCreate(GenericAPIView):
    """Put existing elements under a parent, after its current children (contributors)."""

    permission_classes = (permissions.IsAuthenticated,)
    serializer_class = ElementChildrenSerializer

    @extend_schema(operation_id="CreateElementChildren", responses={201: ElementChildrenSerializer})
    def post(self, request, *args, **kwargs):
        parent = get_element(request.user, self.kwargs["id"], Role.CONTRIBUTOR, "add children to it")
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        child_ids = list(dict.fromkeys(serializer.validated_data["children"]))
        children = {child.id: child for child in Element.objects.filter(pk__in=child_ids, corpus_id=parent.corpus_id)}
        missing = [str(child_id) for child_id in child_ids if child_id not in children]
        if missing:
            return Response(
                {"children": [f"Element(s) {', '.join(missing)} do not exist in the corpus of the parent."]},
                status=status.HTTP_400_BAD_REQUEST,
            )
        services.element_add_children(parent=parent, children=[children[child_id] for child_id in child_ids])
        return Response({"children": [str(child_id) for child_id in child_ids]}, status=status.HTTP_201_CREATED)
