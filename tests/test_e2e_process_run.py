"""
The headline flow: a worker written with the real `arkindex-base-worker` 0.6.0 runs as the tasks of
a process, through an agent with the local executor, and every result it publishes names the
worker run (hence the model version) that wrote it.

One worker version runs twice in the process, with two model versions; the worker reads its model
configuration and publishes, for each page, a transcription and a classification; then the results
of one model version are deleted. In a second variant, two tasks of one worker run consume the
activity queue side by side, and no page is processed twice.
"""

import shlex

import pytest
from django.db.models import Count

from documents.models import ElementType
from documents.tests.factories import CorpusFactory, ElementFactory, ElementTypeFactory
from ponos.tests.running import store_model_archive, wait_finished, wait_for
from processes.models import ActivityState, ProcessMode, ProcessState, WorkerActivity
from processes.tests.factories import ProcessFactory, WorkerRunFactory
from users.models import Role, Token
from users.tests.factories import grant
from workers.models import Model, ModelVersion
from workers.tests.factories import WorkerFactory, WorkerVersionFactory

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("transactional_db")]

PAGES = 200
# Each run makes four calls per page; shared machines can be slow.
PROCESS_TIMEOUT = 900

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
    corpus = pages_corpus(user, "Pages", PAGES)
    ElementFactory(corpus=corpus, type=corpus.types.get(slug="page"), name="Folder")
    return corpus


def pages_corpus(user, name, pages):
    """A corpus `user` administers, with `pages` elements of type page named `Page 000`, `Page 001`…"""
    corpus = CorpusFactory(name=name)
    grant(corpus, Role.ADMIN, user=user)
    page = ElementTypeFactory(corpus=corpus, slug="page", display_name="Page")
    for index in range(pages):
        ElementFactory(corpus=corpus, type=page, name=f"Page {index:03}")
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


def labeller_version(user, worker_python, worker_script):
    worker = WorkerFactory(slug="labeller", name="Labeller")
    grant(worker, Role.GUEST, user=user)
    return WorkerVersionFactory(
        worker=worker,
        state="available",
        model_usage="required",
        configuration={"docker": {"command": shlex.join([str(worker_python), str(worker_script)])}},
    )


def start(live_server, token, process):
    import requests

    response = requests.post(
        f"{live_server.url}/api/v1/process/{process.id}/start/", headers={"Authorization": f"Token {token}"}
    )
    assert response.status_code == 200, response.text


def pages_process(corpus, user, **fields):
    return ProcessFactory(
        corpus=corpus,
        creator=user,
        mode=ProcessMode.Workers,
        name="Labelling",
        element_type=ElementType.objects.get(corpus=corpus, slug="page"),
        name_contains="Page",
        activity_state=ActivityState.Pending,
        **fields,
    )


def activity_stats(live_server, token, process):
    import requests

    response = requests.get(
        f"{live_server.url}/api/v1/process/{process.id}/activity-stats/", headers={"Authorization": f"Token {token}"}
    )
    assert response.status_code == 200, response.text
    return {row["worker_run_id"]: row for row in response.json()}


def test_two_model_versions_of_one_worker(
    ponos, live_server, user, corpus, worker_python, worker_script, run_in_clients_env
):
    import requests

    version = labeller_version(user, worker_python, worker_script)
    alpha = model_version(user, "Alpha", "alpha")
    beta = model_version(user, "Beta", "beta")
    process = pages_process(corpus, user)
    runs = {
        "alpha": WorkerRunFactory(process=process, version=version, model_version=alpha),
        "beta": WorkerRunFactory(process=process, version=version, model_version=beta),
    }
    token = Token.objects.create(user=user).key
    start(live_server, token, process)

    process = wait_finished(process, PROCESS_TIMEOUT)
    assert process.state == ProcessState.Completed
    pages = corpus.elements.filter(name__startswith="Page")
    assert pages.count() == PAGES
    for label, run in runs.items():
        transcriptions = run.transcriptions.all()
        assert transcriptions.count() == PAGES
        assert {t.text.split(":")[0] for t in transcriptions} == {label}
        assert run.classifications.count() == PAGES
        assert set(run.classifications.values_list("ml_class__name", flat=True)) == {label}
        assert WorkerActivity.objects.filter(worker_run=run, state="processed").count() == PAGES
    per_page = pages.annotate(
        transcription_count=Count("transcriptions", distinct=True),
        classification_count=Count("classifications", distinct=True),
        transcription_runs=Count("transcriptions__worker_run", distinct=True),
    )
    assert {(p.transcription_count, p.classification_count, p.transcription_runs) for p in per_page} == {(2, 2, 2)}

    stats = activity_stats(live_server, token, process)
    for run in runs.values():
        row = stats[str(run.id)]
        assert (row["processed"], row["queued"], row["started"], row["error"]) == (PAGES, 0, 0, 0)

    # The results of one model version go; the other's stay.
    response = requests.delete(
        f"{live_server.url}/api/v1/corpus/{corpus.id}/worker-results/",
        params={"model_version_id": str(alpha.id)},
        headers={"Authorization": f"Token {token}"},
    )
    assert response.status_code == 204, response.text
    wait_for(
        lambda: not runs["alpha"].transcriptions.exists() and not runs["alpha"].classifications.exists(),
        message="the results of model version Alpha to be deleted",
    )
    assert runs["beta"].transcriptions.count() == PAGES
    assert runs["beta"].classifications.count() == PAGES
    assert set(runs["beta"].transcriptions.values_list("element_id", flat=True)) == set(
        pages.values_list("id", flat=True)
    )


def test_two_tasks_consume_one_queue(
    ponos, live_server, user, corpus, worker_python, worker_script, run_in_clients_env
):
    """Two chunks of one worker run, no elements list: both tasks take pages from the activity queue."""
    version = labeller_version(user, worker_python, worker_script)
    process = pages_process(corpus, user, chunks=2, skip_elements_json=True)
    run = WorkerRunFactory(process=process, version=version, model_version=model_version(user, "Solo", "solo"))
    token = Token.objects.create(user=user).key
    start(live_server, token, process)

    process = wait_finished(process, PROCESS_TIMEOUT)
    assert process.state == ProcessState.Completed
    assert sorted(process.tasks.values_list("slug", flat=True)) == ["initialisation", "labeller_1", "labeller_2"]
    pages = corpus.elements.filter(name__startswith="Page")
    per_page = pages.annotate(
        transcription_count=Count("transcriptions"), classification_count=Count("classifications")
    )
    assert {(p.transcription_count, p.classification_count) for p in per_page} == {(1, 1)}
    assert run.transcriptions.count() == PAGES
    assert WorkerActivity.objects.filter(worker_run=run, state="processed").count() == PAGES
    row = activity_stats(live_server, token, process)[str(run.id)]
    assert (row["processed"], row["queued"], row["started"], row["error"]) == (PAGES, 0, 0, 0)
