"""The health check answers 200 only when both the database and Redis answer, and names the one that does not."""

import textwrap

import pytest
from django.test import override_settings

from arkindex.tests.conftest import run_cli

# Nothing listens on port 1: the connection is refused at once.
UNREACHABLE_REDIS = "redis://127.0.0.1:1/0"


@pytest.mark.django_db
def test_health_ok(anonymous_client, django_assert_num_queries):
    with django_assert_num_queries(1):
        response = anonymous_client.get("/api/v1/health/")
    assert response.status_code == 200
    assert response.json() == {"database": "ok", "redis": "ok"}


@pytest.mark.django_db
def test_health_ignores_credentials(anonymous_client):
    """A load balancer's probe may carry a stale token: the health check must not answer 401."""
    anonymous_client.credentials(HTTP_AUTHORIZATION="Token not-a-token")
    response = anonymous_client.get("/api/v1/health/")
    assert response.status_code == 200


@pytest.mark.django_db
def test_health_redis_unreachable(anonymous_client, settings):
    queues = {name: {**config, "URL": UNREACHABLE_REDIS} for name, config in settings.RQ_QUEUES.items()}
    with override_settings(RQ_QUEUES=queues):
        response = anonymous_client.get("/api/v1/health/")
    assert response.status_code == 503
    assert response.json() == {"database": "ok", "redis": "unreachable"}


def test_health_database_unreachable(test_redis_url):
    """With a database that does not exist, in a process of its own (settings are read at start)."""
    script = textwrap.dedent(
        """
        import json
        from django.test import Client
        response = Client().get("/api/v1/health/")
        print(response.status_code, json.dumps(response.json(), sort_keys=True))
        """
    )
    result = run_cli(
        "shell",
        "-c",
        script,
        DJANGO_SETTINGS_MODULE="arkindex.settings",
        DEBUG="true",
        DATABASE_URL="postgres://postgres@127.0.0.1:5432/arkindex_does_not_exist",
        REDIS_URL=test_redis_url,
        ALLOWED_HOSTS="testserver",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == '503 {"database": "unreachable", "redis": "ok"}'
