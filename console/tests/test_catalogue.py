"""
The console's pages of workers, models, worker runs, datasets and results deletion: what each
shows, to whom, its refusals, and a query count that does not grow with the data.
"""

import pytest
from django.test import Client

from console.tests.conftest import text
from datasets.models import DatasetElement
from datasets.services import dataset_create
from documents.tests.factories import CorpusFactory
from processes.models import ProcessMode
from processes.services import create_user_worker_run
from processes.tests.factories import ProcessFactory, make_run
from users.models import Right, Role
from users.tests.factories import grant
from workers.models import FeatureUsage, ModelVersionState
from workers.tests.factories import (
    WorkerConfigurationFactory,
    WorkerFactory,
    WorkerVersionFactory,
    make_model,
    make_version,
)

pytestmark = pytest.mark.django_db


def workers_of(user, count, **kwargs):
    workers = [WorkerFactory(name=f"Worker {n:02d}", **kwargs) for n in range(count)]
    for worker in workers:
        grant(worker, Role.ADMIN, user=user)
    return workers


def assert_flat(browser, url, queries, django_assert_num_queries):
    browser.get(url)
    with django_assert_num_queries(queries):
        response = browser.get(url)
    assert response.status_code == 200
    return text(response)


# Worker runs: the user's own, and the seed's creation flow


@pytest.mark.parametrize("size", [1, 12])
def test_worker_runs_page_queries_are_flat(browser, user, size, django_assert_num_queries):
    workers = workers_of(user, size)
    for worker in workers:
        for _ in range(2):
            version = WorkerVersionFactory(worker=worker)
        create_user_worker_run(user, version_id=version.id)
    # Session, user, the runs, the worker types, the workers' count and page; the chosen worker, its versions.
    body = assert_flat(browser, "/worker-runs/", 6, django_assert_num_queries)
    assert body.count('<tr><td><a href="/worker-run/') + body.count("/worker-run/") >= size
    body = assert_flat(browser, f"/worker-runs/?worker={workers[0].id}", 8, django_assert_num_queries)
    assert "has a run" in body and body.count('class="add"') == 1


def test_worker_runs_are_personal(browser, user, other_user):
    version = WorkerVersionFactory()
    grant(version.worker, Role.GUEST, user=other_user)
    run = create_user_worker_run(other_user, version_id=version.id)
    body = text(browser.get("/worker-runs/"))
    assert str(run.id) not in body and "No worker run yet" in body
    assert browser.get(f"/worker-run/{run.id}").status_code == 404


def test_worker_runs_page_filters_workers(browser, user):
    workers_of(user, 2, type__slug="classifier")
    [recogniser] = workers_of(user, 1, type__slug="recognizer")
    recogniser.name = "Line recogniser"
    recogniser.save()
    body = text(browser.get("/worker-runs/?type=recognizer"))
    assert "Line recogniser" in body and "Worker 00" not in body
    body = text(browser.get("/worker-runs/?name=recog"))
    assert "Line recogniser" in body and "Worker 01" not in body
    assert "No worker matches" in text(browser.get("/worker-runs/?name=nothing-like-it"))
    assert "is not a worker ID" in text(browser.get("/worker-runs/?worker=nope"))
    hidden = WorkerFactory()
    assert f"Worker {hidden.id} not found" in text(browser.get(f"/worker-runs/?worker={hidden.id}"))


def test_created_worker_run_is_announced(browser, user):
    [worker] = workers_of(user, 1)
    run = create_user_worker_run(user, version_id=WorkerVersionFactory(worker=worker).id)
    body = text(browser.get(f"/worker-runs/?worker={worker.id}&created={run.id}"))
    assert f'Worker run <strong class="mono">{run.id}</strong> created' in body


def test_worker_run_details(browser, corpus, user, django_assert_num_queries):
    model = make_model("Handwriting", user=user, level=Role.GUEST)
    model_version = make_version(model, state=ModelVersionState.Available, tag="v2")
    configuration = WorkerConfigurationFactory(name="Strict")
    version = WorkerVersionFactory(worker=configuration.worker, model_usage=FeatureUsage.Supported)
    process = ProcessFactory(corpus=corpus, creator=user, name="Recognition")
    run = make_run(process, version, model_version=model_version, configuration=configuration)
    # Session, user, the run with its version, model version, configuration and process.
    body = assert_flat(browser, f"/worker-run/{run.id}", 3, django_assert_num_queries)
    assert "Handwriting" in body and "v2" in body and "Strict" in body and "Recognition" in body


# Workers, versions and configurations


@pytest.mark.parametrize("size", [2, 25])
def test_workers_page_queries_are_flat(browser, user, size, django_assert_num_queries):
    workers_of(user, size)
    # Session, user, the worker types, the count and the page.
    body = assert_flat(browser, "/workers/", 5, django_assert_num_queries)
    assert "Worker 00" in body
    assert ("Page 1 of 2" in body) == (size > 20)


def test_workers_page_hides_other_workers(browser, user):
    WorkerFactory(name="Someone else's worker")
    assert "No worker yet" in text(browser.get("/workers/"))
    assert "Select a valid choice" in text(browser.get("/workers/?local=maybe")) or "local" in text(
        browser.get("/workers/?local=maybe")
    )


@pytest.mark.parametrize("size", [2, 25])
def test_worker_page_queries_are_flat(browser, user, size, django_assert_num_queries):
    [worker] = workers_of(user, 1)
    for n in range(size):
        WorkerVersionFactory(worker=worker)
        WorkerConfigurationFactory(worker=worker, name=f"Configuration {n:02d}", archived=n % 2 == 0)
    # Session, user, the worker, the count and the page of the tab.
    for tab in ("versions", "configurations", "archived"):
        body = assert_flat(browser, f"/worker/{worker.id}?tab={tab}", 5, django_assert_num_queries)
    assert "Configuration 00" in body and "Configuration 01" not in body


def test_only_instance_admins_unarchive(browser, user, superuser):
    [worker] = workers_of(user, 1)
    WorkerConfigurationFactory(worker=worker, name="Old", archived=True)
    WorkerConfigurationFactory(worker=worker, name="Current")
    assert "Un-archive</button>" not in text(browser.get(f"/worker/{worker.id}?tab=archived"))
    assert "Archive</button>" in text(browser.get(f"/worker/{worker.id}?tab=configurations"))
    admin = Client()
    admin.force_login(superuser)
    assert "Un-archive</button>" in text(admin.get(f"/worker/{worker.id}?tab=archived"))


def test_worker_pages_refuse_hidden_workers(browser):
    worker = WorkerFactory()
    version = WorkerVersionFactory(worker=worker)
    assert browser.get(f"/worker/{worker.id}").status_code == 404
    assert browser.get(f"/worker-version/{version.id}").status_code == 404


def test_worker_version_page(browser, user, django_assert_num_queries):
    [worker] = workers_of(user, 1)
    version = WorkerVersionFactory(
        worker=worker,
        configuration={
            "docker": {"command": "worker-demo"},
            "user_configuration": {"threshold": {"title": "Threshold", "type": "float", "default": 0.5}},
            "configuration": {"fixed": 1},
        },
    )
    # Session, user, the version with its worker's level.
    body = assert_flat(browser, f"/worker-version/{version.id}", 3, django_assert_num_queries)
    assert "Threshold" in body and "worker-demo" in body and "fixed" in body


# Models


@pytest.mark.parametrize("size", [2, 25])
def test_model_pages_queries_are_flat(browser, user, size, django_assert_num_queries):
    models = [make_model(f"Model {n:02d}", user=user, level=Role.GUEST) for n in range(size)]
    for n in range(size):
        make_version(models[0], state=ModelVersionState.Available, tag=f"v{n}")
    make_version(models[0], state=ModelVersionState.Created, tag="uploading")
    # Session, user, the count and the page.
    body = assert_flat(browser, "/models/", 4, django_assert_num_queries)
    assert "Model 00" in body and "Guest" in body
    # Session, user, the model, the count and the page of its versions.
    body = assert_flat(browser, f"/model/{models[0].id}", 5, django_assert_num_queries)
    assert body.count('id="model-version-') == min(size, 20) and "uploading" not in body


def test_hidden_model_is_not_found(browser):
    assert browser.get(f"/model/{make_model('Secret').id}").status_code == 404
    assert "No model matches" in text(browser.get("/models/?name=secret"))


# Datasets


@pytest.mark.parametrize("size", [2, 30])
def test_dataset_pages_queries_are_flat(browser, corpus, user, make_element, size, django_assert_num_queries):
    dataset = dataset_create(corpus=corpus, creator=user, name="Training", set_names=["train", "dev"])
    train = dataset.sets.get(name="train")
    for n in range(size):
        element = make_element("page", f"Page {n:02d}")
        DatasetElement.objects.create(dataset=dataset, set=train, element=element, unique_elements=True)
    for n in range(size):
        dataset_create(corpus=corpus, creator=user, name=f"Other {n:02d}", set_names=["all"])
    # Session, user, the count and the page.
    body = assert_flat(browser, "/datasets/", 4, django_assert_num_queries)
    assert "Other 00" in body and body.count("/dataset/") == min(size + 1, 20)
    # Session, user, the dataset with its sets, the count and the page of the set's elements.
    body = assert_flat(browser, f"/dataset/{dataset.id}?set=train", 5, django_assert_num_queries)
    assert "Page 00" in body and body.count("/element/") == size
    # The first set by name is shown by default.
    assert "No element in dev" in text(browser.get(f"/dataset/{dataset.id}"))
    assert "has no set named" in text(browser.get(f"/dataset/{dataset.id}?set=nope"))


def test_hidden_dataset_is_not_found(browser, other_user):
    hidden = dataset_create(corpus=CorpusFactory(), creator=other_user, name="Hidden", set_names=["a"])
    assert browser.get(f"/dataset/{hidden.id}").status_code == 404
    assert "Hidden" not in text(browser.get("/datasets/"))


# Deleting results


@pytest.mark.parametrize("size", [1, 10])
def test_delete_results_page_queries_are_flat(browser, user, size, django_assert_num_queries):
    corpus = CorpusFactory(members={user: Role.ADMIN})
    process = ProcessFactory(corpus=corpus, creator=user)
    for _ in range(size):
        make_run(process)
    # Session, user, the corpora the user administers, the worker runs of the chosen one.
    body = assert_flat(browser, f"/delete-results/?corpus={corpus.id}", 4, django_assert_num_queries)
    assert body.count('<option value="') >= 2 * size


def test_delete_results_only_on_administered_corpora(browser, corpus, make_element):
    body = text(browser.get(f"/delete-results/?corpus={corpus.id}"))
    assert "You administer no project" in body
    page = make_element("page")
    assert "No element" in text(browser.get(f"/delete-results/?element={page.id}"))


def test_delete_results_under_an_element(browser, user, corpus, make_element):
    Right.objects.filter(user=user, object_id=corpus.id).update(level=Role.ADMIN)
    page = make_element("page", "Folio 7")
    body = text(browser.get(f"/delete-results/?element={page.id}"))
    assert f'value="{page.id}"' in body and "Folio 7" in body and "Dry run" in body


# The configuration table of a process


def test_configuration_editable_before_start_only(browser, corpus, user):
    [worker] = workers_of(user, 1)
    fields = {"lang": {"type": "string", "title": "Language", "default": "fr"}}
    version = WorkerVersionFactory(worker=worker, configuration={"user_configuration": fields})
    process = ProcessFactory(corpus=corpus, creator=user)
    make_run(process, version)
    body = text(browser.get(f"/process/{process.id}"))
    assert 'id="add-worker-run"' in body and "PATCH /api/v1/process/workers/" in body
    assert 'name="configuration[lang]" value="fr"' in body
    process.started = process.created
    process.save()
    body = text(browser.get(f"/process/{process.id}"))
    assert 'id="add-worker-run"' not in body and "PATCH" not in body and "no longer changes" in body
    template = ProcessFactory(corpus=corpus, creator=user, mode=ProcessMode.Template)
    make_run(template, version)
    body = text(browser.get(f"/process/{template.id}"))
    assert 'id="add-worker-run"' not in body and "A template" in body


@pytest.mark.parametrize("size", [1, 8])
def test_editable_process_page_queries_are_flat(browser, corpus, user, size, django_assert_num_queries):
    process = ProcessFactory(corpus=corpus, creator=user)
    for worker in workers_of(user, size):
        version = WorkerVersionFactory(worker=worker)
        WorkerConfigurationFactory(worker=worker)
        make_run(process, version)
        make_version(make_model(f"Model of {worker.name}", user=user, level=Role.GUEST), state="available")
    # Session, user, the process, its tasks (none: no prefetch of their artifacts), its worker runs;
    # the versions, model versions and configurations to choose from.
    body = assert_flat(browser, f"/process/{process.id}", 8, django_assert_num_queries)
    assert body.count("New configuration for") == size
