from django.urls import include, path

from datasets.api.process_set_views import ProcessSetList, ProcessSetManage
from datasets.api.views import (
    CorpusDatasetList,
    DatasetDetail,
    DatasetElementDestroy,
    DatasetElementList,
    DatasetElementsSelection,
    DatasetSetCreate,
    DatasetSetDetail,
    ElementDatasetList,
)

urlpatterns = [
    path("corpus/<uuid:id>/datasets/", CorpusDatasetList.as_view(), name="corpus-datasets"),
    path("datasets/<uuid:id>/", DatasetDetail.as_view(), name="dataset-detail"),
    path("datasets/<uuid:id>/sets/", DatasetSetCreate.as_view(), name="dataset-sets"),
    # Set names may contain slashes (sent %2F-encoded by the clients, decoded before routing).
    path("datasets/<uuid:dataset>/sets/<path:set>/", DatasetSetDetail.as_view(), name="dataset-set-detail"),
    path("datasets/<uuid:id>/elements/", DatasetElementList.as_view(), name="dataset-elements"),
    path(
        "datasets/<uuid:dataset>/elements/<uuid:element>/",
        DatasetElementDestroy.as_view(),
        name="dataset-element-destroy",
    ),
    path("datasets/<uuid:id>/elements_selection/", DatasetElementsSelection.as_view(), name="dataset-selection"),
    path("element/<uuid:id>/datasets/", ElementDatasetList.as_view(), name="element-datasets"),
    path("process/<uuid:pk>/sets/", ProcessSetList.as_view(), name="process-sets"),
    path("process/<uuid:process>/set/<uuid:set>/", ProcessSetManage.as_view(), name="process-set"),
    path("", include("datasets.api.export_urls")),
]
