from django.urls import path

from datasets.api.export_views import CorpusExportDetail, CorpusExportList

urlpatterns = [
    path("corpus/<uuid:id>/export/", CorpusExportList.as_view(), name="corpus-exports"),
    path("export/<uuid:id>/", CorpusExportDetail.as_view(), name="export-detail"),
]
