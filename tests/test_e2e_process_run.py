"""
The headline flow: a worker written with the real `arkindex-base-worker` 0.6.0 runs as the tasks of
a process, through an agent with the local executor, and every result it publishes names the
worker run (hence the model version) that wrote it.

One worker version runs twice in the process, with two model versions; the worker reads its model
configuration and publishes, for each page, a transcription and a classification.
"""

import shlex

import pytest

from documents import services as documents_services
from documents.models import Corpus, ElementType
from ponos.tests.running import store_model_archive, wait_finished
from processes.models import ActivityState, Process, ProcessMode, ProcessState, WorkerActivity, WorkerRun
from users.models import Right, Role, Token
from workers.models import Model, ModelVersion
from workers.tests.factories import WorkerFactory, WorkerVersionFactory, grant

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("transactional_db")]

PAGES = 20

WORKER = """
from arkindex_worker.worker import ElementsWorker


class Labeller(ElementsWorker):
    def process_element(self, element):
        label = self.model_configuration["label"]
        self.create_transcription(element, text=f"{label}: {element.name}", confidence=0.9)
        self.create_classification(element, ml_class=label, confidence=0.8)


if __name__ == "__main__":
    Labeller(description="Labels every page with its model's label").run()
"""


@pytest.fixture
def corpus(user):
    corpus = Corpus.objects.create(name="Pages")
    Right.objects.create(content_object=corpus, user=user, level=Role.ADMIN)
    page = ElementType.objects.create(corpus=corpus, slug="page", display_name="Page")
    documents_services.element_create(corpus=corpus, type=page, name="Folder")
    for index in range(PAGES):
        documents_services.element_create(corpus=corpus, type=page, name=f"Page {index:03}")
    return corpus


@pytest.fixture
def worker_script(tmp_path):
    path = tmp_path / "labeller.py"
    path.write_text(WORKER)
    return path


def model_version(user, name, label):
    model = Model.objects.create(name=name)
    grant(model, Role.GUEST, user=user)
    version = ModelVersion.objects.create(model=model, tag="v1", state="available", configuration={"label": label})
    store_model_archive(version, {"label.txt": label})
    return version


def test_two_model_versions_of_one_worker(
    ponos, live_server, user, corpus, worker_python, worker_script, run_in_clients_env
):
    import requests

    worker = WorkerFactory(slug="labeller", name="Labeller")
    grant(worker, Role.GUEST, user=user)
    version = WorkerVersionFactory(
        worker=worker,
        state="available",
        model_usage="required",
        configuration={"docker": {"command": shlex.join([str(worker_python), str(worker_script)])}},
    )
    alpha = model_version(user, "Alpha", "alpha")
    beta = model_version(user, "Beta", "beta")
    process = Process.objects.create(
        corpus=corpus,
        creator=user,
        mode=ProcessMode.Workers,
        name="Labelling",
        element_type=ElementType.objects.get(corpus=corpus, slug="page"),
        name_contains="Page",
        activity_state=ActivityState.Pending,
    )
    runs = {
        "alpha": WorkerRun.objects.create(process=process, version=version, model_version=alpha),
        "beta": WorkerRun.objects.create(process=process, version=version, model_version=beta),
    }
    token = Token.objects.create(user=user).key
    response = requests.post(
        f"{live_server.url}/api/v1/process/{process.id}/start/", headers={"Authorization": f"Token {token}"}
    )
    assert response.status_code == 200, response.text

    process = wait_finished(process)
    assert process.state == ProcessState.Completed
    pages = corpus.elements.filter(name__startswith="Page")
    for label, run in runs.items():
        transcriptions = run.transcriptions.all()
        assert transcriptions.count() == PAGES
        assert {t.text.split(":")[0] for t in transcriptions} == {label}
        assert run.classifications.count() == PAGES
        assert set(run.classifications.values_list("ml_class__name", flat=True)) == {label}
        assert WorkerActivity.objects.filter(worker_run=run, state="processed").count() == PAGES
    for page in pages:
        assert page.transcriptions.count() == 2
        assert page.classifications.count() == 2

    stats = requests.get(
        f"{live_server.url}/api/v1/process/{process.id}/activity-stats/", headers={"Authorization": f"Token {token}"}
    ).json()
    by_run = {row["worker_run_id"]: row for row in stats}
    for run in runs.values():
        assert by_run[str(run.id)]["processed"] == PAGES
        assert by_run[str(run.id)]["queued"] == by_run[str(run.id)]["error"] == 0
