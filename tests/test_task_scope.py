"""
What a running task's token reaches, tried as an attacker holding one would (issue: trust boundaries).

The creator of the task's process administers a second corpus and a second process: everything
the creator could do there, the task may not.

- Every operation of the OpenAPI schema outside `ponos.task_operations` answers 403 to a task token,
  saying task tokens cannot call it: a new endpoint is refused until someone adds it to that list.
- Inside the list, an object beyond the task's process (another corpus of the same creator, another
  process on the same corpus, a model the creator only reads) gets exactly the answer of an object
  that does not exist.
"""

import json
import re
import uuid

import pytest
from django.test import Client
from rest_framework.test import APIClient

from datasets import services as dataset_services
from datasets.models import CorpusExport, CorpusExportState
from documents import services as documents_services
from documents.models import Corpus, EntityType, MLClass, Transcription
from documents.tests.factories import ElementFactory, ElementTypeFactory
from ponos.models import Artifact, TaskState
from ponos.secret_store import secret_set
from ponos.task_operations import TASK_OPERATIONS, task_operations
from ponos.tests.factories import TaskFactory
from processes.models import ProcessMode
from processes.tests.factories import ProcessFactory, WorkerRunFactory
from users.models import Right, Role
from users.tests.factories import grant
from workers.models import Model, ModelVersion
from workers.tests.factories import WorkerVersionFactory

pytestmark = pytest.mark.django_db

HTTP_METHODS = ("get", "put", "post", "patch", "delete")
# Operations that authenticate nobody: a task token sent to them is ignored, as any credential is.
UNAUTHENTICATED_OPERATIONS = {"HealthCheck", "Login"}


def schema_operations():
    schema = Client().get("/api/v1/openapi/?format=json").json()
    return [
        (operation["operationId"], method.upper(), path)
        for path, item in schema["paths"].items()
        for method in HTTP_METHODS
        if (operation := item.get(method))
    ]


def client_for(task):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Ponos {task.token}")
    return client


@pytest.fixture
def world(user, make_user):
    """The creator `user`, their two corpora, processes and runs; the task runs in the first process."""
    own, other = (documents_services.corpus_create(user=user, name=name) for name in ("Own", "Other"))
    for corpus in (own, other):
        for slug in ("page", "line"):
            ElementTypeFactory(corpus=corpus, slug=slug, display_name=slug)

    def element(corpus, name):
        return ElementFactory(corpus=corpus, type=corpus.types.get(slug="page"), name=name)

    # Models: the run's own (the creator only reads it), and one the creator only reads either.
    own_model, read_model = Model.objects.create(name="Own model"), Model.objects.create(name="Read-only model")
    for model in (own_model, read_model):
        grant(model, Role.GUEST, user=user)
    own_version = ModelVersion.objects.create(model=own_model, tag="v1", state="available")
    read_version = ModelVersion.objects.create(model=read_model, tag="v1", state="available")

    version = WorkerVersionFactory(configuration={"secrets": ["own/secret"]})
    grant(version.worker, Role.GUEST, user=user)
    process = ProcessFactory(mode=ProcessMode.Workers, corpus=own, creator=user, name="Mine")
    run = WorkerRunFactory(process=process, version=version, model_version=own_version)
    task = TaskFactory(process=process, slug="worker", state=TaskState.Running, worker_run=run)

    sibling_process = ProcessFactory(mode=ProcessMode.Workers, corpus=own, creator=user, name="Sibling")
    sibling_run = WorkerRunFactory(process=sibling_process, version=version)
    sibling_task = TaskFactory(process=sibling_process, slug="worker", state=TaskState.Running)
    far_process = ProcessFactory(mode=ProcessMode.Dataset, corpus=other, creator=user, name="Far")
    far_run = WorkerRunFactory(process=far_process, version=version)
    far_task = TaskFactory(process=far_process, slug="worker", state=TaskState.Completed)
    Artifact.objects.create(task=far_task, path="out.json", size=2)

    own_page, far_page = element(own, "Own page"), element(other, "Far page")
    far_transcription = Transcription.objects.create(element=far_page, text="far")
    far_dataset = dataset_services.dataset_create(corpus=other, creator=user, name="Far", set_names=["train"])
    dataset_services.dataset_element_create(dataset=far_dataset, set_name="train", element=far_page)
    far_export = CorpusExport.objects.create(corpus=other, user=user, state=CorpusExportState.Done)
    secret_set(name="own/secret", value="mine")
    secret_set(name="other/secret", value="not mine")
    return {
        "user": user,
        "task": task,
        "run": run,
        "own": {
            "corpus": own,
            "element": own_page,
            "process": process,
            "task": task,
            "run": run,
            "class": MLClass.objects.create(corpus=own, name="own class"),
            "entity_type": EntityType.objects.create(corpus=own, name="person"),
            "model_version": own_version,
            "secret": "own/secret",
        },
        "far": {
            "corpus": other,
            "element": far_page,
            "transcription": far_transcription,
            "process": far_process,
            "sibling_process": sibling_process,
            "run": far_run,
            "sibling_run": sibling_run,
            "task": far_task,
            "sibling_task": sibling_task,
            "dataset": far_dataset,
            "export": far_export,
            "model": read_model,
            "model_version": read_version,
            "secret": "other/secret",
        },
    }


# The whole schema


def test_allow_list_names_real_operations():
    """A typo in the allow-list would silently refuse what workers need."""
    known = {operation_id for operation_id, _, _ in schema_operations()}
    for mode, operations in TASK_OPERATIONS.items():
        assert operations <= known, (mode, sorted(operations - known))


@pytest.mark.parametrize("mode", [ProcessMode.Workers, ProcessMode.Repository, ProcessMode.Files])
def test_every_other_operation_refuses_task_tokens(user, mode):
    corpus = None if mode == ProcessMode.Repository else documents_services.corpus_create(user=user, name="C")
    process = ProcessFactory(mode=mode, corpus=corpus, creator=user)
    client = client_for(TaskFactory(process=process, slug="task", state=TaskState.Running))
    allowed = task_operations(mode)
    refused = 0
    for operation_id, method, path in schema_operations():
        if operation_id in allowed or operation_id in UNAUTHENTICATED_OPERATIONS:
            continue
        url = re.sub(r"\{[^}]+\}", lambda _: str(uuid.uuid4()), path)
        response = client.generic(method, url, data="{}", content_type="application/json")
        assert response.status_code == 403, (operation_id, response.status_code, response.content[:300])
        assert response.json()["detail"].startswith(f"Task tokens cannot call {operation_id}:"), operation_id
        refused += 1
    assert refused > 80


def test_unauthenticated_operations_ignore_task_tokens(world):
    """Login and the health check read no credential: a task token there is anonymous, nothing more."""
    response = client_for(world["task"]).post(
        "/api/v1/user/login/", {"email": world["user"].email, "password": "wrong"}, format="json"
    )
    assert response.status_code == 400


def test_refusal_is_the_same_for_any_url_outside_the_api(world):
    response = client_for(world["task"]).get("/api/v1/nothing-here/")
    assert response.status_code == 404


# Inside the allow-list: nothing beyond the task's process


# operationId, method, URL, body; `{far.x}` is an object beyond the task's reach, `{own.x}` one of its own.
PROBES = [
    ("RetrieveWorkerRun", "GET", "/api/v1/process/workers/{far.run}/", None),
    ("RetrieveWorkerRun", "GET", "/api/v1/process/workers/{far.sibling_run}/", None),
    ("RetrieveWorkerRunConfiguration", "GET", "/api/v1/workers/runs/{far.run}/configuration/", None),
    ("RetrieveSecret", "GET", "/api/v1/secret/{far.secret}", None),
    ("RetrieveProcess", "GET", "/api/v1/process/{far.process}/", None),
    ("RetrieveProcess", "GET", "/api/v1/process/{far.sibling_process}/", None),
    ("ListProcessElements", "GET", "/api/v1/process/{far.sibling_process}/elements/", None),
    ("ListProcessSets", "GET", "/api/v1/process/{far.process}/sets/", None),
    (
        "UpdateWorkerActivity",
        "PUT",
        "/api/v1/workers/versions/{far.run}/activity/",
        {"element_id": "{own.element}", "process_id": "{far.process}", "state": "started"},
    ),
    ("ListProcessTasks", "GET", "/api/v1/process/{far.sibling_process}/tasks/", None),
    ("RetrieveTask", "GET", "/api/v1/task/{far.sibling_task}/", None),
    ("RetrieveTask", "GET", "/api/v1/task/{far.task}/", None),
    ("RetrieveTaskLog", "GET", "/api/v1/task/{far.task}/log/", None),
    ("ListArtifacts", "GET", "/api/v1/task/{far.task}/artifacts/", None),
    ("DownloadArtifact", "GET", "/api/v1/task/{far.task}/artifact/out.json", None),
    ("CreateArtifact", "POST", "/api/v1/task/{far.sibling_task}/artifacts/", {"path": "a", "size": 1}),
    ("RetrieveTaskFromAgent", "GET", "/api/v1/task/{far.sibling_task}/from-agent/", None),
    ("PartialUpdateTaskFromAgent", "PATCH", "/api/v1/task/{far.sibling_task}/from-agent/", {"state": "completed"}),
    ("RetrieveCorpus", "GET", "/api/v1/corpus/{far.corpus}/", None),
    (
        "CreateElementType",
        "POST",
        "/api/v1/elements/type/",
        {"slug": "new", "display_name": "New", "folder": False, "corpus": "{far.corpus}"},
    ),
    ("ListCorpusMLClasses", "GET", "/api/v1/corpus/{far.corpus}/classes/", None),
    ("CreateMLClass", "POST", "/api/v1/corpus/{far.corpus}/classes/", {"name": "new"}),
    ("ListCorpusEntityTypes", "GET", "/api/v1/corpus/{far.corpus}/entity-types/", None),
    ("CreateEntityType", "POST", "/api/v1/entity/types/", {"name": "place", "corpus": "{far.corpus}"}),
    ("RetrieveElement", "GET", "/api/v1/element/{far.element}/", None),
    ("ListElements", "GET", "/api/v1/corpus/{far.corpus}/elements/", None),
    ("ListElementChildren", "GET", "/api/v1/elements/{far.element}/children/", None),
    ("ListElementParents", "GET", "/api/v1/elements/{far.element}/parents/", None),
    (
        "CreateElement",
        "POST",
        "/api/v1/elements/create/",
        {"type": "page", "name": "x", "corpus": "{far.corpus}", "worker_run_id": "{own.run}"},
    ),
    (
        "CreateElements",
        "POST",
        "/api/v1/element/{far.element}/children/bulk/",
        {
            "worker_run_id": "{own.run}",
            "elements": [{"name": "x", "type": "line", "polygon": [[0, 0], [0, 1], [1, 1]]}],
        },
    ),
    ("CreateElementParent", "POST", "/api/v1/element/{own.element}/parent/{far.element}/", None),
    ("CreateElementChildren", "POST", "/api/v1/element/parent/{far.element}/", {"children": ["{own.element}"]}),
    ("PartialUpdateElement", "PATCH", "/api/v1/element/{far.element}/", {"name": "renamed"}),
    (
        "CreateTranscription",
        "POST",
        "/api/v1/element/{far.element}/transcription/",
        {"text": "x", "worker_run_id": "{own.run}", "confidence": 1},
    ),
    (
        "CreateTranscriptions",
        "POST",
        "/api/v1/transcription/bulk/",
        {
            "worker_run_id": "{own.run}",
            "transcriptions": [{"element_id": "{far.element}", "text": "x", "confidence": 1}],
        },
    ),
    (
        "CreateElementTranscriptions",
        "POST",
        "/api/v1/element/{far.element}/transcriptions/bulk/",
        {
            "element_type": "line",
            "worker_run_id": "{own.run}",
            "transcriptions": [{"polygon": [[0, 0], [0, 1], [1, 1]], "text": "x", "confidence": 1}],
        },
    ),
    ("ListTranscriptions", "GET", "/api/v1/element/{far.element}/transcriptions/", None),
    (
        "CreateClassification",
        "POST",
        "/api/v1/classifications/",
        {"element": "{far.element}", "ml_class": "{own.class}", "worker_run_id": "{own.run}", "confidence": 1},
    ),
    (
        "CreateClassifications",
        "POST",
        "/api/v1/classification/bulk/",
        {"parent": "{far.element}", "worker_run_id": "{own.run}", "classifications": [{"ml_class": "{own.class}"}]},
    ),
    (
        "CreateTranscriptionEntity",
        "POST",
        "/api/v1/transcription/{far.transcription}/entities/",
        {"type_id": "{own.entity_type}", "offset": 0, "length": 1, "worker_run_id": "{own.run}"},
    ),
    (
        "CreateTranscriptionEntities",
        "POST",
        "/api/v1/transcription/{far.transcription}/entities/bulk/",
        {
            "worker_run_id": "{own.run}",
            "transcription_entities": [{"type_id": "{own.entity_type}", "offset": 0, "length": 1}],
        },
    ),
    ("ListTranscriptionEntities", "GET", "/api/v1/transcription/{far.transcription}/entities/", None),
    (
        "CreateMetaData",
        "POST",
        "/api/v1/element/{far.element}/metadata/",
        {"type": "text", "name": "n", "value": "v", "worker_run_id": "{own.run}"},
    ),
    (
        "CreateMetaDataBulk",
        "POST",
        "/api/v1/element/{far.element}/metadata/bulk/",
        {"worker_run_id": "{own.run}", "metadata_list": [{"type": "text", "name": "n", "value": "v"}]},
    ),
    ("ListElementMetaData", "GET", "/api/v1/element/{far.element}/metadata/", None),
    (
        "CreateEmbedding",
        "POST",
        "/api/v1/element/{far.element}/embedding/",
        {"worker_run_id": "{own.run}", "value": [1]},
    ),
    ("ListEmbeddings", "GET", "/api/v1/element/{far.element}/embedding/", None),
    ("CreateDataset", "POST", "/api/v1/corpus/{far.corpus}/datasets/", {"name": "new", "set_names": ["a"]}),
    ("RetrieveDataset", "GET", "/api/v1/datasets/{far.dataset}/", None),
    ("RetrieveDatasetSet", "GET", "/api/v1/datasets/{far.dataset}/sets/train/", None),
    ("ListDatasetElements", "GET", "/api/v1/datasets/{far.dataset}/elements/", None),
    (
        "CreateDatasetElement",
        "POST",
        "/api/v1/datasets/{far.dataset}/elements/",
        {"set": "train", "element_id": "{own.element}"},
    ),
    ("DestroyDatasetElement", "DELETE", "/api/v1/datasets/{far.dataset}/elements/{far.element}/?set=train", None),
    ("ListExports", "GET", "/api/v1/corpus/{far.corpus}/export/", None),
    ("StartExport", "POST", "/api/v1/corpus/{far.corpus}/export/", {}),
    ("DownloadExport", "GET", "/api/v1/export/{far.export}/", None),
    ("RetrieveModelVersion", "GET", "/api/v1/modelversion/{far.model_version}/", None),
    ("CreateModelVersion", "POST", "/api/v1/model/{far.model}/versions/", {"tag": "new"}),
    ("UpdateModelVersion", "PUT", "/api/v1/modelversion/{far.model_version}/", {"tag": "changed"}),
    ("PartialUpdateModelVersion", "PATCH", "/api/v1/modelversion/{far.model_version}/", {"tag": "changed"}),
    (
        "CreateMultipartUpload",
        "POST",
        "/api/v1/multipart/",
        {"object_type": "model_version", "object_id": "{far.model_version}"},
    ),
]

PLACEHOLDER = re.compile(r"\{(own|far)\.(\w+)\}")


def fill(template, world, absent):
    """The template with its objects; with `absent`, each object beyond reach replaced by one that does not exist."""

    def value(match):
        side, key = match.groups()
        if side == "far" and key in absent:
            return absent[key]
        obj = world[side][key]
        return str(getattr(obj, "pk", obj))

    if template is None:
        return None
    if isinstance(template, str):
        return PLACEHOLDER.sub(value, template)
    if isinstance(template, list):
        return [fill(item, world, absent) for item in template]
    if isinstance(template, dict):
        return {key: fill(item, world, absent) for key, item in template.items()}
    return template


def test_probes_cover_the_worker_operations():
    probed = {operation_id for operation_id, *_ in PROBES}
    # StartWorkerActivity names no object: its process and run come with the token.
    assert task_operations(ProcessMode.Workers) - probed <= {
        "StartWorkerActivity",
        "CreateMultipartUploadPart",
        "CompleteMultipartUpload",
        "AbortMultipartUpload",
    }


@pytest.mark.parametrize("operation_id, method, url, body", PROBES, ids=[f"{p[0]}-{i}" for i, p in enumerate(PROBES)])
def test_beyond_the_process_is_absent(world, operation_id, method, url, body):
    """The creator administers everything probed here; the task gets the answers of objects that do not exist."""
    client = client_for(world["task"])
    keys = {match.group(2) for match in PLACEHOLDER.finditer(f"{url} {body}") if match.group(1) == "far"}
    absent = {key: ("absent/secret" if key == "secret" else str(uuid.uuid4())) for key in keys}

    def call(values):
        data = fill(body, world, values)
        return client.generic(
            method, fill(url, world, values), data=json.dumps(data or {}), content_type="application/json"
        )

    hidden, missing = call({}), call(absent)
    assert hidden.status_code in (400, 404), (hidden.status_code, hidden.content[:300])
    assert hidden.status_code == missing.status_code, (hidden.content[:300], missing.content[:300])
    text = hidden.content.decode()
    for key, fake in absent.items():
        real = world["far"][key]
        text = text.replace(str(getattr(real, "pk", real)), fake)
    assert text == missing.content.decode()


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/process/workers/{own.run}/",
        "/api/v1/process/{own.process}/",
        "/api/v1/corpus/{own.corpus}/",
        "/api/v1/element/{own.element}/",
        "/api/v1/modelversion/{own.model_version}/",
        "/api/v1/secret/{own.secret}",
        "/api/v1/task/{own.task}/",
    ],
)
def test_its_own_process_is_reachable(world, url):
    """The same probes on the task's own objects succeed: the refusals above come from the scope alone."""
    response = client_for(world["task"]).get(fill(url, world, {}))
    assert response.status_code == 200, response.content[:300]


def test_instance_administrator_task_is_no_administrator(world):
    """An instance administrator's task is scoped like anyone's: it does not read every secret or corpus."""
    user = world["user"]
    user.is_superuser = True
    user.save()
    client = client_for(world["task"])
    assert client.get(f"/api/v1/corpus/{world['far']['corpus'].id}/").status_code == 404
    assert client.get("/api/v1/secret/other/secret").status_code == 404
    assert client.get("/api/v1/secret/own/secret").json()["content"] == "mine"


def test_creator_losing_rights_loses_the_task_its_corpus(world):
    Right.objects.filter(user=world["user"], object_id=world["own"]["corpus"].id).delete()
    response = client_for(world["task"]).get(f"/api/v1/element/{world['own']['element'].id}/")
    assert response.status_code == 404


def test_task_publishes_on_a_model_its_creator_writes(world):
    """A training worker publishes versions of a model its creator may write to."""
    model = world["far"]["model"]
    Right.objects.filter(user=world["user"], object_id=model.id).update(level=Role.CONTRIBUTOR)
    client = client_for(world["task"])
    response = client.post(f"/api/v1/model/{model.id}/versions/", {"tag": "trained"}, format="json")
    assert response.status_code == 201, response.json()
    version_id = response.json()["id"]
    assert client.get(f"/api/v1/modelversion/{version_id}/").status_code == 200
    # Corpora stay out of reach all the same.
    assert Corpus.objects.count() == 2


@pytest.mark.parametrize(
    ("level", "public", "deleting", "read", "publish"),
    [
        (Role.CONTRIBUTOR, False, False, 200, 201),
        (Role.GUEST, False, False, 200, 403),
        (None, True, False, 200, 403),
        (None, False, False, 404, 400),
        (Role.ADMIN, False, True, 404, 400),
    ],
)
def test_task_reaches_its_corpus_with_its_creator_level(world, level, public, deleting, read, publish):
    """The creator's level on the corpus, read with the token, is what the task reads and publishes with."""
    from django.utils import timezone

    corpus, element = world["own"]["corpus"], world["own"]["element"]
    rights = Right.objects.filter(user=world["user"], object_id=corpus.id)
    rights.update(level=level) if level is not None else rights.delete()
    Corpus.objects.filter(pk=corpus.pk).update(public=public, deleting=timezone.now() if deleting else None)
    client = client_for(world["task"])
    assert client.get(f"/api/v1/element/{element.id}/").status_code == read
    body = {"worker_run_id": str(world["run"].id), "transcriptions": [{"element_id": str(element.id), "text": "t"}]}
    response = client.post("/api/v1/transcription/bulk/", body, format="json")
    assert response.status_code == publish, response.json()
    if publish == 400:
        assert str(element.id) in response.json()["transcriptions"][0]
