"""The sets a dataset process reads: chosen by contributors before it starts, listed by its workers."""

from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView, ListAPIView
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from datasets.api.serializers import DatasetSerializer
from datasets.models import ProcessSet
from datasets.services import process_sets
from processes.selectors import process_for_user
from users.models import Role

TAGS = ["processes"]


class ProcessSetSerializer(serializers.ModelSerializer):
    set_name = serializers.CharField(source="set.name", read_only=True)
    dataset = serializers.SerializerMethodField()

    class Meta:
        model = ProcessSet
        fields = ("id", "set_name", "dataset")

    @extend_schema_field(DatasetSerializer)
    def get_dataset(self, process_set):
        dataset = process_set.set.dataset
        if not hasattr(dataset, "set_list"):
            dataset.set_list = getattr(process_set, "dataset_set_list", None) or [
                {"id": str(s.id), "name": s.name} for s in dataset.sets.order_by("name")
            ]
        return DatasetSerializer(dataset).data


@extend_schema(tags=TAGS)
class ProcessSetList(ListAPIView):
    permission_classes = (IsAuthenticated,)
    serializer_class = ProcessSetSerializer

    @extend_schema(
        operation_id="ListProcessSets",
        description="The sets of datasets a dataset process runs on, by dataset and set name (guests, its tasks).",
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return ProcessSet.objects.none()
        return process_sets.process_sets(process_for_user(self.request.user, self.kwargs["pk"]))


@extend_schema(tags=TAGS)
class ProcessSetManage(GenericAPIView):
    permission_classes = (IsAuthenticated,)
    serializer_class = ProcessSetSerializer

    @extend_schema(
        operation_id="CreateProcessSet",
        request=None,
        responses={201: ProcessSetSerializer},
        description=(
            "Add a set of a dataset of the project to the inputs of a dataset process that has not started "
            "(contributors; 409 once started, 400 when already there)."
        ),
    )
    def post(self, request, process, set):
        process = process_for_user(request.user, process, Role.CONTRIBUTOR)
        process_set = process_sets.process_set_create(process=process, set_id=set)
        return Response(self.get_serializer(process_set).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        operation_id="DestroyProcessSet",
        responses={204: OpenApiResponse(description="The set is no longer an input of the process.")},
        description="Remove a set from the inputs of a dataset process that has not started (contributors).",
    )
    def delete(self, request, process, set):
        process = process_for_user(request.user, process, Role.CONTRIBUTOR)
        process_sets.process_set_destroy(process=process, set_id=set)
        return Response(status=status.HTTP_204_NO_CONTENT)
