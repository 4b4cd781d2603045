"""
Fixtures every app's tests share, made from the apps' factories: a private corpus where `user` is
a contributor, its usual types, an image, and `make_element` to grow trees through the services.
A test module that needs a richer corpus overrides `corpus`, usually by extending this one.
"""

import itertools

import pytest
from django.apps import apps
from django.contrib.contenttypes.models import ContentType

from documents.tests.factories import (
    CorpusFactory,
    ElementFactory,
    ElementTypeFactory,
    ImageFactory,
    ImageServerFactory,
)


@pytest.fixture(autouse=True)
def _content_types(request):
    """
    The rights helper caches content types; a test using the database loads them all first, so
    that its query counts do not depend on which test ran before it.
    """
    if "_django_db_helper" not in request.fixturenames and not request.node.get_closest_marker("django_db"):
        return
    request.getfixturevalue("_django_db_helper")
    ContentType.objects.get_for_models(*apps.get_models())


@pytest.fixture
def corpus(user):
    """A private corpus where `user` is a contributor."""
    return CorpusFactory(name="Private corpus", contributor=user)


@pytest.fixture
def public_corpus():
    return CorpusFactory(name="Public corpus", public=True)


@pytest.fixture
def types(corpus):
    return {
        "folder": ElementTypeFactory(corpus=corpus, slug="folder", display_name="Folder", folder=True),
        "page": ElementTypeFactory(corpus=corpus, slug="page", display_name="Page"),
        "line": ElementTypeFactory(corpus=corpus, slug="line", display_name="Line"),
    }


@pytest.fixture
def image_server():
    return ImageServerFactory()


@pytest.fixture
def image(image_server):
    return ImageFactory(server=image_server, path="folder%2Fpage1.jpg")


@pytest.fixture
def make_element(corpus, types):
    """`make_element("line", parent=page)`: an element of one of `types` (or any type), with its paths."""
    counter = itertools.count()

    def make(type="page", name=None, parent=None, corpus=corpus, **kwargs):
        element_type = types[type] if isinstance(type, str) else type
        image = kwargs.get("image")
        if image is not None and kwargs.get("polygon") is None:
            kwargs["polygon"] = [[0, 0], [0, image.height], [image.width, image.height], [image.width, 0], [0, 0]]
        return ElementFactory(
            corpus=corpus, type=element_type, name=name or f"Element {next(counter)}", parent=parent, **kwargs
        )

    return make
