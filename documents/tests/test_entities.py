"""
Entity types, entities in transcriptions and embeddings: ListCorpusEntityTypes, CreateEntityType,
CreateTranscriptionEntity, CreateTranscriptionEntities, ListTranscriptionEntities, CreateEmbedding
and ListEmbeddings; rights, provenance, query counts and deletion.
"""

import pytest
from django.urls import reverse

from documents import services
from documents.models import Embedding, Entity, EntityType, Transcription, TranscriptionEntity
from documents.tests.factories import CorpusFactory
from processes.models import WorkerRun
from processes.tests.factories import ProcessFactory
from users.models import Role
from users.tests.factories import grant
from workers.tests.factories import WorkerVersionFactory, assert_list_queries

pytestmark = pytest.mark.django_db

MISSING = "11111111-1111-1111-1111-111111111111"


@pytest.fixture
def run(corpus, user):
    run = WorkerRun(
        process=ProcessFactory(mode="workers", corpus=corpus, creator=user),
        version=WorkerVersionFactory(worker__name="NER", tag="v1"),
    )
    run.save()
    return run


@pytest.fixture
def entity_types(corpus):
    return {name: EntityType.objects.create(corpus=corpus, name=name) for name in ("person", "place", "date")}


@pytest.fixture
def transcription(make_element):
    return Transcription.objects.create(element=make_element("line", "Line"), text="Jean went to Paris in 1871")


# Entity types


def test_list_entity_types(user_client, other_client, corpus, entity_types, django_assert_num_queries):
    url = reverse("corpus-entity-types", args=[corpus.id])
    response = user_client.get(url)
    assert [t["name"] for t in response.json()["results"]] == ["date", "person", "place"]
    assert_list_queries(user_client, url, 4, django_assert_num_queries, page_sizes=(1, 2))
    assert other_client.get(url).status_code == 404


def test_create_entity_type(user_client, other_client, other_user, corpus, entity_types):
    url = reverse("entity-type-create")
    response = user_client.post(url, {"name": "organisation", "corpus": str(corpus.id)}, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["corpus"] == str(corpus.id)
    response = user_client.post(url, {"name": "person", "corpus": str(corpus.id)}, format="json")
    assert response.status_code == 400 and "already exists" in response.json()["name"][0]
    response = user_client.post(url, {"name": "x", "corpus": str(corpus.id), "color": "red"}, format="json")
    assert response.status_code == 400 and "color" in response.json()
    response = other_client.post(url, {"name": "x", "corpus": str(corpus.id)}, format="json")
    assert response.status_code == 400 and "corpus" in response.json()
    grant(corpus, Role.GUEST, user=other_user)
    assert other_client.post(url, {"name": "x", "corpus": str(corpus.id)}, format="json").status_code == 403


# Entities in transcriptions


def test_create_transcription_entity(user_client, transcription, entity_types, run):
    url = reverse("transcription-entities", args=[transcription.id])
    body = {"type_id": str(entity_types["place"].id), "offset": 13, "length": 5, "worker_run_id": str(run.id)}
    response = user_client.post(url, body, format="json")
    assert response.status_code == 201, response.json()
    data = response.json()
    assert data["entity"]["name"] == "Paris"
    assert data["entity"]["type"]["name"] == "place"
    assert data["type_id"] == str(entity_types["place"].id)
    assert data["worker_run"] == {"id": str(run.id), "summary": run.summary}
    assert Entity.objects.get().worker_run_id == run.id
    # The same entity at the same place, from the same run, is a duplicate.
    response = user_client.post(url, body, format="json")
    assert response.status_code == 400 and "non_field_errors" in response.json()


@pytest.mark.parametrize(
    "change, field",
    [
        ({"offset": 20, "length": 10}, "length"),
        ({"length": 0}, "length"),
        ({"offset": -1}, "offset"),
        ({"type_id": MISSING}, "type_id"),
        ({"confidence": 2}, "confidence"),
        ({"worker_run_id": MISSING}, "worker_run_id"),
    ],
)
def test_create_transcription_entity_invalid(user_client, transcription, entity_types, change, field):
    body = {"type_id": str(entity_types["place"].id), "offset": 13, "length": 5, **change}
    response = user_client.post(reverse("transcription-entities", args=[transcription.id]), body, format="json")
    assert response.status_code == 400
    assert field in response.json(), response.json()
    assert not Entity.objects.exists()


def test_transcription_entity_other_corpus_type(user_client, transcription):
    other_type = EntityType.objects.create(corpus=CorpusFactory(name="Other"), name="person")
    body = {"type_id": str(other_type.id), "offset": 0, "length": 4}
    response = user_client.post(reverse("transcription-entities", args=[transcription.id]), body, format="json")
    assert response.status_code == 400 and "type_id" in response.json()


def test_transcription_entity_rights(other_client, other_user, corpus, transcription, entity_types):
    url = reverse("transcription-entities", args=[transcription.id])
    body = {"type_id": str(entity_types["person"].id), "offset": 0, "length": 4}
    assert other_client.post(url, body, format="json").status_code == 404
    assert other_client.get(url).status_code == 404
    grant(corpus, Role.GUEST, user=other_user)
    assert other_client.post(url, body, format="json").status_code == 403
    assert other_client.get(url).status_code == 200
    assert other_client.get(reverse("transcription-entities", args=[MISSING])).status_code == 404


def test_bulk_transcription_entities(user_client, transcription, entity_types, run, django_assert_num_queries):
    url = reverse("transcription-entities-bulk", args=[transcription.id])
    body = {
        "worker_run_id": str(run.id),
        "transcription_entities": [
            {"type_id": str(entity_types["person"].id), "offset": 0, "length": 4, "confidence": 0.9},
            {"type_id": str(entity_types["place"].id), "offset": 13, "length": 5},
            {"type_id": str(entity_types["date"].id), "offset": 22, "length": 4},
        ],
    }
    user_client.get(reverse("corpus-list"))
    # Token, transcription, the user's level on its corpus, types, worker run, existing places, one INSERT.
    with django_assert_num_queries(7):
        response = user_client.post(url, body, format="json")
    assert response.status_code == 201, response.json()
    data = response.json()
    assert [e["entity"]["name"] for e in data["transcription_entities"]] == ["Jean", "Paris", "1871"]
    assert data["worker_run_id"] == str(run.id)

    # Duplicates within a batch and with what exists answer 400 per item.
    response = user_client.post(url, body, format="json")
    assert response.status_code == 400
    assert set(response.json()["transcription_entities"]) == {"0", "1", "2"}
    duplicate = {**body, "transcription_entities": [body["transcription_entities"][0]] * 2, "worker_run_id": None}
    response = user_client.post(url, duplicate, format="json")
    assert response.status_code == 400
    assert set(response.json()["transcription_entities"]) == {"1"}
    assert TranscriptionEntity.objects.count() == 3


def test_list_transcription_entities(user_client, transcription, entity_types, run, django_assert_num_queries):
    url = reverse("transcription-entities-bulk", args=[transcription.id])
    items = [
        {"type_id": str(entity_types["person"].id), "offset": 0, "length": 4},
        {"type_id": str(entity_types["place"].id), "offset": 13, "length": 5},
    ]
    user_client.post(url, {"worker_run_id": str(run.id), "transcription_entities": items}, format="json")
    user_client.post(url, {"transcription_entities": [items[0]]}, format="json")
    list_url = reverse("transcription-entities", args=[transcription.id])

    def names(params):
        response = user_client.get(list_url, params)
        assert response.status_code == 200, response.json()
        return [(e["entity"]["name"], e["worker_run_id"]) for e in response.json()["results"]]

    assert len(names({})) == 3
    assert names({"worker_run": str(run.id)}) == [("Jean", str(run.id)), ("Paris", str(run.id))]
    assert names({"worker_run": "False"}) == [("Jean", None)]
    assert len(names({"worker_version": str(run.version_id)})) == 2
    assert user_client.get(list_url, {"worker_version": "x"}).status_code == 400
    # Token, transcription with level, count, page.
    assert_list_queries(user_client, list_url, 4, django_assert_num_queries, page_sizes=(1, 3))


# Embeddings


def test_embeddings(user_client, make_element, run, django_assert_num_queries):
    element = make_element("page")
    url = reverse("element-embeddings", args=[element.id])
    response = user_client.post(url, {"worker_run_id": str(run.id), "value": [0.1, -2, 3.5]}, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["value"] == [0.1, -2.0, 3.5]
    assert response.json()["worker_run"] == {"id": str(run.id), "summary": run.summary}
    user_client.post(url, {"value": [1.0]}, format="json")
    response = user_client.get(url)
    assert response.status_code == 200
    items = response.json()["results"]
    assert [len(item["value"]) for item in items] == [3, 1]
    assert set(items[0]) >= {"id", "created", "updated", "worker_run", "value"}
    # Token, element with level, count, page.
    assert_list_queries(user_client, url, 4, django_assert_num_queries, page_sizes=(1, 2))


def test_embeddings_errors(user_client, other_client, other_user, corpus, make_element):
    element = make_element("page")
    url = reverse("element-embeddings", args=[element.id])
    assert user_client.post(url, {"value": []}, format="json").status_code == 400
    assert user_client.post(url, {"value": ["a"]}, format="json").status_code == 400
    assert user_client.post(url, {"value": [1], "worker_run_id": MISSING}, format="json").status_code == 400
    assert other_client.post(url, {"value": [1]}, format="json").status_code == 404
    assert other_client.get(url).status_code == 404
    grant(corpus, Role.GUEST, user=other_user)
    assert other_client.post(url, {"value": [1]}, format="json").status_code == 403
    assert not Embedding.objects.exists()


# Deletion


def test_deleted_with_element_and_corpus(corpus, make_element, transcription, entity_types):
    entity = Entity.objects.create(corpus=corpus, type=entity_types["person"], name="Jean")
    TranscriptionEntity.objects.create(transcription=transcription, entity=entity, offset=0, length=4)
    kept = make_element("page")
    Embedding.objects.create(element=transcription.element, value=[1.0])
    Embedding.objects.create(element=kept, value=[2.0])
    services.element_delete(element_id=transcription.element_id)
    assert not TranscriptionEntity.objects.exists()
    assert list(Embedding.objects.values_list("element_id", flat=True)) == [kept.id]
    assert Entity.objects.exists()
    services.corpus_delete(corpus_id=corpus.id)
    assert not Entity.objects.exists() and not EntityType.objects.exists() and not Embedding.objects.exists()


def test_worker_run_results_delete(corpus, make_element, transcription, entity_types, run, user):
    from documents.models import Classification, MetaData, MLClass
    from documents.services.results import worker_results_delete

    page = make_element("page")
    other = WorkerRun(process=run.process, version=WorkerVersionFactory(worker__name="Other", tag="v2"))
    other.save()
    by_run = Transcription.objects.create(element=page, text="Anna", worker_run=run)
    entity = Entity.objects.create(corpus=corpus, type=entity_types["person"], name="Anna", worker_run=run)
    # Another run marked the entity found by `run`: the mark goes with the entity.
    TranscriptionEntity.objects.create(transcription=transcription, entity=entity, offset=0, length=4, worker_run=other)
    TranscriptionEntity.objects.create(transcription=by_run, entity=entity, offset=0, length=4, worker_run=run)
    linked = MetaData.objects.create(element=page, type="text", name="who", value="Anna", entity=entity)
    MetaData.objects.create(element=page, type="text", name="n", value="v", worker_run=run)
    cat = MLClass.objects.create(corpus=corpus, name="cat")
    Classification.objects.create(element=page, ml_class=cat, confidence=0.5, worker_run=run)
    kept = Classification.objects.create(element=page, ml_class=cat, confidence=0.5, worker_run=other)
    Embedding.objects.create(element=page, value=[1.0], worker_run=run)

    counts = worker_results_delete(
        corpus_id=corpus.id, runs_sql="SELECT %(run)s::uuid AS id, true AS bound", runs_params={"run": str(run.id)}
    )

    assert counts == {
        "elements": 0,
        "transcription entities": 2,
        "transcriptions": 1,
        "classifications": 1,
        "metadata": 1,
        "embeddings": 1,
        "entities": 1,
    }
    assert list(Transcription.objects.all()) == [transcription]
    assert list(Classification.objects.all()) == [kept]
    linked.refresh_from_db()
    assert linked.entity_id is None
    assert not Embedding.objects.exists() and not Entity.objects.exists()
    # Nothing signed by the run is left: it can be deleted.
    run.delete()
