"""
Fixtures of the task API tests: a started process on a private corpus where `user` is a
contributor, tasks made directly in the states a test needs, and clients calling with a task's
`Ponos` token. Imported by name in the test modules that use them.
"""

import pytest
from django.contrib.contenttypes.models import ContentType
from django.utils import timezone
from rest_framework.test import APIClient

from conftest import token_client
from documents.models import Corpus
from ponos.models import Agent, Farm, Task, TaskState
from processes.models import Process, ProcessMode
from users.models import Right, Role


def grant(corpus, user, level):
    return Right.objects.create(content_object=corpus, user=user, level=level)


def task_client(task):
    """A client calling as `task`, with its own token (valid while the task runs or stops)."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Ponos {task.token}")
    client.task = task
    return client


def make_task(process, slug, *, state=TaskState.Unscheduled, parents=(), run=0, **kwargs):
    task = Task.objects.create(process=process, slug=slug, state=state, run=run, **kwargs)
    if parents:
        task.parents.set(parents)
    return task


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    """Logs and artifacts land in a folder of the test: real files, through the real storage code."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.PUBLIC_URL = "http://testserver"
    return settings.MEDIA_ROOT


@pytest.fixture(autouse=True)
def _content_types(db):
    # The rights helper caches the corpus content type; load it now so that query counts are stable.
    ContentType.objects.get_for_model(Corpus)


@pytest.fixture
def corpus(user):
    corpus = Corpus.objects.create(name="Private corpus")
    grant(corpus, user, Role.CONTRIBUTOR)
    return corpus


@pytest.fixture
def process(corpus, user):
    return Process.objects.create(mode=ProcessMode.Workers, corpus=corpus, creator=user, started=timezone.now())


@pytest.fixture
def other_process(user):
    """A process of the same creator on another corpus: its tasks must not reach `process`."""
    corpus = Corpus.objects.create(name="Other corpus")
    grant(corpus, user, Role.ADMIN)
    return Process.objects.create(mode=ProcessMode.Workers, corpus=corpus, creator=user, started=timezone.now())


@pytest.fixture
def task(process):
    return make_task(process, "worker", state=TaskState.Running, env={"ARKINDEX_PROCESS_ID": str(process.id)})


@pytest.fixture
def guest(make_user, corpus):
    user = make_user("guest@example.com")
    grant(corpus, user, Role.GUEST)
    return user


@pytest.fixture
def guest_client(guest):
    return token_client(guest)


@pytest.fixture
def agent():
    farm, _ = Farm.objects.get_or_create(name="default")
    return Agent.objects.create(farm=farm, hostname="host-a", pid=42, last_ping=timezone.now())
