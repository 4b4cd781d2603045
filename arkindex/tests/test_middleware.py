"""The middlewares the API does without (`arkindex.middleware.for_pages_only`), and what stays: CSRF."""

import pytest
from django.test import Client

from arkindex.middleware import PagesOnlyMessageMiddleware, for_pages_only

pytestmark = pytest.mark.django_db


def test_the_admin_keeps_its_csrf_check_and_messages(superuser):
    client = Client(enforce_csrf_checks=True)
    response = client.post("/admin/login/", {"username": superuser.email, "password": "root-password"})
    assert response.status_code == 403
    client.force_login(superuser)
    response = client.get("/admin/")
    assert response.status_code == 200
    assert hasattr(response.wsgi_request, "_messages")


def test_the_api_skips_them(user_client):
    response = user_client.get("/api/v1/user/")
    assert response.status_code == 200
    assert not hasattr(response.wsgi_request, "_messages")


def test_sessions_still_need_csrf_on_the_api(user):
    """DRF checks CSRF itself for a request authenticated by a session cookie."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    response = client.post("/api/v1/corpus/", {"name": "Mine"}, content_type="application/json")
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]
    # A page hands out the CSRF cookie; the API's pages-free middlewares never do.
    assert "arkindex.csrf" not in client.get("/api/v1/user/").cookies
    client.get("/admin/login/")
    token = client.cookies["arkindex.csrf"].value
    response = client.post("/api/v1/corpus/", {"name": "Mine"}, content_type="application/json", HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 201, response.json()


def test_names_say_what_they_wrap():
    from django.middleware.csrf import CsrfViewMiddleware

    assert PagesOnlyMessageMiddleware.__name__ == "PagesOnlyMessageMiddleware"
    assert not hasattr(PagesOnlyMessageMiddleware, "process_view")
    assert hasattr(for_pages_only(CsrfViewMiddleware), "process_view")
