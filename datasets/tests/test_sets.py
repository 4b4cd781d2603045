"""CreateDatasetSet, RetrieveDatasetSet, PartialUpdateDatasetSet and DestroyDatasetSet: sets by name."""

import pytest
from django.urls import reverse

from datasets.models import Dataset, DatasetElement, DatasetSet, DatasetState
from datasets.tests.conftest import add, members
from tests.tokens import token_client

pytestmark = pytest.mark.django_db


def create_url(dataset):
    return reverse("dataset-sets", kwargs={"id": dataset.id})


def set_url(dataset, name):
    return reverse("dataset-set-detail", kwargs={"dataset": dataset.id, "set": name})


def set_names(dataset):
    return sorted(dataset.sets.values_list("name", flat=True))


# CreateDatasetSet


def test_create_set(user_client, dataset):
    response = user_client.post(create_url(dataset), {"name": "validation"})
    assert response.status_code == 201, response.json()
    created = dataset.sets.get(name="validation")
    assert response.json() == {"id": str(created.id), "name": "validation"}


def test_create_set_invalid(user_client, dataset):
    response = user_client.post(create_url(dataset), {"name": "train"})
    assert response.status_code == 400
    assert response.json() == {"name": [f"Dataset {dataset.id} already has a set named 'train'."]}
    assert user_client.post(create_url(dataset), {}).json() == {"name": ["This field is required."]}
    assert user_client.post(create_url(dataset), {"name": "x" * 51}).status_code == 400
    assert set_names(dataset) == ["dev", "test", "train"]


@pytest.mark.parametrize("state", ["building", "complete", "error"])
def test_create_set_not_open(user_client, dataset, state):
    Dataset.objects.filter(pk=dataset.pk).update(state=state)
    response = user_client.post(create_url(dataset), {"name": "validation"})
    assert response.status_code == 409
    assert response.json()["errors"][0]["detail"] == (
        f"Dataset {dataset.id} is {state}: its sets and elements can only change while it is open."
    )
    assert set_names(dataset) == ["dev", "test", "train"]


def test_create_set_rights(guest, other_client, dataset):
    assert token_client(guest).post(create_url(dataset), {"name": "validation"}).status_code == 403
    assert other_client.post(create_url(dataset), {"name": "validation"}).status_code == 404
    assert set_names(dataset) == ["dev", "test", "train"]


# RetrieveDatasetSet


def test_retrieve_set(guest, dataset, django_assert_num_queries):
    client = token_client(guest)
    client.get(set_url(dataset, "train"))
    # Token, dataset with the level, set.
    with django_assert_num_queries(3):
        response = client.get(set_url(dataset, "train"))
    assert response.status_code == 200
    # The base worker builds `DatasetSet(**response, dataset=…)`: no `dataset` key here.
    assert response.json() == {"id": str(dataset.sets.get(name="train").id), "name": "train"}


def test_retrieve_set_name_with_slash(user_client, dataset):
    """The clients send path values %2F-encoded; the set name keeps its slash."""
    DatasetSet.objects.create(dataset=dataset, name="fold/1")
    response = user_client.get(f"/api/v1/datasets/{dataset.id}/sets/fold%2F1/")
    assert response.status_code == 200
    assert response.json()["name"] == "fold/1"


def test_retrieve_set_not_found(user_client, other_client, dataset):
    response = user_client.get(set_url(dataset, "validation"))
    assert response.status_code == 404
    assert response.json() == {"detail": f"Dataset {dataset.id} has no set named 'validation'."}
    assert other_client.get(set_url(dataset, "train")).status_code == 404


# PartialUpdateDatasetSet


def test_rename_set(user_client, dataset, make_element):
    page = make_element(name="Page")
    add(dataset, "train", page)
    response = user_client.patch(set_url(dataset, "train"), {"name": "training"})
    assert response.status_code == 200, response.json()
    assert response.json() == {"id": str(dataset.sets.get(name="training").id), "name": "training"}
    assert members(dataset) == {("training", "Page")}


def test_rename_set_invalid(user_client, dataset):
    response = user_client.patch(set_url(dataset, "train"), {"name": "dev"})
    assert response.status_code == 400
    assert response.json() == {"name": [f"Dataset {dataset.id} already has a set named 'dev'."]}
    assert user_client.patch(set_url(dataset, "train"), {"name": ""}).status_code == 400
    assert user_client.patch(set_url(dataset, "nope"), {"name": "other"}).status_code == 404
    assert set_names(dataset) == ["dev", "test", "train"]


def test_rename_set_not_open_or_not_allowed(user_client, guest, dataset):
    assert token_client(guest).patch(set_url(dataset, "train"), {"name": "training"}).status_code == 403
    Dataset.objects.filter(pk=dataset.pk).update(state=DatasetState.Complete)
    assert user_client.patch(set_url(dataset, "train"), {"name": "training"}).status_code == 409
    assert set_names(dataset) == ["dev", "test", "train"]


# DestroyDatasetSet


def test_destroy_set(user_client, dataset, make_element):
    page, other = make_element(name="Page"), make_element(name="Other")
    add(dataset, "train", page)
    add(dataset, "dev", other)
    response = user_client.delete(set_url(dataset, "train"))
    assert response.status_code == 204
    assert set_names(dataset) == ["dev", "test"]
    assert members(dataset) == {("dev", "Other")}
    page.refresh_from_db()


def test_destroy_set_refused(user_client, guest, other_client, dataset):
    assert token_client(guest).delete(set_url(dataset, "train")).status_code == 403
    assert other_client.delete(set_url(dataset, "train")).status_code == 404
    assert user_client.delete(set_url(dataset, "nope")).status_code == 404
    Dataset.objects.filter(pk=dataset.pk).update(state=DatasetState.Building)
    assert user_client.delete(set_url(dataset, "train")).status_code == 409
    assert set_names(dataset) == ["dev", "test", "train"]
    assert not DatasetElement.objects.exists()
