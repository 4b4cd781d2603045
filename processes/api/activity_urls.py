from django.urls import path

from processes.api.activity_views import ListProcessActivityStats, StartWorkerActivity, UpdateWorkerActivity

urlpatterns = [
    path("process/start-activity/", StartWorkerActivity.as_view(), name="start-worker-activity"),
    path("process/<uuid:pk>/activity-stats/", ListProcessActivityStats.as_view(), name="process-activity-stats"),
    # The path says "versions" for compatibility: `pk` is a worker run (or, deprecated, a worker version).
    path("workers/versions/<uuid:pk>/activity/", UpdateWorkerActivity.as_view(), name="update-worker-activity"),
]
