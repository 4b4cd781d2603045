"""Fixtures shared by every app's tests."""

import django_rq
import pytest
from rest_framework.test import APIClient

from arkindex.rq import QUEUES
from tests.tokens import token_client

# Agents, job workers and the live API as separate processes, for the tests that run processes;
# the corpus, types and elements most tests start from; S3 storages and storage helpers.
pytest_plugins = ["console.tests.browser", "ponos.tests.running", "tests.fixtures", "tests.s3", "tests.storage"]

# Tests that start servers, agents or the clients' environments: they run after all the others,
# so that a broken rule fails the run in its first minutes. `pytest -m "not slow and not e2e"` runs
# the fast stage alone.
SLOW_MARKERS = ("slow", "e2e", "browser")


def is_slow(item):
    return any(item.get_closest_marker(marker) for marker in SLOW_MARKERS)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config, items):
    # A stable sort: within each stage, the order pytest-django chose stays.
    items.sort(key=is_slow)


def pytest_report_collectionfinish(config, start_path, items):
    slow = sum(1 for item in items if is_slow(item))
    return f"fast tests first ({len(items) - slow}), then the slow ones ({slow})"


@pytest.fixture(autouse=True)
def _clean_redis():
    """Each test starts with empty queues: a job left by one test never runs in the next."""
    connection = django_rq.get_connection(QUEUES[0])
    connection.flushdb()
    yield
    connection.flushdb()


@pytest.fixture
def make_user(db, django_user_model):
    counter = {"n": 0}

    def make(email=None, password="secret-password", **kwargs):
        counter["n"] += 1
        email = email or f"user{counter['n']}@example.com"
        return django_user_model.objects.create_user(email=email, password=password, **kwargs)

    return make


@pytest.fixture
def user(make_user):
    return make_user("user@example.com")


@pytest.fixture
def other_user(make_user):
    return make_user("other@example.com")


@pytest.fixture
def superuser(db, django_user_model):
    return django_user_model.objects.create_superuser(email="root@example.com", password="root-password")


@pytest.fixture
def anonymous_client():
    return APIClient()


@pytest.fixture
def user_client(user):
    return token_client(user)


@pytest.fixture
def other_client(other_user):
    return token_client(other_user)


@pytest.fixture
def superuser_client(superuser):
    return token_client(superuser)
