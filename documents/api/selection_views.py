"""
The requesting user's selection of elements (see `documents.services.selections`): list it, add
elements by ID (many at once), remove some or all of them. A selection is personal: nobody else
reads or changes it, instance administrators included.
"""

from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import permissions, serializers, status
from rest_framework.generics import ListAPIView
from rest_framework.response import Response

from arkindex.api.params import QueryParameters, QueryUUIDField
from arkindex.api.schema import AutoSchema
from documents.api.serializers import ElementSerializer
from documents.models import Element
from documents.services import selections as selection_services

MAX_IDS = 10000


class SelectionAddSerializer(serializers.Serializer):
    ids = serializers.ListField(
        child=serializers.UUIDField(),
        min_length=1,
        max_length=MAX_IDS,
        write_only=True,
        help_text=f"Elements to select, at most {MAX_IDS}: all are added, or none if one is missing or hidden.",
    )
    added = serializers.IntegerField(read_only=True, help_text="How many were not selected yet.")


class SelectionRemoveSerializer(serializers.Serializer):
    ids = serializers.ListField(
        child=serializers.UUIDField(),
        required=False,
        max_length=MAX_IDS,
        write_only=True,
        help_text="Elements to unselect; without it, the whole selection is emptied.",
    )


class SelectionParameters(QueryParameters):
    corpus = QueryUUIDField(help_text="Only the elements of this corpus.")


class SelectionSchema(AutoSchema):
    """
    RemoveSelection takes a body on DELETE, which drf-spectacular documents only for PUT, PATCH and
    POST; the CLI sends `{}` as `body=`, which the client refuses for an operation without one.
    """

    def get_operation(self, *args, **kwargs):
        operation = super().get_operation(*args, **kwargs)
        if operation is not None and self.method == "DELETE":
            component = self.resolve_serializer(SelectionRemoveSerializer, "request")
            operation["requestBody"] = {"content": {"application/json": {"schema": component.ref}}}
        return operation


@extend_schema(tags=["documents"])
@extend_schema_view(
    get=extend_schema(
        operation_id="ListSelection",
        parameters=[SelectionParameters],
        description="The elements in your selection that you can read, by name.",
    ),
    post=extend_schema(
        operation_id="AddSelection",
        request=SelectionAddSerializer,
        responses={201: SelectionAddSerializer},
        description=(
            "Add elements to your selection, by ID, many at once. Elements already selected stay; when one of "
            "them does not exist or is hidden from you, nothing is added (400)."
        ),
    ),
    delete=extend_schema(
        operation_id="RemoveSelection",
        request=SelectionRemoveSerializer,
        responses={204: OpenApiResponse(description="The elements left your selection.")},
        description="Remove elements from your selection by ID, or empty it when `ids` is not sent.",
    ),
)
class SelectionView(ListAPIView):
    permission_classes = (permissions.IsAuthenticated,)
    serializer_class = ElementSerializer
    filter_backends = ()
    queryset = Element.objects.none()  # for the schema: the list is the user's
    schema = SelectionSchema()

    def get_queryset(self):
        corpus_id = SelectionParameters.parse(self.request).get("corpus")
        return selection_services.selected_elements(self.request.user, corpus_id)

    def post(self, request, *args, **kwargs):
        serializer = SelectionAddSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        added = selection_services.selection_add(user=request.user, element_ids=serializer.validated_data["ids"])
        return Response({"added": added}, status=status.HTTP_201_CREATED)

    def delete(self, request, *args, **kwargs):
        serializer = SelectionRemoveSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        selection_services.selection_remove(user=request.user, element_ids=serializer.validated_data.get("ids"))
        return Response(status=status.HTTP_204_NO_CONTENT)
