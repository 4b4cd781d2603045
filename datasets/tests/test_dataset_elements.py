"""
CreateDatasetElement, ListDatasetElements, DestroyDatasetElement, ListElementDatasets and
CreateDatasetElementsSelection; the `unique_elements` rule, held by the database.
"""

import pytest
from django.urls import reverse

from datasets.models import Dataset, DatasetElement, DatasetState
from datasets.tests.conftest import add, members
from documents.models import Selection
from documents.services import element_create
from documents.tests.factories import CorpusFactory, ElementTypeFactory
from tests.tokens import token_client
from workers.tests.factories import assert_list_queries

pytestmark = pytest.mark.django_db


def elements_url(dataset):
    return reverse("dataset-elements", kwargs={"id": dataset.id})


def destroy_url(dataset, element, set_name=None):
    url = reverse("dataset-element-destroy", kwargs={"dataset": dataset.id, "element": element.id})
    return url if set_name is None else f"{url}?set={set_name}"


def selection_url(dataset):
    return reverse("dataset-selection", kwargs={"id": dataset.id})


def element_datasets_url(element):
    return reverse("element-datasets", kwargs={"id": element.id})


@pytest.fixture
def pages(make_element, image):
    """Five pages on an image and a folder, in the dataset's corpus."""
    folder = make_element("folder", "Folder")
    return [make_element("page", f"Page {n}", parent=folder, image=image) for n in range(5)]


@pytest.fixture
def foreign_element():
    other = CorpusFactory(name="Other corpus")
    return element_create(
        corpus=other, type=ElementTypeFactory(corpus=other, slug="page", display_name="Page"), name="Far"
    )


# CreateDatasetElement


def test_create_dataset_element(user_client, dataset, pages):
    page = pages[0]
    response = user_client.post(elements_url(dataset), {"set": "train", "element_id": str(page.id)})
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["set"] == "train"
    assert body["element"]["id"] == str(page.id)
    assert body["element"]["name"] == "Page 0"
    assert body["element"]["type"] == "page"
    assert body["element"]["zone"]["image"]["id"] == str(page.image_id)
    assert members(dataset) == {("train", "Page 0")}

    # Sent again (a retried request): it stays there, once.
    response = user_client.post(elements_url(dataset), {"set": "train", "element_id": str(page.id)})
    assert response.status_code == 200
    assert response.json() == body
    assert DatasetElement.objects.count() == 1


def test_create_dataset_element_unique(user_client, dataset, pages):
    add(dataset, "train", pages[0])
    response = user_client.post(elements_url(dataset), {"set": "dev", "element_id": str(pages[0].id)})
    assert response.status_code == 400
    assert response.json() == {
        "set": [
            f"Element {pages[0].id} is already in set 'train' of this dataset, whose elements are unique: "
            "remove it from there first."
        ]
    }
    assert members(dataset) == {("train", "Page 0")}


def test_create_dataset_element_not_unique(user_client, make_dataset, pages):
    dataset = make_dataset(unique_elements=False)
    for set_name in ("train", "dev"):
        response = user_client.post(elements_url(dataset), {"set": set_name, "element_id": str(pages[0].id)})
        assert response.status_code == 201
    assert members(dataset) == {("train", "Page 0"), ("dev", "Page 0")}


def test_same_element_in_two_unique_datasets(user_client, make_dataset, dataset, pages):
    other = make_dataset(name="Other")
    add(dataset, "train", pages[0])
    response = user_client.post(elements_url(other), {"set": "dev", "element_id": str(pages[0].id)})
    assert response.status_code == 201


def test_create_dataset_element_invalid(user_client, dataset, foreign_element):
    response = user_client.post(elements_url(dataset), {"set": "train", "element_id": str(foreign_element.id)})
    assert response.status_code == 400
    assert response.json() == {
        "element_id": [f"Element {foreign_element.id} does not exist in the corpus of dataset {dataset.id}."]
    }
    response = user_client.post(elements_url(dataset), {"set": "nope", "element_id": str(foreign_element.id)})
    assert response.status_code == 400
    response = user_client.post(elements_url(dataset), {"element_id": "not-a-uuid"})
    assert response.status_code == 400
    assert set(response.json()) == {"set", "element_id"}
    assert not DatasetElement.objects.exists()


def test_create_dataset_element_unknown_set(user_client, dataset, pages):
    response = user_client.post(elements_url(dataset), {"set": "validation", "element_id": str(pages[0].id)})
    assert response.status_code == 400
    assert response.json() == {"set": [f"Dataset {dataset.id} has no set named 'validation'."]}


@pytest.mark.parametrize("state", ["building", "complete", "error"])
def test_create_dataset_element_not_open(user_client, dataset, pages, state):
    Dataset.objects.filter(pk=dataset.pk).update(state=state)
    response = user_client.post(elements_url(dataset), {"set": "train", "element_id": str(pages[0].id)})
    assert response.status_code == 409
    assert not DatasetElement.objects.exists()


def test_create_dataset_element_rights(guest, other_client, anonymous_client, dataset, pages):
    body = {"set": "train", "element_id": str(pages[0].id)}
    assert token_client(guest).post(elements_url(dataset), body).status_code == 403
    assert other_client.post(elements_url(dataset), body).status_code == 404
    assert anonymous_client.post(elements_url(dataset), body).status_code in (401, 403)
    assert not DatasetElement.objects.exists()


# ListDatasetElements


def test_list_dataset_elements(guest, dataset, pages, django_assert_num_queries):
    for page in pages[:3]:
        add(dataset, "train", page)
    for page in pages[3:]:
        add(dataset, "dev", page)
    client = token_client(guest)

    # Token, dataset with the level, page (elements with their set, type, corpus, image, worker run).
    assert_list_queries(client, elements_url(dataset), 3, django_assert_num_queries, page_sizes=(2, 5))
    # With the set filter: one more query for the set; with the count: one more.
    url = f"{elements_url(dataset)}?set=train&with_count=true"
    assert_list_queries(client, url, 5, django_assert_num_queries, page_sizes=(1, 3))

    response = client.get(url)
    body = response.json()
    assert body["count"] == 3
    assert body["next"] is None
    assert {item["set"] for item in body["results"]} == {"train"}
    assert sorted(item["element"]["name"] for item in body["results"]) == ["Page 0", "Page 1", "Page 2"]
    element = body["results"][0]["element"]
    # The element as element lists show it: what the base worker builds an `Element` from.
    assert {"id", "name", "type", "corpus", "zone", "rotation_angle", "mirrored", "confidence", "worker_run"} <= set(
        element
    )
    assert element["zone"]["url"].endswith("/full/0/default.jpg")


def test_list_dataset_elements_cursor_pages(user_client, dataset, pages):
    for page in pages:
        add(dataset, "test", page)
    seen = []
    url = f"{elements_url(dataset)}?page_size=2"
    while url:
        body = user_client.get(url).json()
        assert "count" not in body
        seen.extend(item["element"]["id"] for item in body["results"])
        url = body["next"]
    assert sorted(seen) == sorted(str(page.id) for page in pages)


def test_list_dataset_elements_invalid(user_client, other_client, dataset):
    response = user_client.get(f"{elements_url(dataset)}?set=validation")
    assert response.status_code == 400
    assert response.json() == {"set": [f"Dataset {dataset.id} has no set named 'validation'."]}
    assert user_client.get(f"{elements_url(dataset)}?with_count=maybe").status_code == 400
    assert other_client.get(elements_url(dataset)).status_code == 404


# DestroyDatasetElement


def test_destroy_dataset_element(user_client, make_dataset, pages):
    dataset = make_dataset(unique_elements=False)
    add(dataset, "train", pages[0])
    add(dataset, "dev", pages[0])
    response = user_client.delete(destroy_url(dataset, pages[0], "train"))
    assert response.status_code == 204
    assert members(dataset) == {("dev", "Page 0")}

    response = user_client.delete(destroy_url(dataset, pages[0], "train"))
    assert response.status_code == 404
    assert response.json() == {"detail": f"Element {pages[0].id} is not in set 'train' of dataset {dataset.id}."}


def test_destroy_dataset_element_invalid(user_client, guest, other_client, dataset, pages):
    add(dataset, "train", pages[0])
    response = user_client.delete(destroy_url(dataset, pages[0]))
    assert response.status_code == 400
    assert response.json() == {"set": ["The name of the set to remove the element from is required."]}
    assert user_client.delete(destroy_url(dataset, pages[0], "nope")).status_code == 400
    assert token_client(guest).delete(destroy_url(dataset, pages[0], "train")).status_code == 403
    assert other_client.delete(destroy_url(dataset, pages[0], "train")).status_code == 404
    Dataset.objects.filter(pk=dataset.pk).update(state=DatasetState.Complete)
    assert user_client.delete(destroy_url(dataset, pages[0], "train")).status_code == 409
    assert members(dataset) == {("train", "Page 0")}


# ListElementDatasets


def test_list_element_datasets(guest, make_dataset, dataset, pages, django_assert_num_queries):
    copies = make_dataset(name="Copies", unique_elements=False)
    add(dataset, "train", pages[0])
    add(copies, "train", pages[0])
    add(copies, "test", pages[0])
    for index in range(3):
        add(make_dataset(name=f"Extra {index}"), "dev", pages[0])
    add(dataset, "dev", pages[1])
    client = token_client(guest)
    url = element_datasets_url(pages[0])

    # Token, element with the level, count, page (with each dataset's sets).
    assert_list_queries(client, url, 4, django_assert_num_queries)
    body = client.get(url).json()
    assert body["count"] == 6
    assert [(item["dataset"]["name"], item["set"]) for item in body["results"]] == [
        ("Copies", "test"),
        ("Copies", "train"),
        ("Dataset", "train"),
        ("Extra 0", "dev"),
        ("Extra 1", "dev"),
        ("Extra 2", "dev"),
    ]
    assert body["results"][2]["dataset"]["id"] == str(dataset.id)
    assert [s["name"] for s in body["results"][2]["dataset"]["sets"]] == ["dev", "test", "train"]
    assert body["results"][2]["dataset"]["corpus_id"] == str(dataset.corpus_id)


def test_list_element_datasets_hidden(other_client, dataset, pages):
    add(dataset, "train", pages[0])
    assert other_client.get(element_datasets_url(pages[0])).status_code == 404


# CreateDatasetElementsSelection


def select(user, *elements):
    Selection.objects.bulk_create(Selection(user=user, element=element) for element in elements)


def test_add_selection(user_client, user, other_user, dataset, pages, foreign_element, django_assert_num_queries):
    select(user, *pages[:3], foreign_element)
    # Someone else's selection is theirs.
    select(other_user, pages[4])
    add(dataset, "train", pages[0])

    user_client.get(elements_url(dataset))
    # Token, dataset with the level, lock and set, one INSERT (in a savepoint here, inside the test's transaction).
    with django_assert_num_queries(6):
        response = user_client.post(selection_url(dataset), {"set": "train"})
    assert response.status_code == 201, response.json()
    assert response.json() == {"set": "train", "added": 2}
    assert members(dataset) == {("train", "Page 0"), ("train", "Page 1"), ("train", "Page 2")}
    # The selection stays.
    assert Selection.objects.filter(user=user).count() == 4

    assert user_client.post(selection_url(dataset), {"set": "train"}).json() == {"set": "train", "added": 0}


def test_add_selection_unique_conflict(user_client, user, dataset, pages):
    select(user, *pages[:3])
    add(dataset, "dev", pages[1])
    response = user_client.post(selection_url(dataset), {"set": "train"})
    assert response.status_code == 400
    assert response.json() == {
        "set": [
            "Some selected elements are already in other sets of this dataset, whose elements are unique: "
            f"{pages[1].id} ('dev'). Remove them from those sets or from your selection first."
        ]
    }
    # Nothing was added.
    assert members(dataset) == {("dev", "Page 1")}


def test_add_selection_not_unique(user_client, user, make_dataset, pages):
    dataset = make_dataset(unique_elements=False)
    select(user, *pages[:2])
    add(dataset, "dev", pages[1])
    assert user_client.post(selection_url(dataset), {"set": "train"}).json()["added"] == 2
    assert members(dataset) == {("dev", "Page 1"), ("train", "Page 0"), ("train", "Page 1")}


def test_add_selection_refused(user_client, user, guest, other_client, dataset, pages):
    select(user, pages[0])
    response = user_client.post(selection_url(dataset), {"set": "validation"})
    assert response.status_code == 400
    assert response.json() == {"set": [f"Dataset {dataset.id} has no set named 'validation'."]}
    assert user_client.post(selection_url(dataset), {}).json() == {"set": ["This field is required."]}
    assert token_client(guest).post(selection_url(dataset), {"set": "train"}).status_code == 403
    assert other_client.post(selection_url(dataset), {"set": "train"}).status_code == 404
    Dataset.objects.filter(pk=dataset.pk).update(state=DatasetState.Building)
    assert user_client.post(selection_url(dataset), {"set": "train"}).status_code == 409
    assert not DatasetElement.objects.exists()
