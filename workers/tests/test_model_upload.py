"""
Uploading a model version's archive, as the clients do it.

- `arkindex models publish` (CLI): CreateModelVersion, one `requests.put` of the archive to
  `s3_put_url` with only a Content-Type, then PartialUpdateModelVersion to `available` with the
  archive's size and MD5.
- `upload_to_s3` (base worker's TrainingMixin) and `arkindex upload model_version`: the four
  multipart operations with `object_type` model_version; completing makes the version available.
- The bootstrap of a task downloads `s3_url` without credentials.

Both storage backends run the same flows: the local folder through this server's signed URLs, and
S3 through moto.
"""

import base64
import hashlib

import pytest

from arkindex import storage
from tests import clients
from tests.s3 import BUCKET
from tests.storage import http_get, http_put, md5_base64
from users.models import Role, Token
from workers.models import Model, ModelVersion, ModelVersionState
from workers.tests.factories import make_model, make_version

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_root")]

ARCHIVE = b"\x28\xb5\x2f\xfd" + b"zstd archive of a model" * 100
# A well-formed Content-MD5 value
MD5 = base64.b64encode(bytes(16)).decode()


# One PUT to s3_put_url, as `arkindex models publish` does


def test_publish_flow(backend, user, user_client):
    model = make_model(user=user, level=Role.CONTRIBUTOR)
    response = user_client.post(f"/api/v1/model/{model.id}/versions/", {"tag": "v1", "configuration": {}})
    assert response.status_code == 201
    version = response.json()
    if backend == "s3":
        assert version["s3_put_url"].startswith(f"https://{BUCKET}.s3.amazonaws.com/models/{model.id}/")

    status, headers = http_put(version["s3_put_url"], ARCHIVE, {"Content-Type": "application/zstd"})
    assert status == 200
    assert headers["ETag"] == f'"{hashlib.md5(ARCHIVE).hexdigest()}"'

    response = user_client.patch(
        f"/api/v1/modelversion/{version['id']}/",
        {"state": "available", "size": len(ARCHIVE), "archive_hash": hashlib.md5(ARCHIVE).hexdigest()},
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["state"], body["size"], body["archive_hash"]) == (
        "available",
        len(ARCHIVE),
        hashlib.md5(ARCHIVE).hexdigest(),
    )
    assert body["s3_put_url"] is None

    # The bootstrap downloads it with no credentials, and extracts it because of its Content-Type
    assert http_get(body["s3_url"]) == (200, "application/zstd", ARCHIVE)


def test_available_records_size_and_hash(backend, user, user_client):
    model = make_model(user=user, level=Role.CONTRIBUTOR)
    version = make_version(model)
    status, _ = http_put(storage.upload_url(version.archive_path), ARCHIVE, {"Content-Type": "application/zstd"})
    assert status == 200
    response = user_client.patch(f"/api/v1/modelversion/{version.id}/", {"state": "available"})
    assert response.status_code == 200
    version.refresh_from_db()
    assert (version.state, version.size, version.archive_hash) == (
        ModelVersionState.Available,
        len(ARCHIVE),
        hashlib.md5(ARCHIVE).hexdigest(),
    )


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"size": 3}, "size", f"The uploaded archive is {len(ARCHIVE)} bytes, not 3"),
        (
            {"archive_hash": "0" * 32},
            "archive_hash",
            f"The uploaded archive's MD5 is {hashlib.md5(ARCHIVE).hexdigest()}",
        ),
    ],
)
def test_available_checks_the_archive(backend, user, user_client, body, field, message):
    model = make_model(user=user, level=Role.CONTRIBUTOR)
    version = make_version(model)
    http_put(storage.upload_url(version.archive_path), ARCHIVE, {"Content-Type": "application/zstd"})
    response = user_client.patch(f"/api/v1/modelversion/{version.id}/", {"state": "available", **body})
    assert response.status_code == 400
    assert list(response.json()) == [field]
    assert response.json()[field][0].startswith(message)
    version.refresh_from_db()
    assert (version.state, version.size, version.archive_hash) == (ModelVersionState.Created, None, None)


def test_available_checks_the_announced_size(user, user_client):
    """The size given at creation (by `arkindex upload model_version`, by the worker) is checked too."""
    model = make_model(user=user, level=Role.CONTRIBUTOR)
    version = make_version(model, size=len(ARCHIVE) + 1)
    http_put(storage.upload_url(version.archive_path), ARCHIVE, {"Content-Type": "application/zstd"})
    response = user_client.patch(f"/api/v1/modelversion/{version.id}/", {"state": "available"})
    assert response.status_code == 400
    assert list(response.json()) == ["size"]


# Multipart, as `arkindex.multipart.MultipartUpload` does


def multipart_upload(client, version_id, chunks):
    """The client's calls, in order; returns the parts for CompleteMultipartUpload."""
    target = {"object_type": "model_version", "object_id": str(version_id)}
    response = client.post("/api/v1/multipart/", {**target, "checksum_algorithm": None}, format="json")
    assert response.status_code == 201, response.json()
    upload_id = response.json()["upload_id"]

    parts = []
    for number, chunk in enumerate(chunks, start=1):
        md5 = md5_base64(chunk)
        response = client.post(
            "/api/v1/multipart/part/",
            {
                **target,
                "upload_id": upload_id,
                "checksum_algorithm": None,
                "part_number": number,
                "checksum": None,
                "md5_hash": md5,
            },
            format="json",
        )
        assert response.status_code == 201, response.json()
        status, headers = http_put(
            response.json()["url"], chunk, {"Content-Length": str(len(chunk)), "Content-MD5": md5}
        )
        assert status == 200
        parts.append({"part_number": number, "etag": headers["Etag"], "checksum": None, "md5_hash": md5})
    return target, upload_id, parts


def complete(client, target, upload_id, parts):
    return client.post(
        "/api/v1/multipart/complete/",
        {**target, "upload_id": upload_id, "checksum_algorithm": None, "parts": parts},
        format="json",
    )


def test_multipart_round_trip(backend, user, user_client):
    model = make_model(user=user, level=Role.CONTRIBUTOR)
    # S3 takes parts of 5 MiB at least, but for the last one
    chunks = [b"a" * 5 * 1024 * 1024, b"b" * 5 * 1024 * 1024, b"end"]
    content = b"".join(chunks)
    version = make_version(model, size=len(content), archive_hash=hashlib.md5(content).hexdigest())

    target, upload_id, parts = multipart_upload(user_client, version.id, chunks)
    # Parts are not the archive yet
    assert not storage.exists(version.archive_path)

    response = complete(user_client, target, upload_id, parts)
    assert response.status_code == 204, response.content
    version.refresh_from_db()
    assert (version.state, version.size) == (ModelVersionState.Available, len(content))
    assert version.archive_hash == hashlib.md5(content).hexdigest()

    response = user_client.get(f"/api/v1/modelversion/{version.id}/")
    assert http_get(response.json()["s3_url"]) == (200, "application/zstd", content)

    # The upload is over: its parts cannot be completed again, and the version takes no other archive
    response = complete(user_client, target, upload_id, parts)
    assert response.status_code == 409


def test_multipart_complete_checks_the_size(user, user_client):
    model = make_model(user=user, level=Role.CONTRIBUTOR)
    version = make_version(model, size=1)
    target, upload_id, parts = multipart_upload(user_client, version.id, [b"more than one byte"])
    response = complete(user_client, target, upload_id, parts)
    assert response.status_code == 400
    assert list(response.json()) == ["size"]
    version.refresh_from_db()
    assert version.state == ModelVersionState.Created


def test_multipart_complete_bad_parts(user, user_client):
    model = make_model(user=user, level=Role.CONTRIBUTOR)
    version = make_version(model)
    target, upload_id, parts = multipart_upload(user_client, version.id, [b"one", b"two"])

    response = complete(user_client, target, upload_id, [parts[1], parts[0]])
    assert response.status_code == 400
    assert response.json() == {"parts": ["List each part once, in ascending order of part number."]}
    response = complete(user_client, target, upload_id, [parts[0], {**parts[1], "etag": parts[0]["etag"]}])
    assert response.status_code == 400
    assert response.json() == {"parts": ["Part 2 does not match its ETag: send the ETag its upload answered."]}
    response = complete(user_client, target, upload_id, [])
    assert response.status_code == 400
    assert list(response.json()) == ["parts"]
    response = complete(user_client, target, "0" * 32, parts)
    assert response.status_code == 400
    assert list(response.json()) == ["upload_id"]
    version.refresh_from_db()
    assert version.state == ModelVersionState.Created

    assert complete(user_client, target, upload_id, parts).status_code == 204
    assert storage.backend().path(version.archive_path).read_bytes() == b"onetwo"


def test_multipart_abort(user, user_client, media_root):
    model = make_model(user=user, level=Role.CONTRIBUTOR)
    version = make_version(model)
    target, upload_id, parts = multipart_upload(user_client, version.id, [b"one"])

    response = user_client.post("/api/v1/multipart/abort/", {**target, "upload_id": upload_id}, format="json")
    assert response.status_code == 204
    assert list((media_root / storage.MULTIPART_FOLDER).iterdir()) == []
    response = complete(user_client, target, upload_id, parts)
    assert response.status_code == 400
    assert response.json() == {"upload_id": [storage.UPLOAD_NOT_FOUND]}
    response = user_client.post("/api/v1/multipart/abort/", {**target, "upload_id": upload_id}, format="json")
    assert response.status_code == 400
    version.refresh_from_db()
    assert version.state == ModelVersionState.Created


def test_multipart_upload_id_of_another_version(user, user_client):
    model = make_model(user=user, level=Role.CONTRIBUTOR)
    first, second = make_version(model), make_version(model)
    _, upload_id, parts = multipart_upload(user_client, first.id, [b"one"])
    other = {"object_type": "model_version", "object_id": str(second.id)}
    response = complete(user_client, other, upload_id, parts)
    assert response.status_code == 400
    assert list(response.json()) == ["upload_id"]


@pytest.mark.parametrize(
    ("path", "extra", "field"),
    [
        ("/api/v1/multipart/", {"object_type": "image"}, "object_type"),
        ("/api/v1/multipart/", {"object_id": "nope"}, "object_id"),
        ("/api/v1/multipart/", {"checksum_algorithm": "sha256"}, "checksum_algorithm"),
        ("/api/v1/multipart/part/", {"upload_id": "x", "part_number": 0, "md5_hash": MD5}, "part_number"),
        ("/api/v1/multipart/part/", {"upload_id": "x", "part_number": 10001, "md5_hash": MD5}, "part_number"),
        ("/api/v1/multipart/part/", {"upload_id": "x", "part_number": 1, "md5_hash": "not base64"}, "md5_hash"),
        ("/api/v1/multipart/part/", {"upload_id": "x", "part_number": 1, "md5_hash": "AAAA"}, "md5_hash"),
        (
            "/api/v1/multipart/part/",
            {"upload_id": "x", "part_number": 1, "md5_hash": MD5, "checksum": "abc"},
            "checksum",
        ),
        ("/api/v1/multipart/part/", {"upload_id": "0" * 32, "part_number": 1, "md5_hash": MD5}, "upload_id"),
        ("/api/v1/multipart/complete/", {"upload_id": "x"}, "parts"),
        ("/api/v1/multipart/abort/", {}, "upload_id"),
    ],
)
def test_multipart_invalid(user, user_client, path, extra, field):
    model = make_model(user=user, level=Role.CONTRIBUTOR)
    version = make_version(model)
    body = {"object_type": "model_version", "object_id": str(version.id), **extra}
    response = user_client.post(path, body, format="json")
    assert response.status_code == 400
    assert list(response.json()) == [field]


@pytest.mark.parametrize("path", ["/api/v1/multipart/", "/api/v1/multipart/part/", "/api/v1/multipart/abort/"])
@pytest.mark.parametrize(("level", "status"), [(None, 404), (Role.GUEST, 403)])
def test_multipart_rights(user, user_client, path, level, status):
    model = make_model(user=user if level else None, level=level)
    version = make_version(model, state=ModelVersionState.Available if level else ModelVersionState.Created)
    body = {
        "object_type": "model_version",
        "object_id": str(version.id),
        "upload_id": "0" * 32,
        "part_number": 1,
        "md5_hash": md5_base64(b"x"),
    }
    assert user_client.post(path, body, format="json").status_code == status


def test_multipart_anonymous(anonymous_client):
    version = make_version(make_model(public=True), state=ModelVersionState.Available)
    body = {"object_type": "model_version", "object_id": str(version.id)}
    assert anonymous_client.post("/api/v1/multipart/", body, format="json").status_code == 401


@pytest.mark.parametrize("state", [ModelVersionState.Available, ModelVersionState.Error])
def test_multipart_refused_once_uploaded(user, user_client, state):
    model = make_model(user=user, level=Role.CONTRIBUTOR)
    version = make_version(model, state=state)
    body = {"object_type": "model_version", "object_id": str(version.id), "checksum_algorithm": None}
    response = user_client.post("/api/v1/multipart/", body, format="json")
    assert response.status_code == 409
    assert response.json()["errors"][0]["detail"] == (
        f"This model version is {state}: its archive cannot be uploaded any more; create a new version."
    )


def test_put_url_only_for_contributors_of_created_versions(user, user_client):
    model = make_model(user=user, level=Role.CONTRIBUTOR)
    version = make_version(model)
    put_url = user_client.get(f"/api/v1/modelversion/{version.id}/").json()["s3_put_url"]
    ModelVersion.objects.filter(pk=version.pk).update(state=ModelVersionState.Error)
    assert user_client.get(f"/api/v1/modelversion/{version.id}/").json()["s3_put_url"] is None
    # A URL handed out earlier stays valid until it expires, as a presigned S3 URL does
    assert http_put(put_url, b"late", {"Content-Type": "application/zstd"})[0] == 200


# The real CLI against a live server


@pytest.fixture
def cli(transactional_db, live_server, settings, user, tmp_path):
    """Run `arkindex …` from `arkindex-cli` 0.5.0 as `user`, in a folder of its own."""
    python = clients.ensure_environment("cli", clients.CLI_REQUIREMENTS)
    # The signed storage URLs must lead to the live server
    settings.PUBLIC_URL = live_server.url
    token = Token.objects.create(user=user, name="cli").key
    workdir = tmp_path / "repository"
    workdir.mkdir()

    def run(*args):
        return clients.run_in_clients_env(
            python,
            [python.parent / "arkindex", *args],
            env={"ARKINDEX_API_URL": live_server.url, "ARKINDEX_API_TOKEN": token, "XDG_CONFIG_HOME": tmp_path},
            cwd=workdir,
        )

    run.workdir = workdir
    return run


@pytest.mark.e2e
def test_cli_models_publish(cli, user, media_root):
    """`arkindex models publish`: the model is created, its version uploaded to s3_put_url and made available."""
    model_dir = cli.workdir / "model"
    model_dir.mkdir()
    (model_dir / "weights.bin").write_bytes(bytes(range(256)) * 64)
    (model_dir / "charset.txt").write_text("abc")
    (cli.workdir / "README.md").write_text("Recognises lines.")
    (cli.workdir / ".arkindex.yml").write_text(
        "version: 2\n"
        "models:\n"
        "  - name: Line recognizer\n"
        "    path: model\n"
        "    tag: v1\n"
        "    description: README.md\n"
        "    configuration:\n"
        "      height: 128\n"
    )

    cli("models", "publish")
    version = ModelVersion.objects.select_related("model").get()
    assert version.model.name == "Line recognizer"
    assert version.model.creator == user
    assert (version.tag, version.description, version.configuration) == ("v1", "Recognises lines.", {"height": 128})
    assert version.state == ModelVersionState.Available
    archive = (media_root / version.archive_path).read_bytes()
    assert version.size == len(archive)
    assert version.archive_hash == hashlib.md5(archive).hexdigest()

    # Again: the model is found through the 400's `id`, and the tag is taken, so nothing is added
    cli("models", "publish")
    assert ModelVersion.objects.count() == 1
    assert Model.objects.count() == 1


@pytest.mark.e2e
def test_cli_upload_model_version_in_parts(cli, user, media_root):
    """`arkindex upload model_version`: CreateModelVersion with the size and MD5, then the multipart upload."""
    model = make_model("Uploaded", user=user, level=Role.CONTRIBUTOR)
    content = bytes(range(256)) * 10_000  # 2.4 MiB: three parts of 1 MiB at most
    (cli.workdir / "model.tar.zst").write_bytes(content)

    cli("upload", "model_version", "model.tar.zst", "--model-id", str(model.id), "--chunk-size", "1")
    version = ModelVersion.objects.get(model=model)
    assert version.state == ModelVersionState.Available
    assert (version.size, version.archive_hash) == (len(content), hashlib.md5(content).hexdigest())
    assert (media_root / version.archive_path).read_bytes() == content
    assert list((media_root / storage.MULTIPART_FOLDER).iterdir()) == []
