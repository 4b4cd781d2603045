"""
Fixtures of the start, retry and activity tests: a corpus of a few pages where `user` is a
contributor, and a workers process on it with three worker runs A, B (parent A) and C (parents A
and B), each version runnable (available, with an image and a command). Test modules import the
fixtures they use.
"""

import pytest
from django.contrib.contenttypes.models import ContentType

from documents import services as documents_services
from documents.models import Corpus, ElementType
from processes.models import Process, ProcessMode, WorkerRun
from users.models import Right, Role
from workers.models import Model, Worker
from workers.tests.factories import WorkerFactory, WorkerVersionFactory

ELEMENT_COUNT = 4


@pytest.fixture(autouse=True)
def _content_types(db):
    # The rights helper caches content types; load them now so that query counts are stable.
    for model in (Corpus, Worker, Model):
        ContentType.objects.get_for_model(model)


@pytest.fixture
def corpus(user):
    corpus = Corpus.objects.create(name="Corpus")
    Right.objects.create(content_object=corpus, user=user, level=Role.CONTRIBUTOR)
    return corpus


@pytest.fixture
def page_type(corpus):
    return ElementType.objects.create(corpus=corpus, slug="page", display_name="Page")


@pytest.fixture
def elements(corpus, page_type):
    return [
        documents_services.element_create(corpus=corpus, type=page_type, name=f"Page {index}")
        for index in range(ELEMENT_COUNT)
    ]


@pytest.fixture
def process(corpus, user, elements):
    return Process.objects.create(corpus=corpus, creator=user, mode=ProcessMode.Workers, name="Process")


def make_version(slug, **kwargs):
    """An available version of a new worker `slug`, with an image and a command."""
    worker = WorkerFactory(slug=slug, name=f"Worker {slug}")
    kwargs.setdefault("docker_image_iid", f"registry.example.com/{slug}:1")
    kwargs.setdefault("configuration", {"docker": {"command": f"worker-{slug}", "shm_size": "1g"}})
    return WorkerVersionFactory(worker=worker, **kwargs)


def make_run(process, version=None, parents=(), **kwargs):
    return WorkerRun.objects.create(
        process=process,
        version=version or make_version(f"worker-{WorkerRun.objects.count()}"),
        parents=[parent.id for parent in parents],
        **kwargs,
    )


@pytest.fixture
def runs(process):
    """A; B after A; C after A and B."""
    a = make_run(process, make_version("a"))
    b = make_run(process, make_version("b"), parents=[a])
    c = make_run(process, make_version("c"), parents=[a, b])
    return a, b, c
