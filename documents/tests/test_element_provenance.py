"""
Elements signed by worker runs (CreateElement, CreateElements): who may sign with which run
(documents.provenance), what is stored, and how the answer shows it. CreateElements writes each
table with one statement whatever the number of elements.
"""

import uuid

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from documents.models import Element
from documents.tests.factories import CorpusFactory
from documents.tests.trees import paths_of
from ponos.models import TaskState
from ponos.tests.factories import TaskFactory
from processes.models import ProcessMode
from processes.tests.factories import ProcessFactory, make_run
from users.models import Role
from users.tests.factories import grant


@pytest.fixture
def own_run(user):
    """A user worker run of `user` (their personal `local` process)."""
    return make_run(ProcessFactory(mode=ProcessMode.Local, creator=user))


@pytest.fixture
def others_run(other_user):
    return make_run(ProcessFactory(mode=ProcessMode.Local, creator=other_user))


@pytest.fixture
def process_run(corpus, other_user):
    """A run of a workers process on the corpus, created by someone else."""
    return make_run(ProcessFactory(mode=ProcessMode.Workers, corpus=corpus, creator=other_user))


def task_client(run, state=TaskState.Running):
    task = TaskFactory(process=run.process, slug="worker", state=state, worker_run=run)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Ponos {task.token}")
    return client


def create(client, corpus, worker_run_id, **extra):
    body = {"type": "page", "name": "Signed", "corpus": str(corpus.id), **extra}
    if worker_run_id is not None:
        body["worker_run_id"] = str(worker_run_id)
    return client.post(reverse("element-create"), body, format="json")


def bulk(client, parent, worker_run_id, elements):
    body = {"elements": elements}
    if worker_run_id is not None:
        body["worker_run_id"] = str(worker_run_id)
    return client.post(reverse("elements-bulk-create", kwargs={"id": parent.id}), body, format="json")


# CreateElement


@pytest.mark.parametrize("run_fixture", ["own_run", "process_run"])
def test_create_element_signed(request, user_client, corpus, types, run_fixture):
    run = request.getfixturevalue(run_fixture)
    response = create(user_client, corpus, run.id)
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["worker_run"] == {"id": str(run.id), "summary": run.summary}
    assert body["worker_run_id"] == str(run.id)
    assert body["worker_version_id"] == str(run.version_id)
    assert Element.objects.get(id=body["id"]).worker_run_id == run.id


def test_create_element_manual(user_client, corpus, types):
    for body in ({}, {"worker_run_id": None}):
        response = user_client.post(
            reverse("element-create"),
            {"type": "page", "name": "Manual", "corpus": str(corpus.id), **body},
            format="json",
        )
        assert response.status_code == 201
        assert response.json()["worker_run"] is None


def test_create_element_others_user_run(user_client, corpus, types, others_run):
    """Someone else's user worker run gets the answer of a run that does not exist: nothing tells it exists."""
    response = create(user_client, corpus, others_run.id)
    assert response.status_code == 400
    unknown = create(user_client, corpus, "11111111-2222-3333-4444-555555555555")
    assert response.json()["worker_run_id"] == [
        message.replace("11111111-2222-3333-4444-555555555555", str(others_run.id))
        for message in unknown.json()["worker_run_id"]
    ]
    assert not Element.objects.exists()


def test_create_element_unknown_run(user_client, corpus, types):
    response = create(user_client, corpus, "11111111-2222-3333-4444-555555555555")
    assert response.status_code == 400
    assert "worker_run_id" in response.json()


def test_create_element_run_of_another_corpus(user_client, corpus, types, other_user):

    elsewhere = CorpusFactory(name="Elsewhere")
    run = make_run(ProcessFactory(mode=ProcessMode.Workers, corpus=elsewhere, creator=other_user))
    response = create(user_client, corpus, run.id)
    assert response.status_code == 400
    assert "worker_run_id" in response.json()


def test_create_element_task_token(corpus, types, user, process_run):
    process = process_run.process
    process.creator = user
    process.save()
    client = task_client(process_run)
    response = create(client, corpus, process_run.id)
    assert response.status_code == 201, response.json()
    assert Element.objects.get(id=response.json()["id"]).worker_run_id == process_run.id
    other = make_run(process)
    assert create(client, corpus, other.id).status_code == 403
    # A task never publishes anonymously.
    assert create(client, corpus, None).status_code == 400


# CreateElements


@pytest.fixture
def page(make_element, image):
    return make_element(name="Page", image=image)


LINES = [
    {"name": "Line 1", "type": "line", "polygon": [[0, 0], [0, 10], [100, 10], [100, 0]], "confidence": 0.9},
    {"name": "Line 2", "type": "line", "polygon": [[0, 10], [0, 20], [100, 20], [100, 10]]},
]


@pytest.mark.parametrize("run_fixture", ["own_run", "process_run"])
def test_create_elements_signed(request, user_client, corpus, page, image, run_fixture):
    run = request.getfixturevalue(run_fixture)
    response = bulk(user_client, page, run.id, LINES)
    assert response.status_code == 201, response.json()
    ids = [item["id"] for item in response.json()]
    assert len(ids) == 2 and all(set(item) == {"id"} for item in response.json())
    lines = Element.objects.in_bulk(ids)
    first, second = (lines[uuid.UUID(element_id)] for element_id in ids)
    assert (first.name, second.name) == ("Line 1", "Line 2")
    assert {line.worker_run_id for line in lines.values()} == {run.id}
    assert {line.image_id for line in lines.values()} == {image.id}
    assert first.polygon == [[0, 0], [0, 10], [100, 10], [100, 0], [0, 0]]
    assert first.confidence == 0.9 and second.confidence is None
    assert paths_of(first) == {((page.id,), 0)}
    assert paths_of(second) == {((page.id,), 1)}
    # Children listed with their provenance.
    children = user_client.get(reverse("element-children", kwargs={"id": page.id})).json()["results"]
    assert [child["worker_run"] for child in children] == [{"id": str(run.id), "summary": run.summary}] * 2


def test_create_elements_after_existing_children(user_client, corpus, page, make_element, own_run):
    make_element(type="line", name="Existing", parent=page)
    response = bulk(user_client, page, own_run.id, LINES)
    assert response.status_code == 201
    positions = sorted(
        ordering for element in Element.objects.filter(name__startswith="Line ") for _, ordering in paths_of(element)
    )
    assert positions == [1, 2]


def test_create_elements_one_statement_per_table(user_client, corpus, page, own_run, django_assert_num_queries):
    user_client.get(reverse("element-detail", kwargs={"id": page.id}))  # the token's `last_used` update
    lines = [{"name": f"Line {index}", "type": "line"} for index in range(50)]
    # Token, parent with level, types, worker run; savepoint, tree lock, parent lock, elements, paths, release.
    with django_assert_num_queries(10):
        response = bulk(user_client, page, own_run.id, lines)
    assert response.status_code == 201
    assert Element.objects.filter(worker_run=own_run).count() == 50


def test_create_elements_rules(user_client, corpus, page, own_run, others_run, other_user, other_client):
    assert bulk(user_client, page, others_run.id, LINES).status_code == 400
    assert bulk(user_client, page, "11111111-2222-3333-4444-555555555555", LINES).status_code == 400
    response = bulk(user_client, page, own_run.id, [{"name": "X", "type": "nope"}, LINES[0]])
    assert response.status_code == 400
    errors = response.json()["elements"]
    assert "nope" in errors[0]["type"][0] and errors[1] == {}
    response = bulk(
        user_client, page, own_run.id, [{"name": "X", "type": "line", "polygon": [[0, 0], [0, 5000], [5, 5]]}]
    )
    assert response.status_code == 400
    assert "polygon" in response.json()["elements"][0]
    assert bulk(user_client, page, own_run.id, []).status_code == 400
    # Hidden parent: 404; guest: 403.
    assert bulk(other_client, page, None, LINES).status_code == 404
    grant(corpus, Role.GUEST, user=other_user)
    assert bulk(other_client, page, None, LINES).status_code == 403
    assert not Element.objects.filter(name__startswith="Line").exists()


def test_create_elements_parent_without_image(user_client, corpus, make_element, own_run):
    folder = make_element(type="folder", name="Folder")
    response = bulk(user_client, folder, own_run.id, [{"name": "Page", "type": "page"}])
    assert response.status_code == 201
    assert Element.objects.get(name="Page").image_id is None
    response = bulk(user_client, folder, own_run.id, LINES)
    assert response.status_code == 400


def test_create_elements_task_token(corpus, page, user, process_run):
    process = process_run.process
    process.creator = user
    process.save()
    client = task_client(process_run)
    assert bulk(client, page, process_run.id, LINES).status_code == 201
    assert bulk(client, page, make_run(process).id, LINES).status_code == 403
