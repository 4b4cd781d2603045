"""
SQLite exports: their content (read back with sqlite3, and with the real `arkindex-export` 0.2.2
models in the CLI's environment), StartExport, ListExports, DownloadExport and DestroyExport with
their rights (task tokens included), the refusal of a second running export, failed builds, and
the build of a large export by a real RQ worker.
"""

# ruff: noqa: F811 (pytest fixtures imported from the conftest modules)

import json
import sqlite3
import tempfile
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import django_rq
import pytest
from django.conf import settings
from django.db import connections
from django.test import Client
from django.utils import timezone
from rq import SimpleWorker, Worker

from arkindex import storage
from arkindex.jobs import rq_job_id
from arkindex.models import Job
from datasets import jobs
from datasets.export_schema import EXPORT_VERSION, SCHEMA
from datasets.models import CorpusExport, CorpusExportState
from datasets.services import exports
from datasets.tests.conftest import add
from documents import services as documents_services
from documents.models import (
    Classification,
    Corpus,
    Element,
    Entity,
    EntityType,
    MetaData,
    MLClass,
    Transcription,
    TranscriptionEntity,
)
from documents.tests.factories import ElementFactory, ElementTypeFactory
from ponos.models import TaskState
from ponos.tests.factories import TaskFactory
from processes.models import ProcessMode
from processes.tests.factories import ProcessFactory, WorkerRunFactory
from tests import clients
from tests.s3 import BUCKET
from tests.tokens import task_client, token_client
from users.models import Right, Role
from users.tests.factories import grant
from workers.models import Model, ModelVersion, WorkerConfiguration
from workers.tests.factories import WorkerFactory, WorkerVersionFactory

pytestmark = pytest.mark.django_db


def exports_url(corpus):
    return f"/api/v1/corpus/{corpus.id}/export/"


def export_url(export):
    return f"/api/v1/export/{export.id}/"


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    """Export files land in a folder of the test, served by the local storage's signed URLs."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.PUBLIC_URL = "http://testserver"
    return settings.MEDIA_ROOT


def download(url):
    """GET a storage URL the way the base worker does: a separate request, without credentials."""
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}" == settings.PUBLIC_URL
    return Client().get(f"{parts.path}?{parts.query}")


def rows(path, query):
    db = sqlite3.connect(path)
    try:
        return db.execute(query).fetchall()
    finally:
        db.close()


def stored_path(export):
    return Path(settings.MEDIA_ROOT) / export.storage_key


# A corpus with a folder of two pages, lines, results by a person and by two worker runs, and two
# datasets: `dataset` holds Page 1 only.


@pytest.fixture
def runs(corpus, user):
    process = ProcessFactory(mode=ProcessMode.Workers, corpus=corpus, creator=user)
    worker = WorkerFactory(name="Recogniser", slug="recogniser", repository_url="https://git.example.com/recogniser")
    revision = WorkerVersionFactory(worker=worker, revision_url="https://git.example.com/recogniser/-/commit/abc123")
    model_version = ModelVersion.objects.create(model=Model.objects.create(name="HTR"), tag="v1")
    configuration = WorkerConfiguration.objects.create(worker=worker, name="Fast", configuration={"beam": 4})
    numbered = WorkerVersionFactory(worker=WorkerFactory(name="Splitter", slug="splitter"))
    return {
        "model": WorkerRunFactory(
            process=process, version=revision, model_version=model_version, configuration=configuration
        ),
        "plain": WorkerRunFactory(process=process, version=numbered),
    }


@pytest.fixture
def tree(corpus, types, image, make_element, make_dataset, runs, user):
    folder = make_element("folder", name="Folder")
    page1 = make_element("page", name="Page 1", parent=folder, image=image)
    line1 = make_element("line", name="Line 1", parent=page1, image=image, polygon=[[0, 0], [0, 10], [10, 10]])
    line2 = make_element("line", name="Line 2", parent=page1, worker_run=runs["plain"], confidence=0.25)
    page2 = make_element("page", name="Page 2", parent=folder)
    line3 = make_element("line", name="Line 3", parent=page2)

    manual = Transcription.objects.create(element=line1, text="Hello world")
    Transcription.objects.create(
        element=line2, text="Bonjour", confidence=0.75, orientation="vertical-lr", worker_run=runs["model"]
    )
    Transcription.objects.create(element=line3, text="Elsewhere")
    handwritten = MLClass.objects.create(corpus=corpus, name="handwritten")
    Classification.objects.create(
        element=page1, ml_class=handwritten, state="validated", moderator=user, high_confidence=True
    )
    Classification.objects.create(element=page1, ml_class=handwritten, confidence=0.5, worker_run=runs["model"])
    MetaData.objects.create(element=page1, type="text", name="folio", value="1r")
    person = EntityType.objects.create(corpus=corpus, name="person", color="00ff00")
    EntityType.objects.create(corpus=corpus, name="place")
    # Two entities of one type at the same place: one span in the export.
    for name in ("Hello", "Hello!"):
        entity = Entity.objects.create(corpus=corpus, type=person, name=name)
        TranscriptionEntity.objects.create(transcription=manual, entity=entity, offset=0, length=5)

    dataset = make_dataset(name="Pages")
    add(dataset, "train", page1)
    other = make_dataset(name="Others", set_names=["dev"])
    add(other, "dev", page2)
    return {
        "folder": folder,
        "page1": page1,
        "line1": line1,
        "line2": line2,
        "page2": page2,
        "line3": line3,
        "dataset": dataset,
        "other": other,
    }


def start(client, corpus, **body):
    return client.post(exports_url(corpus), body, format="json")


def started(client, corpus, dataset=None):
    """The export StartExport made."""
    body = {"dataset_id": str(dataset.id)} if dataset else {}
    response = start(client, corpus, **body)
    assert response.status_code == 201, response.json()
    return CorpusExport.objects.get(pk=response.json()["id"])


# Content


def test_dataset_export_content(user_client, corpus, tree, runs, image):
    response = start(user_client, corpus, dataset_id=str(tree["dataset"].id))
    assert response.status_code == 201, response.json()
    export = CorpusExport.objects.get()
    body = response.json()
    assert body == {
        "id": str(export.id),
        "created": body["created"],
        "updated": body["updated"],
        "corpus_id": str(corpus.id),
        "dataset_id": str(tree["dataset"].id),
        "user": {"id": export.user.id, "email": "user@example.com", "display_name": "user"},
        # Small: built within the request.
        "state": "done",
        "source": "default",
    }
    path = stored_path(export)
    assert path.is_file()

    def ids(*names):
        return {str(tree[name].id) for name in names}

    assert rows(path, "SELECT version FROM export_version") == [(EXPORT_VERSION,)]
    # The dataset's page, its lines and its folder; not the other page.
    assert {row[0] for row in rows(path, "SELECT id FROM element")} == ids("folder", "page1", "line1", "line2")
    page1 = tree["page1"]
    assert rows(path, f"SELECT * FROM element WHERE id = '{page1.id}'") == [
        (
            str(page1.id),
            "Page 1",
            "page",
            str(image.id),
            "[[0,0],[0,2000],[1000,2000],[1000,0],[0,0]]",
            None,
            0,
            0,
            None,
            page1.created.timestamp(),
            page1.updated.timestamp(),
        )
    ]
    assert rows(path, f"SELECT worker_run_id, confidence FROM element WHERE id = '{tree['line2'].id}'") == [
        (str(runs["plain"].id), 0.25)
    ]
    assert set(rows(path, "SELECT parent_id, child_id, ordering FROM element_path")) == {
        (str(tree["folder"].id), str(page1.id), 0),
        (str(page1.id), str(tree["line1"].id), 0),
        (str(page1.id), str(tree["line2"].id), 1),
    }
    assert rows(path, "SELECT id, name, description, state, sets FROM dataset") == [
        (str(tree["dataset"].id), "Pages", "", "open", "dev,test,train")
    ]
    assert rows(path, "SELECT element_id, dataset_id, set_name FROM dataset_element") == [
        (str(page1.id), str(tree["dataset"].id), "train")
    ]
    assert set(rows(path, "SELECT text, orientation, confidence, worker_run_id FROM transcription")) == {
        ("Hello world", "horizontal-lr", None, None),
        ("Bonjour", "vertical-lr", 0.75, str(runs["model"].id)),
    }
    # A person's classification without confidence is certain.
    assert set(
        rows(
            path, "SELECT class_name, confidence, state, high_confidence, moderator, worker_run_id FROM classification"
        )
    ) == {
        ("handwritten", 1.0, "validated", 1, "user@example.com", None),
        ("handwritten", 0.5, "pending", 0, None, str(runs["model"].id)),
    }
    assert rows(path, "SELECT name, value, type, element_id, worker_run_id FROM metadata") == [
        ("folio", "1r", "text", str(page1.id), None)
    ]
    assert set(rows(path, "SELECT name, color FROM entity_type")) == {("person", "00ff00"), ("place", "ff0000")}
    assert rows(
        path,
        'SELECT entity_type.name, "offset", length, substr(transcription.text, "offset" + 1, length) '
        "FROM transcription_entity JOIN entity_type ON entity_type.id = type_id "
        "JOIN transcription ON transcription.id = transcription_id",
    ) == [("person", 0, 5, "Hello")]
    assert rows(path, "SELECT * FROM image_server") == [
        (1, "https://iiif.example.com/iiif/2", "Example IIIF", None, None, 2)
    ]
    assert rows(path, "SELECT * FROM image") == [
        (str(image.id), 1, "https://iiif.example.com/iiif/2/folder%2Fpage1.jpg", 1000, 2000)
    ]
    model_run, plain_run = runs["model"], runs["plain"]
    assert set(rows(path, "SELECT * FROM worker_run")) == {
        (
            str(model_run.id),
            str(model_run.version_id),
            str(model_run.model_version_id),
            str(model_run.model_version.model_id),
            "HTR",
            str(model_run.configuration_id),
            '{"beam": 4}',
        ),
        (str(plain_run.id), str(plain_run.version_id), None, None, None, None, None),
    }
    # A version is named by its revision when it has one, else by its number.
    assert set(rows(path, "SELECT * FROM worker_version")) == {
        (
            str(model_run.version_id),
            "recogniser",
            "Recogniser",
            "https://git.example.com/recogniser",
            "https://git.example.com/recogniser/-/commit/abc123",
            None,
            model_run.version.worker.type.slug,
        ),
        (str(plain_run.version_id), "splitter", "Splitter", None, None, 1, plain_run.version.worker.type.slug),
    }
    assert rows(path, "PRAGMA foreign_key_check") == []
    assert rows(path, "PRAGMA integrity_check") == [("ok",)]


def test_corpus_export_content(user_client, corpus, tree):
    response = start(user_client, corpus)
    assert response.status_code == 201, response.json()
    assert response.json()["dataset_id"] is None
    assert response.json()["state"] == "done"
    path = stored_path(CorpusExport.objects.get())
    assert {row[0] for row in rows(path, "SELECT id FROM element")} == {
        str(element.id) for element in Element.objects.filter(corpus=corpus)
    }
    assert set(rows(path, "SELECT name, sets FROM dataset")) == {("Pages", "dev,test,train"), ("Others", "dev")}
    assert set(rows(path, "SELECT set_name, element_id FROM dataset_element")) == {
        ("train", str(tree["page1"].id)),
        ("dev", str(tree["page2"].id)),
    }
    assert {row[0] for row in rows(path, "SELECT text FROM transcription")} == {"Hello world", "Bonjour", "Elsewhere"}
    assert rows(path, "SELECT COUNT(*) FROM element_path") == [(5,)]
    assert rows(path, "PRAGMA foreign_key_check") == []


def test_export_of_an_element_with_several_parents(user_client, corpus, make_element, make_dataset):
    """One path row per (parent, child), and every ancestor on every path of the dataset's elements."""
    first = make_element("folder", name="First")
    second = make_element("folder", name="Second")
    page = make_element("page", name="Page", parent=first)
    line = make_element("line", name="Line", parent=page)
    documents_services.element_add_parent(child=page, parent=second)
    dataset = make_dataset()
    add(dataset, "train", page)

    assert start(user_client, corpus, dataset_id=str(dataset.id)).json()["state"] == "done"
    path = stored_path(CorpusExport.objects.get())
    assert {row[0] for row in rows(path, "SELECT name FROM element")} == {"First", "Second", "Page", "Line"}
    assert set(rows(path, "SELECT parent_id, child_id FROM element_path")) == {
        (str(first.id), str(page.id)),
        (str(second.id), str(page.id)),
        (str(page.id), str(line.id)),
    }


SCHEMA_SCRIPT = """
import json
import sys
import tempfile
from pathlib import Path

from arkindex_export import (
    Classification,
    Dataset,
    DatasetElement,
    Element,
    ElementPath,
    EntityType,
    ExportVersion,
    Image,
    ImageServer,
    Metadata,
    Transcription,
    TranscriptionEntity,
    WorkerRun,
    WorkerVersion,
    create_database,
    database,
    open_database,
)
from arkindex_export.queries import list_children, list_parents

# The schema the package creates, to compare with the export's.
empty = Path(tempfile.mkdtemp()) / "empty.sqlite"
create_database(empty)
expected = [row[0] for row in database.execute_sql("SELECT sql FROM sqlite_master WHERE sql IS NOT NULL")]
database.close()

path, folder_id, line_id = sys.argv[1:]
open_database(Path(path), minimum_version=10)
report = {"schema": expected, "version": ExportVersion.select().first().version}
models = [
    Classification, Dataset, DatasetElement, Element, ElementPath, EntityType, Image, ImageServer, Metadata,
    Transcription, TranscriptionEntity, WorkerRun, WorkerVersion,
]
report["counts"] = {model.__name__: model.select().count() for model in models}
report["children"] = [element.name for element in list_children(folder_id)]
report["parents"] = sorted(element.name for element in list_parents(line_id))
report["spans"] = [(span.type.name, span.text) for span in TranscriptionEntity.select()]
report["images"] = [(element.name, element.image.url, element.image.server.url) for element in Element.select().where(
    Element.image.is_null(False)
).order_by(Element.name)]
report["runs"] = sorted(
    (run.worker_version.slug, run.model_name, run.configuration) for run in WorkerRun.select()
)
print(json.dumps(report))
"""


def normalised(sql):
    """SQL without layout: the export's schema is written over several lines."""
    return " ".join(sql.split()).replace("( ", "(").replace(" )", ")")


@pytest.mark.e2e
def test_export_opens_with_arkindex_export(user_client, corpus, tree):
    cli_python = clients.ensure_environment("cli", clients.CLI_REQUIREMENTS)
    assert start(user_client, corpus, dataset_id=str(tree["dataset"].id)).status_code == 201
    path = stored_path(CorpusExport.objects.get())

    with tempfile.TemporaryDirectory() as scratch:
        script = Path(scratch) / "read_export.py"
        script.write_text(SCHEMA_SCRIPT)
        process = clients.run_in_clients_env(cli_python, [script, path, tree["folder"].id, tree["line1"].id])
    report = json.loads(process.stdout.strip().splitlines()[-1])

    ours = [row[0] for row in rows(path, "SELECT sql FROM sqlite_master WHERE sql IS NOT NULL")]
    assert [normalised(sql) for sql in ours] == [normalised(sql) for sql in report["schema"]]
    assert report["version"] == EXPORT_VERSION
    assert report["counts"] == {
        "Classification": 2,
        "Dataset": 1,
        "DatasetElement": 1,
        "Element": 4,
        "ElementPath": 3,
        "EntityType": 2,
        "Image": 1,
        "ImageServer": 1,
        "Metadata": 1,
        "Transcription": 2,
        "TranscriptionEntity": 1,
        "WorkerRun": 2,
        "WorkerVersion": 2,
    }
    assert report["children"] == ["Page 1", "Line 1", "Line 2"]
    assert report["parents"] == ["Folder", "Line 1", "Page 1"]
    assert report["spans"] == [["person", "Hello"]]
    assert report["images"] == [
        [name, "https://iiif.example.com/iiif/2/folder%2Fpage1.jpg", "https://iiif.example.com/iiif/2"]
        for name in ("Line 1", "Page 1")
    ]
    assert report["runs"] == [["recogniser", "HTR", '{"beam": 4}'], ["splitter", None, None]]


def test_schema_creates_every_exported_table():
    """The schema creates the tables the export fills (the test above compares it with the package's)."""
    db = sqlite3.connect(":memory:")
    db.executescript(SCHEMA)
    tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert tables == {table for table, _, _ in exports.TABLES} | {"export_version"}


# StartExport


def test_start_export_rights(corpus, dataset, guest, make_user, anonymous_client):
    assert start(anonymous_client, corpus).status_code in (401, 403)
    response = start(token_client(guest), corpus)
    assert response.status_code == 403
    assert response.json() == {
        "detail": "You need contributor access to the corpus to export it; ask one of its administrators."
    }
    stranger = token_client(make_user("stranger@example.com"))
    assert start(stranger, corpus).status_code == 404
    assert start(stranger, Corpus(id="00000000-0000-0000-0000-000000000000")).status_code == 404
    assert not CorpusExport.objects.exists()


def test_start_export_validation(user_client, corpus, dataset, make_dataset, make_user):
    other_corpus = documents_services.corpus_create(user=make_user("owner@example.com"), name="Other")
    foreign = make_dataset(name="Foreign", corpus=other_corpus)
    response = start(user_client, corpus, dataset_id=str(foreign.id))
    assert response.status_code == 400
    assert response.json() == {"dataset_id": [f"Corpus {corpus.id} has no dataset {foreign.id}."]}
    response = start(user_client, corpus, dataset_id="nope")
    assert response.status_code == 400
    assert list(response.json()) == ["dataset_id"]
    response = start(user_client, corpus, source="replica")
    assert response.status_code == 400
    assert list(response.json()) == ["source"]
    assert not CorpusExport.objects.exists()


def test_running_export(user_client, corpus, dataset, make_dataset, user):
    running = CorpusExport.objects.create(corpus=corpus, dataset=dataset, user=user, state=CorpusExportState.Running)
    response = start(user_client, corpus, dataset_id=str(dataset.id))
    assert response.status_code == 400
    # The standard shape: the base worker reads the code and reuses the newest export.
    assert response.json() == {
        "type": "validation_error",
        "errors": [{"attr": None, "code": "running_export", "detail": exports.RUNNING_EXPORT}],
    }
    assert list(CorpusExport.objects.all()) == [running]

    # Another dataset, or the whole corpus, is another export.
    other = make_dataset(name="Other")
    assert start(user_client, corpus, dataset_id=str(other.id)).status_code == 201
    CorpusExport.objects.create(corpus=corpus, user=user)
    assert start(user_client, corpus).json()["errors"][0]["code"] == "running_export"

    # Once it ended, a new one starts.
    running.fail()
    assert start(user_client, corpus, dataset_id=str(dataset.id)).status_code == 201


def test_stale_export_is_failed(user_client, corpus, dataset, user):
    """An export that outlived its job died with it: it no longer blocks the next one."""
    stale = CorpusExport.objects.create(corpus=corpus, dataset=dataset, user=user, state=CorpusExportState.Running)
    CorpusExport.objects.filter(pk=stale.pk).update(
        updated=timezone.now() - timedelta(seconds=exports.export_timeout() + 1)
    )
    response = start(user_client, corpus, dataset_id=str(dataset.id))
    assert response.status_code == 201
    assert response.json()["state"] == "done"
    stale.refresh_from_db()
    assert stale.state == CorpusExportState.Failed


def test_start_export_once_at_a_time_in_the_database(corpus, dataset, user):
    from django.db import IntegrityError, transaction

    CorpusExport.objects.create(corpus=corpus, dataset=dataset, user=user)
    with pytest.raises(IntegrityError), transaction.atomic():
        CorpusExport.objects.create(corpus=corpus, dataset=dataset, user=user, state=CorpusExportState.Running)
    # Done and failed ones do not count.
    CorpusExport.objects.create(corpus=corpus, dataset=dataset, user=user, state=CorpusExportState.Done)
    CorpusExport.objects.create(corpus=corpus, dataset=dataset, user=user, state=CorpusExportState.Failed)


# ListExports


def test_list_exports(user_client, corpus, dataset, user, guest, django_assert_num_queries):
    first = CorpusExport.objects.create(corpus=corpus, user=user, state=CorpusExportState.Done)
    second = CorpusExport.objects.create(corpus=corpus, dataset=dataset, user=user, state=CorpusExportState.Failed)
    third = CorpusExport.objects.create(corpus=corpus, dataset=dataset, user=guest)

    response = token_client(guest).get(exports_url(corpus))
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 3
    # Newest first.
    assert [item["id"] for item in body["results"]] == [str(third.id), str(second.id), str(first.id)]
    assert body["results"][0] == {
        "id": str(third.id),
        "created": body["results"][0]["created"],
        "updated": body["results"][0]["updated"],
        "corpus_id": str(corpus.id),
        "dataset_id": str(dataset.id),
        "user": {"id": guest.id, "email": "guest@example.com", "display_name": "guest"},
        "state": "created",
        "source": "default",
    }

    response = user_client.get(f"{exports_url(corpus)}?dataset_id={dataset.id}")
    assert [item["id"] for item in response.json()["results"]] == [str(third.id), str(second.id)]

    user_client.get(exports_url(corpus))
    for size in (1, 3):
        # Token, corpus with the level, count, page.
        with django_assert_num_queries(4):
            response = user_client.get(f"{exports_url(corpus)}?page_size={size}")
        assert len(response.json()["results"]) == size


def test_list_exports_errors(user_client, corpus, make_user, anonymous_client):
    response = user_client.get(f"{exports_url(corpus)}?dataset_id=nope")
    assert response.status_code == 400
    assert response.json() == {"dataset_id": ["'nope' is not a valid UUID."]}
    assert token_client(make_user("stranger@example.com")).get(exports_url(corpus)).status_code == 404
    assert anonymous_client.get(exports_url(corpus)).status_code == 404


def test_list_exports_of_a_public_corpus(anonymous_client, public_corpus, user):
    CorpusExport.objects.create(corpus=public_corpus, user=user, state=CorpusExportState.Done)
    response = anonymous_client.get(exports_url(public_corpus))
    assert response.status_code == 200
    assert response.json()["count"] == 1


# DownloadExport


def test_download_export(user_client, corpus, tree, guest):
    export_id = start(user_client, corpus, dataset_id=str(tree["dataset"].id)).json()["id"]
    export = CorpusExport.objects.get(pk=export_id)

    response = token_client(guest).get(export_url(export))
    assert response.status_code == 302
    # Downloaded without credentials, by a separate request.
    file = download(response["Location"])
    assert file.status_code == 200
    assert file["Content-Type"] == exports.CONTENT_TYPE
    assert file["Content-Disposition"].startswith('attachment; filename="Private-corpus-')
    content = b"".join(file.streaming_content)
    assert content.startswith(b"SQLite format 3\x00")
    assert content == stored_path(export).read_bytes()


def test_download_url_expires(settings, user_client, corpus, tree):
    settings.STORAGE_URL_EXPIRY = -1
    export_id = start(user_client, corpus).json()["id"]
    response = user_client.get(f"/api/v1/export/{export_id}/")
    assert response.status_code == 302
    assert download(response["Location"]).status_code == 403


def test_download_export_errors(user_client, corpus, user, make_user):
    for state in (CorpusExportState.Created, CorpusExportState.Running, CorpusExportState.Failed):
        export = CorpusExport.objects.create(corpus=corpus, user=user, state=state)
        response = user_client.get(export_url(export))
        assert response.status_code == 409
        assert response.json()["errors"][0]["detail"] == (
            f"Export {export.id} is {state}: only a done export can be downloaded."
        )
        export.delete()
    export = CorpusExport.objects.create(corpus=corpus, user=user, state=CorpusExportState.Done)
    assert token_client(make_user("stranger@example.com")).get(export_url(export)).status_code == 404
    assert user_client.get("/api/v1/export/00000000-0000-0000-0000-000000000000/").status_code == 404


# DestroyExport


def test_destroy_export(user_client, corpus, tree, django_capture_on_commit_callbacks):
    export = started(user_client, corpus)
    path = stored_path(export)
    assert path.is_file()
    with django_capture_on_commit_callbacks(execute=True):
        response = user_client.delete(export_url(export))
    assert response.status_code == 204
    assert not CorpusExport.objects.exists()
    assert not path.exists()


def test_destroy_export_rights(corpus, user, guest, corpus_admin, make_user):
    export = CorpusExport.objects.create(corpus=corpus, user=user, state=CorpusExportState.Done)
    colleague = make_user("colleague@example.com")
    grant(corpus, Role.CONTRIBUTOR, user=colleague)
    response = token_client(colleague).delete(export_url(export))
    assert response.status_code == 403
    assert response.json() == {
        "detail": "You need admin access to the corpus to delete exports of others; ask one of its administrators."
    }
    assert token_client(guest).delete(export_url(export)).status_code == 403
    assert token_client(make_user("stranger@example.com")).delete(export_url(export)).status_code == 404
    assert token_client(corpus_admin).delete(export_url(export)).status_code == 204


def test_destroy_running_export(user_client, corpus, user):
    export = CorpusExport.objects.create(corpus=corpus, user=user, state=CorpusExportState.Running)
    response = user_client.delete(export_url(export))
    assert response.status_code == 409
    assert response.json()["type"] == "client_error"
    assert CorpusExport.objects.filter(pk=export.pk).exists()


def test_dataset_and_corpus_deletion_delete_exports(
    user_client, corpus, tree, django_capture_on_commit_callbacks, corpus_admin
):
    from datasets import services as dataset_services

    dataset_export = started(user_client, corpus, tree["dataset"])
    corpus_export = started(user_client, corpus)
    with django_capture_on_commit_callbacks(execute=True):
        dataset_services.dataset_destroy(dataset=tree["dataset"])
    assert list(CorpusExport.objects.all()) == [corpus_export]
    assert not stored_path(dataset_export).exists()

    # The corpus's deletion is plain SQL: the database deletes the dataset exports, and the folder goes.
    other_export = started(user_client, corpus, tree["other"])
    assert stored_path(other_export).exists()
    with django_capture_on_commit_callbacks(execute=True):
        documents_services.corpus_delete(corpus_id=corpus.id)
    assert not CorpusExport.objects.exists()
    assert not stored_path(corpus_export).exists()
    assert not stored_path(other_export).exists()


# Task tokens


@pytest.fixture
def dataset_process(corpus, make_user):
    """A dataset process whose creator is a contributor of the corpus."""
    creator = make_user("creator@example.com")
    grant(corpus, Role.CONTRIBUTOR, user=creator)
    return ProcessFactory(mode=ProcessMode.Dataset, corpus=corpus, creator=creator)


def test_task_token_follows_its_creator_rights(corpus, tree, dataset_process):
    """A task acts for its process's creator: once they lose their right on the corpus, so does the task."""
    Right.objects.filter(user=dataset_process.creator).delete()
    task = TaskFactory(process=dataset_process, slug="worker", state=TaskState.Running)
    assert start(task_client(task), corpus, dataset_id=str(tree["dataset"].id)).status_code == 404


def test_task_token_reaches_its_corpus_exports(corpus, tree, dataset_process, make_user):
    task = TaskFactory(process=dataset_process, slug="worker", state=TaskState.Running)
    client = task_client(task)
    response = start(client, corpus, dataset_id=str(tree["dataset"].id))
    assert response.status_code == 201, response.json()
    assert response.json()["user"]["email"] == "creator@example.com"
    listed = client.get(f"{exports_url(corpus)}?dataset_id={tree['dataset'].id}")
    assert [item["id"] for item in listed.json()["results"]] == [response.json()["id"]]
    download_response = client.get(f"/api/v1/export/{response.json()['id']}/")
    assert download_response.status_code == 302
    assert download(download_response["Location"]).status_code == 200
    # It may not delete them: DestroyExport is none of a task's operations.
    response = client.delete(f"/api/v1/export/{response.json()['id']}/")
    assert response.status_code == 403
    assert response.json()["detail"].startswith("Task tokens cannot call DestroyExport")

    # Nor reach another corpus, even one its creator administers.
    other = documents_services.corpus_create(user=dataset_process.creator, name="Other")
    assert start(client, other).status_code == 404
    assert client.get(exports_url(other)).status_code == 404
    foreign = CorpusExport.objects.create(corpus=other, user=dataset_process.creator, state=CorpusExportState.Done)
    assert client.get(export_url(foreign)).status_code == 404


# Failures and jobs


def test_failed_build_leaves_no_file(user_client, corpus, tree, monkeypatch, tmp_path):
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    real_stream = exports.stream_rows

    def failing_stream(pg, query, params):
        # Fails halfway: the elements are written, then reading transcriptions breaks.
        if "transcription" in query and "element_id" in query:
            raise RuntimeError("The database went away")
        yield from real_stream(pg, query, params)

    monkeypatch.setattr(exports, "stream_rows", failing_stream)
    response = start(user_client, corpus, dataset_id=str(tree["dataset"].id))
    assert response.status_code == 201
    assert response.json()["state"] == "failed"
    export = CorpusExport.objects.get()
    assert export.state == CorpusExportState.Failed
    assert not storage.exists(export.storage_key)
    assert list(scratch.iterdir()) == []
    assert user_client.get(export_url(export)).status_code == 409

    # A failed export does not block the next one.
    monkeypatch.setattr(exports, "stream_rows", real_stream)
    assert start(user_client, corpus, dataset_id=str(tree["dataset"].id)).json()["state"] == "done"


def test_failed_storage_leaves_no_file(user_client, corpus, tree, monkeypatch):
    def failing_write(self, key, stream, **kwargs):
        with storage.atomic_file(self.path(key)) as out:
            out.write(stream.read(100))
            raise OSError("No space left on device")

    monkeypatch.setattr(storage.LocalBackend, "write", failing_write)
    assert start(user_client, corpus).json()["state"] == "failed"
    export = CorpusExport.objects.get()
    assert not stored_path(export).exists()
    assert list(stored_path(export).parent.iterdir()) == []


def test_build_is_not_run_twice(corpus, user):
    export = CorpusExport.objects.create(corpus=corpus, user=user, state=CorpusExportState.Done)
    jobs.export_build(str(export.id))
    export.refresh_from_db()
    assert export.state == CorpusExportState.Done
    # A deleted export's job does nothing.
    jobs.export_build("00000000-0000-0000-0000-000000000000")


def test_large_export_is_built_by_a_job(user_client, corpus, tree, monkeypatch, django_capture_on_commit_callbacks):
    monkeypatch.setattr(exports, "SYNC_EXPORT_LIMIT", 2)
    with django_capture_on_commit_callbacks(execute=True):
        response = start(user_client, corpus, dataset_id=str(tree["dataset"].id))
    assert response.status_code == 201
    assert response.json()["state"] == "created"
    queue = django_rq.get_queue(exports.EXPORT_QUEUE)
    job = Job.objects.get()
    assert (job.function, job.arguments, job.key) == (
        "datasets.jobs.export_build",
        [response.json()["id"]],
        f"export-{response.json()['id']}",
    )
    assert queue.job_ids == [rq_job_id(job.id)]
    assert queue.fetch_job(queue.job_ids[0]).timeout == exports.export_timeout()

    # In-process worker: the job must see this test's transaction.
    assert django_rq.get_worker(exports.EXPORT_QUEUE, worker_class=SimpleWorker).work(burst=True)
    export = CorpusExport.objects.get()
    assert export.state == CorpusExportState.Done
    assert len(rows(stored_path(export), "SELECT id FROM element")) == 4


def test_small_export_limit(corpus, tree, user, monkeypatch):
    export = CorpusExport(corpus=corpus, dataset=tree["dataset"], user=user)
    # Page 1 and the paths of its two lines.
    monkeypatch.setattr(exports, "SYNC_EXPORT_LIMIT", 3)
    assert exports.export_is_small(export)
    monkeypatch.setattr(exports, "SYNC_EXPORT_LIMIT", 2)
    assert not exports.export_is_small(export)
    corpus_export = CorpusExport(corpus=corpus, user=user)
    monkeypatch.setattr(exports, "SYNC_EXPORT_LIMIT", 6)
    assert exports.export_is_small(corpus_export)
    monkeypatch.setattr(exports, "SYNC_EXPORT_LIMIT", 5)
    assert not exports.export_is_small(corpus_export)


@pytest.mark.django_db(transaction=True)
def test_large_export_with_a_forking_worker(make_user, monkeypatch):
    """Through a real forking RQ worker, on committed data, in a REPEATABLE READ transaction of its own."""
    owner = make_user("owner@example.com")
    corpus = documents_services.corpus_create(user=owner, name="Large")

    page_type = ElementTypeFactory(corpus=corpus, slug="page", display_name="Page")
    folder = ElementFactory(corpus=corpus, type=page_type, name="Folder")
    documents_services.elements_create(
        parent=folder, elements=[{"type": page_type, "name": f"P{n}"} for n in range(12)]
    )
    monkeypatch.setattr(exports, "SYNC_EXPORT_LIMIT", 10)
    monkeypatch.setattr(exports, "BATCH_SIZE", 5)

    response = start(token_client(owner), corpus)
    assert response.status_code == 201
    assert response.json()["state"] == "created"
    # The work horse is a fork: it must not share this process's database connection.
    connections.close_all()
    assert django_rq.get_worker(exports.EXPORT_QUEUE, worker_class=Worker).work(burst=True)
    assert django_rq.get_queue(exports.EXPORT_QUEUE).failed_job_registry.count == 0
    export = CorpusExport.objects.get()
    assert export.state == CorpusExportState.Done
    assert len(rows(stored_path(export), "SELECT id FROM element")) == 13
    assert len(rows(stored_path(export), "SELECT id FROM element_path")) == 12


# S3


def test_export_stored_on_s3(s3, user_client, corpus, tree):
    export = started(user_client, corpus)
    assert export.state == CorpusExportState.Done
    stored = s3.get_object(Bucket=BUCKET, Key=export.storage_key)["Body"].read()
    assert stored.startswith(b"SQLite format 3\x00")
    response = user_client.get(export_url(export))
    assert response.status_code == 302
    location = urlsplit(response["Location"])
    assert location.netloc.startswith(f"{BUCKET}.s3")
    assert location.path == f"/{export.storage_key}"
    assert "Signature" in location.query


def test_download_export_of_a_public_corpus(anonymous_client, public_corpus, user):
    export = CorpusExport.objects.create(corpus=public_corpus, user=user, state=CorpusExportState.Done)
    with open(__file__, "rb") as file:
        storage.backend().write(export.storage_key, file)
    response = anonymous_client.get(export_url(export))
    assert response.status_code == 302
    assert download(response["Location"]).status_code == 200
    # Reading is not deleting.
    assert anonymous_client.delete(export_url(export)).status_code in (401, 403)


# Admin


def test_export_admin(superuser, user_client, corpus, tree):
    export = started(user_client, corpus, tree["dataset"])
    CorpusExport.objects.create(corpus=corpus, user=export.user, state=CorpusExportState.Running)
    client = Client()
    client.force_login(superuser)
    response = client.get("/admin/datasets/corpusexport/")
    assert response.status_code == 200
    assert str(export.id) in response.content.decode()
    response = client.get(f"/admin/datasets/corpusexport/{export.id}/change/")
    assert response.status_code == 200
    assert f'<a href="http://testserver/api/v1/storage/{export.storage_key}?token=' in response.content.decode()
    assert client.get("/admin/datasets/corpusexport/add/").status_code == 403


# The delay between two exports


def test_export_delay(user_client, corpus, tree, settings):
    """Seed 002: after a successful export, another one waits EXPORT_DELAY; the answer names the one to use."""
    first = started(user_client, corpus, tree["dataset"])
    assert first.state == CorpusExportState.Done
    response = start(user_client, corpus, dataset_id=str(tree["dataset"].id))
    assert response.status_code == 400
    (error,) = response.json()["errors"]
    assert error["code"] == "existing_export"
    assert str(first.id) in error["detail"] and "start a new one after" in error["detail"]
    # Other datasets and the whole corpus have their own delay.
    assert started(user_client, corpus).state == CorpusExportState.Done

    # Once the delay is over, or without one, a new export runs.
    CorpusExport.objects.filter(pk=first.pk).update(updated=timezone.now() - timedelta(hours=7))
    assert started(user_client, corpus, tree["dataset"]).state == CorpusExportState.Done
    settings.EXPORT_DELAY = 0
    assert started(user_client, corpus, tree["dataset"]).state == CorpusExportState.Done


def test_export_delay_ignores_failed_exports(user, user_client, corpus, tree):
    CorpusExport.objects.create(corpus=corpus, dataset=tree["dataset"], user=user, state=CorpusExportState.Failed)
    assert started(user_client, corpus, tree["dataset"]).state == CorpusExportState.Done
