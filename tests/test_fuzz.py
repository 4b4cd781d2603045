"""
The whole API fuzzed with schemathesis against a live server: every operation of the OpenAPI schema,
with generated valid and invalid input (a fixed seed and a few examples each, so that a run is
reproducible and takes minutes), as an instance administrator and anonymously. Nothing may answer
500, and every answer must match what the schema documents: its status, its content type, its body.

Path parameters name real objects (a corpus, an element, a process…, created first), so that the
generated requests reach the operations' work and not only their 404. The deletions run last, in a
run of their own, so that they do not empty the world of the others.
"""

import json
import re
import shlex

import pytest
from django.utils import timezone

from arkindex.models import Job
from datasets import services as dataset_services
from datasets.models import CorpusExport
from documents import services as documents_services
from documents.models import (
    Classification,
    DataFile,
    Embedding,
    Entity,
    EntityType,
    Image,
    ImageServer,
    MetaData,
    MLClass,
    Transcription,
    TranscriptionEntity,
)
from documents.tests.factories import ElementFactory, ElementTypeFactory
from ponos.models import Agent, Artifact, Farm
from ponos.secret_store import secret_set
from ponos.tests.factories import TaskFactory
from processes.models import ProcessMode
from processes.tests.factories import ProcessFactory, WorkerRunFactory
from users.models import Token
from workers.models import Model, ModelVersion, Repository, WorkerConfiguration
from workers.tests.factories import WorkerFactory, WorkerVersionFactory

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("transactional_db")]

CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"
SEED = 20261201
# Examples per operation: more for the administrator's run, which reaches the operations' work.
MAX_EXAMPLES = 4
ADMINISTRATOR_EXAMPLES = 10


def build_world(admin):
    """One object of each kind, linked as in real use, owned by `admin`."""
    corpus = documents_services.corpus_create(user=admin, name="Fuzzed")
    page_type = ElementTypeFactory(corpus=corpus, slug="page", display_name="Page")
    ElementTypeFactory(corpus=corpus, slug="folder", display_name="Folder", folder=True)
    server = ImageServer.objects.create(url="https://iiif.example.com/iiif/2", display_name="IIIF")
    image = Image.objects.create(server=server, path="page.jpg", width=1000, height=2000, status="checked")
    folder = ElementFactory(corpus=corpus, type=corpus.types.get(slug="folder"), name="Folder")
    page = ElementFactory(
        corpus=corpus, type=page_type, name="Page", parent=folder, image=image, polygon=[[0, 0], [0, 100], [100, 100]]
    )
    worker = WorkerFactory(creator=admin)
    version = WorkerVersionFactory(worker=worker, state="available", configuration={"docker": {"command": "true"}})
    configuration = WorkerConfiguration.objects.create(worker=worker, name="Tuned", configuration={"n": 1})
    model = Model.objects.create(name="Fuzzed model", creator=admin)
    model_version = ModelVersion.objects.create(model=model, tag="v1", state="available", creator=admin)
    process = ProcessFactory(mode=ProcessMode.Workers, corpus=corpus, creator=admin, name="Fuzzed")
    run = WorkerRunFactory(process=process, version=version, model_version=model_version)
    template = ProcessFactory(mode=ProcessMode.Template, corpus=corpus, creator=admin, name="Template")
    farm = Farm.objects.get_or_create(name="default")[0]
    agent = Agent.objects.create(farm=farm, hostname="fuzz-host", pid=1, last_ping=timezone.now())
    task = TaskFactory(process=process, slug="worker", worker_run=run, state="completed")
    Artifact.objects.create(task=task, path="out.json", size=2, content_type="application/json")
    transcription = Transcription.objects.create(element=page, text="Some text", worker_run=run)
    ml_class = MLClass.objects.create(corpus=corpus, name="cat")
    classification = Classification.objects.create(element=page, ml_class=ml_class, confidence=0.5, worker_run=run)
    entity_type = EntityType.objects.create(corpus=corpus, name="person")
    entity = Entity.objects.create(corpus=corpus, type=entity_type, name="Someone", worker_run=run)
    MetaData.objects.create(element=page, type="text", name="folio", value="1r", worker_run=run)
    TranscriptionEntity.objects.create(transcription=transcription, entity=entity, offset=0, length=4)
    Embedding.objects.create(element=page, value=[0.1, 0.2], worker_run=run)
    dataset = dataset_services.dataset_create(corpus=corpus, creator=admin, name="Fuzzed", set_names=["train", "test"])
    dataset_services.dataset_element_create(dataset=dataset, set_name="train", element=page)
    export = CorpusExport.objects.create(corpus=corpus, user=admin, state="done")
    repository = Repository.objects.create(url="https://git.example.com/fuzzed", creator=admin)
    data_file = DataFile.objects.create(corpus=corpus, name="list.txt", content_type="text/plain", size=10)
    secret_set(name="fuzzed/secret", value="value")
    job = Job.objects.create(function="documents.jobs.corpus_delete", description="A job", user=admin)
    dataset_process = ProcessFactory(mode=ProcessMode.Dataset, corpus=corpus, creator=admin, name="Sets")
    return {
        "dataset_process": dataset_process,
        "dataset_set": dataset.sets.get(name="test"),
        "corpus": corpus,
        "element": page,
        "folder": folder,
        "image": image,
        "worker": worker,
        "version": version,
        "configuration": configuration,
        "model": model,
        "model_version": model_version,
        "process": process,
        "run": run,
        "template": template,
        "agent": agent,
        "task": task,
        "transcription": transcription,
        "classification": classification,
        "dataset": dataset,
        "export": export,
        "repository": repository,
        "data_file": data_file,
        "job": job,
    }


# Which object a path's `{id}` names, by the path's start (the first match wins).
ID_OWNERS = [
    ("/api/v1/corpus/", "corpus"),
    ("/api/v1/element/", "element"),
    ("/api/v1/elements/", "element"),
    ("/api/v1/process/workers/", "run"),
    ("/api/v1/process/files/", "data_file"),
    ("/api/v1/process/repos/", "repository"),
    ("/api/v1/process/templates/", "template"),
    ("/api/v1/process/", "process"),
    ("/api/v1/task/", "task"),
    ("/api/v1/workers/versions/{id}/activity/", "run"),
    ("/api/v1/workers/versions/", "version"),
    ("/api/v1/workers/configurations/", "configuration"),
    ("/api/v1/workers/runs/", "run"),
    ("/api/v1/workers/", "worker"),
    ("/api/v1/modelversion/", "model_version"),
    ("/api/v1/model/", "model"),
    ("/api/v1/datasets/", "dataset"),
    ("/api/v1/export/", "export"),
    ("/api/v1/image/", "image"),
    ("/api/v1/agents/", "agent"),
    ("/api/v1/jobs/", "job"),
    ("/api/v1/transcription/", "transcription"),
    ("/api/v1/classifications/", "classification"),
]
NAMED_PARAMETERS = {
    "corpus": lambda world: world["corpus"].id,
    "dataset": lambda world: world["dataset"].id,
    "element": lambda world: world["element"].id,
    "child": lambda world: world["element"].id,
    "parent": lambda world: world["folder"].id,
    "process": lambda world: world["process"].id,
    "set": lambda world: "train",
    "name": lambda world: "fuzzed/secret",
    "path": lambda world: "out.json",
}


# Paths whose parameters name other objects than their names say.
PATH_OVERRIDES = {
    "/api/v1/process/{process}/set/{set}/": {"process": "dataset_process", "set": "dataset_set"},
}


def path_values(path, world):
    overrides = PATH_OVERRIDES.get(path, {})
    if overrides:
        return {name: str(world[owner].id) for name, owner in overrides.items()}
    values = {}
    for name in re.findall(r"\{(\w+)\}", path):
        if name == "id":
            owner = next(owner for prefix, owner in ID_OWNERS if path.startswith(prefix))
            values[name] = str(world[owner].id)
        else:
            values[name] = str(NAMED_PARAMETERS[name](world))
    return values


def configuration(schema, world):
    """schemathesis.toml: the real objects each operation's path names."""
    lines = []
    for path, item in schema["paths"].items():
        values = path_values(path, world)
        if not values:
            continue
        for operation in item.values():
            if isinstance(operation, dict) and "operationId" in operation:
                lines.append("[[operations]]")
                lines.append(f"include-operation-id = {json.dumps(operation['operationId'])}")
                pairs = ", ".join(f'"path.{name}" = {json.dumps(value)}' for name, value in values.items())
                lines.append(f"parameters = {{ {pairs} }}")
                lines.append("")
    return "\n".join(lines)


def fuzz(python, run_in_clients_env, live_server, config, *, token=None, deletions, examples=MAX_EXAMPLES):
    """One schemathesis run; returns its output. Fails the test with it when anything was found."""
    command = [
        "-m",
        "schemathesis.cli",
        "--config-file",
        str(config),
        "run",
        f"{live_server.url}/api/v1/openapi/?format=json",
        "--url",
        live_server.url,
        "--checks",
        CHECKS,
        "--seed",
        str(SEED),
        "--max-examples",
        str(examples),
        "--phases",
        "examples,fuzzing",
        "--workers",
        "1",
        "--no-shrink",
        "--generation-database",
        "none",
        "--suppress-health-check",
        "all",
        "--request-timeout",
        "30",
        "--no-color",
        "--include-method-regex" if deletions else "--exclude-method-regex",
        "(?i)delete",
    ]
    if token:
        command += ["-H", f"Authorization: Token {token}"]
    process = run_in_clients_env(python, command, timeout=1500, check=False)
    output = process.stdout + process.stderr
    (config.parent / f"schemathesis-{'deletions' if deletions else 'operations'}-{bool(token)}.log").write_text(output)
    if process.returncode != 0:
        pytest.fail(f"schemathesis found problems ({shlex.join(command[-4:])}):\n{output[-20000:]}", pytrace=False)
    return output


@pytest.fixture
def fuzz_setup(live_server, superuser, tmp_path, schemathesis_python):
    from django.test import Client

    world = build_world(superuser)
    schema = Client().get("/api/v1/openapi/?format=json").json()
    config = tmp_path / "schemathesis.toml"
    config.write_text(configuration(schema, world))
    token = Token.objects.create(user=superuser, name="fuzz").key
    return config, token


@pytest.mark.parametrize("deletions", [False, True], ids=["operations", "deletions"])
def test_fuzz_as_administrator(fuzz_setup, schemathesis_python, run_in_clients_env, live_server, deletions):
    config, token = fuzz_setup
    examples = MAX_EXAMPLES if deletions else ADMINISTRATOR_EXAMPLES
    fuzz(
        schemathesis_python,
        run_in_clients_env,
        live_server,
        config,
        token=token,
        deletions=deletions,
        examples=examples,
    )


def test_fuzz_anonymously(fuzz_setup, schemathesis_python, run_in_clients_env, live_server):
    config, _ = fuzz_setup
    fuzz(schemathesis_python, run_in_clients_env, live_server, config, deletions=False)
