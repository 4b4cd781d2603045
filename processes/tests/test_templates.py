"""
Templates: saving a process's configuration table, applying it onto another process, listing them.
"""

import pytest
from django.utils import timezone

from documents.tests.factories import CorpusFactory
from processes.models import Process, ProcessMode
from processes.tests.factories import ProcessFactory, WorkerRunFactory
from tests.tokens import token_client
from users.models import Role
from users.tests.factories import grant
from workers.models import FeatureUsage, Model, ModelVersion, WorkerVersionState
from workers.tests.factories import (
    WorkerConfigurationFactory,
    WorkerFactory,
    WorkerVersionFactory,
    assert_list_queries,
)

MISSING = "00000000-0000-0000-0000-000000000000"
TEMPLATES_URL = "/api/v1/process/templates/"


def make_process(corpus, user, mode=ProcessMode.Workers, **kwargs):
    return ProcessFactory(corpus=corpus, creator=user, mode=mode, **kwargs)


@pytest.fixture
def process(corpus, user):
    return make_process(corpus, user, name="Source")


@pytest.fixture
def target(corpus, user):
    return make_process(corpus, user, name="Target")


@pytest.fixture
def table(process, user):
    """Three worker runs: a model-using one, one with a configuration after it, one after both."""
    worker = WorkerFactory(name="Generic")
    grant(worker, Role.GUEST, user=user)
    model = Model.objects.create(name="Layout")
    grant(model, Role.GUEST, user=user)
    version = WorkerVersionFactory(
        worker=worker, tag="v1", model_usage=FeatureUsage.Supported, gpu_usage=FeatureUsage.Required
    )
    model_version = ModelVersion.objects.create(model=model, tag="m1", state="available")
    configuration = WorkerConfigurationFactory(worker=worker, name="Fast")
    first = WorkerRunFactory(process=process, version=version, model_version=model_version, use_gpu=True)
    second = WorkerRunFactory(
        process=process, version=version, configuration=configuration, parents=[first.id], use_gpu=True
    )
    third = WorkerRunFactory(process=process, version=version, parents=[first.id, second.id], use_gpu=True)
    return [first, second, third]


def configuration_table(process):
    """A process's worker runs by what they run, with their parents named the same way: comparable across processes."""
    runs = list(process.worker_runs.all())
    keys = {run.id: (run.version_id, run.model_version_id, run.configuration_id) for run in runs}
    return {keys[run.id]: (run.use_gpu, run.summary, frozenset(keys[parent] for parent in run.parents)) for run in runs}


def create_template(client, process, name="My template"):
    return client.post(f"/api/v1/process/{process.id}/template/", {"name": name}, format="json")


def apply_template(client, template, process_id):
    return client.post(f"{TEMPLATES_URL}{template.id}/apply/", {"process_id": str(process_id)}, format="json")


def guest_client(corpus, make_user):
    guest = make_user()
    grant(corpus, Role.GUEST, user=guest)
    return token_client(guest)


# CreateProcessTemplate


def test_create_template(user_client, user, process, table):
    response = create_template(user_client, process)
    assert response.status_code == 201, response.json()
    data = response.json()
    template = Process.objects.get(id=data["id"])
    assert template.mode == ProcessMode.Template
    assert template.corpus == process.corpus
    assert template.creator == user
    assert data["name"] == "My template"
    assert data["mode"] == "template"
    assert data["corpus"] == str(process.corpus_id)
    assert template.worker_runs.count() == 3
    assert not set(template.worker_runs.values_list("id", flat=True)) & {run.id for run in table}
    assert configuration_table(template) == configuration_table(process)
    # Parents point to the copies, never to the source's runs.
    copy_ids = set(template.worker_runs.values_list("id", flat=True))
    for parents in template.worker_runs.values_list("parents", flat=True):
        assert set(parents) <= copy_ids
    assert process.worker_runs.count() == 3


def test_create_template_queries(user_client, process, table, django_assert_num_queries):
    # token, process with level, insert of the template, source runs, one bulk insert of the copies
    # (and the savepoint of the transaction); a first request records the token's use.
    user_client.get(TEMPLATES_URL)
    with django_assert_num_queries(7):
        assert create_template(user_client, process).status_code == 201


def test_create_template_from_dataset_process(user_client, process, table):
    process.mode = ProcessMode.Dataset
    process.save()
    assert create_template(user_client, process).status_code == 201


@pytest.mark.parametrize("mode", [ProcessMode.Template, ProcessMode.Files, ProcessMode.Export])
def test_create_template_other_modes(user_client, process, mode):
    process.mode = mode
    process.save()
    response = create_template(user_client, process)
    assert response.status_code == 400
    assert "workers or dataset" in response.json()["process"][0]
    assert not Process.objects.exclude(id=process.id).exists()


def test_create_template_from_local_process(user_client, user):
    local = ProcessFactory(creator=user, mode=ProcessMode.Local)
    assert create_template(user_client, local).status_code == 400


def test_create_template_access(other_client, make_user, user_client, corpus, process):
    assert create_template(other_client, process).status_code == 404
    assert create_template(guest_client(corpus, make_user), process).status_code == 403
    assert create_template(user_client, Process(id=MISSING)).status_code == 404
    assert create_template(user_client, process, name="  ").status_code == 400
    assert user_client.post(f"/api/v1/process/{process.id}/template/", {}, format="json").status_code == 400
    assert not Process.objects.filter(mode=ProcessMode.Template).exists()


def test_template_from_started_process(user_client, process, table):
    process.started = timezone.now()
    process.save()
    assert create_template(user_client, process).status_code == 201


# ApplyProcessTemplate


def test_round_trip(user_client, process, target, table):
    template = Process.objects.get(id=create_template(user_client, process).json()["id"])
    WorkerRunFactory(process=target, version=WorkerVersionFactory())

    response = apply_template(user_client, template, target.id)
    assert response.status_code == 200, response.json()
    data = response.json()
    assert data["id"] == str(target.id)
    assert data["template_id"] == str(template.id)
    target.refresh_from_db()
    assert target.template == template
    assert configuration_table(target) == configuration_table(process) == configuration_table(template)
    assert target.worker_runs.count() == 3
    assert template.worker_runs.count() == 3

    # The template's table reads like a process's.
    response = user_client.get(f"/api/v1/process/{template.id}/workers/")
    assert response.status_code == 200
    assert [run["summary"] for run in response.json()["results"]] == [run.summary for run in table]


def test_apply_twice_replaces(user_client, process, target, table):
    template = Process.objects.get(id=create_template(user_client, process).json()["id"])
    assert apply_template(user_client, template, target.id).status_code == 200
    assert apply_template(user_client, template, target.id).status_code == 200
    assert configuration_table(target) == configuration_table(template)


def test_apply_to_dataset_process(user_client, process, target, table):
    template = Process.objects.get(id=create_template(user_client, process).json()["id"])
    target.mode = ProcessMode.Dataset
    target.save()
    assert apply_template(user_client, template, target.id).status_code == 200


def test_apply_not_a_template(user_client, process, target, table):
    response = apply_template(user_client, process, target.id)
    assert response.status_code == 400
    assert "not a template" in response.json()["template"][0]
    assert not target.worker_runs.exists()


@pytest.mark.parametrize("mode", [ProcessMode.Template, ProcessMode.Files, ProcessMode.Export])
def test_apply_to_other_modes(user_client, process, target, table, mode):
    template = Process.objects.get(id=create_template(user_client, process).json()["id"])
    target.mode = mode
    target.save()
    response = apply_template(user_client, template, target.id)
    assert response.status_code == 400
    assert "workers or dataset" in response.json()["process_id"][0]
    assert not target.worker_runs.exists()


def test_apply_to_started_process(user_client, process, target, table):
    template = Process.objects.get(id=create_template(user_client, process).json()["id"])
    existing = WorkerRunFactory(process=target, version=WorkerVersionFactory())
    target.started = timezone.now()
    target.save()
    response = apply_template(user_client, template, target.id)
    assert response.status_code == 409
    assert list(target.worker_runs.all()) == [existing]
    target.refresh_from_db()
    assert target.template is None


def test_apply_access(user_client, user, other_user, other_client, make_user, corpus, process, table):
    template = Process.objects.get(id=create_template(user_client, process).json()["id"])

    # The other user sees neither the template nor the target.
    assert apply_template(other_client, template, make_process(corpus, user).id).status_code == 404
    assert apply_template(user_client, Process(id=MISSING), make_process(corpus, user).id).status_code == 404

    # A target they cannot see, or do not exist: a 400 on the field.
    hidden_corpus = CorpusFactory(name="Hidden")
    hidden = make_process(hidden_corpus, other_user)
    response = apply_template(user_client, template, hidden.id)
    assert response.status_code == 400
    assert "process_id" in response.json()
    assert apply_template(user_client, template, MISSING).status_code == 400

    # Guest on the target: forbidden.
    grant(hidden_corpus, Role.GUEST, user=user)
    assert apply_template(user_client, template, hidden.id).status_code == 403
    assert not hidden.worker_runs.exists()

    # Guest on the template is enough.
    grant(hidden_corpus, Role.CONTRIBUTOR, user=other_user)
    grant(corpus, Role.GUEST, user=other_user)
    grant(table[0].version.worker, Role.GUEST, user=other_user)
    grant(table[0].model_version.model, Role.GUEST, user=other_user)
    assert apply_template(other_client, template, hidden.id).status_code == 200
    assert configuration_table(hidden) == configuration_table(template)


def test_apply_unusable_template(user_client, process, target, table):
    template = Process.objects.get(id=create_template(user_client, process).json()["id"])
    first, second, _ = table
    first.model_version.state = "error"
    first.model_version.save()
    second.configuration.archived = True
    second.configuration.save()
    version = first.version
    version.state = WorkerVersionState.Error
    version.save()
    existing = WorkerRunFactory(process=target, version=WorkerVersionFactory())

    response = apply_template(user_client, template, target.id)
    assert response.status_code == 400
    errors = response.json()["template"]
    assert sum("worker version is error" in error for error in errors) == 3
    assert sum("model version is error" in error for error in errors) == 1
    assert sum("configuration 'Fast' is archived" in error for error in errors) == 1
    assert list(target.worker_runs.all()) == [existing]


def test_apply_without_access_to_the_worker(user_client, other_user, other_client, corpus, process, table):
    template = Process.objects.get(id=create_template(user_client, process).json()["id"])
    grant(corpus, Role.CONTRIBUTOR, user=other_user)
    target = make_process(corpus, other_user)
    response = apply_template(other_client, template, target.id)
    assert response.status_code == 400
    errors = response.json()["template"]
    assert sum("cannot use the worker Generic" in error for error in errors) == 3
    assert sum("cannot use the model Layout" in error for error in errors) == 1


# ListProcessTemplates


def test_list_templates(user_client, user, other_user, corpus, process):
    mine = make_process(corpus, user, mode=ProcessMode.Template, name="Layout and text")
    other = make_process(corpus, other_user, mode=ProcessMode.Template, name="Other")
    hidden = make_process(CorpusFactory(name="Hidden"), other_user, mode=ProcessMode.Template)
    second_corpus = CorpusFactory(name="Second", public=True)
    public = make_process(second_corpus, other_user, mode=ProcessMode.Template, name="Public layout")

    response = user_client.get(TEMPLATES_URL)
    assert response.status_code == 200
    data = response.json()
    assert data["count"] == 3
    ids = [item["id"] for item in data["results"]]
    assert set(ids) == {str(mine.id), str(other.id), str(public.id)}
    assert str(hidden.id) not in ids
    assert str(process.id) not in ids
    item = next(item for item in data["results"] if item["id"] == str(mine.id))
    assert item["mode"] == "template"
    assert item["state"] == "unscheduled"
    assert item["creator"] == user.email

    by_corpus = user_client.get(TEMPLATES_URL, {"corpus": str(corpus.id)}).json()
    assert {item["id"] for item in by_corpus["results"]} == {str(mine.id), str(other.id)}
    by_name = user_client.get(TEMPLATES_URL, {"name": "LAYOUT"}).json()
    assert {item["id"] for item in by_name["results"]} == {str(mine.id), str(public.id)}
    assert user_client.get(TEMPLATES_URL, {"corpus": "nope"}).status_code == 400


def test_list_templates_anonymous(anonymous_client, db):
    assert anonymous_client.get(TEMPLATES_URL).status_code in (401, 403)


def test_list_templates_queries(user_client, user, corpus, django_assert_num_queries):
    for n in range(6):
        make_process(corpus, user, mode=ProcessMode.Template, name=f"Template {n}")
    # token, count, page
    assert_list_queries(user_client, TEMPLATES_URL, 3, django_assert_num_queries)
