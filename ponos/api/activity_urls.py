"""Routes of the activity calls tasks make for every element (see `ponos.api.activity_views`)."""

from django.urls import path

from ponos.api.activity_views import start_worker_activity, update_worker_activity

urlpatterns = [
    path("process/start-activity/", start_worker_activity, name="start-worker-activity"),
    # The path says "versions" for compatibility: `pk` is a worker run (or, deprecated, a worker version).
    path("workers/versions/<uuid:pk>/activity/", update_worker_activity, name="update-worker-activity"),
]
