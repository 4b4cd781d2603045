"""
Fixtures of the documents tests: corpora with rights, types, images, and element trees built
through the services, so that every path in a test is one the product itself would write.
"""

import itertools

import pytest
from django.contrib.contenttypes.models import ContentType

from documents import services
from documents.models import Corpus, ElementPath, ElementType, Image, ImageServer
from users.models import Right, Role


@pytest.fixture(autouse=True)
def _content_types(db):
    # The rights helper caches the corpus content type; load it now so that query counts are stable.
    ContentType.objects.get_for_model(Corpus)


def grant(corpus, user, level):
    return Right.objects.create(content_object=corpus, user=user, level=level)


@pytest.fixture
def corpus(user):
    """A private corpus where `user` is a contributor."""
    corpus = Corpus.objects.create(name="Private corpus")
    grant(corpus, user, Role.CONTRIBUTOR)
    return corpus


@pytest.fixture
def public_corpus():
    return Corpus.objects.create(name="Public corpus", public=True)


@pytest.fixture
def types(corpus):
    return {
        "folder": ElementType.objects.create(corpus=corpus, slug="folder", display_name="Folder", folder=True),
        "page": ElementType.objects.create(corpus=corpus, slug="page", display_name="Page"),
        "line": ElementType.objects.create(corpus=corpus, slug="line", display_name="Line"),
    }


@pytest.fixture
def image_server():
    return ImageServer.objects.create(url="https://iiif.example.com/iiif/2", display_name="Example IIIF")


@pytest.fixture
def image(image_server):
    return Image.objects.create(
        server=image_server, path="folder%2Fpage1.jpg", width=1000, height=2000, status="checked"
    )


@pytest.fixture
def make_element(corpus, types):
    counter = itertools.count()

    def make(type="page", name=None, parent=None, corpus=corpus, **kwargs):
        element_type = types[type] if isinstance(type, str) else type
        image = kwargs.get("image")
        if image is not None and kwargs.get("polygon") is None:
            kwargs["polygon"] = [[0, 0], [0, image.height], [image.width, image.height], [image.width, 0], [0, 0]]
        return services.element_create(
            corpus=corpus, type=element_type, name=name or f"Element {next(counter)}", parent=parent, **kwargs
        )

    return make


def paths_of(element):
    """An element's paths as a set of tuples of ids, with the position of each."""
    return {(tuple(path), ordering) for path, ordering in element.paths.values_list("path", "ordering")}


def assert_tree_consistent(corpus):
    """
    Check the invariants of `documents.models` on a whole corpus: top-level elements have the
    single path `[]`; the paths of any other element are exactly its parents' paths followed by
    that parent, with one position per parent.
    """
    rows = list(ElementPath.objects.filter(element__corpus=corpus).values_list("element_id", "path", "ordering"))
    paths = {}
    positions = {}
    for element_id, path, ordering in rows:
        paths.setdefault(element_id, set()).add(tuple(path))
        if path:
            positions.setdefault((element_id, path[-1]), set()).add(ordering)
    for element_id, element_paths in paths.items():
        parents = {path[-1] for path in element_paths if path}
        if not parents:
            assert element_paths == {()}, f"{element_id} is top-level but has paths {element_paths}"
            continue
        assert () not in element_paths, f"{element_id} has parents and the top-level path"
        expected = {parent_path + (parent,) for parent in parents for parent_path in paths.get(parent, set())}
        assert element_paths == expected, f"paths of {element_id}: {element_paths} != {expected}"
    for key, orderings in positions.items():
        assert len(orderings) == 1, f"{key} has several positions: {orderings}"
