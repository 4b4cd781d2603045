"""CreateProcessSet, ListProcessSets, DestroyProcessSet, and what sets change for dataset processes."""

import pytest
from django.db.models import ProtectedError
from django.utils import timezone

from datasets.models import Dataset, DatasetSet, ProcessSet
from datasets.tests.conftest import guest  # noqa: F401  (fixture)
from documents.tests.factories import CorpusFactory
from ponos.tests.factories import TaskFactory
from processes import services as process_services
from processes.models import ProcessMode
from processes.services.starting import start_errors
from processes.tests.factories import ProcessFactory, WorkerRunFactory
from workers.tests.factories import WorkerVersionFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def process(corpus, user):
    return ProcessFactory(corpus=corpus, creator=user, mode=ProcessMode.Dataset, name="Training")


def set_of(dataset, name):
    return DatasetSet.objects.get(dataset=dataset, name=name)


def url(process, dataset_set=None):
    if dataset_set is None:
        return f"/api/v1/process/{process.id}/sets/"
    return f"/api/v1/process/{process.id}/set/{dataset_set.id}/"


def test_create(user_client, process, dataset):
    train = set_of(dataset, "train")
    response = user_client.post(url(process, train))
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["set_name"] == "train"
    assert body["dataset"]["id"] == str(dataset.id)
    assert body["dataset"]["corpus_id"] == str(dataset.corpus_id)
    assert [s["name"] for s in body["dataset"]["sets"]] == ["dev", "test", "train"]
    assert ProcessSet.objects.get(process=process).set == train


def test_create_twice(user_client, process, dataset):
    train = set_of(dataset, "train")
    assert user_client.post(url(process, train)).status_code == 201
    response = user_client.post(url(process, train))
    assert response.status_code == 400
    assert "already an input" in response.json()["set"][0]


def test_create_set_of_another_corpus(user_client, process, user):
    elsewhere = CorpusFactory(name="Elsewhere")
    other = Dataset.objects.create(corpus=elsewhere, name="Other")
    other_set = DatasetSet.objects.create(dataset=other, name="train")
    assert user_client.post(url(process, other_set)).status_code == 404


def test_create_on_workers_process(user_client, process, dataset):
    process.mode = ProcessMode.Workers
    process.save()
    response = user_client.post(url(process, set_of(dataset, "train")))
    assert response.status_code == 400
    assert "Only dataset processes" in response.json()["process"][0]


def test_create_started(user_client, process, dataset):
    process.started = timezone.now()
    process.save()
    assert user_client.post(url(process, set_of(dataset, "train"))).status_code == 409


def test_create_needs_contributor(process, dataset, guest, make_client):  # noqa: F811
    response = make_client(guest).post(url(process, set_of(dataset, "train")))
    assert response.status_code == 403


def test_hidden_process(other_client, process, dataset):
    assert other_client.post(url(process, set_of(dataset, "train"))).status_code == 404
    assert other_client.get(url(process)).status_code == 404


def test_list(user_client, process, make_dataset, django_assert_num_queries):
    first = make_dataset("A")
    second = make_dataset("B", set_names=["train", "validation"])
    for dataset_set in (set_of(first, "dev"), set_of(first, "train"), set_of(second, "validation")):
        ProcessSet.objects.create(process=process, set=dataset_set)
    # Token and its last use, process with its level, count, page: whatever the number of sets and datasets.
    with django_assert_num_queries(5):
        response = user_client.get(url(process))
    assert response.status_code == 200
    rows = response.json()["results"]
    assert [(row["dataset"]["name"], row["set_name"]) for row in rows] == [
        ("A", "dev"),
        ("A", "train"),
        ("B", "validation"),
    ]
    assert [s["name"] for s in rows[2]["dataset"]["sets"]] == ["train", "validation"]


def test_list_with_task_token(process, dataset, client):
    ProcessSet.objects.create(process=process, set=set_of(dataset, "train"))
    WorkerRunFactory(process=process, version=WorkerVersionFactory())
    task = TaskFactory(process=process, slug="worker", state="running")
    response = client.get(url(process), HTTP_AUTHORIZATION=f"Ponos {task.token}")
    assert response.status_code == 200
    assert [row["set_name"] for row in response.json()["results"]] == ["train"]
    other = ProcessFactory(corpus=process.corpus, creator=process.creator, mode=ProcessMode.Dataset)
    assert client.get(url(other), HTTP_AUTHORIZATION=f"Ponos {task.token}").status_code == 404


def test_destroy(user_client, process, dataset):
    train = set_of(dataset, "train")
    ProcessSet.objects.create(process=process, set=train)
    assert user_client.delete(url(process, train)).status_code == 204
    assert not ProcessSet.objects.exists()
    assert user_client.delete(url(process, train)).status_code == 404


def test_destroy_started(user_client, process, dataset):
    train = set_of(dataset, "train")
    ProcessSet.objects.create(process=process, set=train)
    process.started = timezone.now()
    process.save()
    assert user_client.delete(url(process, train)).status_code == 409
    assert ProcessSet.objects.exists()


def test_set_in_use_cannot_be_deleted(process, dataset):
    train = set_of(dataset, "train")
    ProcessSet.objects.create(process=process, set=train)
    with pytest.raises(ProtectedError):
        train.delete()


def test_start_needs_a_set(process, dataset):
    WorkerRunFactory(
        process=process,
        version=WorkerVersionFactory(state="available", configuration={"docker": {"command": "true"}}),
    )
    assert "sets" in start_errors(process)
    ProcessSet.objects.create(process=process, set=set_of(dataset, "train"))
    assert "sets" not in start_errors(process)


def test_process_deletion_takes_its_sets(process, dataset):
    ProcessSet.objects.create(process=process, set=set_of(dataset, "train"))
    process_services.process_delete(process_id=process.id)
    assert not ProcessSet.objects.exists()
    assert DatasetSet.objects.filter(dataset=dataset).count() == 3


@pytest.fixture
def make_client():
    from tests.tokens import token_client

    return token_client
