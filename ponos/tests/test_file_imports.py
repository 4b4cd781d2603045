"""
File imports (modes files and iiif): CreateFilesProcess creates and starts one, with every broken
rule named in one 400; its single task's environment; RetryProcess, DestroyProcess and
PartialUpdateProcess on one; DestroyDataFile while one runs. The task itself runs in
`tests/test_e2e_iiif_import.py`.
"""

import uuid

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from documents import services as documents_services
from documents.models import DataFile
from documents.tests.factories import CorpusFactory, ElementFactory, ElementTypeFactory
from ponos import services
from ponos.models import Farm, Task, TaskState
from processes import services as process_services
from processes.models import Process, ProcessMode
from processes.services.file_imports import NO_IMAGE_SERVER
from processes.tests.factories import ProcessFactory
from tests.tokens import token_client
from users.models import Role
from users.tests.factories import grant

pytestmark = pytest.mark.django_db

CREATE = "/api/v1/process/files/"
LIST = b"https://iiif.example.com/iiif/2/page1.jpg\n"


@pytest.fixture
def types(corpus):
    return {
        "volume": ElementTypeFactory(corpus=corpus, slug="volume", display_name="Volume", folder=True),
        "page": ElementTypeFactory(corpus=corpus, slug="page", display_name="Page"),
    }


@pytest.fixture
def folder(corpus, types):
    return ElementFactory(corpus=corpus, type=types["volume"], name="Volume 1")


def make_file(corpus, name="pages.txt", content_type="text/plain", status="checked"):
    data_file = DataFile.objects.create(
        corpus=corpus, name=name, content_type=content_type, size=len(LIST), status=status
    )
    default_storage.save(data_file.storage_key, ContentFile(LIST))
    return data_file


def create(client, files, **body):
    return client.post(CREATE, {"files": [str(f.id) for f in files], "element_type": "page", **body}, format="json")


def test_create_starts_the_import(user, user_client, corpus, types, folder, settings):
    settings.PONOS_FILE_IMPORT_COMMAND = "arkindex-file-import"
    settings.PONOS_FILE_IMPORT_IMAGE = ""
    second, first = make_file(corpus, "b.txt"), make_file(corpus, "a.json", "application/json; charset=utf-8")
    response = create(user_client, [second, first, second], mode="iiif", folder_id=str(folder.id), folder_type="volume")
    assert response.status_code == 201, response.json()
    body = response.json()

    process = Process.objects.get()
    task = Task.objects.get(process=process)
    assert body == {
        "id": str(process.id),
        "state": "unscheduled",
        "started": process.started.isoformat().replace("+00:00", "Z"),
        "finished": None,
        "activity_state": "disabled",
        "tasks": [
            {
                "id": str(task.id),
                "slug": "import",
                "state": "unscheduled",
                "run": 0,
                "depth": 0,
                "chunk": None,
                "parents": [],
                "worker_run_id": None,
                "requires_gpu": False,
            }
        ],
        "name": "Import of b.txt and 1 more",
        "mode": "iiif",
        "corpus": str(corpus.id),
        "files": [str(second.id), str(first.id)],
        "element_type": "page",
        "folder_id": str(folder.id),
        "folder_type": "volume",
    }
    assert (process.mode, process.creator, process.element, process.element_type) == (
        ProcessMode.IIIF,
        user,
        folder,
        types["page"],
    )
    assert process.farm == Farm.objects.get(name="default")
    assert (task.command, task.image, task.worker_run_id) == ("arkindex-file-import", "", None)
    assert task.env == {
        "ARKINDEX_PROCESS_ID": str(process.id),
        "ARKINDEX_CORPUS_ID": str(corpus.id),
        "ARKINDEX_IMPORT_FILES": f"{second.id},{first.id}",
        "ARKINDEX_IMPORT_ELEMENT_TYPE": "page",
        "ARKINDEX_IMPORT_FOLDER_TYPE": "volume",
        "ARKINDEX_IMPORT_FOLDER_ID": str(folder.id),
    }
    # A second start is refused, as for any process.
    assert user_client.post(f"/api/v1/process/{process.id}/start/").status_code == 409


def test_process_shows_its_files_and_folder_type(user_client, corpus, types, django_assert_num_queries):
    second, first = make_file(corpus, "b.txt"), make_file(corpus, "a.txt")
    process_id = create(user_client, [second, first], folder_type="volume").json()["id"]
    user_client.get(f"/api/v1/process/{process_id}/")
    # Token, process with its relations, files, state and level: the files are an array of the same query.
    with django_assert_num_queries(2):
        response = user_client.get(f"/api/v1/process/{process_id}/")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["files"], body["folder_type"], body["element_type"]) == (
        [str(second.id), str(first.id)],
        "volume",
        "page",
    )
    assert (body["repository"], body["repository_id"], body["revision"]) == (None, None, None)
    # Renaming answers the same shape.
    response = user_client.patch(f"/api/v1/process/{process_id}/", {"name": "Renamed"}, format="json")
    assert (response.json()["files"], response.json()["folder_type"]) == ([str(second.id), str(first.id)], "volume")


def test_create_defaults(user_client, corpus, types, folder):
    data_file = make_file(corpus)
    response = create(user_client, [data_file], folder_id=str(folder.id), name="My import")
    assert response.status_code == 201, response.json()
    assert (response.json()["mode"], response.json()["name"], response.json()["folder_type"]) == (
        "files",
        "My import",
        None,
    )
    task = Task.objects.get()
    assert (task.env["ARKINDEX_IMPORT_FOLDER_TYPE"], task.env["ARKINDEX_IMPORT_FILES"]) == ("", str(data_file.id))


def test_create_names_every_broken_rule(user_client, corpus, types):
    unchecked = make_file(corpus, "unchecked.txt", status="unchecked")
    image = make_file(corpus, "scan.jpg", "image/jpeg")
    archive = make_file(corpus, "scans.zip", "application/zip")
    page = ElementFactory(corpus=corpus, type=types["page"], name="Page")
    response = create(
        user_client, [unchecked, image, archive], element_type="line", folder_type="page", folder_id=str(page.id)
    )
    assert response.status_code == 400
    body = response.json()
    assert sorted(body) == ["element_type", "files", "folder_id", "folder_type"]
    assert body["files"] == [
        f"Data file unchecked.txt ({unchecked.id}) is unchecked: upload its whole content before importing it.",
        f"Data file scan.jpg ({image.id}) is image/jpeg: {NO_IMAGE_SERVER}",
        f"Data file scans.zip ({archive.id}) is application/zip: an import reads lists of IIIF image URLs or IIIF "
        "manifests (text/plain, text/uri-list, application/json, application/ld+json).",
    ]
    assert body["element_type"] == [f"No element type with slug 'line' in corpus {corpus.name}."]
    assert body["folder_type"] == ["The type 'page' is not a folder type: pick a folder type."]
    assert "not a folder" in body["folder_id"][0]
    assert not Process.objects.exists() and not Task.objects.exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"files": []}, "files"),
        ({"mode": "workers"}, "mode"),
        ({"element_type": None}, "element_type"),
        ({"farm_id": str(uuid.uuid4()), "folder_type": "volume"}, "farm_id"),
        ({}, "folder_type"),
        ({"folder_id": str(uuid.uuid4())}, "folder_id"),
    ],
)
def test_create_validation(user_client, corpus, types, body, field):
    data_file = make_file(corpus)
    response = user_client.post(CREATE, {"files": [str(data_file.id)], "element_type": "page", **body}, format="json")
    assert response.status_code == 400
    assert list(response.json()) == [field]
    assert not Process.objects.exists()


def test_create_files_of_one_visible_corpus(user_client, other_user, corpus, types):
    hidden = CorpusFactory(name="Hidden")
    response = create(user_client, [make_file(hidden)], folder_type="volume")
    assert response.status_code == 400
    assert "or you have no access to it" in response.json()["files"][0]

    other = CorpusFactory(name="Other")
    grant(other, Role.CONTRIBUTOR, user=user_client.user)
    response = create(user_client, [make_file(corpus), make_file(other)], folder_type="volume")
    assert response.status_code == 400
    assert "belong to one corpus" in response.json()["files"][0]
    assert not Process.objects.exists()


def test_create_rights(other_user, anonymous_client, corpus, types):
    data_file = make_file(corpus)
    grant(corpus, Role.GUEST, user=other_user)
    response = create(token_client(other_user), [data_file], folder_type="volume")
    assert response.status_code == 403
    assert create(anonymous_client, [data_file], folder_type="volume").status_code in (401, 403)
    assert not Process.objects.exists()


def test_task_tokens_cannot_create_imports(user_client, corpus, types, folder):
    data_file = make_file(corpus)
    create(user_client, [data_file], folder_type="volume")
    task = Task.objects.get()
    Task.objects.filter(pk=task.pk).update(state=TaskState.Running)
    client = token_client(task.process.creator)
    client.credentials(HTTP_AUTHORIZATION=f"Ponos {task.token}")
    assert create(client, [data_file], folder_type="volume").status_code == 403
    assert Process.objects.count() == 1


def end(process, state=TaskState.Completed):
    Task.objects.filter(process=process).update(state=state)
    assert services.refresh_process(process.id)


def test_retry_recreates_the_import_task(user_client, corpus, types):
    create(user_client, [make_file(corpus)], folder_type="volume")
    process = Process.objects.get()
    end(process, TaskState.Failed)
    response = user_client.post(f"/api/v1/process/{process.id}/retry/")
    assert response.status_code == 200, response.json()
    first, second = Task.objects.filter(process=process).order_by("run")
    assert (second.run, second.slug, second.env, second.command) == (1, "import", first.env, first.command)


def test_rename_a_started_import(user_client, corpus, types, folder):
    create(user_client, [make_file(corpus)], folder_id=str(folder.id))
    process = Process.objects.get()
    response = user_client.patch(f"/api/v1/process/{process.id}/", {"name": "Volume 1 import"}, format="json")
    assert response.status_code == 200, response.json()
    assert Process.objects.get().name == "Volume 1 import"


def test_destroy_data_file_while_an_import_reads_it(user_client, corpus, types):
    data_file = make_file(corpus)
    create(user_client, [data_file], folder_type="volume")
    process = Process.objects.get()

    response = user_client.delete(f"/api/v1/process/files/{data_file.id}/")
    assert response.status_code == 409
    assert response.json()["errors"][0]["code"] == "data_file_in_use"
    assert str(process.id) in response.json()["errors"][0]["detail"]

    end(process)
    assert user_client.delete(f"/api/v1/process/files/{data_file.id}/").status_code == 204
    assert not DataFile.objects.exists()
    # The ended process forgot it, and cannot be retried into reading nothing.
    assert list(Process.objects.get().files.all()) == []
    response = user_client.post(f"/api/v1/process/{process.id}/retry/")
    assert response.status_code == 200


def test_start_checks_the_files_again(user, corpus, types):
    data_file = make_file(corpus)
    process = ProcessFactory(
        mode=ProcessMode.Files, corpus=corpus, creator=user, element_type=types["page"], folder_type=types["volume"]
    )
    response = token_client(user).post(f"/api/v1/process/{process.id}/start/")
    assert response.status_code == 400
    assert response.json() == {"files": ["The import has no data files left: they were deleted. Create a new import."]}
    process.files.set([data_file])
    DataFile.objects.filter(pk=data_file.pk).update(status="error")
    response = token_client(user).post(f"/api/v1/process/{process.id}/start/")
    assert response.status_code == 400
    assert list(response.json()) == ["files"]


def test_process_deletion_forgets_its_files(user_client, corpus, types):
    data_file = make_file(corpus)
    create(user_client, [data_file], folder_type="volume")
    process = Process.objects.get()
    end(process)
    assert process_services.process_delete(process_id=process.id)
    assert not Process.objects.exists()
    assert DataFile.objects.get() == data_file


def test_corpus_deletion_with_an_import(user_client, corpus, types):
    create(user_client, [make_file(corpus)], folder_type="volume")
    end(Process.objects.get())
    documents_services.corpus_delete(corpus_id=corpus.id)
    assert not Process.objects.exists() and not DataFile.objects.exists()
