"""CreateElementParent, DestroyElementParent and CreateElementChildren through the API."""

import pytest
from django.urls import reverse

from documents.tests.factories import ElementFactory, ElementTypeFactory
from documents.tests.trees import assert_tree_consistent, paths_of
from users.models import Role
from users.tests.factories import grant

pytestmark = pytest.mark.django_db

MISSING = "11111111-1111-1111-1111-111111111111"


def link_url(child, parent):
    return reverse(
        "element-parent",
        kwargs={"child": getattr(child, "id", child), "parent": getattr(parent, "id", parent)},
    )


def children_create_url(parent):
    return reverse("element-children-create", kwargs={"id": getattr(parent, "id", parent)})


# CreateElementParent


def test_create_element_parent(user_client, corpus, make_element):
    folder = make_element("folder")
    page = make_element()
    response = user_client.post(link_url(page, folder))
    assert response.status_code == 201
    assert response.json() == {"parent": str(folder.id), "child": str(page.id)}
    assert paths_of(page) == {((folder.id,), 0)}
    assert_tree_consistent(corpus)


def test_create_element_parent_existing_link(user_client, make_element):
    folder = make_element("folder")
    page = make_element(parent=folder)
    response = user_client.post(link_url(page, folder))
    # The CLI recognises this message and goes on.
    assert response.status_code == 400
    assert response.json() == {"parent": [f"Element {folder.id} is already a parent of element {page.id}."]}


def test_create_element_parent_cycle(user_client, make_element):
    folder = make_element("folder")
    page = make_element(parent=folder)
    response = user_client.post(link_url(folder, page))
    assert response.status_code == 400
    assert list(response.json()) == ["parent"]
    assert "descendants" in response.json()["parent"][0]


def test_create_element_parent_other_corpus(user_client, user, make_element, public_corpus):
    grant(public_corpus, Role.CONTRIBUTOR, user=user)
    other_type = ElementTypeFactory(corpus=public_corpus, slug="page", display_name="Page")
    foreign = ElementFactory(corpus=public_corpus, type=other_type, name="Foreign")
    folder = make_element("folder")
    response = user_client.post(link_url(foreign, folder))
    assert response.status_code == 400
    assert "not in the corpus" in response.json()["parent"][0]


def test_create_element_parent_missing_or_hidden(user_client, other_client, make_element):
    folder = make_element("folder")
    page = make_element()
    assert user_client.post(link_url(page, MISSING)).status_code == 404
    assert user_client.post(link_url(MISSING, folder)).status_code == 404
    assert other_client.post(link_url(page, folder)).status_code == 404


def test_create_element_parent_guest_forbidden(other_client, other_user, corpus, make_element):
    grant(corpus, Role.GUEST, user=other_user)
    folder, page = make_element("folder"), make_element()
    response = other_client.post(link_url(page, folder))
    assert response.status_code == 403
    assert paths_of(page) == {((), 0)}


def test_create_element_parent_anonymous(anonymous_client, make_element):
    assert anonymous_client.post(link_url(make_element(), make_element("folder"))).status_code == 401


# DestroyElementParent


def test_destroy_element_parent(user_client, corpus, make_element):
    folder = make_element("folder")
    page = make_element(parent=folder)
    line = make_element("line", parent=page)
    response = user_client.delete(link_url(page, folder))
    assert response.status_code == 204
    assert paths_of(page) == {((), 0)}
    assert paths_of(line) == {((page.id,), 0)}
    assert_tree_consistent(corpus)


def test_destroy_element_parent_not_linked(user_client, make_element):
    folder, page = make_element("folder"), make_element()
    response = user_client.delete(link_url(page, folder))
    assert response.status_code == 400
    assert response.json() == {"parent": [f"Element {folder.id} is not a parent of element {page.id}."]}


def test_destroy_element_parent_rights(other_client, other_user, anonymous_client, corpus, make_element):
    folder = make_element("folder")
    page = make_element(parent=folder)
    assert other_client.delete(link_url(page, folder)).status_code == 404
    assert anonymous_client.delete(link_url(page, folder)).status_code == 401
    grant(corpus, Role.GUEST, user=other_user)
    assert other_client.delete(link_url(page, folder)).status_code == 403
    assert paths_of(page) == {((folder.id,), 0)}


# CreateElementChildren


def test_create_element_children(user_client, corpus, make_element):
    folder = make_element("folder")
    first = make_element(parent=folder)
    pages = [make_element(name=f"P{index}") for index in range(3)]
    body = {"children": [str(pages[1].id), str(pages[0].id), str(pages[1].id), str(first.id), str(pages[2].id)]}
    response = user_client.post(children_create_url(folder), body)
    assert response.status_code == 201, response.json()
    assert response.json() == {"children": [str(pages[1].id), str(pages[0].id), str(first.id), str(pages[2].id)]}
    assert [paths_of(page) for page in pages] == [
        {((folder.id,), 2)},
        {((folder.id,), 1)},
        {((folder.id,), 3)},
    ]
    assert paths_of(first) == {((folder.id,), 0)}
    assert_tree_consistent(corpus)


@pytest.mark.parametrize(
    "body, message",
    [
        ({"children": []}, "Ensure this field has at least 1 elements."),
        ({"children": ["nope"]}, "Must be a valid UUID."),
        ({}, "This field is required."),
        ({"children": [MISSING]}, f"Element(s) {MISSING} do not exist in the corpus of the parent."),
    ],
)
def test_create_element_children_bad_input(user_client, make_element, body, message):
    response = user_client.post(children_create_url(make_element("folder")), body)
    assert response.status_code == 400
    assert list(response.json()) == ["children"]
    assert message in str(response.json()["children"])


def test_create_element_children_cycle(user_client, make_element):
    folder = make_element("folder")
    page = make_element(parent=folder)
    response = user_client.post(children_create_url(page), {"children": [str(folder.id)]})
    assert response.status_code == 400
    assert list(response.json()) == ["parent"]


def test_create_element_children_rights(other_client, other_user, anonymous_client, corpus, make_element):
    folder, page = make_element("folder"), make_element()
    body = {"children": [str(page.id)]}
    assert other_client.post(children_create_url(folder), body).status_code == 404
    assert other_client.post(children_create_url(MISSING), body).status_code == 404
    assert anonymous_client.post(children_create_url(folder), body).status_code == 401
    grant(corpus, Role.GUEST, user=other_user)
    assert other_client.post(children_create_url(folder), body).status_code == 403
    assert paths_of(page) == {((), 0)}
