"""
Fixtures of the start, retry and activity tests: a corpus of a few pages where `user` is a
contributor, and a workers process on it with three worker runs A, B (parent A) and C (parents A
and B), each version runnable (available, with an image and a command). Test modules import the
fixtures they use.
"""

import pytest

from documents.tests.factories import ElementFactory, ElementTypeFactory
from processes.tests.factories import ProcessFactory, RunnableWorkerVersionFactory, make_run

ELEMENT_COUNT = 4


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
