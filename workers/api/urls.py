from django.urls import path

from workers.api.repository_views import RepositoryDetail, RepositoryList
from workers.api.views import (
    WorkerConfigurationDetail,
    WorkerConfigurationList,
    WorkerDetail,
    WorkerList,
    WorkerTypeList,
    WorkerVersionDetail,
    WorkerVersionImport,
    WorkerVersionList,
)

urlpatterns = [
    path("workers/", WorkerList.as_view(), name="worker-list"),
    path("workers/types/", WorkerTypeList.as_view(), name="worker-type-list"),
    path("workers/<uuid:pk>/", WorkerDetail.as_view(), name="worker-detail"),
    path("workers/<uuid:pk>/versions/", WorkerVersionList.as_view(), name="worker-version-list"),
    path("workers/<uuid:pk>/versions/import/", WorkerVersionImport.as_view(), name="worker-version-import"),
    path("workers/versions/<uuid:pk>/", WorkerVersionDetail.as_view(), name="worker-version-detail"),
    path("workers/<uuid:pk>/configurations/", WorkerConfigurationList.as_view(), name="worker-configuration-list"),
    path(
        "workers/configurations/<uuid:pk>/",
        WorkerConfigurationDetail.as_view(),
        name="worker-configuration-detail",
    ),
    path("process/repos/", RepositoryList.as_view(), name="repository-list"),
    path("process/repos/<uuid:pk>/", RepositoryDetail.as_view(), name="repository-detail"),
]
