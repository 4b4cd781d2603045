"""Routes of one task: details, stop and restart, the task's own view of itself, log and artifacts."""

from django.urls import path

from ponos.api.task_views import ArtifactDownload, TaskArtifacts, TaskDetails, TaskFromAgent, TaskLog, TaskRestart

urlpatterns = [
    path("task/<uuid:pk>/", TaskDetails.as_view(), name="task-details"),
    path("task/<uuid:pk>/from-agent/", TaskFromAgent.as_view(), name="task-from-agent"),
    path("task/<uuid:pk>/restart/", TaskRestart.as_view(), name="task-restart"),
    path("task/<uuid:pk>/log/", TaskLog.as_view(), name="task-log"),
    path("task/<uuid:pk>/artifacts/", TaskArtifacts.as_view(), name="task-artifacts"),
    # No trailing slash: the path of the artifact ends the URL (API.md).
    path("task/<uuid:pk>/artifact/<path:path>", ArtifactDownload.as_view(), name="task-artifact-download"),
]
