"""DestroyWorkerResults: the request checks the filters and rights; an RQ job deletes (`processes.services.results`)."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from arkindex.api.params import parse_bool, parse_uuid, parse_uuid_or_false
from documents.selectors import get_corpus
from processes.services import results
from users.models import Role


def _uuid_parameter(name, description, or_false=False):
    if or_false:
        description += " `false` for the results of worker runs without one."
    return OpenApiParameter(name, OpenApiTypes.STR if or_false else OpenApiTypes.UUID, description=description)


@extend_schema(tags=["ml"])
class WorkerResultsDestroy(GenericAPIView):
    permission_classes = (IsAuthenticated,)
    serializer_class = None

    @extend_schema(
        operation_id="DestroyWorkerResults",
        description=(
            "Delete the results of worker runs on a project (corpus admins): elements (with the descendants "
            "they alone hold), transcriptions, classifications, metadata, entities and embeddings. Without "
            "filters, every result of every worker run goes; results made by hand always stay. Answers at "
            "once: the deletion runs in the background. 409 while a process of the matching worker runs runs."
        ),
        parameters=[
            _uuid_parameter("worker_run_id", "Only the results of this worker run (alone: it names the rest)."),
            _uuid_parameter("worker_version_id", "Only the results of the worker runs of this version."),
            _uuid_parameter("model_version_id", "Only the results of the worker runs using this model version.", True),
            _uuid_parameter("configuration_id", "Only the results of the worker runs using this configuration.", True),
            _uuid_parameter("element_id", "Only the results on this element and its descendants."),
            OpenApiParameter(
                "use_selection",
                OpenApiTypes.BOOL,
                description="Only the results on the elements of the project you selected, and their descendants.",
            ),
        ],
        responses={204: OpenApiResponse(description="The deletion is scheduled.")},
    )
    def delete(self, request, corpus):
        params = request.query_params
        filters = results.ResultFilters(
            worker_run_id=parse_uuid(params.get("worker_run_id"), field="worker_run_id"),
            worker_version_id=parse_uuid(params.get("worker_version_id"), field="worker_version_id"),
            model_version_id=parse_uuid_or_false(params.get("model_version_id"), field="model_version_id"),
            configuration_id=parse_uuid_or_false(params.get("configuration_id"), field="configuration_id"),
        )
        element_id = parse_uuid(params.get("element_id"), field="element_id")
        use_selection = parse_bool(params.get("use_selection"), field="use_selection", default=False)
        corpus = get_corpus(request.user, corpus, Role.ADMIN, action="delete worker results")
        scope = results.check_filters(
            corpus=corpus, filters=filters, element_id=element_id, use_selection=use_selection, user=request.user
        )
        results.worker_results_destroy(corpus=corpus, filters=filters, scope=scope, user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
