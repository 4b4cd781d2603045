from django.urls import path

from ponos.api.views import ProcessRetry, ProcessStart, ProcessStop, ProcessTasks

urlpatterns = [
    path("process/<uuid:pk>/start/", ProcessStart.as_view(), name="process-start"),
    path("process/<uuid:pk>/retry/", ProcessRetry.as_view(), name="process-retry"),
    path("process/<uuid:pk>/stop/", ProcessStop.as_view(), name="process-stop"),
    path("process/<uuid:pk>/tasks/", ProcessTasks.as_view(), name="process-tasks"),
]
