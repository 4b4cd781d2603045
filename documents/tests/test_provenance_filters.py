"""
Reading results by provenance (seed 001): every list of elements and results is filtered the same
way (`documents.provenance.ProvenanceFilter`) by worker run, worker version, model version (or
none) and configuration (or none); `false` for a run or version means the results made by a
person. Each list shows `worker_run: {id, summary}` on every item, runs a fixed number of queries
whatever its page size, and reads its results by `worker_run_id` without joining the runs.

The worker runs: a1, a2, a3 and a4 are runs of one version V in one process, a1 with model
version M1, a2 with M2, a3 with neither model nor configuration, a4 with configuration C; b is a
run of another version W with M1; u is the user's own worker run (version W, nothing else). Each
list holds one result per run, named after it, and one made by a person (`manual`).
"""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from documents import services
from documents.models import (
    Classification,
    Element,
    Entity,
    EntityType,
    MetaData,
    MLClass,
    Transcription,
    TranscriptionEntity,
)
from documents.tests.factories import CorpusFactory
from processes.models import ProcessMode, WorkerRun
from processes.tests.factories import ProcessFactory
from users.models import Role
from users.tests.factories import grant
from workers.models import Model, ModelVersion
from workers.tests.factories import WorkerConfigurationFactory, WorkerVersionFactory, assert_list_queries

pytestmark = pytest.mark.django_db

MISSING = "11111111-1111-1111-1111-111111111111"
RUNS = ("a1", "a2", "a3", "a4", "b", "u")
ALL = sorted([*RUNS, "manual"])


@pytest.fixture
def prov(corpus, user):
    """The worker runs described in the module's docstring, with the versions, models and configuration."""
    version_v = WorkerVersionFactory(worker__name="Recogniser", tag="v1")
    version_w = WorkerVersionFactory(worker__name="Other", tag="w1")
    model = Model.objects.create(name="HTR")
    m1 = ModelVersion.objects.create(model=model, tag="m1")
    m2 = ModelVersion.objects.create(model=model, tag="m2")
    configuration = WorkerConfigurationFactory(worker=version_v.worker, name="Fast")
    process = ProcessFactory(mode=ProcessMode.Workers, corpus=corpus, creator=user)
    local = ProcessFactory(mode=ProcessMode.Local, creator=user)
    # A run of a process on another corpus with M1: it can sign nothing here.
    elsewhere = ProcessFactory(mode=ProcessMode.Workers, corpus=CorpusFactory(name="Else"), creator=user)

    def run(process, version, **kwargs):
        worker_run = WorkerRun(process=process, version=version, **kwargs)
        worker_run.save()
        return worker_run

    return {
        "V": version_v,
        "W": version_w,
        "M1": m1,
        "M2": m2,
        "C": configuration,
        "a1": run(process, version_v, model_version=m1),
        "a2": run(process, version_v, model_version=m2),
        "a3": run(process, version_v),
        "a4": run(process, version_v, configuration=configuration),
        "b": run(process, version_w, model_version=m1),
        "u": run(local, version_w),
        "elsewhere": run(elsewhere, version_v, model_version=m1),
    }


def run_of(prov, key):
    return None if key == "manual" else prov[key]


@pytest.fixture
def page(make_element, image):
    return make_element("page", "Page", image=image)


@pytest.fixture
def results(prov, corpus, types, page, make_element):
    """One result of each kind per run (and one by a person), named after it."""
    keys = [*RUNS, "manual"]
    lines = {}
    for key in keys:
        line = make_element("line", key, parent=page)
        Element.objects.filter(pk=line.pk).update(worker_run=run_of(prov, key))
        lines[key] = line
    # An element under every line, for ListElementParents.
    below = make_element("page", "Below", parent=lines["manual"])
    for key in RUNS:
        services.element_add_parent(child=below, parent=lines[key])

    transcriptions = Transcription.objects.bulk_create(
        Transcription(element=page, text=key, worker_run=run_of(prov, key)) for key in keys
    )
    classes = MLClass.objects.bulk_create(MLClass(corpus=corpus, name=key) for key in keys)
    Classification.objects.bulk_create(
        Classification(element=page, ml_class=ml_class, confidence=0.5, worker_run=run_of(prov, ml_class.name))
        for ml_class in classes
    )
    MetaData.objects.bulk_create(
        MetaData(element=page, type="text", name=key, value=key, worker_run=run_of(prov, key)) for key in keys
    )
    person = EntityType.objects.create(corpus=corpus, name="person")
    place = EntityType.objects.create(corpus=corpus, name="place")
    entities = Entity.objects.bulk_create(
        Entity(corpus=corpus, type=place if key == "b" else person, name=key, worker_run=run_of(prov, key))
        for key in keys
    )
    target = transcriptions[-1]
    TranscriptionEntity.objects.bulk_create(
        TranscriptionEntity(transcription=target, entity=entity, offset=i, length=1, worker_run=entity.worker_run)
        for i, entity in enumerate(entities)
    )
    return {"lines": lines, "below": below, "transcription": target, "types": {"person": person, "place": place}}


def list_urls(corpus, page, results):
    """Each list, its URL, its fixed parameters and how to name an item."""
    return {
        "ListElements": (reverse("corpus-elements", args=[corpus.id]), {"type": "line"}, "name"),
        "ListElementChildren": (reverse("element-children", args=[page.id]), {}, "name"),
        "ListElementParents": (reverse("element-parents", args=[results["below"].id]), {}, "name"),
        "ListTranscriptions": (reverse("transcription-list", args=[page.id]), {}, "text"),
        "ListElementClassifications": (reverse("element-classifications", args=[page.id]), {}, "ml_class"),
        "ListElementMetaData": (reverse("element-metadata", args=[page.id]), {}, "name"),
        "ListTranscriptionEntities": (
            reverse("transcription-entities", args=[results["transcription"].id]),
            {},
            "entity",
        ),
        "ListCorpusEntities": (reverse("corpus-entities", args=[corpus.id]), {}, "name"),
    }


LISTS = (
    "ListElements",
    "ListElementChildren",
    "ListElementParents",
    "ListTranscriptions",
    "ListElementClassifications",
    "ListElementMetaData",
    "ListTranscriptionEntities",
    "ListCorpusEntities",
)


def items(response):
    assert response.status_code == 200, response.json()
    body = response.json()
    return body if isinstance(body, list) else body["results"]


def key_of(item, naming):
    value = item[naming]
    if naming == "ml_class":
        return value["name"]
    if naming == "entity":
        return value["name"]
    return value


def listed(client, url, params, naming):
    return sorted(key_of(item, naming) for item in items(client.get(url, {"page_size": 50, **params})))


def resolve(prov, params):
    return {key: str(prov[value].id) if value in prov else value for key, value in params.items()}


FILTERS = [
    ({}, ALL),
    ({"worker_run": "a1"}, ["a1"]),
    ({"worker_run": "u"}, ["u"]),
    ({"worker_run": "False"}, ["manual"]),
    ({"worker_run": "false"}, ["manual"]),
    ({"worker_run": MISSING}, []),
    ({"worker_version": "V"}, ["a1", "a2", "a3", "a4"]),
    ({"worker_version": "W"}, ["b", "u"]),
    ({"worker_version": "False"}, ["manual"]),
    ({"worker_version": MISSING}, []),
    ({"model_version": "M1"}, ["a1", "b"]),
    ({"model_version": "M2"}, ["a2"]),
    ({"model_version": "false"}, ["a3", "a4", "u"]),
    ({"model_version": "False"}, ["a3", "a4", "u"]),
    ({"model_version": MISSING}, []),
    ({"configuration": "C"}, ["a4"]),
    ({"configuration": "false"}, ["a1", "a2", "a3", "b", "u"]),
    ({"configuration": MISSING}, []),
    # Combined: every filter holds.
    ({"worker_version": "V", "model_version": "false"}, ["a3", "a4"]),
    ({"worker_version": "W", "model_version": "false"}, ["u"]),
    ({"model_version": "M1", "configuration": "false"}, ["a1", "b"]),
    ({"model_version": "false", "configuration": "false"}, ["a3", "u"]),
    ({"worker_run": "a1", "model_version": "M1"}, ["a1"]),
    ({"worker_run": "a1", "model_version": "M2"}, []),
    ({"worker_run": "false", "model_version": "false"}, []),
    ({"worker_version": "false", "configuration": "C"}, []),
]


@pytest.mark.parametrize("list_name", LISTS)
def test_filters(user_client, corpus, page, prov, results, list_name):
    url, fixed, naming = list_urls(corpus, page, results)[list_name]
    wrong = {}
    for params, expected in FILTERS:
        found = listed(user_client, url, {**fixed, **resolve(prov, params)}, naming)
        if found != expected:
            wrong[str(params)] = {"expected": expected, "found": found}
    assert wrong == {}


@pytest.mark.parametrize("list_name", LISTS)
def test_items_show_their_worker_run(user_client, corpus, page, prov, results, list_name):
    url, fixed, naming = list_urls(corpus, page, results)[list_name]
    shown = {key_of(item, naming): item["worker_run"] for item in items(user_client.get(url, fixed))}
    assert shown == {
        key: None if key == "manual" else {"id": str(prov[key].id), "summary": prov[key].summary} for key in ALL
    }
    assert shown["a1"]["summary"] == "Worker Recogniser @ v1 with model HTR @ m1"
    assert shown["a4"]["summary"] == "Worker Recogniser @ v1 using configuration 'Fast'"


@pytest.mark.parametrize("list_name", LISTS)
@pytest.mark.parametrize("field", ["worker_run", "worker_version", "model_version", "configuration"])
def test_bad_values(user_client, corpus, page, results, list_name, field):
    url, fixed, _ = list_urls(corpus, page, results)[list_name]
    for value in ("nope", "12345", "True"):
        response = user_client.get(url, {**fixed, field: value})
        assert response.status_code == 400
        assert response.json() == {field: [f"'{value}' is not a valid UUID, nor false."]}


@pytest.mark.parametrize("list_name", LISTS)
def test_hidden(other_client, anonymous_client, corpus, page, prov, results, list_name):
    url, fixed, _ = list_urls(corpus, page, results)[list_name]
    params = {**fixed, "model_version": str(prov["M1"].id)}
    assert other_client.get(url, params).status_code == 404
    assert anonymous_client.get(url, params).status_code == 404


@pytest.mark.parametrize("list_name", LISTS)
def test_guests_read(other_client, other_user, corpus, page, prov, results, list_name):
    grant(corpus, Role.GUEST, user=other_user)
    url, fixed, naming = list_urls(corpus, page, results)[list_name]
    assert listed(other_client, url, {**fixed, "configuration": str(prov["C"].id)}, naming) == ["a4"]


def test_missing_parents(user_client):
    for name, arg in (
        ("element-classifications", MISSING),
        ("corpus-entities", MISSING),
        ("transcription-list", MISSING),
        ("element-metadata", MISSING),
        ("transcription-entities", MISSING),
    ):
        assert user_client.get(reverse(name, args=[arg]), {"model_version": "false"}).status_code == 404


# Query counts: token, parent with the selected runs, count, page.

PAGINATED = [name for name in LISTS if name != "ListElementMetaData"]


@pytest.mark.parametrize("list_name", PAGINATED)
@pytest.mark.parametrize(
    "params",
    [{}, {"worker_version": "V"}, {"model_version": "false"}, {"configuration": "false"}, {"worker_run": "a1"}],
)
def test_query_counts(user_client, corpus, page, prov, results, list_name, params, django_assert_num_queries):
    url, fixed, _ = list_urls(corpus, page, results)[list_name]
    query = "&".join(f"{key}={value}" for key, value in {**fixed, **resolve(prov, params)}.items())
    sizes = (1,) if "worker_run" in params else (1, 2)
    assert_list_queries(user_client, f"{url}?{query}", 4, django_assert_num_queries, page_sizes=sizes)


@pytest.mark.parametrize("params", [{"model_version": "M2"}, {"model_version": "false"}, {"worker_version": "V"}])
def test_metadata_query_count(user_client, page, prov, results, params, django_assert_num_queries):
    url = reverse("element-metadata", args=[page.id])
    user_client.get(url)
    # Token, element with the selected runs, the metadata (a plain array).
    with django_assert_num_queries(3):
        response = user_client.get(url, {**resolve(prov, params), "load_parents": "true"})
    assert response.status_code == 200


@pytest.mark.parametrize("list_name", LISTS)
@pytest.mark.parametrize(
    "params", [{"worker_version": "V"}, {"model_version": "M1"}, {"model_version": "false"}, {"configuration": "C"}]
)
def test_runs_are_literal_ids(user_client, corpus, page, prov, results, list_name, params):
    """The results are read by `worker_run_id` on their own index: the runs are not joined to filter them."""
    url, fixed, _ = list_urls(corpus, page, results)[list_name]
    with CaptureQueriesContext(connection) as context:
        assert user_client.get(url, {**fixed, **resolve(prov, params)}).status_code == 200
    # The count of paginated lists, or the plain array of metadata (which joins the runs for their summary).
    sql = context.captured_queries[-2 if list_name != "ListElementMetaData" else -1]["sql"]
    where = sql.split(" WHERE ", 1)[1]
    assert "processes_workerrun" not in where
    assert '"worker_run_id" IN (' in where


def test_result_tables_index_worker_run():
    with connection.cursor() as cursor:
        for model in (Element, Transcription, Classification, MetaData, Entity, TranscriptionEntity):
            constraints = connection.introspection.get_constraints(cursor, model._meta.db_table)
            assert any(c["index"] and c["columns"][:1] == ["worker_run_id"] for c in constraints.values()), model
        constraints = connection.introspection.get_constraints(cursor, WorkerRun._meta.db_table)
        for column in ("version_id", "model_version_id", "configuration_id"):
            assert any(c["index"] and c["columns"][:1] == [column] for c in constraints.values()), column


# ListElementClassifications


def test_classifications_shape_and_recursive(user_client, page, prov, results):
    line = results["lines"]["a2"]
    ml_class = MLClass.objects.get(name="a2")
    on_line = Classification.objects.create(
        element=line, ml_class=ml_class, confidence=0.75, high_confidence=True, worker_run=prov["a2"]
    )
    url = reverse("element-classifications", args=[page.id])
    assert len(items(user_client.get(url))) == 7
    listed_items = items(user_client.get(url, {"recursive": "true", "model_version": str(prov["M2"].id)}))
    assert [item["element"] for item in listed_items] == [str(page.id), str(line.id)]
    assert listed_items[1] == {
        "id": str(on_line.id),
        "element": str(line.id),
        "ml_class": {"id": str(ml_class.id), "name": "a2"},
        "confidence": 0.75,
        "high_confidence": True,
        "state": "pending",
        "moderator": None,
        "worker_run": {"id": str(prov["a2"].id), "summary": prov["a2"].summary},
        "worker_run_id": str(prov["a2"].id),
        "worker_version_id": str(prov["V"].id),
        "created": listed_items[1]["created"],
    }
    response = user_client.get(url, {"recursive": "maybe"})
    assert response.status_code == 400 and list(response.json()) == ["recursive"]


# ListCorpusEntities


def test_corpus_entities_name_and_type(user_client, corpus, prov, results):
    url = reverse("corpus-entities", args=[corpus.id])
    person, place = results["types"]["person"], results["types"]["place"]
    assert listed(user_client, url, {"name": "A"}, "name") == ["a1", "a2", "a3", "a4", "manual"]
    assert listed(user_client, url, {"type": str(place.id)}, "name") == ["b"]
    assert listed(user_client, url, {"type": str(person.id), "model_version": "false"}, "name") == ["a3", "a4", "u"]
    assert listed(user_client, url, {"type": MISSING}, "name") == []
    item = items(user_client.get(url, {"worker_run": str(prov["b"].id)}))[0]
    assert item["type"] == {"id": str(place.id), "name": "place", "color": place.color}
    assert item["worker_version_id"] == str(prov["W"].id)
    response = user_client.get(url, {"type": "person"})
    assert response.status_code == 400
    assert response.json() == {"type": ["'person' is not a valid UUID."]}


# RetrieveElement


def test_retrieve_element_classifications(user_client, page, prov, results, django_assert_num_queries):
    url = reverse("element-detail", args=[page.id])
    user_client.get(url)  # warms the token's last use
    # Token, element with its level and classifications: the same as without classifications.
    with django_assert_num_queries(2):
        response = user_client.get(url)
    assert response.status_code == 200
    classifications = response.json()["classifications"]
    assert sorted(c["ml_class"]["name"] for c in classifications) == ALL
    by_name = {c["ml_class"]["name"]: c for c in classifications}
    a1 = Classification.objects.get(element=page, worker_run=prov["a1"])
    assert by_name["a1"] == {
        "id": str(a1.id),
        "ml_class": {"id": str(a1.ml_class_id), "name": "a1"},
        "state": "pending",
        "confidence": 0.5,
        "high_confidence": False,
        "worker_version": str(prov["V"].id),
        "worker_run": {"id": str(prov["a1"].id), "summary": prov["a1"].summary},
    }
    assert by_name["manual"]["worker_version"] is None
    assert by_name["manual"]["worker_run"] is None

    # The answer to an update lists them too.
    response = user_client.patch(url, {"name": "Renamed"}, format="json")
    assert response.status_code == 200, response.json()
    assert len(response.json()["classifications"]) == 7


def test_retrieve_element_without_classifications(user_client, make_element):
    element = make_element("page", "Alone")
    response = user_client.get(reverse("element-detail", args=[element.id]))
    assert response.status_code == 200
    assert response.json()["classifications"] == []


def test_element_detail_serializer_refuses_a_query_per_element(page, prov, results):
    """Serialised without the annotation of RetrieveElement's query, the classifications are an error, not a query."""
    from django.core.exceptions import ImproperlyConfigured

    from documents.api.serializers import ElementDetailSerializer

    with pytest.raises(ImproperlyConfigured, match="classification_list"):
        ElementDetailSerializer(Element.objects.select_related("type", "corpus").get(pk=page.pk)).data  # noqa: B018
