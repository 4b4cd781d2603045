"""ListSelection, AddSelection and RemoveSelection: each user's selection of elements."""

import pytest
from django.urls import reverse

from documents import services
from documents.api.selection_views import MAX_IDS
from documents.models import Corpus, Selection
from documents.tests.factories import CorpusFactory, ElementFactory, ElementTypeFactory
from users.models import Right, Role
from users.tests.factories import grant
from workers.tests.factories import assert_list_queries

pytestmark = pytest.mark.django_db

URL = reverse("selection")


@pytest.fixture
def pages(make_element, image):
    folder = make_element("folder", "Folder")
    return [make_element("page", f"Page {n}", parent=folder, image=image) for n in range(6)]


@pytest.fixture
def hidden_element():
    corpus = CorpusFactory(name="Hidden corpus")
    element_type = ElementTypeFactory(corpus=corpus, slug="page", display_name="Page")
    return ElementFactory(corpus=corpus, type=element_type, name="Hidden page")


def selected(user):
    return set(Selection.objects.filter(user=user).values_list("element__name", flat=True))


def ids(*elements):
    return [str(element.id) for element in elements]


# ListSelection


def test_list_selection(user_client, user, other_user, pages, django_assert_num_queries):
    Selection.objects.bulk_create(Selection(user=user, element=page) for page in pages)
    Selection.objects.create(user=other_user, element=pages[0])

    # Token, count, page: whatever the page size.
    assert_list_queries(user_client, URL, 3, django_assert_num_queries)
    body = user_client.get(URL).json()
    # The CLI reads `count` (`len()` of the paginator) and each element's id, type, name, zone.
    assert body["count"] == 6
    assert [item["name"] for item in body["results"]] == [f"Page {n}" for n in range(6)]
    item = body["results"][0]
    assert item["id"] == str(pages[0].id)
    assert item["type"] == "page"
    assert item["zone"]["image"]["id"] == str(pages[0].image_id)


def test_list_selection_readable_only(user_client, user, corpus, pages, hidden_element):
    Selection.objects.create(user=user, element=pages[0])
    Selection.objects.create(user=user, element=hidden_element)
    assert [item["id"] for item in user_client.get(URL).json()["results"]] == ids(pages[0])

    # Rights lost since: the element is no longer listed.
    Right.objects.filter(user=user).delete()
    assert user_client.get(URL).json() == {"count": 0, "number": 1, "previous": None, "next": None, "results": []}


def test_list_selection_by_corpus(user_client, user, corpus, pages, make_user):
    other = CorpusFactory(name="Other corpus")
    grant(other, Role.GUEST, user=user)
    element_type = ElementTypeFactory(corpus=other, slug="page", display_name="Page")
    elsewhere = ElementFactory(corpus=other, type=element_type, name="Elsewhere")
    Selection.objects.bulk_create([Selection(user=user, element=pages[0]), Selection(user=user, element=elsewhere)])

    assert user_client.get(URL).json()["count"] == 2
    response = user_client.get(URL, {"corpus": str(other.id)})
    assert [item["name"] for item in response.json()["results"]] == ["Elsewhere"]
    response = user_client.get(URL, {"corpus": "nope"})
    assert response.status_code == 400
    assert response.json() == {"corpus": ["'nope' is not a valid UUID."]}


def test_list_selection_anonymous(anonymous_client):
    assert anonymous_client.get(URL).status_code in (401, 403)


# AddSelection


def test_add_selection(user_client, user, pages, django_assert_num_queries):
    Selection.objects.create(user=user, element=pages[0])
    user_client.get(URL)
    # Token, then one statement reading the elements and adding them (in a savepoint here).
    with django_assert_num_queries(4):
        response = user_client.post(URL, {"ids": ids(*pages[:3])})
    assert response.status_code == 201, response.json()
    assert response.json() == {"added": 2}
    assert selected(user) == {"Page 0", "Page 1", "Page 2"}

    # The same IDs again, and duplicates in one request, add nothing.
    response = user_client.post(URL, {"ids": ids(pages[1], pages[1], pages[2])})
    assert response.json() == {"added": 0}


def test_add_selection_import(user_client, user, corpus, types):
    """The CLI's `selection import`: many IDs in one call."""
    folder = ElementFactory(corpus=corpus, type=types["folder"], name="Folder")
    created = services.elements_create(
        parent=folder, elements=[{"type": types["line"], "name": f"L{n}"} for n in range(500)]
    )
    response = user_client.post(URL, {"ids": ids(*created)})
    assert response.status_code == 201
    assert response.json() == {"added": 500}
    assert Selection.objects.filter(user=user).count() == 500


def test_add_selection_all_or_nothing(user_client, user, pages, hidden_element):
    missing = "00000000-0000-0000-0000-000000000000"
    response = user_client.post(URL, {"ids": [*ids(pages[0], hidden_element), missing]})
    assert response.status_code == 400
    assert response.json() == {
        "ids": [f"2 element(s) do not exist or you have no access to them: {hidden_element.id}, {missing}."]
    }
    assert selected(user) == set()


@pytest.mark.parametrize(
    "body, errors",
    [
        ({}, {"ids": ["This field is required."]}),
        ({"ids": []}, {"ids": ["Ensure this field has at least 1 elements."]}),
        ({"ids": ["nope"]}, {"ids": {"0": ["Must be a valid UUID."]}}),
        (
            {"ids": ["00000000-0000-0000-0000-000000000000"] * (MAX_IDS + 1)},
            {"ids": [f"Ensure this field has no more than {MAX_IDS} elements."]},
        ),
    ],
)
def test_add_selection_invalid(user_client, body, errors):
    response = user_client.post(URL, body)
    assert response.status_code == 400
    assert response.json() == errors


def test_add_selection_public_and_anonymous(user_client, user, anonymous_client, hidden_element):
    Corpus.objects.filter(pk=hidden_element.corpus_id).update(public=True)
    assert user_client.post(URL, {"ids": ids(hidden_element)}).status_code == 201
    assert anonymous_client.post(URL, {"ids": ids(hidden_element)}).status_code in (401, 403)
    assert selected(user) == {"Hidden page"}


# RemoveSelection


def test_remove_selection(user_client, user, other_user, pages):
    Selection.objects.bulk_create(Selection(user=user, element=page) for page in pages)
    Selection.objects.create(user=other_user, element=pages[0])

    response = user_client.delete(URL, {"ids": ids(pages[0], pages[1])})
    assert response.status_code == 204
    assert selected(user) == {f"Page {n}" for n in range(2, 6)}

    # The CLI's `selection import --clear` sends `{}`: the whole selection goes, only the user's.
    assert user_client.delete(URL, {}).status_code == 204
    assert selected(user) == set()
    assert selected(other_user) == {"Page 0"}


def test_remove_selection_without_body(user_client, user, pages):
    Selection.objects.create(user=user, element=pages[0])
    assert user_client.delete(URL).status_code == 204
    assert selected(user) == set()


def test_remove_selection_invalid(user_client, anonymous_client):
    response = user_client.delete(URL, {"ids": ["nope"]})
    assert response.status_code == 400
    assert response.json() == {"ids": {"0": ["Must be a valid UUID."]}}
    assert anonymous_client.delete(URL, {}).status_code in (401, 403)


# Deletions


def test_deleting_elements_or_corpus_leaves_selections(user, other_user, corpus, pages):
    Selection.objects.bulk_create(Selection(user=user, element=page) for page in pages)
    Selection.objects.create(user=other_user, element=pages[1])

    services.element_delete(element_id=pages[0].id)
    assert not Selection.objects.filter(element_id=pages[0].id).exists()
    assert selected(user) == {f"Page {n}" for n in range(1, 6)}

    assert services.corpus_delete(corpus_id=corpus.id)
    assert not Selection.objects.exists()
