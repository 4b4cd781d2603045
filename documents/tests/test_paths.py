"""Maintenance of the element paths by the services: creation, links, unlinks and deletions."""

import pytest
from django.core.exceptions import ValidationError

from documents import services
from documents.models import Element, ElementPath
from documents.tests.factories import ElementFactory, ElementTypeFactory
from documents.tests.trees import assert_tree_consistent, paths_of

pytestmark = pytest.mark.django_db


def test_create_top_level_and_children(corpus, make_element):
    folder = make_element("folder", "Folder")
    first = make_element(parent=folder)
    second = make_element(parent=folder)
    line = make_element("line", parent=second)

    assert paths_of(folder) == {((), 0)}
    assert paths_of(first) == {((folder.id,), 0)}
    assert paths_of(second) == {((folder.id,), 1)}
    assert paths_of(line) == {((folder.id, second.id), 0)}
    assert ElementPath.objects.get(element=line).parent == second.id
    assert ElementPath.objects.get(element=folder).parent is None
    assert_tree_consistent(corpus)


def test_add_parent_to_top_level_subtree(corpus, make_element):
    folder_a = make_element("folder", "A")
    folder_b = make_element("folder", "B")
    make_element(parent=folder_b)
    page = make_element("page", "Page")
    line = make_element("line", parent=page)

    services.element_add_parent(child=page, parent=folder_b)

    # The page is no longer top-level: its `[]` path and its line's `[page]` path are replaced.
    assert paths_of(page) == {((folder_b.id,), 1)}
    assert paths_of(line) == {((folder_b.id, page.id), 0)}

    # A second parent: one more path for the page and for everything below it.
    services.element_add_parent(child=page, parent=folder_a)
    assert paths_of(page) == {((folder_b.id,), 1), ((folder_a.id,), 0)}
    assert paths_of(line) == {((folder_b.id, page.id), 0), ((folder_a.id, page.id), 0)}
    assert_tree_consistent(corpus)


def test_multi_parent_paths_multiply(corpus, make_element):
    """A child of an element with two paths gets two paths, and its descendants too."""
    root_a, root_b = make_element("folder", "A"), make_element("folder", "B")
    shared = make_element("folder", "Shared", parent=root_a)
    services.element_add_parent(child=shared, parent=root_b)
    page = make_element(parent=shared)
    line = make_element("line", parent=page)

    assert paths_of(page) == {((root_a.id, shared.id), 0), ((root_b.id, shared.id), 0)}
    assert paths_of(line) == {((root_a.id, shared.id, page.id), 0), ((root_b.id, shared.id, page.id), 0)}
    assert_tree_consistent(corpus)

    # Linking a whole multi-path subtree under a third root adds the matching paths.
    root_c = make_element("folder", "C")
    services.element_add_parent(child=shared, parent=root_c)
    assert {path for path, _ in paths_of(line)} == {(root.id, shared.id, page.id) for root in (root_a, root_b, root_c)}
    assert_tree_consistent(corpus)


def test_cycles_refused(corpus, make_element):
    top = make_element("folder", "Top")
    middle = make_element("folder", parent=top)
    bottom = make_element(parent=middle)

    for child, parent in ((top, bottom), (top, middle), (middle, bottom), (top, top)):
        with pytest.raises(ValidationError) as error:
            services.element_add_parent(child=child, parent=parent)
        assert "descendants" in error.value.message_dict["parent"][0]
    assert_tree_consistent(corpus)


def test_existing_link_refused(make_element):
    folder = make_element("folder")
    page = make_element(parent=folder)
    with pytest.raises(ValidationError) as error:
        services.element_add_parent(child=page, parent=folder)
    assert error.value.message_dict == {"parent": [f"Element {folder.id} is already a parent of element {page.id}."]}


def test_other_corpus_refused(corpus, make_element, public_corpus):

    other_type = ElementTypeFactory(corpus=public_corpus, slug="page", display_name="Page")
    foreign = ElementFactory(corpus=public_corpus, type=other_type, name="Foreign")
    folder = make_element("folder")
    with pytest.raises(ValidationError) as error:
        services.element_add_parent(child=foreign, parent=folder)
    assert "not in the corpus" in error.value.message_dict["parent"][0]


def test_remove_one_of_two_parents(corpus, make_element):
    root_a, root_b = make_element("folder", "A"), make_element("folder", "B")
    page = make_element(parent=root_a)
    line = make_element("line", parent=page)
    services.element_add_parent(child=page, parent=root_b)

    services.element_remove_parent(child=page, parent=root_a)

    assert paths_of(page) == {((root_b.id,), 0)}
    assert paths_of(line) == {((root_b.id, page.id), 0)}
    assert_tree_consistent(corpus)


def test_remove_last_parent_makes_top_level(corpus, make_element):
    root = make_element("folder", "Root")
    folder = make_element("folder", "Folder", parent=root)
    page = make_element(parent=folder)
    line = make_element("line", parent=page)

    services.element_remove_parent(child=folder, parent=root)

    assert paths_of(folder) == {((), 0)}
    assert paths_of(page) == {((folder.id,), 0)}
    assert paths_of(line) == {((folder.id, page.id), 0)}
    assert paths_of(root) == {((), 0)}
    assert_tree_consistent(corpus)


def test_remove_parent_deep_in_multi_path_tree(corpus, make_element):
    """Unlinking below a shared element removes the link on every path through it."""
    root_a, root_b = make_element("folder", "A"), make_element("folder", "B")
    shared = make_element("folder", "Shared", parent=root_a)
    services.element_add_parent(child=shared, parent=root_b)
    page = make_element(parent=shared)
    other = make_element("folder", "Other")
    services.element_add_parent(child=page, parent=other)
    line = make_element("line", parent=page)

    services.element_remove_parent(child=page, parent=shared)

    assert paths_of(page) == {((other.id,), 0)}
    assert paths_of(line) == {((other.id, page.id), 0)}
    assert_tree_consistent(corpus)


def test_remove_missing_link_refused(make_element):
    folder, page = make_element("folder"), make_element()
    with pytest.raises(ValidationError) as error:
        services.element_remove_parent(child=page, parent=folder)
    assert error.value.message_dict == {"parent": [f"Element {folder.id} is not a parent of element {page.id}."]}


def test_add_children_in_order_and_idempotent(corpus, make_element):
    folder = make_element("folder")
    existing = make_element(parent=folder)
    pages = [make_element("page", f"P{i}") for i in range(3)]
    nested = make_element("line", parent=pages[0])

    services.element_add_children(parent=folder, children=[pages[2], pages[0], pages[1]])
    services.element_add_children(parent=folder, children=[pages[2], existing])

    assert paths_of(existing) == {((folder.id,), 0)}
    assert paths_of(pages[2]) == {((folder.id,), 1)}
    assert paths_of(pages[0]) == {((folder.id,), 2)}
    assert paths_of(pages[1]) == {((folder.id,), 3)}
    assert paths_of(nested) == {((folder.id, pages[0].id), 0)}
    assert_tree_consistent(corpus)


def test_add_children_with_nested_children(corpus, make_element):
    """Children of the batch may be below one another: both links apply."""
    folder = make_element("folder")
    page = make_element()
    line = make_element("line", parent=page)
    services.element_add_children(parent=folder, children=[page, line])
    assert {path for path, _ in paths_of(line)} == {(folder.id, page.id), (folder.id,)}
    assert_tree_consistent(corpus)


def test_delete_subtree(corpus, make_element):
    root = make_element("folder", "Root")
    folder = make_element("folder", "Folder", parent=root)
    page = make_element(parent=folder)
    line = make_element("line", parent=page)
    kept_page = make_element(parent=folder)
    # A second way up that avoids the folder: this page survives, without its paths through the folder.
    other = make_element("folder", "Other")
    services.element_add_parent(child=kept_page, parent=other)
    kept_line = make_element("line", parent=kept_page)

    deleted = services.element_delete(element_id=folder.id)

    assert deleted == 3
    assert set(Element.objects.values_list("id", flat=True)) == {root.id, other.id, kept_page.id, kept_line.id}
    assert paths_of(kept_page) == {((other.id,), 0)}
    assert paths_of(kept_line) == {((other.id, kept_page.id), 0)}
    assert not ElementPath.objects.filter(element_id__in=[folder.id, page.id, line.id]).exists()
    assert_tree_consistent(corpus)

    # Idempotent: the job may run after the element is gone.
    assert services.element_delete(element_id=folder.id) == 0


@pytest.mark.parametrize("create", ["elements", "element_transcriptions"])
def test_children_of_a_parent_deleted_meanwhile_are_not_created(corpus, make_element, create):
    """A parent read before its deletion committed: the lock finds no row, and nothing is written."""
    from rest_framework.exceptions import NotFound

    from documents.selectors import ParentZone
    from documents.services import results

    page = make_element("page")
    line_type = ElementTypeFactory(corpus=corpus, slug="deleted-parent-child")
    parent = ParentZone(page.id, corpus.id, None, None, None)
    services.element_delete(element_id=page.id)
    before = Element.objects.count()
    with pytest.raises(NotFound, match="deleted meanwhile"):
        if create == "elements":
            services.elements_create(parent=parent, elements=[{"type_id": line_type.id, "name": "1"}])
        else:
            results.element_transcriptions_create(
                parent=parent, element_type_id=line_type.id, items=[], worker_run=None, creator=None
            )
    assert Element.objects.count() == before
