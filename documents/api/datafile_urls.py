from django.urls import path

from documents.api.datafile_views import CorpusDataFileList, DataFileCreate, DataFileDetails

urlpatterns = [
    path("process/files/create/", DataFileCreate.as_view(), name="data-file-create"),
    path("process/files/<uuid:pk>/", DataFileDetails.as_view(), name="data-file-details"),
    path("corpus/<uuid:corpus>/files/", CorpusDataFileList.as_view(), name="corpus-data-files"),
]
