"""
Fixtures of the start, retry and activity tests: a corpus of a few pages where `user` is a
contributor, and a workers process on it with three worker runs A, B (parent A) and C (parents A
and B), each version runnable (available, with an image and a command). Test modules import the
fixtures they use.
"""

import pytest
from django.db import connection

from documents.models import Element
from documents.tests.factories import CorpusFactory, ElementFactory, ElementTypeFactory
from processes.models import ActivityState, Process, ProcessMode
from processes.services import activities
from processes.tests.factories import ProcessFactory, RunnableWorkerVersionFactory, make_run
from users.models import Role
from users.tests.factories import grant

ELEMENT_COUNT = 4
START_URL = "/api/v1/process/start-activity/"


def update_url(run_id):
    return f"/api/v1/workers/versions/{run_id}/activity/"


@pytest.fixture
def page_type(corpus):
    return ElementTypeFactory(corpus=corpus, slug="page", display_name="Page")


@pytest.fixture
def elements(corpus, page_type):
    return [ElementFactory(corpus=corpus, type=page_type, name=f"Page {index}") for index in range(ELEMENT_COUNT)]


@pytest.fixture
def process(corpus, user, elements):
    return ProcessFactory(corpus=corpus, creator=user, name="Process")


def make_version(slug, **kwargs):
    """An available version of a new worker `slug`, with an image and a command."""
    return RunnableWorkerVersionFactory(worker__slug=slug, worker__name=f"Worker {slug}", **kwargs)


@pytest.fixture
def runs(process):
    """A; B after A; C after A and B."""
    a = make_run(process, make_version("a"))
    b = make_run(process, make_version("b"), parents=[a])
    c = make_run(process, make_version("c"), parents=[a, b])
    return a, b, c


def committed_queue(user, count):
    """A ready process with one worker run and `count` queued activities, committed (transactional tests)."""
    corpus = CorpusFactory(name="Concurrent")
    grant(corpus, Role.CONTRIBUTOR, user=user)
    page = corpus.types.create(slug="page", display_name="Page")
    Element.objects.bulk_create(Element(corpus=corpus, type=page, name=f"P{index}") for index in range(count))
    process = ProcessFactory(corpus=corpus, creator=user, mode=ProcessMode.Workers)
    run = make_run(process, make_version("concurrent"))
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {activities.ACTIVITIES} (process_id, worker_run_id, element_id, state, created, updated) "
            f"SELECT %s, %s, id, 'queued', now(), now() FROM {Element._meta.db_table} WHERE corpus_id = %s",
            [str(process.id), str(run.id), str(corpus.id)],
        )
    Process.objects.filter(id=process.id).update(activity_state=ActivityState.Ready)
    return process, run
