"""
DestroyWorkerResults: which results go for each filter, what stays, and the refusals.

One worker version runs three times in a process on the corpus: with model version Alpha, with
model version Beta, and without a model version but with a configuration. A user worker run of the
same version also signed results here and on another corpus. Each run (and a person) left one of
each kind of result on the first page, and runs Alpha and the user run a line under it.
"""

import django_rq
import pytest
from django.utils import timezone

from documents import services as documents_services
from documents.models import (
    Classification,
    Element,
    ElementPath,
    Embedding,
    Entity,
    EntityType,
    MetaData,
    MLClass,
    Selection,
    Transcription,
    TranscriptionEntity,
)
from documents.tests.factories import CorpusFactory, ElementFactory, ElementTypeFactory
from ponos.models import Task, TaskState
from ponos.tests.factories import TaskFactory
from processes.models import ProcessMode
from processes.services import results
from processes.tests.factories import ProcessFactory, WorkerRunFactory
from users.models import Role
from users.tests.factories import grant
from workers.models import Model, ModelVersion
from workers.tests.factories import WorkerConfigurationFactory, WorkerVersionFactory

URL = "/api/v1/corpus/{}/worker-results/"


def sign_everything(page, run, entity_type, cat, label):
    """One result of each kind on `page`, signed by `run` (None: by a person)."""
    transcription = Transcription.objects.create(element=page, text=label, worker_run=run)
    entity = Entity.objects.create(corpus=page.corpus, type=entity_type, name=label, worker_run=run)
    TranscriptionEntity.objects.create(transcription=transcription, entity=entity, offset=0, length=1, worker_run=run)
    Classification.objects.create(element=page, ml_class=cat, confidence=0.5, worker_run=run)
    MetaData.objects.create(element=page, type="text", name=label, value=label, worker_run=run)
    Embedding.objects.create(element=page, value=[1.0], worker_run=run)


@pytest.fixture
def world(user):
    corpus = CorpusFactory(name="Corpus")
    grant(corpus, Role.ADMIN, user=user)
    page_type = ElementTypeFactory(corpus=corpus, slug="page", display_name="Page")
    line_type = ElementTypeFactory(corpus=corpus, slug="line", display_name="Line")
    pages = [ElementFactory(corpus=corpus, type=page_type, name=f"Page {i}") for i in range(2)]

    version = WorkerVersionFactory(model_usage="supported")
    model = Model.objects.create(name="Model")
    alpha = ModelVersion.objects.create(model=model, tag="alpha", state="available")
    beta = ModelVersion.objects.create(model=model, tag="beta", state="available")
    fast = WorkerConfigurationFactory(worker=version.worker, name="Fast", configuration={"speed": "fast"})
    process = ProcessFactory(corpus=corpus, creator=user, mode=ProcessMode.Workers, name="Process")
    runs = {
        "alpha": WorkerRunFactory(process=process, version=version, model_version=alpha),
        "beta": WorkerRunFactory(process=process, version=version, model_version=beta),
        "fast": WorkerRunFactory(process=process, version=version, configuration=fast),
    }
    local = ProcessFactory(creator=user, mode=ProcessMode.Local)
    runs["user"] = WorkerRunFactory(process=local, version=version)

    entity_type = EntityType.objects.create(corpus=corpus, name="person")
    cat = MLClass.objects.create(corpus=corpus, name="cat")
    for label, run in [("person", None), *runs.items()]:
        sign_everything(pages[0], run, entity_type, cat, label)
        sign_everything(pages[1], run, entity_type, cat, label)

    # A line by Alpha on the first page, holding a word only it leads to and a word also under the
    # second page; and a line by the user run.
    line = ElementFactory(corpus=corpus, type=line_type, name="Line", parent=pages[0])
    line.worker_run = runs["alpha"]
    line.save()
    Transcription.objects.create(element=line, text="by beta on alpha's line", worker_run=runs["beta"])
    only = ElementFactory(corpus=corpus, type=line_type, name="Only here", parent=line)
    shared = ElementFactory(corpus=corpus, type=line_type, name="Shared", parent=line)
    documents_services.element_add_parent(child=shared, parent=pages[1])
    user_line = ElementFactory(
        corpus=corpus, type=line_type, name="User line", parent=pages[1], worker_run=runs["user"]
    )

    # The user run also signed on another corpus, which no deletion here touches.
    elsewhere = CorpusFactory(name="Elsewhere")
    other_page = ElementFactory(
        corpus=elsewhere,
        type=ElementTypeFactory(corpus=elsewhere, slug="page", display_name="Page"),
        name="Other page",
    )
    sign_everything(
        other_page,
        runs["user"],
        EntityType.objects.create(corpus=elsewhere, name="person"),
        MLClass.objects.create(corpus=elsewhere, name="cat"),
        "user",
    )
    return {
        "corpus": corpus,
        "pages": pages,
        "runs": runs,
        "version": version,
        "alpha": alpha,
        "beta": beta,
        "fast": fast,
        "line": line,
        "only": only,
        "shared": shared,
        "user_line": user_line,
        "other_page": other_page,
        "process": process,
    }


def signer(run):
    """The label of a run in these tests: its model version, its configuration, `user`; `person` for no run."""
    if run is None:
        return "person"
    if run.model_version:
        return run.model_version.tag
    return run.configuration.name if run.configuration else "user"


def signers(model, **filters):
    """Who signed the rows of a result table."""
    rows = model.objects.filter(**filters).select_related("worker_run__model_version", "worker_run__configuration")
    return sorted({signer(row.worker_run) for row in rows})


def left(world, corpus=None):
    """For each result table, the signers of what is left on the corpus."""
    corpus = corpus or world["corpus"]
    return {
        "transcriptions": signers(Transcription, element__corpus=corpus),
        "classifications": signers(Classification, element__corpus=corpus),
        "metadata": signers(MetaData, element__corpus=corpus),
        "embeddings": signers(Embedding, element__corpus=corpus),
        "entities": signers(Entity, corpus=corpus),
        "marks": signers(TranscriptionEntity, transcription__element__corpus=corpus),
    }


def everywhere(*labels):
    return {
        key: sorted(labels)
        for key in ("transcriptions", "classifications", "metadata", "embeddings", "entities", "marks")
    }


ALL = ("person", "alpha", "beta", "Fast", "user")


def delete(world, **filters):
    element_id = filters.pop("element_id", None)
    return results.worker_results_delete(
        corpus_id=world["corpus"].id,
        filters=results.ResultFilters(**filters),
        scope=[element_id] if element_id else None,
    )


def test_by_model_version(world):
    counts = delete(world, model_version_id=world["alpha"].id)
    assert left(world) == everywhere("person", "beta", "Fast", "user")
    # Alpha's line goes with the word only it leads to, and the transcription Beta wrote on it.
    assert not Element.objects.filter(id__in=[world["line"].id, world["only"].id]).exists()
    assert Element.objects.filter(id=world["shared"].id).exists()
    assert list(ElementPath.objects.filter(element=world["shared"]).values_list("parent", flat=True)) == [
        world["pages"][1].id
    ]
    assert counts["elements"] == 2
    assert counts["transcriptions"] == 2 and counts["classifications"] == 2 and counts["entities"] == 2
    assert Transcription.objects.filter(text="by beta on alpha's line").count() == 0
    assert left(world, world["other_page"].corpus) == everywhere("user")


def test_without_model_version(world):
    delete(world, model_version_id=False)
    assert left(world) == everywhere("person", "alpha", "beta")
    assert not Element.objects.filter(id=world["user_line"].id).exists()
    assert Element.objects.filter(id=world["line"].id).exists()
    assert left(world, world["other_page"].corpus) == everywhere("user")


def test_by_configuration(world):
    delete(world, configuration_id=world["fast"].id)
    assert left(world) == everywhere("person", "alpha", "beta", "user")


def test_without_configuration(world):
    delete(world, configuration_id=False)
    assert left(world) == everywhere("person", "Fast")


def test_by_worker_version_and_model(world):
    delete(world, worker_version_id=world["version"].id, model_version_id=world["beta"].id)
    assert left(world) == everywhere("person", "alpha", "Fast", "user")


def test_by_user_worker_run_only_on_this_corpus(world):
    delete(world, worker_run_id=world["runs"]["user"].id)
    assert left(world) == everywhere("person", "alpha", "beta", "Fast")
    assert not Element.objects.filter(id=world["user_line"].id).exists()
    assert left(world, world["other_page"].corpus) == everywhere("user")


def test_every_worker_result(world):
    delete(world)
    assert left(world) == everywhere("person")
    assert set(Element.objects.filter(corpus=world["corpus"]).values_list("name", flat=True)) == {
        "Page 0",
        "Page 1",
        "Shared",
    }
    assert left(world, world["other_page"].corpus) == everywhere("user")


def test_under_an_element(world):
    first, second = world["pages"]
    alpha = world["runs"]["alpha"]
    # Alpha's entity of the first page is also marked on the second page: it stays.
    kept = Entity.objects.get(worker_run=alpha, transcription_entities__transcription__element=first)
    TranscriptionEntity.objects.create(
        transcription=Transcription.objects.get(element=second, worker_run=None), entity=kept, offset=2, length=1
    )
    delete(world, worker_version_id=world["version"].id, element_id=first.id)
    assert signers(Transcription, element=first) == ["person"]
    assert signers(Classification, element=first) == ["person"]
    assert signers(MetaData, element=first) == signers(Embedding, element=first) == ["person"]
    assert signers(Transcription, element=second) == sorted(ALL)
    assert not Element.objects.filter(id__in=[world["line"].id, world["only"].id]).exists()
    assert Element.objects.filter(id=world["user_line"].id).exists()
    # The entities marked only on the first page went; those marked elsewhere stay.
    assert Entity.objects.filter(worker_run=None, corpus=world["corpus"]).count() == 2
    assert Entity.objects.filter(worker_run=alpha).count() == 2
    assert Entity.objects.filter(worker_run=world["runs"]["beta"]).count() == 1
    assert Entity.objects.filter(id=kept.id).exists()


def test_idempotent(world):
    delete(world, model_version_id=world["alpha"].id)
    assert set(delete(world, model_version_id=world["alpha"].id).values()) == {0}


# API


@pytest.fixture
def work_jobs():
    def work():
        django_rq.get_worker("default").work(burst=True)

    return work


def test_api_schedules_the_deletion(world, user_client, work_jobs, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = user_client.delete(URL.format(world["corpus"].id) + f"?model_version_id={world['beta'].id}")
    assert response.status_code == 204, response.content
    assert left(world)["transcriptions"] == sorted(ALL)
    # Its user follows the deletion in ListJobs.
    (job,) = user_client.get("/api/v1/jobs/").json()["results"]
    assert job["state"] == "pending"
    assert job["description"] == (
        f"Delete the worker results of model version {world['beta'].id} in corpus {world['corpus'].name}"
    )
    work_jobs()
    assert left(world) == everywhere("person", "alpha", "Fast", "user")
    assert user_client.get(f"/api/v1/jobs/{job['id']}/").json()["state"] == "done"


def test_api_model_version_false(world, user_client, work_jobs, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = user_client.delete(
            URL.format(world["corpus"].id) + f"?model_version_id=False&worker_version_id={world['version'].id}"
        )
    assert response.status_code == 204, response.content
    work_jobs()
    assert left(world) == everywhere("person", "alpha", "beta")


def test_api_selection(world, user, user_client, work_jobs, django_capture_on_commit_callbacks):
    Selection.objects.create(user=user, element=world["pages"][1])
    with django_capture_on_commit_callbacks(execute=True):
        response = user_client.delete(URL.format(world["corpus"].id) + "?use_selection=true")
    assert response.status_code == 204, response.content
    work_jobs()
    assert signers(Transcription, element=world["pages"][1]) == ["person"]
    assert signers(Transcription, element=world["pages"][0]) == sorted(ALL)
    assert not Element.objects.filter(id=world["user_line"].id).exists()


@pytest.mark.parametrize(
    "query, field",
    [
        ("worker_run_id=nope", "worker_run_id"),
        ("model_version_id=nope", "model_version_id"),
        ("configuration_id=12", "configuration_id"),
        ("use_selection=maybe", "use_selection"),
        ("worker_version_id=00000000-0000-0000-0000-000000000000", "worker_version_id"),
        ("model_version_id=00000000-0000-0000-0000-000000000000", "model_version_id"),
        ("element_id=00000000-0000-0000-0000-000000000000", "element_id"),
        ("use_selection=true", "use_selection"),
    ],
)
def test_api_bad_input(world, user_client, query, field):
    response = user_client.delete(URL.format(world["corpus"].id) + "?" + query)
    assert response.status_code == 400, response.content
    assert field in response.json(), response.json()


def test_api_worker_run_alone(world, user_client):
    run = world["runs"]["alpha"]
    response = user_client.delete(
        URL.format(world["corpus"].id) + f"?worker_run_id={run.id}&worker_version_id={world['version'].id}"
    )
    assert response.status_code == 400
    assert "send it alone" in response.json()["worker_run_id"][0]


def test_api_worker_run_of_another_corpus(world, user, user_client):
    elsewhere = ProcessFactory(corpus=world["other_page"].corpus, creator=user, mode=ProcessMode.Workers)
    run = WorkerRunFactory(process=elsewhere, version=world["version"])
    response = user_client.delete(URL.format(world["corpus"].id) + f"?worker_run_id={run.id}")
    assert response.status_code == 400
    assert response.json() == {
        "worker_run_id": ["No worker run of this project matches this worker run: it has no results here."]
    }


@pytest.mark.parametrize("field", ["worker_version_id", "model_version_id", "configuration_id"])
def test_api_filters_of_another_corpus(world, user, user_client, field):
    """A version, model version or configuration run on other projects only: a 400, not a silent 204."""
    from workers.models import Model, ModelVersion, WorkerConfiguration

    elsewhere = ProcessFactory(corpus=world["other_page"].corpus, creator=user, mode=ProcessMode.Workers)
    version = WorkerVersionFactory()
    model_version = ModelVersion.objects.create(model=Model.objects.create(name="Elsewhere"), tag="v1")
    configuration = WorkerConfiguration.objects.create(worker=version.worker, name="E", configuration={"e": 1})
    WorkerRunFactory(process=elsewhere, version=version, model_version=model_version, configuration=configuration)
    value = {"worker_version_id": version, "model_version_id": model_version, "configuration_id": configuration}[field]
    response = user_client.delete(URL.format(world["corpus"].id) + f"?{field}={value.id}")
    assert response.status_code == 400
    assert list(response.json()) == [field]
    assert "has no results here" in response.json()[field][0]


def test_api_element_of_another_corpus(world, user_client):
    response = user_client.delete(URL.format(world["corpus"].id) + f"?element_id={world['other_page'].id}")
    assert response.status_code == 400
    assert "not in this project" in response.json()["element_id"][0]


def test_api_hidden_corpus(world, other_client):
    response = other_client.delete(URL.format(world["corpus"].id))
    assert response.status_code == 404


def test_api_needs_admin(world, other_user, other_client):
    grant(world["corpus"], Role.CONTRIBUTOR, user=other_user)
    response = other_client.delete(URL.format(world["corpus"].id))
    assert response.status_code == 403
    assert "admin" in response.json()["detail"]


def test_api_anonymous(world, anonymous_client):
    assert anonymous_client.delete(URL.format(world["corpus"].id)).status_code in (401, 403)


def test_api_process_running(world, user_client):
    process = world["process"]
    process.started = timezone.now()
    process.save()
    TaskFactory(process=process, slug="alpha", state=TaskState.Running)
    response = user_client.delete(URL.format(world["corpus"].id) + f"?model_version_id={world['beta'].id}")
    assert response.status_code == 409
    assert str(process.id) in response.json()["errors"][0]["detail"]
    # Runs of other processes, or a finished process, do not block.
    Task.objects.filter(process=process).update(state=TaskState.Completed)
    response = user_client.delete(URL.format(world["corpus"].id) + f"?model_version_id={world['beta'].id}")
    assert response.status_code == 204


@pytest.mark.parametrize(
    "filters", [{"model_version_id": "alpha"}, {"model_version_id": False}, {"element_id": "line"}, {}]
)
def test_dry_run_counts_what_the_deletion_deletes(world, filters):
    filters = {name: world[value].id if isinstance(value, str) else value for name, value in filters.items()}
    before = left(world)
    element_id = filters.pop("element_id", None)
    scope = [element_id] if element_id else None
    dry = results.worker_results_dry_run(
        corpus_id=world["corpus"].id, filters=results.ResultFilters(**filters), scope=scope
    )
    assert left(world) == before
    assert Element.objects.filter(id=world["line"].id).exists()
    assert dry == delete(world, **filters, **({"element_id": element_id} if element_id else {}))


def test_api_dry_run(world, user_client, django_capture_on_commit_callbacks):
    before = left(world)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = user_client.delete(
            URL.format(world["corpus"].id) + f"?model_version_id={world['alpha'].id}&dry_run=true"
        )
    assert response.status_code == 200, response.content
    assert response.json() == {
        "elements": 2,
        "transcriptions": 2,
        "classifications": 2,
        "metadata": 2,
        "entities": 2,
        "transcription_entities": response.json()["transcription_entities"],
        "embeddings": 2,
    }
    assert response.json()["transcription_entities"] > 0
    assert callbacks == [] and left(world) == before
    assert user_client.get("/api/v1/jobs/").json()["results"] == []


def test_api_dry_run_bad_value(world, user_client):
    response = user_client.delete(URL.format(world["corpus"].id) + "?dry_run=maybe")
    assert response.status_code == 400 and "dry_run" in response.json()
