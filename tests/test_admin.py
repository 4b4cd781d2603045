"""
The Django admin on growing tables (seed 002: a corpus with 100,000 exports or memberships must
still open and save quickly).

Every registered model's changelist, searches (by text and by UUID) and change page answer 200 to
an instance administrator, with as many queries when the tables hold twice as many rows: nothing
runs a query per row (list columns, inlines, filters). The corpus page neither lists its rights
nor offers them in a select box, and saves `indexable` with as many queries whatever its number of
rights and exports; element types are flagged `indexable` from the admin too.
"""

import itertools
import re

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from arkindex.admin_tools import EstimatedCountPaginator
from arkindex.models import Job
from datasets.models import CorpusExport, Dataset, DatasetElement, DatasetSet, ProcessSet
from documents.models import (
    Classification,
    Corpus,
    DataFile,
    ElementPath,
    Embedding,
    Entity,
    EntityType,
    Image,
    ImageServer,
    MetaData,
    MLClass,
    SearchEntry,
    Selection,
    Transcription,
    TranscriptionEntity,
)
from documents.tests.factories import CorpusFactory, ElementFactory, ElementTypeFactory
from ponos.models import GPU, Agent, Artifact, Farm, Secret
from ponos.secret_store import encrypt
from ponos.tests.factories import TaskFactory
from processes.models import ProcessMode, WorkerActivity
from processes.tests.factories import ProcessFactory, WorkerRunFactory
from tests.admin_forms import FormValues
from users.models import Group, Membership, Right, Role, Token, User
from users.tests.factories import grant
from workers.models import Model, ModelVersion, Repository, Worker, WorkerConfiguration, WorkerType, WorkerVersion

pytestmark = pytest.mark.django_db

# The apps whose every model has an admin page; datasets are checked by their own tests, and their
# admin pages visited here with the others'.
PRODUCT_APPS = ("arkindex", "users", "documents", "workers", "processes", "ponos")
VISITED_APPS = (*PRODUCT_APPS, "datasets")

counter = itertools.count()


def populate():
    """One of each object of the product, linked as in real use, with names unique to this call."""
    n = next(counter)
    user = User.objects.create_user(email=f"person{n}@example.com", password="secret")
    Token.objects.create(user=user, name=f"token {n}")
    group = Group.objects.create(name=f"Group {n}")
    Membership.objects.create(user=user, group=group, level=Role.CONTRIBUTOR)

    corpus = CorpusFactory(name=f"Corpus {n}", creator=user, indexable=True)
    grant(corpus, Role.ADMIN, user=user)
    Right.objects.create(content_object=corpus, group=group, level=Role.GUEST)
    folder_type = ElementTypeFactory(corpus=corpus, slug="folder", display_name="Folder", folder=True)
    page_type = ElementTypeFactory(corpus=corpus, slug="page", display_name="Page", indexable=True)
    server = ImageServer.objects.create(url=f"https://iiif{n}.example.com/iiif/2", display_name=f"Server {n}")
    image = Image.objects.create(server=server, path=f"page{n}.jpg", width=100, height=200, status="checked")
    folder = ElementFactory(corpus=corpus, type=folder_type, name=f"Folder {n}")
    page = ElementFactory(
        corpus=corpus,
        type=page_type,
        name=f"Page {n}",
        parent=folder,
        image=image,
        polygon=[[0, 0], [0, 200], [100, 200], [100, 0], [0, 0]],
    )
    Selection.objects.create(user=user, element=page)

    worker_type = WorkerType.objects.create(slug=f"type-{n}", display_name=f"Type {n}")
    repository = Repository.objects.create(url=f"https://git.example.com/workers-{n}", creator=user)
    worker = Worker.objects.create(
        name=f"Worker {n}", slug=f"worker-{n}", type=worker_type, creator=user, repository_url=repository.url
    )
    version = WorkerVersion.objects.create(worker=worker, version=1, state="available", docker_image_iid="image")
    configuration = WorkerConfiguration.objects.create(worker=worker, name=f"Configuration {n}", configuration={})
    model = Model.objects.create(name=f"Model {n}", creator=user)
    model_version = ModelVersion.objects.create(model=model, tag="v1", state="available", creator=user)

    farm = Farm.objects.create(name=f"Farm {n}")
    process = ProcessFactory(
        mode=ProcessMode.Workers, corpus=corpus, creator=user, farm=farm, name=f"Process {n}", started=timezone.now()
    )
    process.elements.set([page])
    data_file = DataFile.objects.create(corpus=corpus, name=f"File {n}", content_type="text/plain", size=10)
    process.files.set([data_file])
    run = WorkerRunFactory(process=process, version=version, model_version=model_version, configuration=configuration)
    WorkerActivity.objects.create(process=process, worker_run=run, element=page, state="processed")
    agent = Agent.objects.create(farm=farm, hostname=f"host-{n}", pid=n, last_ping=timezone.now())
    gpu = GPU.objects.create(id=f"GPU-{n}", agent=agent, index=0, name="Tesla")
    initialisation = TaskFactory(process=process, slug="initialisation", state="completed")
    task = TaskFactory(process=process, slug="worker", worker_run=run, state="running", agent=agent, gpu=gpu, depth=1)
    task.parents.set([initialisation])
    Artifact.objects.create(task=task, path="results.json", size=10, content_type="application/json")
    nonce, content = encrypt(f"secret-{n}", "value")
    Secret.objects.create(name=f"secret-{n}", nonce=nonce, content=content)

    transcription = Transcription.objects.create(element=page, text=f"Text {n}", worker_run=run)
    ml_class = MLClass.objects.create(corpus=corpus, name=f"class {n}")
    Classification.objects.create(element=page, ml_class=ml_class, confidence=0.5, worker_run=run)
    entity_type = EntityType.objects.create(corpus=corpus, name=f"person {n}")
    entity = Entity.objects.create(corpus=corpus, type=entity_type, name=f"Entity {n}", worker_run=run)
    MetaData.objects.create(element=page, type="text", name="folio", value="1r", entity=entity, worker_run=run)
    TranscriptionEntity.objects.create(transcription=transcription, entity=entity, offset=0, length=4, worker_run=run)
    Embedding.objects.create(element=page, value=[0.1, 0.2], worker_run=run)

    dataset = Dataset.objects.create(corpus=corpus, name=f"Dataset {n}", creator=user)
    dataset_set = DatasetSet.objects.create(dataset=dataset, name="train")
    DatasetElement.objects.create(
        dataset=dataset, set=dataset_set, element=page, unique_elements=dataset.unique_elements
    )
    dataset_process = ProcessFactory(mode=ProcessMode.Dataset, corpus=corpus, creator=user)
    ProcessSet.objects.create(process=dataset_process, set=dataset_set)
    CorpusExport.objects.create(corpus=corpus, user=user, state="done")
    Job.objects.create(
        function="documents.jobs.corpus_delete", arguments=[str(corpus.id)], description=f"Job {n}", user=user
    )


@pytest.fixture
def admin_site(superuser):
    client = Client()
    client.force_login(superuser)
    # Per-process caches (content types) are warm before anything is counted.
    ContentType.objects.get_for_model(Corpus)
    return client


def product_registered_models():
    return [model for model in admin.site._registry if model._meta.app_label in VISITED_APPS]


def registered_pages():
    """For every registered model of the product: its changelist, searches, and the change page of its first object."""
    for model in product_registered_models():
        name = f"admin:{model._meta.app_label}_{model._meta.model_name}"
        changelist = reverse(f"{name}_changelist")
        first = model.objects.order_by("pk").first()
        pages = [changelist, f"{changelist}?q=1", f"{changelist}?q=11111111-1111-1111-1111-111111111111"]
        if first is not None:
            pages.append(f"{changelist}?q={first.pk}")
            pages.append(reverse(f"{name}_change", args=[first.pk]))
        yield model, pages


def query_counts(client, pages, *, warm_up=False):
    counts = {}
    for page in pages:
        if warm_up:
            client.get(page)  # what is cached on first use (content types, forms) is then cached
        with CaptureQueriesContext(connection) as queries:
            response = client.get(page)
        assert response.status_code == 200, (page, response.status_code)
        counts[page] = len(queries)
    return counts


@pytest.mark.parametrize("model", [Artifact, GPU, CorpusExport, DatasetElement, ElementPath, SearchEntry])
def test_records_of_the_server_are_neither_added_nor_changed(admin_site, model):
    """Rows only the server writes: no add page, and their change page only shows them."""
    model_admin = admin.site._registry[model]
    name = f"admin:{model._meta.app_label}_{model._meta.model_name}"
    assert admin_site.get(reverse(f"{name}_add")).status_code == 403
    assert not model_admin.has_change_permission(request=None)


def test_every_product_model_has_an_admin_page():
    for app in PRODUCT_APPS:
        for model in apps.get_app_config(app).get_models():
            assert admin.site.is_registered(model), f"{model._meta.label} has no admin page"


def test_admin_pages_do_not_grow_with_rows(admin_site):
    for _ in range(2):
        populate()
    # Every registered model has objects, so that every change page is visited.
    missing = [model._meta.label for model in product_registered_models() if not model.objects.exists()]
    assert missing == [], f"no object of {missing}"
    pages = [page for _, model_pages in registered_pages() for page in model_pages]
    before = query_counts(admin_site, pages, warm_up=True)
    for _ in range(2):
        populate()
    after = query_counts(admin_site, pages)
    grown = {page: (before[page], after[page]) for page in pages if after[page] != before[page]}
    assert grown == {}, "pages whose query count grew with the number of rows"


def test_uuid_search_finds_related_rows(admin_site):
    populate()
    populate()
    transcription = Transcription.objects.first()
    changelist = reverse("admin:documents_transcription_changelist")
    for value in (transcription.id, transcription.element_id, transcription.worker_run_id):
        response = admin_site.get(changelist, {"q": str(value)})
        assert response.context["cl"].result_count == Transcription.objects.filter(pk=transcription.pk).count()
        assert str(transcription.id) in response.content.decode()
    # Text is not searched in a table of transcriptions: a word finds nothing rather than reading the table.
    assert admin_site.get(changelist, {"q": transcription.text}).context["cl"].result_count == 0
    # An element is found by a part of its name, or by its corpus's UUID.
    element_changelist = reverse("admin:documents_element_changelist")
    page = transcription.element
    assert list(admin_site.get(element_changelist, {"q": page.name}).context["cl"].result_list) == [page]
    by_corpus = admin_site.get(element_changelist, {"q": str(page.corpus_id)}).context["cl"].result_list
    assert {element.corpus_id for element in by_corpus} == {page.corpus_id} and len(by_corpus) == 2


def test_unfiltered_large_list_shows_an_estimate(admin_site, monkeypatch):
    """Past `estimate_above` rows, an unfiltered list is not counted; a filtered one is, exactly."""
    for _ in range(3):
        populate()
    monkeypatch.setattr(EstimatedCountPaginator, "estimate_above", 2)
    with connection.cursor() as cursor:
        # The statistics include the rows of this test's own transaction.
        cursor.execute("ANALYZE documents_element")
    changelist = reverse("admin:documents_element_changelist")
    with CaptureQueriesContext(connection) as queries:
        response = admin_site.get(changelist)
    assert response.context["cl"].result_count == 6
    assert not [query["sql"] for query in queries if "COUNT(*)" in query["sql"]]
    corpus = Corpus.objects.first()
    with CaptureQueriesContext(connection) as queries:
        response = admin_site.get(changelist, {"corpus__id__exact": str(corpus.id)})
    assert response.context["cl"].result_count == 2
    assert [query["sql"] for query in queries if "COUNT(*)" in query["sql"]]


def bulk_rights(corpus, count, offset=0):
    users = User.objects.bulk_create(
        User(email=f"member{offset + index}@example.com", display_name=f"member{offset + index}")
        for index in range(count)
    )
    content_type = ContentType.objects.get_for_model(Corpus)
    Right.objects.bulk_create(
        Right(content_type=content_type, object_id=corpus.id, user=user, level=Role.GUEST) for user in users
    )
    CorpusExport.objects.bulk_create(CorpusExport(corpus=corpus, user=user, state="done") for user in users)


def test_corpus_page_with_many_rights_and_exports(admin_site, superuser):
    corpus = CorpusFactory(name="Crowded", creator=superuser)
    page_type = ElementTypeFactory(corpus=corpus, slug="page", display_name="Page")
    url = reverse("admin:documents_corpus_change", args=[corpus.id])

    def visit_and_save(indexable):
        admin_site.get(url)
        with CaptureQueriesContext(connection) as get_queries:
            response = admin_site.get(url)
        assert response.status_code == 200
        content = response.content.decode()
        values = FormValues()
        values.feed(content)
        data = dict(values.values)
        if indexable:
            data["indexable"] = "on"
            data["types-0-indexable"] = "on"
        else:
            data.pop("indexable", None)
            data.pop("types-0-indexable", None)
        # The reindexation the previous save asked for has started: this save asks for another.
        Job.objects.filter(function="documents.jobs.corpus_reindex").update(key=None)
        with CaptureQueriesContext(connection) as post_queries:
            response = admin_site.post(url, data)
        assert response.status_code == 302, response.context["adminform"].form.errors
        assert Job.objects.filter(function="documents.jobs.corpus_reindex", key__isnull=False).count() == 1
        return content, len(get_queries), len(post_queries)

    bulk_rights(corpus, 50)
    content, get_small, post_small = visit_and_save(True)
    corpus.refresh_from_db()
    page_type.refresh_from_db()
    assert corpus.indexable and page_type.indexable
    # The rights are a link to their list, with their number; no member appears, in a select or otherwise.
    assert "50 rights" in content
    assert "member1@example.com" not in content
    assert re.findall(r'<select[^>]* name="([^"]+)"', content) == ["top_level_type"]

    bulk_rights(corpus, 1000, offset=50)
    content, get_large, post_large = visit_and_save(False)
    corpus.refresh_from_db()
    page_type.refresh_from_db()
    assert not corpus.indexable and not page_type.indexable
    assert "1050 rights" in content
    assert (get_large, post_large) == (get_small, post_small)

    # The link lists exactly the corpus's rights.
    rights_url = reverse("admin:users_right_changelist")
    content_type = ContentType.objects.get_for_model(Corpus)
    response = admin_site.get(rights_url, {"content_type": content_type.pk, "object_id": str(corpus.id)})
    assert response.status_code == 200
    assert response.context["cl"].result_count == 1050


def test_corpus_deletion_page_does_not_list_rights(admin_site, superuser):
    corpus = CorpusFactory(name="Crowded", creator=superuser)
    bulk_rights(corpus, 200)
    response = admin_site.get(reverse("admin:documents_corpus_delete", args=[corpus.id]))
    assert response.status_code == 200
    assert "member1@example.com" not in response.content.decode()


def test_group_page_links_memberships_and_deletion_counts_them(admin_site):
    group = Group.objects.create(name="Crowd")
    users = User.objects.bulk_create(User(email=f"crowd{index}@example.com") for index in range(300))
    Membership.objects.bulk_create(Membership(user=user, group=group) for user in users)
    response = admin_site.get(reverse("admin:users_group_change", args=[group.id]))
    content = response.content.decode()
    assert "300 memberships" in content
    assert "crowd1@example.com" not in content
    delete_url = reverse("admin:users_group_delete", args=[group.id])
    content = admin_site.get(delete_url).content.decode()
    assert "crowd1@example.com" not in content
    assert "Memberships: 300" in content
    assert admin_site.post(delete_url, {"post": "yes"}).status_code == 302
    assert not Membership.objects.exists()
    assert User.objects.filter(email="crowd1@example.com").exists()


def test_user_deletion_counts_what_goes_with_the_user(admin_site):
    populate()
    owner = User.objects.exclude(is_superuser=True).get()
    user = User.objects.create_user(email="leaving@example.com")
    Token.objects.create(user=user)
    elements = list(owner.selections.get().element.corpus.elements.all())
    Selection.objects.bulk_create(Selection(user=user, element=element) for element in elements)
    url = reverse("admin:users_user_delete", args=[user.id])
    content = admin_site.get(url).content.decode()
    assert "Selections: 2" in content and "Tokens: 1" in content
    assert str(elements[0]) not in content
    assert admin_site.post(url, {"post": "yes"}).status_code == 302
    assert not User.objects.filter(pk=user.pk).exists()
    assert Selection.objects.count() == 1

    # A user whose processes ran workers with results cannot be deleted: the results keep their provenance.
    content = admin_site.get(reverse("admin:users_user_delete", args=[owner.id])).content.decode()
    assert "Cannot delete user" in content


def test_worker_page_links_its_versions(admin_site):
    populate()
    worker = Worker.objects.get()
    for number in (2, 3):
        WorkerVersion.objects.create(worker=worker, version=number)
    content = admin_site.get(reverse("admin:workers_worker_change", args=[worker.id])).content.decode()
    [link] = re.findall(r'<a href="([^"]+)">3 worker versions</a>', content)
    response = admin_site.get(link.replace("&amp;", "&"))
    assert response.status_code == 200
    assert {version.worker_id for version in response.context["cl"].result_list} == {worker.id}
    assert response.context["cl"].result_count == 3


def test_agents_sorted_by_hostname(admin_site):
    farm = Farm.objects.create(name="Farm")
    now = timezone.now()
    for hostname, pid in (("charlie", 1), ("alpha", 2), ("bravo", 1), ("alpha", 1)):
        Agent.objects.create(farm=farm, hostname=hostname, pid=pid, last_ping=now)
    Agent.objects.filter(hostname="bravo").update(last_ping=now + timezone.timedelta(minutes=5))
    response = admin_site.get(reverse("admin:ponos_agent_changelist"))
    assert [(agent.hostname, agent.pid) for agent in response.context["cl"].result_list] == [
        ("alpha", 1),
        ("alpha", 2),
        ("bravo", 1),
        ("charlie", 1),
    ]


def test_element_type_indexable_in_admin(admin_site, superuser):
    corpus = CorpusFactory(name="Corpus")
    element_type = ElementTypeFactory(corpus=corpus, slug="page", display_name="Page")
    assert element_type.indexable is False and corpus.indexable is False
    response = admin_site.get(reverse("admin:documents_elementtype_changelist"), {"indexable__exact": "0"})
    assert list(response.context["cl"].result_list) == [element_type]
    url = reverse("admin:documents_elementtype_change", args=[element_type.id])
    values = FormValues()
    values.feed(admin_site.get(url).content.decode())
    response = admin_site.post(url, {**dict(values.values), "indexable": "on"})
    assert response.status_code == 302
    element_type.refresh_from_db()
    assert element_type.indexable is True
