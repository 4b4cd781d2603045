import pytest
from django.urls import reverse

from users.models import Token

pytestmark = pytest.mark.django_db


def test_login_returns_token(anonymous_client, user):
    response = anonymous_client.post(
        reverse("user-login"), {"email": "USER@example.com", "password": "secret-password"}, format="json"
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["email"] == "user@example.com"
    token = Token.objects.get(user=user, name="login")
    assert body["auth_token"] == token.key

    # Logging in again hands out the same token
    again = anonymous_client.post(reverse("user-login"), {"email": user.email, "password": "secret-password"})
    assert again.json()["auth_token"] == token.key


def test_login_bad_password(anonymous_client, user):
    response = anonymous_client.post(reverse("user-login"), {"email": user.email, "password": "nope"})
    assert response.status_code == 400
    assert response.json() == {"non_field_errors": ["Incorrect email or password."]}


def test_login_missing_fields(anonymous_client):
    response = anonymous_client.post(reverse("user-login"), {"email": "not-an-email"})
    assert response.status_code == 400
    body = response.json()
    assert body["email"] == ["Enter a valid email address."]
    assert body["password"] == ["This field is required."]


def test_login_inactive_user(anonymous_client, make_user):
    user = make_user("gone@example.com", is_active=False)
    response = anonymous_client.post(reverse("user-login"), {"email": user.email, "password": "secret-password"})
    assert response.status_code == 400


def test_retrieve_user(user_client, user, django_assert_num_queries):
    with django_assert_num_queries(2):
        response = user_client.get(reverse("user-retrieve"))
    assert response.status_code == 200
    assert response.json() == {
        "id": user.id,
        "email": "user@example.com",
        "display_name": "user",
        "is_admin": False,
        "created": user.created.isoformat().replace("+00:00", "Z"),
        "features": {"oidc": False, "signup": False, "search": True},
    }
    assert "auth_token" not in response.json()


def test_retrieve_user_requires_login(anonymous_client, settings):
    """Without credentials, a 401 with the instance's features: `arkindex login` reads them before logging in."""
    settings.ARKINDEX_FEATURES = {"oidc": True, "signup": False, "search": True}
    response = anonymous_client.get(reverse("user-retrieve"))
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert response.json() == {
        "type": "client_error",
        "errors": [
            {"attr": None, "code": "not_authenticated", "detail": "Authentication credentials were not provided."}
        ],
        "detail": "Authentication credentials were not provided.",
        "features": {"oidc": True, "signup": False, "search": True},
    }
    # A change is refused as any other anonymous write.
    response = anonymous_client.patch(reverse("user-retrieve"), {"display_name": "x"}, format="json")
    assert response.status_code == 401
    assert response.json() == {"detail": "Authentication credentials were not provided."}


def test_invalid_token(anonymous_client):
    anonymous_client.credentials(HTTP_AUTHORIZATION="Token nope")
    response = anonymous_client.get(reverse("user-retrieve"))
    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid token."}


def test_inactive_user_token_refused(make_user):
    from tests.tokens import token_client

    client = token_client(make_user("inactive@example.com", is_active=False))
    response = client.get(reverse("user-retrieve"))
    assert response.status_code == 401


def test_update_display_name(user_client, user):
    response = user_client.patch(reverse("user-retrieve"), {"display_name": "Ada", "email": "x@y.z"}, format="json")
    assert response.status_code == 200
    user.refresh_from_db()
    assert user.display_name == "Ada"
    assert user.email == "user@example.com"


def test_update_display_name_too_long(user_client):
    response = user_client.patch(reverse("user-retrieve"), {"display_name": "x" * 500}, format="json")
    assert response.status_code == 400
    assert "display_name" in response.json()
