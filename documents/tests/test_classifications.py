"""
ML classes and classifications: ListCorpusMLClasses, CreateMLClass, CreateClassification,
CreateClassifications and RejectClassification; rights, the signing worker run, the duplicate
message the base worker recognises (API.md §1.7), and their deletion with elements and corpora.
"""

import pytest
from django.urls import reverse

from documents import services
from documents.models import Classification, MLClass
from documents.tests.factories import CorpusFactory
from processes.models import WorkerRun
from processes.tests.factories import ProcessFactory
from users.models import Role
from users.tests.factories import grant
from workers.tests.factories import WorkerVersionFactory, assert_list_queries

pytestmark = pytest.mark.django_db

MISSING = "11111111-1111-1111-1111-111111111111"
DUPLICATE = {"non_field_errors": ["The fields element, worker_run, ml_class must make a unique set."]}


@pytest.fixture
def run(corpus, user):
    run = WorkerRun(
        process=ProcessFactory(mode="workers", corpus=corpus, creator=user),
        version=WorkerVersionFactory(worker__name="Classifier", tag="v1"),
    )
    run.save()
    return run


@pytest.fixture
def classes(corpus):
    return {name: MLClass.objects.create(corpus=corpus, name=name) for name in ("cat", "dog", "duck", "ant")}


@pytest.fixture
def page(make_element):
    return make_element("page", "Page")


# ML classes


def test_list_classes(user_client, corpus, classes, django_assert_num_queries):
    url = reverse("corpus-classes", args=[corpus.id])
    response = user_client.get(url)
    assert response.status_code == 200
    assert [c["name"] for c in response.json()["results"]] == ["ant", "cat", "dog", "duck"]
    assert [c["name"] for c in user_client.get(url, {"search": "D"}).json()["results"]] == ["dog", "duck"]
    # Token, corpus with level, count, page.
    assert_list_queries(user_client, url, 4, django_assert_num_queries, page_sizes=(2, 3))


def test_list_classes_hidden(other_client, anonymous_client, corpus, classes):
    assert other_client.get(reverse("corpus-classes", args=[corpus.id])).status_code == 404
    assert anonymous_client.get(reverse("corpus-classes", args=[corpus.id])).status_code == 404
    assert other_client.get(reverse("corpus-classes", args=[MISSING])).status_code == 404


def test_create_class(user_client, corpus, classes):
    url = reverse("corpus-classes", args=[corpus.id])
    response = user_client.post(url, {"name": "bird"}, format="json")
    assert response.status_code == 201, response.json()
    assert MLClass.objects.get(pk=response.json()["id"]).corpus_id == corpus.id
    response = user_client.post(url, {"name": "cat"}, format="json")
    assert response.status_code == 400
    assert "already exists" in response.json()["name"][0]


def test_create_class_rights(other_client, other_user, anonymous_client, corpus):
    url = reverse("corpus-classes", args=[corpus.id])
    assert anonymous_client.post(url, {"name": "x"}, format="json").status_code in (401, 403)
    assert other_client.post(url, {"name": "x"}, format="json").status_code == 404
    grant(corpus, Role.GUEST, user=other_user)
    assert other_client.post(url, {"name": "x"}, format="json").status_code == 403
    assert not MLClass.objects.exists()


# CreateClassification


def test_create_classification_worker(user_client, page, classes, run):
    body = {
        "element": str(page.id),
        "ml_class": str(classes["cat"].id),
        "worker_run_id": str(run.id),
        "confidence": 0.4,
        "high_confidence": False,
    }
    response = user_client.post(reverse("classification-create"), body, format="json")
    assert response.status_code == 201, response.json()
    data = response.json()
    assert data["ml_class"] == str(classes["cat"].id)
    assert data["state"] == "pending"
    assert data["worker_run"] == {"id": str(run.id), "summary": run.summary}
    # The duplicate answers the exact message of API.md §1.7.
    response = user_client.post(reverse("classification-create"), body, format="json")
    assert response.status_code == 400
    assert response.json() == DUPLICATE
    # Another run, or a person, may give the same class.
    del body["worker_run_id"]
    response = user_client.post(reverse("classification-create"), body, format="json")
    assert response.status_code == 201
    assert response.json()["state"] == "validated"
    response = user_client.post(reverse("classification-create"), body, format="json")
    assert response.json() == DUPLICATE


def test_create_classification_manual(user_client, user, page, classes):
    body = {"element": str(page.id), "ml_class": str(classes["dog"].id)}
    response = user_client.post(reverse("classification-create"), body, format="json")
    assert response.status_code == 201, response.json()
    classification = Classification.objects.get(pk=response.json()["id"])
    assert classification.moderator == user and classification.confidence == 1.0
    assert response.json()["worker_run"] is None


def test_create_classification_errors(user_client, other_client, other_user, corpus, page, classes, run):
    url = reverse("classification-create")
    base = {"element": str(page.id), "ml_class": str(classes["cat"].id), "confidence": 0.5}
    foreign_class = MLClass.objects.create(corpus=CorpusFactory(name="Other"), name="cat")
    for body, field in [
        ({**base, "element": MISSING}, "element"),
        ({**base, "ml_class": str(foreign_class.id)}, "ml_class"),
        ({**base, "confidence": 2}, "confidence"),
        ({**base, "worker_run_id": MISSING}, "worker_run_id"),
        ({**base, "worker_run_id": str(run.id), "confidence": None}, "confidence"),
    ]:
        response = user_client.post(url, body, format="json")
        assert response.status_code == 400, body
        assert field in response.json(), response.json()
    assert other_client.post(url, base, format="json").status_code == 400
    grant(corpus, Role.GUEST, user=other_user)
    assert other_client.post(url, base, format="json").status_code == 403
    assert not Classification.objects.exists()


# CreateClassifications


def test_bulk_classifications(user_client, page, classes, run, django_assert_num_queries):
    body = {
        "parent": str(page.id),
        "worker_run_id": str(run.id),
        "classifications": [
            {"ml_class": str(classes["cat"].id), "confidence": 0.9, "high_confidence": True},
            {"ml_class": str(classes["dog"].id), "confidence": 0.1},
        ],
    }
    user_client.get(reverse("corpus-list"))
    # Token, element with its classes, level on its corpus, worker run, INSERT in a savepoint (3):
    # outside a transaction, the INSERT is a statement of its own.
    with django_assert_num_queries(7):
        response = user_client.post(reverse("classification-bulk"), body, format="json")
    assert response.status_code == 201, response.json()
    data = response.json()
    assert data["parent"] == str(page.id) and data["worker_run_id"] == str(run.id)
    assert [(c["ml_class"], c["high_confidence"], c["state"]) for c in data["classifications"]] == [
        (str(classes["cat"].id), True, "pending"),
        (str(classes["dog"].id), False, "pending"),
    ]
    response = user_client.post(reverse("classification-bulk"), body, format="json")
    assert response.status_code == 400
    assert response.json() == DUPLICATE
    assert Classification.objects.count() == 2


def test_bulk_classifications_errors(user_client, page, classes, run):
    url = reverse("classification-bulk")
    item = {"ml_class": str(classes["cat"].id), "confidence": 0.5}
    response = user_client.post(url, {"parent": str(page.id), "classifications": [item, item]}, format="json")
    assert response.json() == DUPLICATE
    response = user_client.post(
        url, {"parent": str(page.id), "classifications": [{**item, "ml_class": MISSING}]}, format="json"
    )
    assert response.status_code == 400 and MISSING in response.json()["classifications"][0]
    response = user_client.post(url, {"parent": MISSING, "classifications": [item]}, format="json")
    assert response.status_code == 400 and "parent" in response.json()
    assert user_client.post(url, {"parent": str(page.id), "classifications": []}, format="json").status_code == 400


# RejectClassification


def test_reject(user_client, user, page, classes, run):
    worker = Classification.objects.create(element=page, ml_class=classes["cat"], confidence=0.5, worker_run=run)
    manual = Classification.objects.create(element=page, ml_class=classes["dog"], confidence=1, state="validated")
    response = user_client.put(reverse("classification-reject", args=[worker.id]))
    assert response.status_code == 200, response.json()
    assert response.json()["state"] == "rejected"
    assert response.json()["moderator"] == user.email
    worker.refresh_from_db()
    assert worker.state == "rejected" and worker.moderator == user
    assert user_client.put(reverse("classification-reject", args=[worker.id])).status_code == 409
    assert user_client.put(reverse("classification-reject", args=[manual.id])).status_code == 204
    assert not Classification.objects.filter(pk=manual.id).exists()


def test_reject_rights(other_client, other_user, corpus, page, classes):
    classification = Classification.objects.create(element=page, ml_class=classes["cat"], confidence=0.5)
    url = reverse("classification-reject", args=[classification.id])
    assert other_client.put(url).status_code == 404
    grant(corpus, Role.GUEST, user=other_user)
    assert other_client.put(url).status_code == 403
    assert other_client.put(reverse("classification-reject", args=[MISSING])).status_code == 404


# Deletion


def test_deleted_with_element_and_corpus(make_element, corpus, classes):
    first, second = make_element("page"), make_element("page")
    for element in (first, second):
        Classification.objects.create(element=element, ml_class=classes["cat"], confidence=0.5)
    services.element_delete(element_id=first.id)
    assert list(Classification.objects.values_list("element_id", flat=True)) == [second.id]
    services.corpus_delete(corpus_id=corpus.id)
    assert not Classification.objects.exists()
    assert not MLClass.objects.exists()


def test_result_admin_pages(superuser_client, superuser, page, classes, run):
    from django.test import Client

    Classification.objects.create(element=page, ml_class=classes["cat"], confidence=0.5, worker_run=run)
    client = Client()
    client.force_login(superuser)
    models = (
        "transcription",
        "mlclass",
        "classification",
        "metadata",
        "entitytype",
        "entity",
        "transcriptionentity",
        "embedding",
    )
    for model in models:
        for query in ({}, {"q": "cat"}, {"q": str(page.id)}):
            response = client.get(reverse(f"admin:documents_{model}_changelist"), query)
            assert response.status_code == 200, model
    classification = Classification.objects.get()
    response = client.get(reverse("admin:documents_classification_change", args=[classification.id]))
    assert response.status_code == 200


@pytest.mark.django_db(transaction=True)
def test_duplicates_outside_a_transaction(user_client, page, classes, run, django_assert_num_queries):
    """As served, the INSERT is atomic by itself: a duplicate answers 400, and the connection goes on."""
    body = {
        "parent": str(page.id),
        "worker_run_id": str(run.id),
        "classifications": [{"ml_class": str(classes["cat"].id), "confidence": 0.9}],
    }
    user_client.get(reverse("corpus-list"))
    with django_assert_num_queries(5):
        assert user_client.post(reverse("classification-bulk"), body, format="json").status_code == 201
    response = user_client.post(reverse("classification-bulk"), body, format="json")
    assert response.status_code == 400 and response.json() == DUPLICATE
    body["classifications"][0]["ml_class"] = str(classes["dog"].id)
    assert user_client.post(reverse("classification-bulk"), body, format="json").status_code == 201
    assert Classification.objects.count() == 2
