"""
Input that once answered 500, each answered now with a 4xx saying what is wrong (found by fuzzing
the API with schemathesis and by hand; `tests/test_fuzz.py` runs the fuzzer itself).
"""

import json
import threading

import pytest
from django.test import Client
from rest_framework.test import APIClient

from datasets import services as dataset_services
from datasets.models import CorpusExport
from documents import services as documents_services
from documents.models import Classification, MLClass
from documents.tests.factories import ElementFactory, ElementTypeFactory
from processes.models import Process, ProcessMode
from processes.tests.factories import ProcessFactory, WorkerRunFactory
from tests.tokens import token_client
from workers.models import Model, ModelVersion, WorkerConfiguration
from workers.tests.factories import WorkerFactory, WorkerVersionFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(superuser):
    corpus = documents_services.corpus_create(user=superuser, name="Inputs")
    page = ElementTypeFactory(corpus=corpus, slug="page", display_name="Page")
    element = ElementFactory(corpus=corpus, type=page, name="Page")
    worker = WorkerFactory()
    version = WorkerVersionFactory(worker=worker, configuration={"docker": {"command": "true"}})
    model = Model.objects.create(name="Model", creator=superuser)
    dataset = dataset_services.dataset_create(corpus=corpus, creator=superuser, name="Set", set_names=["train"])
    return {
        "corpus": corpus,
        "element": element,
        "worker": worker,
        "version": version,
        "configuration": WorkerConfiguration.objects.create(worker=worker, name="C", configuration={"a": 1}),
        "model": model,
        "model_version": ModelVersion.objects.create(model=model, tag="v1"),
        "dataset": dataset,
        "process": ProcessFactory(mode=ProcessMode.Workers, corpus=corpus, creator=superuser),
    }


def raw(client, method, url, body):
    """Send a body as raw JSON text, as a client could write it (escapes included)."""
    return client.generic(method, url, data=body, content_type="application/json")


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/classifications/{uuid}/reject/",
        "/api/v1/workers/configurations/{uuid}/",
        "/api/v1/workers/versions/{uuid}/activity/",
    ],
)
def test_options_of_views_without_a_queryset(superuser_client, path):
    response = superuser_client.options(path.format(uuid="11111111-2222-3333-4444-555555555555"))
    assert response.status_code == 200
    assert set(response.json()) == {"name", "description", "renders", "parses"}


@pytest.mark.parametrize(
    "url, parameter",
    [
        ("/api/v1/process/?created_by_me=%25", "created_by_me"),
        ("/api/v1/process/?started=100%25", "started"),
        ("/api/v1/workers/?local=%25", "local"),
    ],
)
def test_percent_in_a_boolean_filter(superuser_client, url, parameter):
    response = superuser_client.get(url)
    assert response.status_code == 400
    assert parameter in response.json()
    assert "is not a boolean" in response.json()[parameter][0]


def test_percent_in_a_boolean_filter_anonymously(anonymous_client, world):
    response = anonymous_client.get("/api/v1/workers/?local=%25")
    assert response.status_code == 400
    assert response.json() == {"local": ["'%' is not a boolean: use true or false."]}
    worker = world["worker"]
    response = token_client(world["corpus"].creator).get(f"/api/v1/workers/{worker.id}/configurations/?archived=%25")
    assert response.status_code == 400


def test_body_over_the_limit(settings, anonymous_client):
    settings.API_MAX_BODY_SIZE = 1024 * 1024
    body = json.dumps({"email": "a@example.com", "password": "x" * (3 * 1024 * 1024)})
    response = raw(anonymous_client, "POST", "/api/v1/user/login/", body)
    assert response.status_code == 413
    assert "over the limit of 1048576 bytes" in response.json()["detail"]


@pytest.mark.parametrize("depth", [33, 1000, 100_000])
def test_json_nested_too_deep(anonymous_client, depth):
    response = raw(anonymous_client, "POST", "/api/v1/user/login/", "[" * depth + "]" * depth)
    assert response.status_code == 400
    assert "nested deeper than 32 levels" in response.json()["detail"]


@pytest.mark.parametrize(
    "url, parameter",
    [
        ("/api/v1/corpus/{corpus}/elements/?name=a%00b", "name"),
        ("/api/v1/element/{element}/transcriptions/?element_type=%00", "element_type"),
        ("/api/v1/corpus/{corpus}/classes/?search=%00", "search"),
        ("/api/v1/models/?name=%00", "name"),
        ("/api/v1/datasets/{dataset}/elements/?set=%00", "set"),
    ],
)
def test_nul_in_a_text_filter(superuser_client, world, url, parameter):
    url = url.format(corpus=world["corpus"].id, element=world["element"].id, dataset=world["dataset"].id)
    response = superuser_client.get(url)
    assert response.status_code == 400
    assert response.json() == {parameter: ["Query parameters cannot contain NUL characters (%00)."]}


def test_nul_in_a_path(superuser_client):
    response = superuser_client.get("/api/v1/secret/a%00b")
    assert response.status_code == 400


@pytest.mark.parametrize(
    "text, problem", [('"a\\u0000b"', "NUL character"), ('"a\\ud800b"', "unpaired UTF-16 surrogate")]
)
@pytest.mark.parametrize(
    "method, url, template",
    [
        ("POST", "/api/v1/model/{model}/versions/", '{{"tag": "t", "configuration": {{"key": {text}}}}}'),
        ("PATCH", "/api/v1/modelversion/{model_version}/", '{{"configuration": {{"key": {text}}}}}'),
        ("POST", "/api/v1/workers/{worker}/versions/", '{{"configuration": {{"key": {text}}}}}'),
        ("POST", "/api/v1/workers/{worker}/configurations/", '{{"name": "N", "configuration": {{"key": {text}}}}}'),
    ],
)
def test_unstorable_text_in_json(superuser_client, world, method, url, template, text, problem):
    url = url.format(model=world["model"].id, model_version=world["model_version"].id, worker=world["worker"].id)
    response = raw(superuser_client, method, url, template.format(text=text))
    assert response.status_code == 400, response.content
    assert problem in response.json()["configuration.key"][0]


def test_a_key_with_nul(superuser_client, world):
    url = f"/api/v1/workers/{world['worker'].id}/configurations/"
    response = raw(superuser_client, "POST", url, '{"name": "N", "configuration": {"a\\u0000": 1}}')
    assert response.status_code == 400
    assert "A key" in response.json()["configuration"][0]


def test_numbers_too_large(superuser_client, world):
    response = superuser_client.post(
        "/api/v1/process/files/create/",
        {"name": "f", "corpus": str(world["corpus"].id), "content_type": "text/plain", "size": 2**70},
        format="json",
    )
    assert response.status_code == 400
    assert "size" in response.json()
    response = raw(superuser_client, "PATCH", f"/api/v1/modelversion/{world['model_version'].id}/", '{"size": 8.4e23}')
    assert response.status_code == 400
    assert "size" in response.json()


def test_infinite_numbers(superuser_client, world):
    url = f"/api/v1/element/{world['element'].id}/metadata/"
    response = raw(superuser_client, "POST", url, '{"type": "numeric", "name": "n", "value": 1e400}')
    assert response.status_code == 400
    assert response.json() == {"value": ["This number is too large to be stored."]}
    response = superuser_client.post(url, {"type": "numeric", "name": "n", "value": "1e400"}, format="json")
    assert response.status_code == 400
    assert "not a finite number" in json.dumps(response.json())


def test_transcription_of_spaces(superuser_client, world):
    url = f"/api/v1/element/{world['element'].id}/transcription/"
    response = superuser_client.post(url, {"text": "   "}, format="json")
    assert response.status_code == 400
    assert "text" in response.json()
    # Spaces around a text are kept.
    response = superuser_client.post(url, {"text": "  kept  "}, format="json")
    assert response.status_code == 201
    assert response.json()["text"] == "  kept  "


def test_empty_patch_of_a_dataset_set(superuser_client, world):
    response = superuser_client.patch(f"/api/v1/datasets/{world['dataset'].id}/sets/train/", {}, format="json")
    assert response.status_code == 200
    assert response.json()["name"] == "train"


def test_start_a_process_being_deleted(superuser_client, world):
    process = world["process"]
    WorkerRunFactory(process=process, version=world["version"])
    Process.objects.filter(pk=process.pk).update(deleting="2026-01-01T00:00Z")
    assert superuser_client.post(f"/api/v1/process/{process.id}/start/").status_code == 404


def test_reject_classification_checks_its_body(superuser_client, world):
    ml_class = MLClass.objects.create(corpus=world["corpus"], name="cat")
    run = WorkerRunFactory(process=world["process"], version=world["version"])
    classification = Classification.objects.create(element=world["element"], ml_class=ml_class, worker_run=run)
    url = f"/api/v1/classifications/{classification.id}/reject/"
    response = superuser_client.put(url, {"ml_class": {"name": "dog"}, "state": "rejected"}, format="json")
    assert response.status_code == 400
    assert "ml_class" in response.json()
    assert superuser_client.put(url, {"state": "accepted"}, format="json").status_code == 400
    response = superuser_client.put(url, {"ml_class": {"name": "cat"}, "state": "rejected"}, format="json")
    assert response.status_code == 200
    assert response.json()["state"] == "rejected"


def test_unknown_api_url_answers_json(superuser_client):
    response = superuser_client.get("/api/v1/process/not-a-uuid/set/train/")
    assert response.status_code == 404
    assert "No API operation" in response.json()["detail"]
    assert Client().get("/not-the-api/").status_code == 404


# Races


def run_at_once(calls):
    """Run each call in a thread of its own, all released together; their answers' statuses."""
    barrier = threading.Barrier(len(calls))
    statuses = [None] * len(calls)

    def run(index, call):
        from django.db import connection

        try:
            barrier.wait()
            statuses[index] = call().status_code
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(index, call)) for index, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return statuses


@pytest.mark.django_db(transaction=True)
def test_parallel_creations_of_one_class(superuser):
    corpus = documents_services.corpus_create(user=superuser, name="Classes")
    clients = [token_client(superuser) for _ in range(20)]
    url = f"/api/v1/corpus/{corpus.id}/classes/"
    statuses = run_at_once(
        [lambda client=client: client.post(url, {"name": "cat"}, format="json") for client in clients]
    )
    # One creation; the others are told it exists, as the base worker expects (then reloads the classes).
    assert sorted(statuses) == [201] + [400] * 19
    assert MLClass.objects.filter(corpus=corpus, name="cat").count() == 1


@pytest.mark.django_db(transaction=True)
def test_exports_racing_the_corpus_deletion(superuser):
    for _ in range(10):
        corpus = documents_services.corpus_create(user=superuser, name="Raced")
        ElementTypeFactory(corpus=corpus, slug="page", display_name="Page")
        export, destroy = token_client(superuser), token_client(superuser)
        statuses = run_at_once(
            [
                lambda client=export, corpus=corpus: client.post(
                    f"/api/v1/corpus/{corpus.id}/export/", {}, format="json"
                ),
                lambda client=destroy, corpus=corpus: client.delete(f"/api/v1/corpus/{corpus.id}/"),
            ]
        )
        assert 500 not in statuses, statuses
        assert statuses[0] in (201, 404) and statuses[1] == 204, statuses
        # Once deleted, the corpus takes its exports along.
        documents_services.corpus_delete(corpus_id=corpus.id)
        assert not CorpusExport.objects.filter(corpus_id=corpus.id).exists()


def test_anonymous_and_task_answers_are_json(world):
    """No answer of the API is anything but JSON when it refuses: HTML error pages are for people."""
    response = APIClient().post("/api/v1/process/start-activity/")
    assert response["Content-Type"] == "application/json"


@pytest.mark.parametrize("depth, refused", [(31, False), (32, False), (33, True)])
@pytest.mark.parametrize("leaf", ["[]", "1", '"text"', "{}"])
def test_json_depth_is_counted_to_the_leaves(settings, depth, refused, leaf):
    """A value at depth 33 is refused whether it is a container or a scalar; paths name bad values."""
    from rest_framework.exceptions import ParseError

    from arkindex.api.parsers import check_document

    document = json.loads('{"a": ' * (depth - 1) + leaf + "}" * (depth - 1))
    if refused:
        with pytest.raises(ParseError):
            check_document(document)
    else:
        check_document(document)


def test_unstorable_values_are_named_by_their_path():
    from rest_framework.exceptions import ValidationError

    from arkindex.api.parsers import check_document

    with pytest.raises(ValidationError) as excinfo:
        check_document({"items": [{"text": "ok"}, {"text": "a\x00b", "score": float("inf")}], "x\x00": 1})
    assert set(excinfo.value.detail) == {"items.1.text", "items.1.score", "non_field_errors"}


@pytest.mark.parametrize(
    "text, depth",
    [
        ("1", 0),
        ('"[[{"', 0),
        ("[]", 1),
        ('{"a": [1, {"b": "]}\\"[["}], "c": {}}', 3),
        ('["\\\\", ["\\"]"]]', 2),
    ],
)
def test_nesting_counts_brackets_outside_strings(text, depth):
    from arkindex.api.parsers import nesting

    json.loads(text)
    assert nesting(text) == depth


@pytest.mark.parametrize("depth, refused", [(31, False), (32, False), (33, True)])
@pytest.mark.parametrize("leaf", ["[]", "[1]", "1", '"[text]"', "{}"])
def test_the_parser_refuses_what_the_walk_refuses(depth, refused, leaf):
    """Bodies the parser does not walk are those the walk would accept: the same answers either way."""
    import io

    from rest_framework.exceptions import ParseError

    from arkindex.api.parsers import JSONParser, check_document

    text = '{"a": ' * (depth - 1) + leaf + "}" * (depth - 1)
    try:
        check_document(json.loads(text))
        walked = None
    except ParseError as error:
        walked = str(error)
    try:
        JSONParser().parse(io.BytesIO(text.encode()), parser_context={})
        parsed = None
    except ParseError as error:
        parsed = str(error)
    assert parsed == walked
    assert (parsed is not None) == (refused or (depth == 32 and leaf == "[1]"))


@pytest.mark.parametrize(
    "body, problem",
    [
        ('{"text": "a\\u0000b"}', "NUL"),
        ('{"text": "\\ud800"}', "surrogate"),
        ('{"score": 1e400}', "too large"),
        ('{"score": -1e400}', "too large"),
    ],
)
@pytest.mark.parametrize("charset", ["utf-8", "latin-1"])
def test_the_parser_names_unstorable_values(body, problem, charset):
    import io

    from rest_framework.exceptions import ValidationError

    from arkindex.api.parsers import JSONParser

    with pytest.raises(ValidationError, match=problem):
        JSONParser().parse(io.BytesIO(body.encode(charset)), parser_context={"encoding": charset})
    assert JSONParser().parse(io.BytesIO(b'{"text": "\\u00e9t\\u00e9", "score": 1e300}'), parser_context={}) == {
        "text": "été",
        "score": 1e300,
    }
