from django.urls import path

from processes.api.process_views import ProcessCreate, ProcessDetails, ProcessElementList, ProcessList

urlpatterns = [
    path("process/", ProcessList.as_view(), name="process-list"),
    path("process/corpus/<uuid:corpus>/", ProcessCreate.as_view(), name="process-create"),
    path("process/<uuid:pk>/", ProcessDetails.as_view(), name="process-details"),
    path("process/<uuid:pk>/elements/", ProcessElementList.as_view(), name="process-elements"),
]
