from django.urls import include, path

from processes.api.views import UserWorkerRuns, WorkerRunConfiguration, WorkerRunDetails

urlpatterns = [
    path("process/workers/", UserWorkerRuns.as_view(), name="user-worker-runs"),
    path("process/workers/<uuid:pk>/", WorkerRunDetails.as_view(), name="worker-run-details"),
    path("workers/runs/<uuid:pk>/configuration/", WorkerRunConfiguration.as_view(), name="worker-run-configuration"),
    path("", include("processes.api.process_urls")),
]
