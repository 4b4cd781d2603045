from django.urls import path

from ponos.api.repository_views import OAuthCredentialsList, RepositoryImportCreate, RepositoryImportDetails
from ponos.api.views import ProcessRetry, ProcessStart, ProcessStop, ProcessTasks

urlpatterns = [
    path("process/<uuid:pk>/start/", ProcessStart.as_view(), name="process-start"),
    path("process/<uuid:pk>/retry/", ProcessRetry.as_view(), name="process-retry"),
    path("process/<uuid:pk>/stop/", ProcessStop.as_view(), name="process-stop"),
    path("process/<uuid:pk>/tasks/", ProcessTasks.as_view(), name="process-tasks"),
    path("process/repos/<uuid:pk>/import/", RepositoryImportCreate.as_view(), name="repository-import-create"),
    path("process/<uuid:pk>/repository-import/", RepositoryImportDetails.as_view(), name="repository-import"),
    path("user/oauth/credentials/", OAuthCredentialsList.as_view(), name="oauth-credentials"),
]
