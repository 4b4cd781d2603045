from django.contrib.auth import views as auth_views
from django.urls import path
from django.views.generic import RedirectView

from console import views

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
]
