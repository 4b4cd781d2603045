"""
Fixtures of the task API tests: a started process on a private corpus where `user` is a
contributor, tasks made directly in the states a test needs, and clients calling with a task's
`Ponos` token. Imported by name in the test modules that use them.
"""

import pytest
from django.utils import timezone

from documents.tests.factories import CorpusFactory
from ponos.models import Agent, Farm, TaskState
from ponos.tests.factories import make_task
from processes.models import ProcessMode
from processes.tests.factories import ProcessFactory
from tests.tokens import token_client
from users.models import Role
from users.tests.factories import grant


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    """Logs and artifacts land in a folder of the test: real files, through the real storage code."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.PUBLIC_URL = "http://testserver"
    return settings.MEDIA_ROOT


@pytest.fixture
def process(corpus, user):
    return ProcessFactory(mode=ProcessMode.Workers, corpus=corpus, creator=user, started=timezone.now())


@pytest.fixture
def other_process(user):
    """A process of the same creator on another corpus: its tasks must not reach `process`."""
    corpus = CorpusFactory(name="Other corpus")
    grant(corpus, Role.ADMIN, user=user)
    return ProcessFactory(mode=ProcessMode.Workers, corpus=corpus, creator=user, started=timezone.now())


@pytest.fixture
def task(process):
    return make_task(process, "worker", state=TaskState.Running, env={"ARKINDEX_PROCESS_ID": str(process.id)})


@pytest.fixture
def guest(make_user, corpus):
    user = make_user("guest@example.com")
    grant(corpus, Role.GUEST, user=user)
    return user


@pytest.fixture
def guest_client(guest):
    return token_client(guest)


@pytest.fixture
def agent():
    farm, _ = Farm.objects.get_or_create(name="default")
    return Agent.objects.create(farm=farm, hostname="host-a", pid=42, last_ping=timezone.now())
