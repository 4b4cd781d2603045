"""
Metadata: CreateMetaData, CreateMetaDataBulk and ListElementMetaData; value checks per type, the
duplicate message the CLI parses (API.md §1.7), rights, provenance and query counts.
"""

import re

import pytest
from django.urls import reverse

from documents import services
from documents.models import MetaData
from processes.models import WorkerRun
from processes.tests.factories import ProcessFactory, WorkerRunFactory
from users.models import Role
from users.tests.factories import grant
from workers.tests.factories import WorkerVersionFactory

pytestmark = pytest.mark.django_db

MISSING = "11111111-1111-1111-1111-111111111111"
# The CLI's own pattern (arkindex-cli, upload/alto).
REGEX_METADATA_ERROR = re.compile(r"Metadata ({.*}) already exist\(s\) on this element\.")


@pytest.fixture
def run(corpus, user):
    run = WorkerRun(
        process=ProcessFactory(mode="workers", corpus=corpus, creator=user),
        version=WorkerVersionFactory(worker__name="Metadata", tag="v1"),
    )
    run.save()
    return run


@pytest.fixture
def page(make_element):
    return make_element("page", "Page")


def test_create(user_client, page, run):
    url = reverse("element-metadata", args=[page.id])
    body = {"type": "date", "name": "Date", "value": "1871-03", "worker_run_id": str(run.id)}
    response = user_client.post(url, body, format="json")
    assert response.status_code == 201, response.json()
    data = response.json()
    assert data["value"] == "1871-03"
    assert data["dates"] == [{"type": "exact", "year": 1871, "month": 3, "day": None}]
    assert data["worker_run"] == {"id": str(run.id), "summary": run.summary}
    assert MetaData.objects.get(pk=data["id"]).element_id == page.id


@pytest.mark.parametrize(
    "body, field",
    [
        ({"type": "numeric", "name": "n", "value": "abc"}, "value"),
        ({"type": "date", "name": "d", "value": "March 1871"}, "value"),
        ({"type": "url", "name": "u", "value": "nope"}, "value"),
        ({"type": "colour", "name": "c", "value": "red"}, "type"),
        ({"type": "text", "name": "t", "value": True}, "value"),
        ({"type": "text", "name": "t", "value": "x", "worker_run_id": MISSING}, "worker_run_id"),
    ],
)
def test_create_invalid(user_client, page, body, field):
    response = user_client.post(reverse("element-metadata", args=[page.id]), body, format="json")
    assert response.status_code == 400
    assert field in response.json(), response.json()


def test_create_rights(other_client, other_user, corpus, page):
    url = reverse("element-metadata", args=[page.id])
    body = {"type": "text", "name": "t", "value": "x"}
    assert other_client.post(url, body, format="json").status_code == 404
    grant(corpus, Role.GUEST, user=other_user)
    assert other_client.post(url, body, format="json").status_code == 403
    assert other_client.get(url).status_code == 200
    assert not MetaData.objects.exists()


def test_bulk(user_client, page, run, django_assert_num_queries):
    url = reverse("element-metadata-bulk", args=[page.id])
    body = {
        "worker_run_id": str(run.id),
        "metadata_list": [
            {"type": "text", "name": "folio", "value": "12r"},
            {"type": "numeric", "name": "lines", "value": 42},
            {"type": "numeric", "name": "ratio", "value": 0.5},
        ],
    }
    user_client.get(reverse("corpus-list"))
    # Token, element, the user's level on its corpus, worker run, existing metadata, INSERT.
    with django_assert_num_queries(6):
        response = user_client.post(url, body, format="json")
    assert response.status_code == 201, response.json()
    data = response.json()
    assert data["worker_run_id"] == str(run.id)
    assert [(m["name"], m["value"]) for m in data["metadata_list"]] == [
        ("folio", "12r"),
        ("lines", "42"),
        ("ratio", "0.5"),
    ]

    # Re-sending some answers the message the CLI parses, naming (name, type, value) as sent.
    body["metadata_list"].append({"type": "text", "name": "title", "value": "New"})
    response = user_client.post(url, body, format="json")
    assert response.status_code == 400
    errors = response.json()["non_field_errors"]
    assert len(errors) == 1
    existing = eval(REGEX_METADATA_ERROR.fullmatch(errors[0]).group(1))  # noqa: S307 — what the CLI does
    assert existing == {("folio", "text", "12r"), ("lines", "numeric", 42), ("ratio", "numeric", 0.5)}
    assert MetaData.objects.count() == 3


def test_same_metadata_from_different_sources(user_client, page, run):
    """The same (name, type, value) from a person and from two worker runs coexist, as other results do."""
    other = WorkerRunFactory(process=run.process, version=WorkerVersionFactory(worker__name="Other"))
    url = reverse("element-metadata-bulk", args=[page.id])
    item = {"type": "text", "name": "folio", "value": "12r"}
    for source in ({}, {"worker_run_id": str(run.id)}, {"worker_run_id": str(other.id)}):
        response = user_client.post(url, {**source, "metadata_list": [item]}, format="json")
        assert response.status_code == 201, response.json()
    assert set(MetaData.objects.filter(element=page).values_list("worker_run_id", flat=True)) == {
        None,
        run.id,
        other.id,
    }
    # From one source, once.
    response = user_client.post(url, {"worker_run_id": str(run.id), "metadata_list": [item]}, format="json")
    assert response.status_code == 400
    assert "already exist(s) on this element" in response.json()["non_field_errors"][0]


def test_bulk_errors(user_client, page):
    url = reverse("element-metadata-bulk", args=[page.id])
    assert user_client.post(url, {"metadata_list": []}, format="json").status_code == 400
    item = {"type": "text", "name": "a", "value": "b"}
    response = user_client.post(url, {"metadata_list": [item, item]}, format="json")
    assert response.status_code == 400 and "non_field_errors" in response.json()
    response = user_client.post(url, {"metadata_list": [{**item, "type": "numeric"}]}, format="json")
    assert response.status_code == 400
    assert response.json() == {"metadata_list": {"0": {"value": ["'b' is not a number."]}}}
    missing = reverse("element-metadata-bulk", args=[MISSING])
    assert user_client.post(missing, {"metadata_list": [item]}, format="json").status_code == 404


def test_list(user_client, make_element, run, django_assert_num_queries):
    folder = make_element("folder", "Folder")
    page = make_element("page", "Page", parent=folder)
    line = make_element("line", "Line", parent=page)
    MetaData.objects.create(element=folder, type="text", name="archive", value="A1")
    MetaData.objects.create(element=page, type="text", name="folio", value="1r", worker_run=run)
    MetaData.objects.create(element=line, type="text", name="line", value="1")
    url = reverse("element-metadata", args=[page.id])
    user_client.get(url)
    for params, names in [({}, ["folio"]), ({"load_parents": "True"}, ["archive", "folio"])]:
        # Token, element with level, metadata.
        with django_assert_num_queries(3):
            response = user_client.get(url, params)
        assert response.status_code == 200
        assert [m["name"] for m in response.json()] == names
    item = user_client.get(url).json()[0]
    assert item["element_id"] == str(page.id)
    assert item["worker_run"] == {"id": str(run.id), "summary": run.summary}
    assert user_client.get(url, {"load_parents": "maybe"}).status_code == 400


def test_list_hidden(other_client, page):
    assert other_client.get(reverse("element-metadata", args=[page.id])).status_code == 404


def test_deleted_with_element_and_corpus(corpus, make_element):
    first, second = make_element("page"), make_element("page")
    for element in (first, second):
        MetaData.objects.create(element=element, type="text", name="n", value="v")
    services.element_delete(element_id=first.id)
    assert list(MetaData.objects.values_list("element_id", flat=True)) == [second.id]
    services.corpus_delete(corpus_id=corpus.id)
    assert not MetaData.objects.exists()
