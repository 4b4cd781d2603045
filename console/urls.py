from django.contrib.auth import views as auth_views
from django.urls import path
from django.views.generic import RedirectView

from console import catalogue, results, views

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="console:processes", permanent=False), name="home"),
    path("login/", auth_views.LoginView.as_view(template_name="console/login.html"), name="login"),
    path("logout/", auth_views.LogoutView.as_view(next_page="console:login"), name="logout"),
    path(
        "password/",
        auth_views.PasswordChangeView.as_view(
            template_name="console/password_change.html", success_url="/password/done/"
        ),
        name="password-change",
    ),
    path(
        "password/done/",
        auth_views.PasswordChangeDoneView.as_view(template_name="console/password_done.html"),
        name="password-done",
    ),
    path("processes/", views.ProcessList.as_view(), name="processes"),
    path("process/<uuid:pk>", views.ProcessDetail.as_view(), name="process"),
    path("process/<uuid:pk>/", views.ProcessDetail.as_view()),
    path("process/<uuid:pk>/<str:action>", views.ProcessAction.as_view(), name="process-action"),
    path("element/<uuid:pk>", views.ElementDetail.as_view(), name="element"),
    path("element/<uuid:pk>/", views.ElementDetail.as_view()),
    path("agents/", views.AgentList.as_view(), name="agents"),
    path("worker-runs/", catalogue.WorkerRunList.as_view(), name="worker-runs"),
    path("worker-run/<uuid:pk>", catalogue.WorkerRunDetail.as_view(), name="worker-run"),
    path("workers/", catalogue.WorkerList.as_view(), name="workers"),
    path("worker/<uuid:pk>", catalogue.WorkerDetail.as_view(), name="worker"),
    path("worker-version/<uuid:pk>", catalogue.WorkerVersionDetail.as_view(), name="worker-version"),
    path("models/", catalogue.ModelList.as_view(), name="models"),
    path("model/<uuid:pk>", catalogue.ModelDetail.as_view(), name="model"),
    path("datasets/", catalogue.DatasetList.as_view(), name="datasets"),
    path("dataset/<uuid:pk>", catalogue.DatasetDetail.as_view(), name="dataset"),
    path("dataset/<uuid:pk>/", catalogue.DatasetDetail.as_view()),
    path("delete-results/", results.DeleteResults.as_view(), name="delete-results"),
]
