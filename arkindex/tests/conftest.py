"""
Helpers of the operations tests, which run the server the way an operator does: as separate
processes (granian, the CLI, `manage.py` commands) given their configuration through the
environment only.
"""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import quote

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]

# Variables that configure the server: a child gets only those a test gives it, never the ones the
# test process itself runs with (pytest-django's test settings module above all).
SERVER_VARIABLES = (
    "DJANGO_SETTINGS_MODULE",
    "DATABASE_URL",
    "REDIS_URL",
    "TEST_REDIS_URL",
    "SECRET_KEY",
    "DEBUG",
    "PUBLIC_URL",
    "ALLOWED_HOSTS",
    "CSRF_TRUSTED_ORIGINS",
    "MEDIA_ROOT",
    "STATIC_ROOT",
    "ARKINDEX_ALLOW_DEFAULT_SECRET_KEY",
    "ARKINDEX_DATA_DIR",
    "ARKINDEX_ADMIN_EMAIL",
    "LOG_FORMAT",
    "LOG_LEVEL",
)


def child_env(**variables):
    env = {key: value for key, value in os.environ.items() if key not in SERVER_VARIABLES}
    env.update({key: str(value) for key, value in variables.items() if value is not None})
    return env


def run_cli(*args, timeout=60, **variables):
    """`arkindex-server <args>` in a child process, with only the given server variables."""
    return subprocess.run(
        [sys.executable, "-m", "arkindex.cli", *args],
        env=child_env(**variables),
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def http(method, url, body=None, token=None, timeout=10):
    """(status, parsed JSON body or raw text) of one request; no exception on an error status."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Token {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, raw, content_type = response.status, response.read(), response.headers.get("Content-Type", "")
    except urllib.error.HTTPError as e:
        status, raw, content_type = e.code, e.read(), e.headers.get("Content-Type", "")
    if "json" in content_type:
        return status, json.loads(raw)
    return status, raw.decode(errors="replace")


def wait_for(predicate, timeout, describe):
    """Poll `predicate` until it returns a true value; on timeout fail with `describe()`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    pytest.fail(f"Gave up after {timeout}s.\n{describe()}", pytrace=False)


def stop_process(process, signum, timeout=30):
    """Send `signum`, wait, and kill as a last resort so that no test leaves a server behind."""
    if process.poll() is None:
        process.send_signal(signum)
    try:
        return process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        raise


@pytest.fixture
def test_database_url(transactional_db):
    """URL of the test database, for child processes: they only see what the test committed."""
    from django.db import connection

    settings = connection.settings_dict
    password = f":{settings['PASSWORD']}" if settings["PASSWORD"] else ""
    host = quote(settings["HOST"] or "127.0.0.1", safe="")
    port = f":{settings['PORT']}" if settings["PORT"] else ""
    return f"postgres://{settings['USER']}{password}@{host}{port}/{settings['NAME']}"


@pytest.fixture
def test_redis_url():
    from django.conf import settings

    return settings.RQ_QUEUES["default"]["URL"]
