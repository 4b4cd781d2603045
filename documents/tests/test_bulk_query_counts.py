"""
The bulk operations a worker publishes with, called by a running task with its own worker run:
each runs a fixed number of queries whatever the number of items (here 5 and 50).
"""

import pytest

from documents.models import Classification, Element, MetaData, Transcription, TranscriptionEntity
from documents.tests.factories import ElementFactory, ElementTypeFactory, ImageFactory
from ponos.models import TaskState
from ponos.tests.factories import TaskFactory
from processes.tests.factories import ProcessFactory, make_run
from tests.tokens import task_client

pytestmark = pytest.mark.django_db

SIZES = (5, 50)
TEXT = "word " * 200


@pytest.fixture
def world(corpus, user):
    image = ImageFactory(width=100_000, height=100_000)
    page_type = ElementTypeFactory(corpus=corpus, slug="page")
    ElementTypeFactory(corpus=corpus, slug="line")
    whole = [[0, 0], [0, 100_000], [100_000, 100_000], [100_000, 0], [0, 0]]
    pages = [
        ElementFactory(corpus=corpus, type=page_type, name=f"Page {n}", image=image, polygon=whole) for n in range(60)
    ]
    process = ProcessFactory(corpus=corpus, creator=user)
    run = make_run(process)
    client = task_client(TaskFactory(process=process, worker_run=run, state=TaskState.Running))
    classes = [corpus.ml_classes.create(name=f"class {n}") for n in range(max(SIZES))]
    entity_type = corpus.entity_types.create(name="word")
    transcriptions = [Transcription.objects.create(element=page, text=TEXT) for page in pages[:2]]
    return {
        "client": client,
        "run": str(run.id),
        "pages": pages,
        "classes": classes,
        "entity_type": entity_type,
        "transcriptions": transcriptions,
    }


def polygons(count, x=0):
    return [[[x, n * 10], [x + 50, n * 10], [x + 50, n * 10 + 9], [x, n * 10 + 9]] for n in range(count)]


def call(world, operation, size, call_number):
    run, pages = world["run"], world["pages"]
    page = pages[call_number]
    if operation == "CreateTranscriptions":
        items = [{"element_id": str(p.id), "text": "a line", "confidence": 0.5} for p in pages[:size]]
        return "/api/v1/transcription/bulk/", {"worker_run_id": run, "transcriptions": items}, Transcription
    if operation == "CreateElements":
        items = [{"name": str(n), "type": "line", "polygon": p} for n, p in enumerate(polygons(size, call_number))]
        return f"/api/v1/element/{page.id}/children/bulk/", {"worker_run_id": run, "elements": items}, Element
    if operation == "CreateElementTranscriptions":
        items = [{"polygon": p, "text": "a line"} for p in polygons(size, 100 + call_number)]
        body = {"worker_run_id": run, "element_type": "line", "transcriptions": items}
        return f"/api/v1/element/{page.id}/transcriptions/bulk/", body, Transcription
    if operation == "CreateClassifications":
        items = [{"ml_class": str(c.id), "confidence": 0.5} for c in world["classes"][:size]]
        body = {"parent": str(page.id), "worker_run_id": run, "classifications": items}
        return "/api/v1/classification/bulk/", body, Classification
    if operation == "CreateMetaDataBulk":
        items = [{"type": "text", "name": f"field {n}", "value": "v"} for n in range(size)]
        return f"/api/v1/element/{page.id}/metadata/bulk/", {"worker_run_id": run, "metadata_list": items}, MetaData
    transcription = world["transcriptions"][call_number % 2]
    items = [{"type_id": str(world["entity_type"].id), "offset": n * 5, "length": 4} for n in range(size)]
    body = {"worker_run_id": run, "transcription_entities": items}
    return f"/api/v1/transcription/{transcription.id}/entities/bulk/", body, TranscriptionEntity


# The task's token (with its run and process), then what each operation reads and writes.
QUERIES = {
    "CreateTranscriptions": 3,
    "CreateElements": 8,
    "CreateElementTranscriptions": 10,
    "CreateClassifications": 5,
    "CreateMetaDataBulk": 4,
    "CreateTranscriptionEntities": 5,
}


@pytest.mark.parametrize("operation", QUERIES)
def test_query_count_does_not_grow_with_the_batch(world, operation, django_assert_num_queries):
    for call_number, size in enumerate(SIZES):
        path, body, model = call(world, operation, size, call_number)
        before = model.objects.count()
        with django_assert_num_queries(QUERIES[operation], info=operation):
            response = world["client"].post(path, body, format="json")
        assert response.status_code == 201, response.json()
        assert model.objects.count() - before == size
