"""
Transcriptions: CreateTranscription, CreateTranscriptions, CreateElementTranscriptions and
ListTranscriptions; rights (guests read, contributors write), the signing worker run, the query
counts of the list, and their deletion with their elements and corpus.
"""

import pytest
from django.urls import reverse

from documents import services
from documents.models import Element, ElementPath, Transcription
from documents.tests.factories import CorpusFactory
from documents.tests.trees import assert_tree_consistent
from ponos.tests.factories import TaskFactory
from processes.tests.factories import ProcessFactory, make_run
from users.models import Role
from users.tests.factories import grant
from workers.tests.factories import WorkerVersionFactory, assert_list_queries

pytestmark = pytest.mark.django_db

MISSING = "11111111-1111-1111-1111-111111111111"


@pytest.fixture
def version():
    return WorkerVersionFactory(worker__name="HTR", tag="v1")


@pytest.fixture
def run(corpus, user, version):
    return make_run(ProcessFactory(mode="workers", corpus=corpus, creator=user), version)


@pytest.fixture
def foreign_run(make_user, version):
    """A run of a process on another corpus."""

    other = CorpusFactory(name="Other")
    return make_run(ProcessFactory(mode="workers", corpus=other, creator=make_user()), version)


@pytest.fixture
def page(make_element, image):
    return make_element("page", "Page", image=image)


# CreateTranscription


def test_create_manual(user_client, page):
    response = user_client.post(
        reverse("transcription-create", args=[page.id]), {"text": "Hello", "confidence": 0.5}, format="json"
    )
    assert response.status_code == 201, response.json()
    data = response.json()
    assert data["text"] == "Hello"
    assert data["orientation"] == "horizontal-lr"
    assert data["worker_run"] is None and data["worker_run_id"] is None
    assert Transcription.objects.get(pk=data["id"]).element_id == page.id


def test_create_with_worker_run(user_client, page, run):
    response = user_client.post(
        reverse("transcription-create", args=[page.id]),
        {"text": "Hi", "confidence": 0.9, "orientation": "vertical-rl", "worker_run_id": str(run.id)},
        format="json",
    )
    assert response.status_code == 201, response.json()
    data = response.json()
    assert data["worker_run"] == {"id": str(run.id), "summary": run.summary}
    assert data["worker_run_id"] == str(run.id)
    assert data["worker_version_id"] == str(run.version_id)
    assert data["orientation"] == "vertical-rl"


@pytest.mark.parametrize(
    "body, field",
    [
        ({"text": "x", "confidence": 1.5}, "confidence"),
        ({"text": ""}, "text"),
        ({"text": "x", "orientation": "diagonal"}, "orientation"),
        ({"text": "x", "worker_run_id": MISSING}, "worker_run_id"),
    ],
)
def test_create_invalid(user_client, page, body, field):
    response = user_client.post(reverse("transcription-create", args=[page.id]), body, format="json")
    assert response.status_code == 400
    assert field in response.json()


def test_create_foreign_run(user_client, page, foreign_run):
    response = user_client.post(
        reverse("transcription-create", args=[page.id]),
        {"text": "x", "worker_run_id": str(foreign_run.id)},
        format="json",
    )
    assert response.status_code == 400
    assert "worker_run_id" in response.json()


def test_create_rights(other_client, other_user, page, corpus):
    url = reverse("transcription-create", args=[page.id])
    assert other_client.post(url, {"text": "x"}, format="json").status_code == 404
    grant(corpus, Role.GUEST, user=other_user)
    assert other_client.post(url, {"text": "x"}, format="json").status_code == 403
    assert not Transcription.objects.exists()


# CreateTranscriptions


def test_bulk_create(user_client, make_element, run, django_assert_num_queries):
    a, b = make_element("line"), make_element("line")
    body = {
        "worker_run_id": str(run.id),
        "transcriptions": [
            {"element_id": str(a.id), "text": "A", "confidence": 0.1, "orientation": "horizontal-lr"},
            {"element_id": str(b.id), "text": "B", "confidence": 0.2, "orientation": "horizontal-rl"},
        ],
    }
    user_client.get(reverse("corpus-list"))  # warm the token's last use
    # Token, elements, the user's level on their corpus, worker run, INSERT.
    with django_assert_num_queries(5):
        response = user_client.post(reverse("transcription-bulk"), body, format="json")
    assert response.status_code == 201, response.json()
    data = response.json()
    assert data["worker_run_id"] == str(run.id)
    assert [(t["element_id"], t["text"]) for t in data["transcriptions"]] == [(str(a.id), "A"), (str(b.id), "B")]
    assert Transcription.objects.filter(worker_run=run).count() == 2


def test_bulk_create_errors(user_client, other_client, other_user, corpus, make_element):
    line = make_element("line")
    url = reverse("transcription-bulk")
    missing = {"transcriptions": [{"element_id": MISSING, "text": "x"}]}
    response = user_client.post(url, missing, format="json")
    assert response.status_code == 400
    assert MISSING in response.json()["transcriptions"][0]
    body = {"transcriptions": [{"element_id": str(line.id), "text": "x"}]}
    assert other_client.post(url, body, format="json").status_code == 400
    grant(corpus, Role.GUEST, user=other_user)
    assert other_client.post(url, body, format="json").status_code == 403
    assert user_client.post(url, {"transcriptions": []}, format="json").status_code == 400


# CreateElementTranscriptions


def test_element_transcriptions(user_client, page, run, types, corpus):
    url = reverse("element-transcriptions-bulk", args=[page.id])
    body = {
        "element_type": "line",
        "worker_run_id": str(run.id),
        "return_elements": True,
        "transcriptions": [
            {"polygon": [[0, 0], [0, 10], [10, 10], [10, 0]], "text": "One", "confidence": 0.5},
            {"polygon": [[0, 20], [0, 30], [10, 30]], "text": "Two", "confidence": 0.6, "element_confidence": 0.7},
        ],
    }
    response = user_client.post(url, body, format="json")
    assert response.status_code == 201, response.json()
    data = response.json()
    assert [item["created"] for item in data] == [True, True]
    lines = {e.id: e for e in Element.objects.filter(type=types["line"])}
    assert set(lines) == {uuid_of(item["element_id"]) for item in data}
    second = lines[uuid_of(data[1]["element_id"])]
    assert second.polygon == [[0, 20], [0, 30], [10, 30], [0, 20]]
    assert second.confidence == 0.7 and second.worker_run_id == run.id and second.image_id == page.image_id
    assert set(ElementPath.objects.filter(parent=page.id).values_list("ordering", flat=True)) == {0, 1}
    assert_tree_consistent(corpus)
    assert Transcription.objects.get(pk=data[0]["id"]).element_id == uuid_of(data[0]["element_id"])

    # A retried batch reuses the elements of the same polygons.
    response = user_client.post(url, body, format="json")
    assert response.status_code == 201
    assert [item["created"] for item in response.json()] == [False, False]
    assert Element.objects.filter(type=types["line"]).count() == 2
    assert Transcription.objects.count() == 4


def uuid_of(value):
    import uuid

    return uuid.UUID(value)


def test_element_transcriptions_errors(user_client, make_element, page):
    url = reverse("element-transcriptions-bulk", args=[page.id])
    item = {"polygon": [[0, 0], [0, 10], [10, 10]], "text": "x", "confidence": 0.5}
    response = user_client.post(url, {"element_type": "nope", "transcriptions": [item]}, format="json")
    assert response.status_code == 400 and "element_type" in response.json()
    outside = {**item, "polygon": [[0, 0], [0, 10], [5000, 10]]}
    response = user_client.post(url, {"element_type": "line", "transcriptions": [item, outside]}, format="json")
    assert response.status_code == 400
    assert response.json()["transcriptions"][0] == {}
    assert "polygon" in response.json()["transcriptions"][1]
    no_image = make_element("folder")
    response = user_client.post(
        reverse("element-transcriptions-bulk", args=[no_image.id]),
        {"element_type": "line", "transcriptions": [item]},
        format="json",
    )
    assert response.status_code == 400
    response = user_client.post(
        reverse("element-transcriptions-bulk", args=[MISSING]),
        {"element_type": "line", "transcriptions": [item]},
        format="json",
    )
    assert response.status_code == 404


# ListTranscriptions


@pytest.fixture
def transcribed(make_element, page, run):
    line = make_element("line", "Line", parent=page)
    word = make_element("line", "Word", parent=line)
    return {
        "page": Transcription.objects.create(element=page, text="page", worker_run=run, confidence=1),
        "page_manual": Transcription.objects.create(element=page, text="page by hand"),
        "line": Transcription.objects.create(element=line, text="line", worker_run=run, confidence=1),
        "word": Transcription.objects.create(element=word, text="word"),
    }


def texts(response):
    assert response.status_code == 200, response.json()
    return sorted(item["text"] for item in response.json()["results"])


def test_list(user_client, page, transcribed, run):
    url = reverse("transcription-list", args=[page.id])
    assert texts(user_client.get(url)) == ["page", "page by hand"]
    assert texts(user_client.get(url, {"recursive": "True"})) == ["line", "page", "page by hand", "word"]
    assert texts(user_client.get(url, {"recursive": "True", "worker_run": str(run.id)})) == ["line", "page"]
    assert texts(user_client.get(url, {"recursive": "True", "worker_run": "False"})) == ["page by hand", "word"]
    assert texts(user_client.get(url, {"recursive": "true", "worker_version": str(run.version_id)})) == [
        "line",
        "page",
    ]
    assert texts(user_client.get(url, {"recursive": "true", "worker_version": "false"})) == ["page by hand", "word"]
    assert texts(user_client.get(url, {"recursive": "true", "element_type": "line"})) == ["line", "word"]
    item = next(i for i in user_client.get(url).json()["results"] if i["text"] == "page")
    assert item["worker_run"] == {"id": str(run.id), "summary": run.summary}
    assert item["element"] == {"id": str(page.id), "name": "Page", "type": "page"}


def test_list_errors(user_client, other_client, page):
    url = reverse("transcription-list", args=[page.id])
    assert user_client.get(url, {"worker_run": "nope"}).status_code == 400
    assert user_client.get(url, {"recursive": "maybe"}).status_code == 400
    assert other_client.get(url).status_code == 404
    assert user_client.get(reverse("transcription-list", args=[MISSING])).status_code == 404


def test_list_queries(user_client, page, transcribed, run, django_assert_num_queries):
    # Token, element with level, count, page.
    url = reverse("transcription-list", args=[page.id])
    assert_list_queries(user_client, f"{url}?recursive=true", 4, django_assert_num_queries, page_sizes=(2, 3))
    assert_list_queries(
        user_client,
        f"{url}?recursive=true&worker_version={run.version_id}",
        4,
        django_assert_num_queries,
        page_sizes=(1, 2),
    )


# Deletion


def test_deleted_with_element(page, transcribed):
    services.element_delete(element_id=page.id)
    assert not Transcription.objects.exists()


def test_deleted_with_corpus(corpus, transcribed):
    services.corpus_delete(corpus_id=corpus.id)
    assert not Transcription.objects.exists()


# Provenance: who may sign with which run


def test_local_runs(user_client, other_client, other_user, corpus, page, version, user):
    grant(corpus, Role.CONTRIBUTOR, user=other_user)
    local = make_run(ProcessFactory(mode="local", creator=user), version)
    url = reverse("transcription-create", args=[page.id])
    body = {"text": "x", "worker_run_id": str(local.id)}
    assert user_client.post(url, body, format="json").status_code == 201
    assert other_client.post(url, body, format="json").status_code == 400


def test_task_token(page, run, foreign_run):
    from rest_framework.test import APIClient

    task = TaskFactory(process=run.process, slug="task", state="running", worker_run=run)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Ponos {task.token}")
    url = reverse("transcription-create", args=[page.id])
    response = client.post(url, {"text": "x", "worker_run_id": str(run.id)}, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["worker_run_id"] == str(run.id)
    # A task never publishes anonymously, nor with another run.
    assert client.post(url, {"text": "x"}, format="json").status_code == 400
    assert client.post(url, {"text": "x", "worker_run_id": str(foreign_run.id)}, format="json").status_code == 403


# Element lists filtered by their transcriptions' provenance


def test_elements_by_transcription_provenance(user_client, corpus, page, transcribed, run):
    """Page: by `run` and by hand; Line: by `run`; Word: by hand."""
    url = reverse("corpus-elements", args=[corpus.id])

    def names(params):
        response = user_client.get(url, params)
        assert response.status_code == 200, response.json()
        return sorted(element["name"] for element in response.json()["results"])

    assert names({"transcription_worker_run": str(run.id)}) == ["Line", "Page"]
    assert names({"transcription_worker_run": "False"}) == ["Page", "Word"]
    assert names({"transcription_worker_version": str(run.version_id)}) == ["Line", "Page"]
    assert names({"transcription_worker_version": "false", "type": "line"}) == ["Word"]
    children = reverse("element-children", args=[page.id])
    response = user_client.get(children, {"recursive": "true", "transcription_worker_run": str(run.id)})
    assert [element["name"] for element in response.json()["results"]] == ["Line"]
