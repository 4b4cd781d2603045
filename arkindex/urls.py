from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularRedocView, SpectacularSwaggerView

from arkindex.api.job_views import JobDetails, JobList
from arkindex.api.views import HealthCheck, OpenAPIView

api_patterns = [
    # First: tasks call these for every element, and URLs are matched in order.
    path("", include("ponos.api.activity_urls")),
    path("openapi/", OpenAPIView.as_view(), name="openapi"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="openapi"), name="swagger-ui"),
    path("redoc/", SpectacularRedocView.as_view(url_name="openapi"), name="redoc"),
    path("health/", HealthCheck.as_view(), name="health"),
    path("jobs/", JobList.as_view(), name="job-list"),
    path("jobs/<uuid:pk>/", JobDetails.as_view(), name="job-details"),
    path("", include("users.api.urls")),
    path("", include("arkindex.api.storage_urls")),
    path("", include("documents.api.urls")),
    path("", include("documents.api.result_urls")),
    path("", include("documents.api.neighbor_urls")),
    path("", include("documents.api.selection_urls")),
    path("", include("documents.api.image_urls")),
    path("", include("documents.api.datafile_urls")),
    path("", include("workers.api.urls")),
    path("", include("workers.api.model_urls")),
    path("", include("processes.api.urls")),
    path("", include("ponos.api.urls")),
    path("", include("ponos.api.file_import_urls")),
    path("", include("ponos.api.task_urls")),
    path("", include("ponos.api.agent_urls")),
    path("", include("datasets.api.urls")),
]

urlpatterns = [
    path("api/v1/", include(api_patterns)),
    path("admin/", admin.site.urls),
    path("django-rq/", include("django_rq.urls")),
    path("", include(("console.urls", "console"))),
]

handler404 = "arkindex.api.views.not_found"
handler500 = "arkindex.api.views.server_error"
