"""
Datasets of a corpus, their sets and their elements.

Rights are the corpus's: guests read, contributors create datasets and change them, their sets
and elements, admins delete datasets. A hidden dataset answers 404, a readable one the user may not
change 403, and a change its state forbids 409 (sets and elements change only while the dataset is
open, see `datasets.services`). Every view fetches its dataset with the user's level and its sets
in one query; the element list runs a fixed number of queries whatever the page size.
"""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import permissions, status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.generics import GenericAPIView, ListAPIView, ListCreateAPIView, RetrieveUpdateDestroyAPIView
from rest_framework.permissions import SAFE_METHODS as READ_METHODS
from rest_framework.response import Response

from arkindex.api.pagination import CountCursorPagination
from arkindex.api.params import QueryCharField, QueryParameters
from datasets import services
from datasets.api.serializers import (
    DatasetCreateSerializer,
    DatasetElementCreateSerializer,
    DatasetElementSerializer,
    DatasetSelectionSerializer,
    DatasetSerializer,
    DatasetSetSerializer,
    ElementDatasetSerializer,
)
from datasets.models import Dataset, DatasetElement, DatasetSet
from documents.api.serializers import ElementSerializer
from documents.selectors import elements_with_level, get_corpus, get_element
from users.models import Role

TAGS = ["datasets"]
WRITE_ACTION = "change its datasets"


def get_dataset(request, dataset_id, needed=Role.GUEST, action="read it"):
    return services.get_dataset(request.user, dataset_id, needed, action)


def get_set(dataset, name):
    dataset_set = DatasetSet.objects.filter(dataset=dataset, name=name).first()
    if dataset_set is None:
        raise NotFound(f"Dataset {dataset.id} has no set named '{name}'.")
    return dataset_set


def refreshed(request, dataset):
    """The dataset as the API shows it, after a change."""
    return services.datasets_with_level(request.user).get(pk=dataset.pk)


# Datasets


@extend_schema(tags=TAGS)
@extend_schema_view(
    get=extend_schema(operation_id="ListCorpusDatasets", description="Datasets of a corpus, by name (guests)."),
    post=extend_schema(
        operation_id="CreateDataset",
        request=DatasetCreateSerializer,
        responses={201: DatasetSerializer},
        description=(
            "Create an open dataset in a corpus with its sets (contributors); `set_names` defaults to train, dev, "
            "test. 400 with `non_field_errors` when the corpus already has a dataset of that name."
        ),
    ),
)
class CorpusDatasetList(ListCreateAPIView):
    serializer_class = DatasetSerializer
    filter_backends = ()
    queryset = Dataset.objects.none()  # for the schema: the corpus is fetched with the user's level

    def get_serializer_class(self):
        return DatasetCreateSerializer if self.request.method == "POST" else DatasetSerializer

    def get_queryset(self):
        corpus = get_corpus(self.request.user, self.kwargs["id"], Role.GUEST)
        return services.datasets_with_level(self.request.user).filter(corpus=corpus)

    def create(self, request, *args, **kwargs):
        corpus = get_corpus(request.user, self.kwargs["id"], Role.CONTRIBUTOR, "create datasets in it")
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        dataset = services.dataset_create(corpus=corpus, creator=request.user, **serializer.validated_data)
        return Response(DatasetSerializer(refreshed(request, dataset)).data, status=status.HTTP_201_CREATED)


@extend_schema(tags=TAGS)
@extend_schema_view(
    get=extend_schema(operation_id="RetrieveDataset", description="A dataset with its sets (guests)."),
    patch=extend_schema(
        operation_id="PartialUpdateDataset",
        description=(
            "Change a dataset (contributors). Its state goes open → building → complete or error, and error → "
            "building (instance administrators make any change); another change, or changing `unique_elements` "
            "once the dataset is not open, is a 409. Turning `unique_elements` on is a 400 while an element sits "
            "in several sets."
        ),
    ),
    delete=extend_schema(
        operation_id="DestroyDataset",
        description="Delete a dataset with its sets (corpus admins); its elements stay in the corpus. 409 while "
        "it is being built.",
    ),
)
class DatasetDetail(RetrieveUpdateDestroyAPIView):
    serializer_class = DatasetSerializer
    http_method_names = ["get", "patch", "delete", "head", "options"]
    queryset = Dataset.objects.none()

    def get_object(self):
        if self.request.method in READ_METHODS:
            return get_dataset(self.request, self.kwargs["id"])
        if self.request.method == "DELETE":
            return get_dataset(self.request, self.kwargs["id"], Role.ADMIN, "delete its datasets")
        return get_dataset(self.request, self.kwargs["id"], Role.CONTRIBUTOR, WRITE_ACTION)

    def perform_update(self, serializer):
        dataset = services.dataset_update(
            dataset=serializer.instance, user=self.request.user, fields=serializer.validated_data
        )
        serializer.instance = refreshed(self.request, dataset)

    def perform_destroy(self, dataset):
        services.dataset_destroy(dataset=dataset)


# Sets


@extend_schema(tags=TAGS)
class DatasetSetCreate(GenericAPIView):
    serializer_class = DatasetSetSerializer
    permission_classes = (permissions.IsAuthenticated,)

    @extend_schema(
        operation_id="CreateDatasetSet",
        responses={201: DatasetSetSerializer},
        description="Add a set to an open dataset (contributors); 409 once it is not open.",
    )
    def post(self, request, *args, **kwargs):
        dataset = get_dataset(request, self.kwargs["id"], Role.CONTRIBUTOR, WRITE_ACTION)
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        dataset_set = services.set_create(dataset=dataset, name=serializer.validated_data["name"])
        return Response(DatasetSetSerializer(dataset_set).data, status=status.HTTP_201_CREATED)


SET_PARAMETERS = [
    OpenApiParameter("dataset", OpenApiTypes.UUID, OpenApiParameter.PATH),
    OpenApiParameter("set", OpenApiTypes.STR, OpenApiParameter.PATH, description="Name of the set."),
]


@extend_schema(tags=TAGS, parameters=SET_PARAMETERS)
@extend_schema_view(
    get=extend_schema(operation_id="RetrieveDatasetSet", description="A set of a dataset, by name (guests)."),
    patch=extend_schema(
        operation_id="PartialUpdateDatasetSet",
        description="Rename a set of an open dataset (contributors); 409 once it is not open.",
    ),
    delete=extend_schema(
        operation_id="DestroyDatasetSet",
        description="Delete a set of an open dataset (contributors); its elements leave the dataset, not the "
        "corpus. 409 once the dataset is not open.",
    ),
)
class DatasetSetDetail(RetrieveUpdateDestroyAPIView):
    serializer_class = DatasetSetSerializer
    http_method_names = ["get", "patch", "delete", "head", "options"]
    queryset = DatasetSet.objects.none()

    def get_object(self):
        if self.request.method in READ_METHODS:
            dataset = get_dataset(self.request, self.kwargs["dataset"])
        else:
            dataset = get_dataset(self.request, self.kwargs["dataset"], Role.CONTRIBUTOR, WRITE_ACTION)
        self.dataset = dataset
        return get_set(dataset, self.kwargs["set"])

    def perform_update(self, serializer):
        if "name" in serializer.validated_data:
            # A set only has a name to change: a body without one changes nothing.
            services.set_rename(dataset=self.dataset, dataset_set=serializer.instance, **serializer.validated_data)

    def perform_destroy(self, dataset_set):
        services.set_destroy(dataset=self.dataset, dataset_set=dataset_set)


# Elements


class DatasetElementListParameters(QueryParameters):
    set = QueryCharField(help_text="Only the elements of the set of this name.")


class DatasetElementDestroyParameters(QueryParameters):
    set = QueryCharField(
        required=True,
        help_text="Name of the set to remove the element from.",
        error_messages={"required": "The name of the set to remove the element from is required."},
    )


@extend_schema(tags=TAGS)
@extend_schema_view(
    get=extend_schema(
        operation_id="ListDatasetElements",
        parameters=[DatasetElementListParameters],
        description="Elements of a dataset, or of one of its sets, each with its set (guests).",
    ),
    post=extend_schema(
        operation_id="CreateDatasetElement",
        request=DatasetElementCreateSerializer,
        responses={201: DatasetElementSerializer, 200: DatasetElementSerializer},
        description=(
            "Put an element of the dataset's corpus in a set of an open dataset (contributors): 201 when added, "
            "200 when it already was there. 400 when the dataset's elements are unique and the element is in "
            "another set; 409 once the dataset is not open."
        ),
    ),
)
class DatasetElementList(ListCreateAPIView):
    serializer_class = DatasetElementSerializer
    pagination_class = CountCursorPagination
    filter_backends = ()
    queryset = DatasetElement.objects.none()

    def get_serializer_class(self):
        return DatasetElementCreateSerializer if self.request.method == "POST" else DatasetElementSerializer

    def get_queryset(self):
        dataset = get_dataset(self.request, self.kwargs["id"])
        set_name = DatasetElementListParameters.parse(self.request).get("set")
        dataset_set = None
        if set_name is not None:
            dataset_set = DatasetSet.objects.filter(dataset=dataset, name=set_name).first()
            if dataset_set is None:
                raise ValidationError({"set": [f"Dataset {dataset.id} has no set named '{set_name}'."]})
        return services.dataset_elements(dataset, dataset_set)

    def create(self, request, *args, **kwargs):
        dataset = get_dataset(request, self.kwargs["id"], Role.CONTRIBUTOR, WRITE_ACTION)
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        element = elements_with_level(request.user).filter(pk=data["element_id"], corpus_id=dataset.corpus_id).first()
        if element is None:
            raise ValidationError(
                {"element_id": [f"Element {data['element_id']} does not exist in the corpus of dataset {dataset.id}."]}
            )
        added = services.dataset_element_create(dataset=dataset, set_name=data["set"], element=element)
        body = {"set": data["set"], "element": ElementSerializer(element, context=self.get_serializer_context()).data}
        return Response(body, status=status.HTTP_201_CREATED if added else status.HTTP_200_OK)


@extend_schema(tags=TAGS)
class DatasetElementDestroy(GenericAPIView):
    permission_classes = (permissions.IsAuthenticated,)
    queryset = DatasetElement.objects.none()

    @extend_schema(
        operation_id="DestroyDatasetElement",
        parameters=[DatasetElementDestroyParameters],
        request=None,
        responses={204: OpenApiResponse(description="The element left the set.")},
        description="Remove an element from a set of an open dataset (contributors); 409 once it is not open.",
    )
    def delete(self, request, *args, **kwargs):
        dataset = get_dataset(request, self.kwargs["dataset"], Role.CONTRIBUTOR, WRITE_ACTION)
        set_name = DatasetElementDestroyParameters.parse(request)["set"]
        services.dataset_element_destroy(dataset=dataset, set_name=set_name, element_id=self.kwargs["element"])
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(tags=TAGS)
class DatasetElementsSelection(GenericAPIView):
    serializer_class = DatasetSelectionSerializer
    permission_classes = (permissions.IsAuthenticated,)

    @extend_schema(
        operation_id="CreateDatasetElementsSelection",
        responses={201: DatasetSelectionSerializer},
        description=(
            "Put the elements of the dataset's corpus in your selection in a set of an open dataset, at once "
            "(contributors). Those already in the set stay; when the dataset's elements are unique and some are "
            "in another set, nothing is added (400). 409 once the dataset is not open."
        ),
    )
    def post(self, request, *args, **kwargs):
        dataset = get_dataset(request, self.kwargs["id"], Role.CONTRIBUTOR, WRITE_ACTION)
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        set_name = serializer.validated_data["set"]
        added = services.dataset_elements_add_selection(dataset=dataset, set_name=set_name, user=request.user)
        return Response({"set": set_name, "added": added}, status=status.HTTP_201_CREATED)


@extend_schema(tags=TAGS)
@extend_schema_view(
    get=extend_schema(
        operation_id="ListElementDatasets",
        description="The datasets an element is in, once per set it is in (guests).",
    )
)
class ElementDatasetList(ListAPIView):
    serializer_class = ElementDatasetSerializer
    filter_backends = ()
    queryset = DatasetElement.objects.none()

    def get_queryset(self):
        element = get_element(self.request.user, self.kwargs["id"], Role.GUEST)
        return (
            DatasetElement.objects.filter(element=element)
            .select_related("set", "dataset__creator")
            .annotate(dataset_set_list=services.sets_subquery("dataset_id"))
            .order_by("dataset__name", "dataset_id", "set__name")
        )
