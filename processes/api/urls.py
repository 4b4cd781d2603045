from django.urls import include, path

from processes.api.result_views import WorkerResultsDestroy
from processes.api.views import (
    CorpusWorkerRuns,
    ProcessTemplateApply,
    ProcessTemplateCreate,
    ProcessTemplateList,
    ProcessWorkerRuns,
    UserWorkerRuns,
    WorkerRunConfiguration,
    WorkerRunDetails,
)

urlpatterns = [
    path("process/workers/", UserWorkerRuns.as_view(), name="user-worker-runs"),
    path("process/workers/<uuid:pk>/", WorkerRunDetails.as_view(), name="worker-run-details"),
    path("process/<uuid:pk>/workers/", ProcessWorkerRuns.as_view(), name="process-worker-runs"),
    path("process/<uuid:pk>/template/", ProcessTemplateCreate.as_view(), name="process-template-create"),
    path("process/templates/", ProcessTemplateList.as_view(), name="process-templates"),
    path("process/templates/<uuid:pk>/apply/", ProcessTemplateApply.as_view(), name="process-template-apply"),
    path("workers/runs/<uuid:pk>/configuration/", WorkerRunConfiguration.as_view(), name="worker-run-configuration"),
    path("corpus/<uuid:pk>/worker-runs/", CorpusWorkerRuns.as_view(), name="corpus-worker-runs"),
    path("corpus/<uuid:corpus>/worker-results/", WorkerResultsDestroy.as_view(), name="worker-results-destroy"),
    path("", include("processes.api.process_urls")),
    path("", include("processes.api.activity_urls")),
]
