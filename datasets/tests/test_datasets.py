"""ListCorpusDatasets, CreateDataset, RetrieveDataset, PartialUpdateDataset and DestroyDataset."""

import pytest
from django.urls import reverse

from datasets.models import Dataset, DatasetElement, DatasetSet, DatasetState
from datasets.tests.conftest import add
from documents.tests.factories import CorpusFactory
from tests.tokens import token_client
from users.models import Role
from users.tests.factories import grant
from workers.tests.factories import assert_list_queries

pytestmark = pytest.mark.django_db


def list_url(corpus):
    return reverse("corpus-datasets", kwargs={"id": corpus.id})


def detail_url(dataset):
    return reverse("dataset-detail", kwargs={"id": dataset.id})


def timestamp(value):
    return value.isoformat().replace("+00:00", "Z")


def shape(dataset):
    dataset.refresh_from_db()
    return {
        "id": str(dataset.id),
        "name": dataset.name,
        "description": dataset.description,
        "sets": [{"id": str(s.id), "name": s.name} for s in dataset.sets.order_by("name")],
        "corpus_id": str(dataset.corpus_id),
        "creator": dataset.creator.email,
        "state": dataset.state,
        "unique_elements": dataset.unique_elements,
        "created": timestamp(dataset.created),
        "updated": timestamp(dataset.updated),
    }


# ListCorpusDatasets


def test_list_datasets(user_client, corpus, make_dataset, django_assert_num_queries):
    for name in ("Beta", "Alpha", "Gamma", "Delta", "Epsilon", "Zeta"):
        make_dataset(name=name)
    make_dataset(name="Elsewhere", corpus=CorpusFactory(name="Other corpus"))

    # Token, corpus with its level, count, page (with the sets of each dataset): whatever the page size.
    assert_list_queries(user_client, list_url(corpus), 4, django_assert_num_queries)
    response = user_client.get(list_url(corpus))
    body = response.json()
    assert body["count"] == 6
    assert [item["name"] for item in body["results"]] == ["Alpha", "Beta", "Delta", "Epsilon", "Gamma", "Zeta"]
    assert body["results"][0] == shape(Dataset.objects.get(name="Alpha"))


def test_list_datasets_guest_and_public(make_user, corpus, dataset, guest, anonymous_client):
    response = token_client(guest).get(list_url(corpus))
    assert response.status_code == 200
    assert [item["id"] for item in response.json()["results"]] == [str(dataset.id)]

    assert anonymous_client.get(list_url(corpus)).status_code == 404
    corpus.public = True
    corpus.save()
    assert anonymous_client.get(list_url(corpus)).json()["count"] == 1


def test_list_datasets_hidden_corpus(other_client, corpus, dataset):
    response = other_client.get(list_url(corpus))
    assert response.status_code == 404


# CreateDataset


def test_create_dataset_default_sets(user_client, user, corpus):
    response = user_client.post(list_url(corpus), {"name": "Training data", "description": "Pages to learn from"})
    assert response.status_code == 201, response.json()
    dataset = Dataset.objects.get(name="Training data")
    assert dataset.corpus == corpus
    assert dataset.creator == user
    assert dataset.state == DatasetState.Open
    assert dataset.unique_elements is True
    assert sorted(dataset.sets.values_list("name", flat=True)) == ["dev", "test", "train"]
    assert response.json() == shape(dataset)


def test_create_dataset_as_the_clients_do(user_client, corpus):
    """The base worker's `create_dataset` body; the state cannot be chosen, a new dataset is open."""
    response = user_client.post(
        list_url(corpus),
        {
            "name": "Splits",
            "description": "Dataset created with the CLI command",
            "set_names": ["training", "validation"],
            "unique_elements": False,
            "state": "complete",
        },
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert [item["name"] for item in body["sets"]] == ["training", "validation"]
    assert body["unique_elements"] is False
    assert body["state"] == "open"


def test_create_dataset_duplicate_name(user_client, corpus, dataset):
    response = user_client.post(list_url(corpus), {"name": dataset.name, "description": "Again"})
    assert response.status_code == 400
    # The CLI reads `non_field_errors[0]` (API.md §1.7).
    assert response.json() == {"non_field_errors": ["A dataset with this name already exists in this corpus."]}
    assert Dataset.objects.count() == 1


def test_create_dataset_same_name_other_corpus(user_client, user, corpus, dataset):
    other = CorpusFactory(name="Other")
    grant(other, Role.CONTRIBUTOR, user=user)
    response = user_client.post(list_url(other), {"name": dataset.name})
    assert response.status_code == 201


@pytest.mark.parametrize(
    "body, errors",
    [
        ({}, {"name": ["This field is required."]}),
        ({"name": ""}, {"name": ["This field may not be blank."]}),
        ({"name": "x" * 101}, {"name": ["Ensure this field has no more than 100 characters."]}),
        ({"name": "D", "set_names": []}, {"set_names": ["Ensure this field has at least 1 elements."]}),
        ({"name": "D", "set_names": ["train", "train"]}, {"set_names": ["Set names must be unique."]}),
        ({"name": "D", "set_names": ["train", ""]}, {"set_names": {"1": ["This field may not be blank."]}}),
        (
            {"name": "D", "set_names": ["x" * 51]},
            {"set_names": {"0": ["Ensure this field has no more than 50 characters."]}},
        ),
    ],
)
def test_create_dataset_invalid(user_client, corpus, body, errors):
    response = user_client.post(list_url(corpus), body)
    assert response.status_code == 400
    assert response.json() == errors
    assert not Dataset.objects.exists()


def test_create_dataset_rights(guest, corpus, other_client, anonymous_client):
    response = token_client(guest).post(list_url(corpus), {"name": "D"})
    assert response.status_code == 403
    assert "contributor" in response.json()["detail"]
    assert other_client.post(list_url(corpus), {"name": "D"}).status_code == 404
    assert anonymous_client.post(list_url(corpus), {"name": "D"}).status_code in (401, 403)
    assert not Dataset.objects.exists()


# RetrieveDataset


def test_retrieve_dataset(user_client, dataset, django_assert_num_queries):
    user_client.get(detail_url(dataset))
    # Token, then the dataset with the level, its creator and its sets.
    with django_assert_num_queries(2):
        response = user_client.get(detail_url(dataset))
    assert response.status_code == 200
    assert response.json() == shape(dataset)
    assert [item["name"] for item in response.json()["sets"]] == ["dev", "test", "train"]


def test_retrieve_dataset_hidden(other_client, guest, dataset):
    assert other_client.get(detail_url(dataset)).status_code == 404
    assert token_client(guest).get(detail_url(dataset)).status_code == 200
    missing = reverse("dataset-detail", kwargs={"id": "00000000-0000-0000-0000-000000000000"})
    assert token_client(guest).get(missing).status_code == 404


def test_retrieve_dataset_without_creator(user_client, dataset):
    Dataset.objects.filter(pk=dataset.pk).update(creator=None)
    assert user_client.get(detail_url(dataset)).json()["creator"] is None


# PartialUpdateDataset


def test_update_dataset_fields(user_client, dataset):
    response = user_client.patch(detail_url(dataset), {"name": "Renamed", "description": "New description"})
    assert response.status_code == 200, response.json()
    dataset.refresh_from_db()
    assert (dataset.name, dataset.description) == ("Renamed", "New description")
    assert response.json() == shape(dataset)


def test_update_dataset_duplicate_name(user_client, make_dataset, dataset):
    other = make_dataset(name="Other")
    response = user_client.patch(detail_url(other), {"name": dataset.name})
    assert response.status_code == 400
    assert response.json() == {"non_field_errors": ["A dataset with this name already exists in this corpus."]}


def test_update_dataset_state_transitions(user_client, dataset):
    for state in ("building", "complete"):
        response = user_client.patch(detail_url(dataset), {"state": state})
        assert response.status_code == 200, response.json()
        assert response.json()["state"] == state
    # The same state again changes nothing.
    assert user_client.patch(detail_url(dataset), {"state": "complete"}).status_code == 200

    response = user_client.patch(detail_url(dataset), {"state": "open"})
    assert response.status_code == 409
    assert response.json()["errors"][0]["code"] == "state_transition"
    assert "A complete dataset cannot become open" in response.json()["errors"][0]["detail"]
    dataset.refresh_from_db()
    assert dataset.state == DatasetState.Complete


@pytest.mark.parametrize(
    "current, target, status",
    [
        ("open", "complete", 409),
        ("open", "error", 409),
        ("building", "open", 409),
        ("building", "error", 200),
        ("error", "building", 200),
        ("error", "complete", 409),
        ("complete", "building", 409),
    ],
)
def test_update_dataset_state_rules(user_client, dataset, current, target, status):
    Dataset.objects.filter(pk=dataset.pk).update(state=current)
    assert user_client.patch(detail_url(dataset), {"state": target}).status_code == status
    dataset.refresh_from_db()
    assert dataset.state == (target if status == 200 else current)


def test_update_dataset_state_instance_admin(superuser_client, dataset):
    """Instance administrators make any move, for instance to reopen a dataset to fix it."""
    Dataset.objects.filter(pk=dataset.pk).update(state=DatasetState.Complete)
    response = superuser_client.patch(detail_url(dataset), {"state": "open"})
    assert response.status_code == 200
    assert response.json()["state"] == "open"


def test_update_dataset_invalid_state(user_client, dataset):
    response = user_client.patch(detail_url(dataset), {"state": "finished"})
    assert response.status_code == 400
    assert response.json() == {"state": ['"finished" is not a valid choice.']}


def test_update_dataset_unique_elements(user_client, dataset, make_element):
    page = make_element(name="Page")
    response = user_client.patch(detail_url(dataset), {"unique_elements": False})
    assert response.status_code == 200
    add(dataset, "train", page)
    add(dataset, "dev", page)
    # The rows follow the dataset's rule.
    assert set(DatasetElement.objects.values_list("unique_elements", flat=True)) == {False}

    response = user_client.patch(detail_url(dataset), {"unique_elements": True})
    assert response.status_code == 400
    assert response.json() == {
        "unique_elements": ["Some elements sit in several sets of this dataset: remove them from all but one."]
    }
    dataset.refresh_from_db()
    assert dataset.unique_elements is False

    DatasetElement.objects.filter(set__name="dev").delete()
    response = user_client.patch(detail_url(dataset), {"unique_elements": True})
    assert response.status_code == 200
    assert set(DatasetElement.objects.values_list("unique_elements", flat=True)) == {True}


def test_update_dataset_unique_elements_only_while_open(user_client, dataset):
    Dataset.objects.filter(pk=dataset.pk).update(state=DatasetState.Building)
    response = user_client.patch(detail_url(dataset), {"unique_elements": False})
    assert response.status_code == 409
    # Its name still changes.
    assert user_client.patch(detail_url(dataset), {"name": "Renamed"}).status_code == 200


def test_update_dataset_rights(guest, other_client, anonymous_client, dataset):
    response = token_client(guest).patch(detail_url(dataset), {"name": "Renamed"})
    assert response.status_code == 403
    assert other_client.patch(detail_url(dataset), {"name": "Renamed"}).status_code == 404
    assert anonymous_client.patch(detail_url(dataset), {"name": "Renamed"}).status_code in (401, 403)
    dataset.refresh_from_db()
    assert dataset.name == "Dataset"


def test_update_dataset_put_not_allowed(user_client, dataset):
    assert user_client.put(detail_url(dataset), {"name": "Renamed"}).status_code == 405


# DestroyDataset


def test_destroy_dataset(corpus_admin, dataset, make_element):
    page = make_element(name="Page")
    add(dataset, "train", page)
    response = token_client(corpus_admin).delete(detail_url(dataset))
    assert response.status_code == 204
    assert not Dataset.objects.exists()
    assert not DatasetSet.objects.exists()
    assert not DatasetElement.objects.exists()
    # The element stays in the corpus.
    page.refresh_from_db()


def test_destroy_dataset_rights(user_client, guest, other_client, dataset):
    response = user_client.delete(detail_url(dataset))
    assert response.status_code == 403
    assert "admin" in response.json()["detail"]
    assert token_client(guest).delete(detail_url(dataset)).status_code == 403
    assert other_client.delete(detail_url(dataset)).status_code == 404
    assert Dataset.objects.filter(pk=dataset.pk).exists()


@pytest.mark.parametrize("state, status", [("building", 409), ("complete", 204), ("error", 204)])
def test_destroy_dataset_states(corpus_admin, dataset, state, status):
    Dataset.objects.filter(pk=dataset.pk).update(state=state)
    assert token_client(corpus_admin).delete(detail_url(dataset)).status_code == status
    assert Dataset.objects.filter(pk=dataset.pk).exists() == (status == 409)
