"""
ListElementNeighbors: the elements just before and just after an element under each of its
parents, so that a viewer steps through siblings without listing them.

Seed 002: a plain array, without pagination. One item per path of the element: an element whose
parent has itself two parents has two paths through that parent, and each item carries its path
(the ancestors from the top, ending with the parent) so that the viewer shows where it is.
Siblings are in the order of ListElementChildren: position under the parent, then name, then id.
A top-level element has no parent, hence no neighbours: the array is empty.

Whatever the number of parents, three queries: the element with the user's level on its corpus;
its paths, each with its previous and next sibling (correlated subqueries that read one row,
backwards or forwards, from the (parent, ordering) index); and the ancestors those paths name.
"""

from django.db.models import JSONField, OuterRef, Q, Subquery
from django.db.models.functions import JSONObject
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import serializers
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from documents.models import Element, ElementPath
from documents.selectors import check_corpus_level, corpus_level_subquery
from users.models import Role


class NeighborElementSerializer(serializers.Serializer):
    id = serializers.UUIDField(read_only=True)
    name = serializers.CharField(read_only=True)
    type = serializers.CharField(read_only=True, help_text="Slug of the element type.")


class ElementNeighborsSerializer(serializers.Serializer):
    previous = NeighborElementSerializer(
        read_only=True, allow_null=True, help_text="The sibling just before the element, null for the first child."
    )
    next = NeighborElementSerializer(
        read_only=True, allow_null=True, help_text="The sibling just after the element, null for the last child."
    )
    path = NeighborElementSerializer(
        many=True,
        read_only=True,
        help_text="Ancestors of the element on this path, from the top; the last is the parent.",
    )


def neighbor_subquery(element, *, after):
    """
    The sibling just after (or before) `element` under the parent of the outer path, as
    `{id, name, type}`: the first row past (ordering, name, id) of the element in that direction.
    The bound on `ordering` alone lets PostgreSQL walk the (parent, ordering) index from the
    element's position; name and id break ties between equal positions, as ListElementChildren does.
    """
    if after:
        bound = {"ordering__gte": OuterRef("ordering")}
        past = (
            Q(ordering__gt=OuterRef("ordering"))
            | Q(element__name__gt=element.name)
            | Q(element__name=element.name, element_id__gt=element.id)
        )
        order = ("ordering", "element__name", "element_id")
    else:
        bound = {"ordering__lte": OuterRef("ordering")}
        past = (
            Q(ordering__lt=OuterRef("ordering"))
            | Q(element__name__lt=element.name)
            | Q(element__name=element.name, element_id__lt=element.id)
        )
        order = ("-ordering", "-element__name", "-element_id")
    siblings = (
        ElementPath.objects.filter(parent=OuterRef("parent"), **bound)
        .filter(past)
        .order_by(*order)
        .values(json=JSONObject(id="element_id", name="element__name", type="element__type__slug"))[:1]
    )
    return Subquery(siblings, output_field=JSONField())


@extend_schema(tags=["documents"])
@extend_schema_view(
    get=extend_schema(
        operation_id="ListElementNeighbors",
        responses={200: ElementNeighborsSerializer(many=True)},
        description=(
            "The previous and next elements of an element under each of its parents (one item per path of the "
            "element), in the order of ListElementChildren; an empty array for a top-level element. "
            "Requires guest access to the element's corpus."
        ),
    )
)
class ElementNeighbors(GenericAPIView):
    serializer_class = ElementNeighborsSerializer
    pagination_class = None
    filter_backends = ()

    def get(self, request, *args, **kwargs):
        element = (
            Element.objects.filter(pk=self.kwargs["id"])
            .annotate(corpus_level=corpus_level_subquery(request.user))
            .only("id", "name", "corpus_id")
            .first()
        )
        check_corpus_level(
            getattr(element, "corpus_level", 0), Role.GUEST, what=f"Element {self.kwargs['id']}", action="read it"
        )
        paths = list(
            ElementPath.objects.filter(element_id=element.id, parent__isnull=False)
            .annotate(
                previous=neighbor_subquery(element, after=False),
                next=neighbor_subquery(element, after=True),
            )
            .order_by("path", "id")
            .values("path", "previous", "next")
        )
        ancestor_ids = {ancestor_id for item in paths for ancestor_id in item["path"]}
        ancestors = {
            ancestor["id"]: {"id": ancestor["id"], "name": ancestor["name"], "type": ancestor["type__slug"]}
            for ancestor in Element.objects.filter(pk__in=ancestor_ids).values("id", "name", "type__slug")
        }
        neighbors = [
            {
                "previous": item["previous"],
                "next": item["next"],
                "path": [ancestors[ancestor_id] for ancestor_id in item["path"]],
            }
            for item in paths
        ]
        return Response(self.get_serializer(neighbors, many=True).data)
