from django.urls import path

from ponos.api.file_import_views import FilesProcessCreate

urlpatterns = [
    path("process/files/", FilesProcessCreate.as_view(), name="files-process-create"),
]
