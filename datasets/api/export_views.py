"""
SQLite exports of a corpus or of one of its datasets (`datasets.services.exports`).

Rights are the corpus's: guests (anyone, on a public corpus) list and download exports,
contributors start them, and an export is deleted by a corpus admin or by its contributor author.
A task calls as its process's creator and reaches the exports of its own process's corpus only,
where it may list, start and download them (DatasetWorkers do). A hidden corpus or export answers
404, a readable one the caller may not change 403, and a state that forbids the action 409.
"""

from django.http import HttpResponseRedirect
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import permissions, status
from rest_framework.exceptions import ValidationError
from rest_framework.generics import GenericAPIView, ListCreateAPIView
from rest_framework.response import Response

from arkindex.api.exceptions import Conflict
from arkindex.api.params import QueryParameters, QueryUUIDField
from datasets.api.export_serializers import CorpusExportCreateSerializer, CorpusExportSerializer
from datasets.models import CorpusExport, CorpusExportState, Dataset
from datasets.services import exports
from documents.selectors import check_corpus_level, corpus_level_subquery, get_corpus
from users.models import Role

TAGS = ["exports"]


def get_export(request, export_id):
    """An export with the caller's `level` on its corpus, or 404."""
    export = (
        CorpusExport.objects.select_related("corpus")
        .annotate(level=corpus_level_subquery(request.user))
        .filter(pk=export_id)
        .first()
    )
    check_corpus_level(getattr(export, "level", 0), Role.GUEST, what=f"Export {export_id}", action="read it")
    return export


class ExportListParameters(QueryParameters):
    dataset_id = QueryUUIDField(help_text="Only the exports of this dataset of the corpus.")


@extend_schema(tags=TAGS)
@extend_schema_view(
    get=extend_schema(
        operation_id="ListExports",
        parameters=[ExportListParameters],
        description="Exports of a corpus, newest first (guests).",
    ),
    post=extend_schema(
        operation_id="StartExport",
        request=CorpusExportCreateSerializer,
        responses={201: CorpusExportSerializer},
        description=(
            "Start an SQLite export of a corpus, or of one of its datasets with `dataset_id` (contributors). A small "
            "export is done when this answers; a larger one is built in the background: watch its `state` with "
            "ListExports. While an export of the same corpus and dataset is created or running, answers 400 "
            "`{type: validation_error, errors: [{code: running_export}]}`."
        ),
    ),
)
class CorpusExportList(ListCreateAPIView):
    serializer_class = CorpusExportSerializer
    filter_backends = ()
    queryset = CorpusExport.objects.none()  # for the schema: the corpus is fetched with the user's level

    def get_serializer_class(self):
        return CorpusExportCreateSerializer if self.request.method == "POST" else CorpusExportSerializer

    def get_queryset(self):
        corpus = get_corpus(self.request.user, self.kwargs["id"], Role.GUEST)
        queryset = CorpusExport.objects.filter(corpus=corpus).select_related("user").order_by("-created", "-id")
        if dataset_id := ExportListParameters.parse(self.request).get("dataset_id"):
            queryset = queryset.filter(dataset_id=dataset_id)
        return queryset

    def create(self, request, *args, **kwargs):
        corpus = get_corpus(request.user, self.kwargs["id"], Role.CONTRIBUTOR, "export it")
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        dataset = None
        dataset_id = serializer.validated_data.get("dataset_id")
        if dataset_id is not None:
            dataset = Dataset.objects.filter(pk=dataset_id, corpus=corpus).first()
            if dataset is None:
                raise ValidationError({"dataset_id": [f"Corpus {corpus.id} has no dataset {dataset_id}."]})
        export = exports.export_start(
            corpus=corpus, user=request.user, dataset=dataset, source=serializer.validated_data["source"]
        )
        return Response(CorpusExportSerializer(export).data, status=status.HTTP_201_CREATED)


@extend_schema(tags=TAGS)
class CorpusExportDetail(GenericAPIView):
    queryset = CorpusExport.objects.none()
    permission_classes = (permissions.IsAuthenticatedOrReadOnly,)

    @extend_schema(
        operation_id="DownloadExport",
        request=None,
        responses={
            302: OpenApiResponse(description="Redirects to a URL that serves the SQLite file for a limited time."),
            409: OpenApiResponse(description="The export is not done."),
        },
        description=(
            "Download a done export (guests): redirects to a URL that serves its SQLite file without credentials, "
            "valid for a limited time."
        ),
    )
    def get(self, request, *args, **kwargs):
        export = get_export(request, self.kwargs["id"])
        if export.state != CorpusExportState.Done:
            raise Conflict(f"Export {export.id} is {export.state}: only a done export can be downloaded.")
        return HttpResponseRedirect(exports.export_download_url(export))

    @extend_schema(
        operation_id="DestroyExport",
        request=None,
        responses={204: OpenApiResponse(description="The export and its file are deleted.")},
        description=(
            "Delete an export and its file (corpus admins, or the contributor who started it); 409 while it is "
            "created or running."
        ),
    )
    def delete(self, request, *args, **kwargs):
        export = get_export(request, self.kwargs["id"])
        own = export.user_id == request.user.id and export.level >= Role.CONTRIBUTOR
        if not own:
            check_corpus_level(export.level, Role.ADMIN, what=f"Export {export.id}", action="delete exports of others")
        exports.export_destroy(export=export)
        return Response(status=status.HTTP_204_NO_CONTENT)
