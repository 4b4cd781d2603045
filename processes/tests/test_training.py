"""
Training processes (seed 001): a model to publish versions of, train / validation / test folders,
one worker run with its configuration; started like a workers process, without initialisation
task nor elements list. The worker reads its folders and model on RetrieveWorkerRun's process.
"""

import pytest

from documents import services as documents_services
from documents.tests.factories import CorpusFactory, ElementFactory, ElementTypeFactory
from ponos import services as ponos_services
from processes.models import ProcessMode
from processes.tests.factories import ProcessFactory, WorkerRunFactory
from users.models import Role
from users.tests.factories import grant
from workers.models import Model
from workers.tests.factories import WorkerFactory, WorkerVersionFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def corpus(user):
    corpus = CorpusFactory(name="Training data")
    grant(corpus, Role.CONTRIBUTOR, user=user)
    folder = ElementTypeFactory(corpus=corpus, slug="folder", display_name="Folder", folder=True)
    ElementTypeFactory(corpus=corpus, slug="page", display_name="Page")
    for name in ("Train", "Validation", "Test"):
        ElementFactory(corpus=corpus, type=folder, name=name)
    return corpus


@pytest.fixture
def folders(corpus):
    return {element.name.lower(): element for element in corpus.elements.all()}


@pytest.fixture
def model(user):
    model = Model.objects.create(name="Recognizer")
    grant(model, Role.CONTRIBUTOR, user=user)
    return model


@pytest.fixture
def version(user):
    worker = WorkerFactory()
    grant(worker, Role.GUEST, user=user)
    return WorkerVersionFactory(worker=worker, state="available", configuration={"docker": {"command": "train"}})


def create(client, corpus, **body):
    return client.post(f"/api/v1/process/corpus/{corpus.id}/", {"mode": "training", **body}, format="json")


def training_body(model, folders):
    return {
        "model_id": str(model.id),
        "train_folder_id": str(folders["train"].id),
        "validation_folder_id": str(folders["validation"].id),
        "test_folder_id": str(folders["test"].id),
    }


def test_create(user_client, corpus, model, folders):
    response = create(user_client, corpus, name="Train it", **training_body(model, folders))
    assert response.status_code == 201, response.json()
    data = response.json()
    assert (data["mode"], data["model_id"], data["train_folder_id"]) == (
        "training",
        str(model.id),
        str(folders["train"].id),
    )
    assert data["validation_folder_id"] == str(folders["validation"].id)
    assert data["test_folder_id"] == str(folders["test"].id)


def test_create_bad_references(user_client, corpus, model, folders, other_user):
    page = ElementFactory(corpus=corpus, type=corpus.types.get(slug="page"), name="Page")
    foreign = Model.objects.create(name="Not mine")
    response = create(
        user_client,
        corpus,
        model_id=str(foreign.id),
        train_folder_id=str(page.id),
        test_folder_id="11111111-2222-3333-4444-555555555555",
    )
    assert response.status_code == 400
    errors = response.json()
    assert errors["model_id"] == [f"No model {foreign.id} that you may add versions to."]
    assert "is not a folder" in errors["train_folder_id"][0]
    assert "No element" in errors["test_folder_id"][0]


def test_training_fields_only_on_training_processes(user_client, corpus, model, folders):
    response = user_client.post(
        f"/api/v1/process/corpus/{corpus.id}/", {"mode": "workers", "model_id": str(model.id)}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["model_id"] == ["Only training processes have a model and training folders."]


def test_one_worker_run(user_client, user, corpus, model, folders, version):
    process = ProcessFactory(mode=ProcessMode.Training, corpus=corpus, creator=user, model=model)
    url = f"/api/v1/process/{process.id}/workers/"
    assert user_client.post(url, {"worker_version_id": str(version.id)}, format="json").status_code == 201
    other = WorkerVersionFactory(worker=version.worker, state="available", configuration={"docker": {"command": "x"}})
    response = user_client.post(url, {"worker_version_id": str(other.id)}, format="json")
    assert response.status_code == 400
    assert "one worker run" in response.json()["worker_version_id"][0]


def test_start_checks(user, corpus, model, folders, version):
    from processes.services.starting import start_errors

    process = ProcessFactory(mode=ProcessMode.Training, corpus=corpus, creator=user)
    WorkerRunFactory(process=process, version=version)
    errors = start_errors(process)
    assert set(errors) == {"model_id", "train_folder_id"}


def test_start_builds_one_task(user, corpus, model, folders, version):
    process = ProcessFactory(
        mode=ProcessMode.Training, corpus=corpus, creator=user, model=model, train_folder=folders["train"]
    )
    run = WorkerRunFactory(process=process, version=version)
    _, tasks = ponos_services.process_start(process=process)
    (task,) = tasks
    assert (task.worker_run_id, task.depth, task.command) == (run.id, 0, "train")
    assert "TASK_ELEMENTS" not in task.env
    assert task.env["ARKINDEX_WORKER_RUN_ID"] == str(run.id)


def test_worker_reads_its_training(user, user_client, corpus, model, folders, version):
    process = ProcessFactory(
        mode=ProcessMode.Training,
        corpus=corpus,
        creator=user,
        model=model,
        train_folder=folders["train"],
        validation_folder=folders["validation"],
    )
    run = WorkerRunFactory(process=process, version=version)
    data = user_client.get(f"/api/v1/process/workers/{run.id}/").json()["process"]
    assert data["mode"] == "training"
    assert data["model_id"] == str(model.id)
    assert (data["train_folder_id"], data["validation_folder_id"], data["test_folder_id"]) == (
        str(folders["train"].id),
        str(folders["validation"].id),
        None,
    )


def test_no_template_of_a_training(user_client, user, corpus, model):
    process = ProcessFactory(mode=ProcessMode.Training, corpus=corpus, creator=user, model=model)
    response = user_client.post(f"/api/v1/process/{process.id}/template/", {"name": "T"}, format="json")
    assert response.status_code == 400


def test_deleted_folder_is_forgotten(user, corpus, model, folders):
    process = ProcessFactory(
        mode=ProcessMode.Training, corpus=corpus, creator=user, model=model, train_folder=folders["train"]
    )
    documents_services.element_delete(element_id=folders["train"].id)
    process.refresh_from_db()
    assert process.train_folder_id is None
