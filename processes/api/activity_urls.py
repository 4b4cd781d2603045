from django.urls import path

from processes.api.activity_views import ListProcessActivityStats

# StartWorkerActivity and UpdateWorkerActivity are routed by `ponos.api.activity_urls`: a task's
# calls take a shorter way there before these views.
urlpatterns = [
    path("process/<uuid:pk>/activity-stats/", ListProcessActivityStats.as_view(), name="process-activity-stats"),
]
