from django.urls import path

from ponos.api.views import ProcessRetry, ProcessStart

urlpatterns = [
    path("process/<uuid:pk>/start/", ProcessStart.as_view(), name="process-start"),
    path("process/<uuid:pk>/retry/", ProcessRetry.as_view(), name="process-retry"),
]
