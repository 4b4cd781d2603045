"""
A IIIF import end to end (seed 002, "File imports"): data files uploaded by the real
`arkindex-cli` 0.5.0 (`arkindex upload data_file`: CreateDataFile, then the multipart operations
against this server's own storage), a process of mode iiif created with CreateFilesProcess, and its
import task run by a real agent (local executor), which downloads the data files through their
signed URLs and creates pages with zones on images served by a IIIF server stub running in this
test (`documents.tests.iiif_stub`). Retrying the process completes the import without
duplicating anything. Never the network.

The real client's `create_iiif_image` shortcut is run too: the 409 `existing_id` of a second
registration leads it to RetrieveImage (API.md §1.7).
"""

# ruff: noqa: F811 (the pytest fixture imported from documents.tests.iiif_stub)

import json
import textwrap

import pytest

from documents.models import DataFile, Element, Image
from documents.tests.factories import CorpusFactory, ElementTypeFactory
from documents.tests.iiif_stub import iiif_server  # noqa: F401
from ponos.tests.running import wait_finished
from processes.models import Process, ProcessState
from users.models import Role, Token
from users.tests.factories import grant

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("transactional_db")]

PAGES = {"folder%2Ff001.jpg": (1000, 1500), "f002.jpg": (1100, 1600), "f003.jpg": (900, 1400)}
MANIFEST_PAGES = {"reg12-1r.jpg": (2000, 3000), "reg12-1v.jpg": (2010, 3010)}


@pytest.fixture
def corpus(user):
    corpus = CorpusFactory(name="Registers")
    grant(corpus, Role.CONTRIBUTOR, user=user)
    ElementTypeFactory(corpus=corpus, slug="volume", display_name="Volume", folder=True)
    ElementTypeFactory(corpus=corpus, slug="page", display_name="Page")
    return corpus


def manifest(stub):
    """A IIIF Presentation 3 manifest of two canvases on the stub's images."""

    def canvas(identifier, label):
        width, height = MANIFEST_PAGES[identifier]
        service = stub.image_url(identifier)
        body = {"id": f"{service}/full/max/0/default.jpg", "type": "Image", "service": [{"id": service}]}
        annotation = {"type": "Annotation", "motivation": "painting", "body": body}
        return {
            "id": f"{stub.url}/canvas/{identifier}",
            "type": "Canvas",
            "label": {"none": [label]},
            "width": width,
            "height": height,
            "items": [{"type": "AnnotationPage", "items": [annotation]}],
        }

    return {
        "@context": "http://iiif.io/api/presentation/3/context.json",
        "type": "Manifest",
        "label": {"en": ["Register 12"]},
        "items": [canvas("reg12-1r.jpg", "f. 1r"), canvas("reg12-1v.jpg", "f. 1v")],
    }


def upload_data_file(cli_python, run_in_clients_env, live_server, token, path, corpus, name):
    run_in_clients_env(
        cli_python.parent / "arkindex",
        ["upload", "data_file", str(path), "--corpus-id", str(corpus.id), "--name", name],
        env={"ARKINDEX_API_URL": live_server.url, "ARKINDEX_API_TOKEN": token, "XDG_CONFIG_HOME": path.parent},
    )
    return DataFile.objects.get(corpus=corpus, name=name)


def api(live_server, token, method, path, body=None):
    import requests

    response = requests.request(
        method, f"{live_server.url}/api/v1/{path}", json=body, headers={"Authorization": f"Token {token}"}, timeout=60
    )
    return response.status_code, response.json() if response.content else None


def test_iiif_import(ponos, live_server, user, corpus, iiif_server, tmp_path, cli_python, run_in_clients_env):
    for identifier, (width, height) in {**PAGES, **MANIFEST_PAGES}.items():
        iiif_server.add(identifier, width, height)
    token = Token.objects.create(user=user, name="import").key

    listing = tmp_path / "volume-1.txt"
    listing.write_text(
        "# Volume 1, as listed by the archive\n"
        f"{iiif_server.image_url('folder%2Ff001.jpg')}\n"
        f"{iiif_server.image_url('f002.jpg')}/info.json  Second page\n"
        f"{iiif_server.image_url('f003.jpg')}\n"
    )
    manifest_path = tmp_path / "register-12.json"
    manifest_path.write_text(json.dumps(manifest(iiif_server)))
    volume = upload_data_file(cli_python, run_in_clients_env, live_server, token, listing, corpus, "Volume 1")
    register = upload_data_file(
        cli_python, run_in_clients_env, live_server, token, manifest_path, corpus, "register-12"
    )
    assert (volume.status, volume.content_type, volume.size) == ("checked", "text/plain", listing.stat().st_size)
    assert (register.status, register.content_type) == ("checked", "application/json")

    status, body = api(
        live_server,
        token,
        "POST",
        "process/files/",
        {"files": [str(volume.id), str(register.id)], "mode": "iiif", "element_type": "page", "folder_type": "volume"},
    )
    assert status == 201, body
    process = wait_finished(Process.objects.get(pk=body["id"]))
    assert process.state == ProcessState.Completed

    folders = {folder.name: folder for folder in Element.objects.filter(corpus=corpus, type__slug="volume")}
    assert set(folders) == {"Volume 1", "Register 12"}
    expected = {
        "Volume 1": [("folder/f001.jpg", "folder%2Ff001.jpg"), ("Second page", "f002.jpg"), ("f003.jpg", "f003.jpg")],
        "Register 12": [("f. 1r", "reg12-1r.jpg"), ("f. 1v", "reg12-1v.jpg")],
    }
    for name, pages in expected.items():
        status, children = api(live_server, token, "GET", f"elements/{folders[name].id}/children/?with_zone=true")
        assert status == 200
        assert [(child["name"], child["zone"]["image"]["path"]) for child in children["results"]] == pages
        for child in children["results"]:
            image = child["zone"]["image"]
            width, height = {**PAGES, **MANIFEST_PAGES}[image["path"]]
            assert (image["width"], image["height"], image["status"]) == (width, height, "checked")
            assert image["url"] == iiif_server.image_url(image["path"])
            # The zone is the whole image.
            assert child["zone"]["polygon"] == [[0, 0], [0, height], [width, height], [width, 0], [0, 0]]
            assert child["zone"]["url"] == f"{image['url']}/0,0,{width},{height}/full/0/default.jpg"
            assert child["type"] == "page"
    assert Image.objects.count() == 5

    # A retry completes the import: nothing is imported twice.
    status, body = api(live_server, token, "POST", f"process/{process.id}/retry/")
    assert status == 200, body
    process = wait_finished(process)
    assert process.state == ProcessState.Completed
    assert Element.objects.filter(corpus=corpus, type__slug="volume").count() == 2
    assert Element.objects.filter(corpus=corpus, type__slug="page").count() == 5
    assert Image.objects.count() == 5


def test_import_failures_fail_the_task(ponos, live_server, user, corpus, iiif_server, tmp_path):
    """An image that its IIIF server cannot describe is reported; the others are imported, and the task fails."""
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    from ponos.logs import read_log
    from ponos.models import Task

    iiif_server.add("f001.jpg", 100, 200)
    content = f"{iiif_server.image_url('f001.jpg')}\n{iiif_server.image_url('missing.jpg')}\n".encode()
    data_file = DataFile.objects.create(
        corpus=corpus, name="partly broken", content_type="text/plain", size=len(content), status="checked"
    )
    default_storage.save(data_file.storage_key, ContentFile(content))
    token = Token.objects.create(user=user, name="import").key
    status, body = api(
        live_server,
        token,
        "POST",
        "process/files/",
        {"files": [str(data_file.id)], "mode": "iiif", "element_type": "page", "folder_type": "volume"},
    )
    assert status == 201, body
    process = wait_finished(Process.objects.get(pk=body["id"]))
    assert process.state == ProcessState.Failed
    assert list(Element.objects.filter(type__slug="page").values_list("name", flat=True)) == ["f001.jpg"]
    log = read_log(Task.objects.get(process=process)).decode()
    assert "ERROR: missing.jpg: The image" in log
    assert "answered HTTP 404" in log


def test_client_shortcut_finds_existing_images(live_server, user, iiif_server, worker_python, run_in_clients_env):
    url = iiif_server.add("f001.jpg", 640, 480)
    token = Token.objects.create(user=user, name="client").key
    script = textwrap.dedent(
        f"""
        import json
        from arkindex import ArkindexClient
        from arkindex.shortcuts import create_iiif_image

        client = ArkindexClient(token={token!r}, base_url={live_server.url!r})
        first = create_iiif_image(client, {url!r})
        second = create_iiif_image(client, {url!r})
        sized = create_iiif_image(client, {url + "-sized"!r}, width=10, height=20)
        print(json.dumps([first, second, sized]))
        """
    )
    output = run_in_clients_env(worker_python, script)
    first, second, sized = json.loads(output.stdout.strip().splitlines()[-1])
    assert first["id"] == second["id"]
    assert (first["status"], first["width"], first["height"]) == ("checked", 640, 480)
    assert second["server"]["url"] == iiif_server.url
    assert (sized["status"], sized["width"], sized["height"]) == ("unchecked", 10, 20)
    assert Image.objects.count() == 2
