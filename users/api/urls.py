from django.urls import path

from users.api.views import UserLogin, UserRetrieve

urlpatterns = [
    path("user/", UserRetrieve.as_view(), name="user-retrieve"),
    path("user/login/", UserLogin.as_view(), name="user-login"),
]
