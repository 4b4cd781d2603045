"""Routes of farms, agents and secrets (kept apart from the task routes of `ponos.api.urls`)."""

from django.urls import path

from ponos.api.agent_views import AgentActions, AgentDetails, AgentList, FarmList
from ponos.api.secret_views import SecretDetails

urlpatterns = [
    path("agents/", AgentList.as_view(), name="agent-list"),
    path("agents/<uuid:pk>/", AgentDetails.as_view(), name="agent-details"),
    path("agents/<uuid:pk>/actions/", AgentActions.as_view(), name="agent-actions"),
    path("farms/", FarmList.as_view(), name="farm-list"),
    # No trailing slash, and names may contain `/` (API.md §5.10).
    path("secret/<path:name>", SecretDetails.as_view(), name="secret-details"),
]
