"""
Data files (see `documents.services.datafiles`): create one (CreateDataFile), then upload its content with
the multipart operations (`object_type: data_file`); read one, list those of a corpus, delete one.
"""

from django.db.models import Value
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import permissions, status
from rest_framework.generics import GenericAPIView, ListAPIView
from rest_framework.response import Response

from documents.api.datafile_serializers import DataFileCreateSerializer, DataFileSerializer
from documents.models import DataFile
from documents.selectors import get_corpus
from documents.services import datafiles
from users.models import Role

TAGS = ["files"]


@extend_schema(tags=TAGS)
class DataFileCreate(GenericAPIView):
    permission_classes = (permissions.IsAuthenticated,)
    serializer_class = DataFileCreateSerializer

    @extend_schema(
        operation_id="CreateDataFile",
        request=DataFileCreateSerializer,
        responses={201: DataFileSerializer, 403: OpenApiResponse(description="Below contributor on the corpus.")},
        description=(
            "Create a data file in a corpus (contributors), awaiting its content: upload it with "
            "`CreateMultipartUpload` and the operations that follow, with `object_type: data_file`. Completing "
            "the upload checks the size uploaded against `size`."
        ),
    )
    def post(self, request):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data_file = datafiles.data_file_create(user=request.user, **serializer.validated_data)
        data_file.corpus_level = serializer.validated_data["corpus"].max_level
        return Response(DataFileSerializer(data_file).data, status=status.HTTP_201_CREATED)


@extend_schema(tags=TAGS)
@extend_schema_view(
    get=extend_schema(
        operation_id="RetrieveDataFile",
        responses={200: DataFileSerializer},
        description="A data file (guests of its corpus); its download URL `s3_url` is given to contributors.",
    ),
    delete=extend_schema(
        operation_id="DestroyDataFile",
        responses={
            204: None,
            403: OpenApiResponse(description="Below contributor on the corpus."),
            409: OpenApiResponse(description="A running process reads this data file."),
        },
        description="Delete a data file and its content (contributors), unless a running process reads it.",
    ),
)
class DataFileDetails(GenericAPIView):
    permission_classes = (permissions.IsAuthenticatedOrReadOnly,)
    serializer_class = DataFileSerializer

    def get(self, request, pk):
        return Response(DataFileSerializer(datafiles.get_data_file(user=request.user, data_file_id=pk)).data)

    def delete(self, request, pk):
        data_file = datafiles.get_data_file(
            user=request.user, data_file_id=pk, level=Role.CONTRIBUTOR, action="delete it"
        )
        datafiles.data_file_destroy(data_file=data_file)
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(tags=TAGS)
@extend_schema_view(
    get=extend_schema(
        operation_id="ListCorpusDataFiles",
        description="The data files of a corpus (guests), by name; download URLs are given to contributors.",
    )
)
class CorpusDataFileList(ListAPIView):
    permission_classes = (permissions.IsAuthenticatedOrReadOnly,)
    serializer_class = DataFileSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return DataFile.objects.none()
        corpus = get_corpus(self.request.user, self.kwargs["corpus"], Role.GUEST)
        # Each row carries the level read with the corpus: deciding on `s3_url` costs no query.
        return corpus.data_files.annotate(corpus_level=Value(corpus.max_level)).order_by("name", "id")
