"""DestroyWorkerResults: the request checks the filters and rights; an RQ job deletes (`processes.services.results`)."""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from arkindex.api.params import QueryBooleanField, QueryParameters, QueryUUIDField, UUIDOrFalseField
from documents.selectors import get_corpus
from processes.services import results
from users.models import Role


class WorkerResultsParameters(QueryParameters):
    """Which results DestroyWorkerResults deletes; without any, every result made by a worker run."""

    worker_run_id = QueryUUIDField(help_text="Only the results of this worker run (alone: it names the rest).")
    worker_version_id = QueryUUIDField(help_text="Only the results of the worker runs of this version.")
    model_version_id = UUIDOrFalseField(
        help_text="Only the results of the worker runs using this model version. "
        "`false` for the results of worker runs without one."
    )
    configuration_id = UUIDOrFalseField(
        help_text="Only the results of the worker runs using this configuration. "
        "`false` for the results of worker runs without one."
    )
    element_id = QueryUUIDField(help_text="Only the results on this element and its descendants.")
    use_selection = QueryBooleanField(
        default=False, help_text="Only the results on the elements of the project you selected, and their descendants."
    )
    dry_run = QueryBooleanField(
        default=False,
        help_text="Delete nothing: answer 200 with how many results of each kind the deletion would remove.",
    )


class WorkerResultsCountsSerializer(serializers.Serializer):
    """What a deletion removes, per kind of result (a dry run's answer)."""

    elements = serializers.IntegerField(help_text="Elements, with the descendants they alone hold.")
    transcriptions = serializers.IntegerField()
    classifications = serializers.IntegerField()
    metadata = serializers.IntegerField()
    entities = serializers.IntegerField()
    transcription_entities = serializers.IntegerField(help_text="Places where entities are marked in transcriptions.")
    embeddings = serializers.IntegerField()


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
            "once: the deletion runs in the background. 409 while a process of the matching worker runs runs. "
            "With `dry_run`, nothing is deleted: the answer counts what the deletion would remove."
        ),
        parameters=[WorkerResultsParameters],
        responses={
            204: OpenApiResponse(description="The deletion is scheduled."),
            200: OpenApiResponse(WorkerResultsCountsSerializer, description="A dry run: what would be deleted."),
        },
    )
    def delete(self, request, corpus):
        params = WorkerResultsParameters.parse(request)
        filters = results.ResultFilters(
            **{
                name: params.get(name)
                for name in ("worker_run_id", "worker_version_id", "model_version_id", "configuration_id")
            }
        )
        element_id = params.get("element_id")
        use_selection = params["use_selection"]
        corpus = get_corpus(request.user, corpus, Role.ADMIN, action="delete worker results")
        scope = results.check_filters(
            corpus=corpus, filters=filters, element_id=element_id, use_selection=use_selection, user=request.user
        )
        if params["dry_run"]:
            counts = results.worker_results_dry_run(corpus_id=corpus.id, filters=filters, scope=scope)
            body = {name: counts.get(name.replace("_", " "), 0) for name in WorkerResultsCountsSerializer().fields}
            return Response(WorkerResultsCountsSerializer(body).data)
        results.worker_results_destroy(corpus=corpus, filters=filters, scope=scope, user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
