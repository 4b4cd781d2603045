"""
Production settings and entry points, run as an operator runs them: `check --deploy`, the refusal
of the default secret key, `createsuperuser --noinput` from two variables, and granian serving the
API from `arkindex.wsgi`.
"""

import contextlib
import json
import secrets
import signal
import subprocess
import sys

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from arkindex.settings import DEFAULT_SECRET_KEY
from arkindex.tests.conftest import REPO_ROOT, child_env, free_port, http, run_cli, stop_process, wait_for
from users.models import Token

pytestmark = pytest.mark.slow


def production_env(**overrides):
    return {
        "DJANGO_SETTINGS_MODULE": "arkindex.settings",
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(64),
        "PUBLIC_URL": "https://arkindex.example.com",
        "ALLOWED_HOSTS": "arkindex.example.com",
        **overrides,
    }


def test_check_deploy_is_clean():
    result = run_cli("check", "--deploy", "--fail-level", "WARNING", **production_env())
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_check_deploy_flags_plain_http():
    """The check can fail: without HTTPS, Django's own deploy warnings are there."""
    result = run_cli(
        "check", "--deploy", "--fail-level", "WARNING", **production_env(PUBLIC_URL="http://arkindex.example.com")
    )
    assert result.returncode == 1
    assert "security.W008" in result.stderr  # SECURE_SSL_REDIRECT


DATABASE_SETTINGS = (
    "from django.db import connection; s = connection.settings_dict; "
    "print(s['CONN_MAX_AGE'], s['CONN_HEALTH_CHECKS'], s['DISABLE_SERVER_SIDE_CURSORS'])"
)


@pytest.mark.parametrize(
    "variables,expected",
    [
        ({}, "60 True False"),
        (
            {
                "DATABASE_CONN_MAX_AGE": "0",
                "DATABASE_CONN_HEALTH_CHECKS": "false",
                "DATABASE_TRANSACTION_POOLING": "true",
            },
            "0 False True",
        ),
    ],
    ids=["defaults", "set"],
)
def test_database_connection_settings(variables, expected):
    """Connections kept and checked by default; a transaction pooler turns server-side state off."""
    result = run_cli("shell", "--no-imports", "-c", DATABASE_SETTINGS, **production_env(**variables))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == expected


@pytest.mark.parametrize(
    "variables",
    [
        {"SECRET_KEY": None},
        {"SECRET_KEY": DEFAULT_SECRET_KEY},
    ],
    ids=["unset", "default"],
)
def test_production_refuses_default_secret_key(variables):
    result = run_cli("check", **production_env(**variables))
    assert result.returncode == 1
    assert "Configuration error: SECRET_KEY is not set" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "variables",
    [{"DEBUG": "true"}, {"ARKINDEX_ALLOW_DEFAULT_SECRET_KEY": "true"}],
    ids=["debug", "explicitly-allowed"],
)
def test_default_secret_key_allowed_when_asked(variables):
    result = run_cli("check", **production_env(SECRET_KEY=None, **variables))
    assert result.returncode == 0, result.stderr


def test_createsuperuser_noinput_from_environment(db, monkeypatch, anonymous_client):
    monkeypatch.setenv("DJANGO_SUPERUSER_EMAIL", "Operator@Example.com")
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "a-long-operator-password")
    call_command("createsuperuser", interactive=False, verbosity=0)

    user = get_user_model().objects.get()
    assert user.email == "operator@example.com"
    assert user.is_superuser and user.is_staff and user.is_admin
    response = anonymous_client.post(
        "/api/v1/user/login/", {"email": "operator@example.com", "password": "a-long-operator-password"}
    )
    assert response.status_code == 200, response.json()
    assert response.json()["is_admin"] is True


def test_createsuperuser_noinput_needs_the_email(db, monkeypatch):
    monkeypatch.delenv("DJANGO_SUPERUSER_EMAIL", raising=False)
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "a-long-operator-password")
    with pytest.raises(Exception, match="email"):
        call_command("createsuperuser", interactive=False, verbosity=0)
    assert not get_user_model().objects.exists()


@contextlib.contextmanager
def granian(test_database_url, test_redis_url, tmp_path, workers=1, expected_health=None, **variables):
    """granian serving the API as in production (one thread per worker here), stopped at the end."""
    port = free_port()
    log = tmp_path / "granian.log"
    env = child_env(
        **production_env(
            DATABASE_URL=test_database_url,
            REDIS_URL=test_redis_url,
            # Plain HTTP on loopback, as a TLS-terminating proxy would forward it.
            PUBLIC_URL=f"http://127.0.0.1:{port}",
            ALLOWED_HOSTS="127.0.0.1",
            **variables,
        )
    )
    with log.open("w") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "granian", "--interface", "wsgi", "arkindex.wsgi:application", "--no-ws"]
            + ["--host", "127.0.0.1", "--port", str(port), "--workers", str(workers), "--blocking-threads", "2"],
            env=env,
            cwd=REPO_ROOT,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:

        def healthy():
            if process.poll() is not None:
                pytest.fail(f"granian exited with {process.returncode}:\n{log.read_text()}", pytrace=False)
            try:
                return http("GET", f"{base}/api/v1/health/", timeout=2)
            except OSError:
                return None

        status, body = wait_for(healthy, 30, log.read_text)
        assert (status, body) == (expected_health or (200, {"database": "ok", "redis": "ok"}))
        yield base
    finally:
        # SIGTERM is the graceful stop any process manager sends; granian ends it with 0.
        assert stop_process(process, signal.SIGTERM) == 0, log.read_text()
    assert "Granian shutdown completed" in log.read_text()


def test_granian_serves_the_api(test_database_url, test_redis_url, make_user, tmp_path):
    token = Token.objects.create(user=make_user("granian@example.com"), name="granian")
    with granian(test_database_url, test_redis_url, tmp_path) as base:
        # What the test committed is what granian's workers read.
        status, body = http("GET", f"{base}/api/v1/user/", token=token.key)
        assert (status, body["email"]) == (200, "granian@example.com")


def test_login_throttle_holds_across_workers(test_database_url, test_redis_url, make_user, tmp_path):
    """
    The login limits count in Redis, shared by every API process: with two granian workers, no more
    attempts get through than the limits allow (30 a minute per address, 10 a minute per account).
    """
    make_user("target@example.com")
    with granian(test_database_url, test_redis_url, tmp_path, workers=2) as base:
        # A new connection each time, so that both workers answer.
        account = [
            http("POST", f"{base}/api/v1/user/login/", {"email": "target@example.com", "password": f"guess {n}"})[0]
            for n in range(15)
        ]
        assert account.count(400) == 10 and account.count(429) == 5, account
        # Those 15 attempts count for the address: 15 more get an answer, then the address is throttled.
        address = [
            http("POST", f"{base}/api/v1/user/login/", {"email": f"nobody{n}@example.com", "password": "x"})[0]
            for n in range(25)
        ]
        assert address.count(400) == 15 and address.count(429) == 10, address


def test_database_down_is_a_503(test_redis_url, tmp_path):
    """PostgreSQL unreachable: every API request says so (503, the standard body), none a bare 500."""
    unreachable = f"postgres://postgres@127.0.0.1:{free_port()}/arkindex"
    health = (503, {"database": "unreachable", "redis": "ok"})
    with granian(unreachable, test_redis_url, tmp_path, expected_health=health) as base:
        for method, path, token in (
            ("GET", "/api/v1/corpus/", None),
            ("GET", "/api/v1/user/", "a-token"),
            ("POST", "/api/v1/user/login/", None),
        ):
            body = {"email": "a@example.com", "password": "x"} if method == "POST" else None
            status, answer = http(method, f"{base}{path}", body, token=token)
            assert status == 503, (path, answer)
            assert answer == {
                "type": "server_error",
                "errors": [
                    {
                        "attr": None,
                        "code": "service_unavailable",
                        "detail": "The database is unavailable: try again in a moment.",
                    }
                ],
            }


def test_connections_survive_refused_bodies(test_database_url, test_redis_url, tmp_path):
    """
    A request refused before its body is read (an anonymous POST: 401) leaves its kept-alive
    connection in order for the next request; a body over the limit closes it, and says so.
    """
    import http.client
    from urllib.parse import urlsplit

    with granian(test_database_url, test_redis_url, tmp_path, API_MAX_BODY_SIZE=100_000) as base:
        address = urlsplit(base)
        connection = http.client.HTTPConnection(address.hostname, address.port, timeout=10)
        body = json.dumps({"name": "x" * 70_000}).encode()
        for _ in range(30):
            connection.request("POST", "/api/v1/corpus/", body=body, headers={"Content-Type": "application/json"})
            refused = connection.getresponse()
            refused.read()
            assert refused.status == 401
            assert not refused.will_close
            connection.request("GET", "/api/v1/health/")
            answer = connection.getresponse()
            answer.read()
            assert answer.status == 200
        too_large = b"x" * 150_000
        connection.request("POST", "/api/v1/corpus/", body=too_large, headers={"Content-Type": "application/json"})
        refused = connection.getresponse()
        refused.read()
        assert refused.status == 401
        assert refused.getheader("Connection") == "close" and refused.will_close
        connection.close()
