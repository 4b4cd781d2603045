"""
Artifacts: CreateArtifact then a PUT to `s3_put_url` (as the base worker does), ListArtifacts as a
plain JSON array, DownloadArtifact by path, and `store_artifact` for the agent. The files go through
the real storage code: a local folder behind this server's signed URLs, and S3 through moto.
"""

# The fixtures imported from task_fixtures are redefined as test arguments, as pytest intends.
# ruff: noqa: F811

import uuid
from urllib.parse import urlsplit

import pytest
from django.test import Client
from rest_framework.exceptions import ValidationError

from ponos.artifacts import store_artifact
from ponos.models import Artifact, TaskState
from ponos.tests.factories import make_task
from ponos.tests.task_fixtures import (  # noqa: F401 (fixtures)
    guest,
    guest_client,
    media_root,
    other_process,
    process,
    task,
)
from tests.s3 import BUCKET
from tests.tokens import task_client

pytestmark = pytest.mark.django_db

ARTIFACT_FIELDS = {"id", "path", "size", "content_type", "s3_put_url", "created", "updated"}


def local_request(method, url, **kwargs):
    """Follow one of this server's own storage URLs, without credentials, as `requests` would."""
    parts = urlsplit(url)
    assert parts.netloc == "testserver"
    return getattr(Client(), method)(f"{parts.path}?{parts.query}", **kwargs)


def create(client, task, **body):
    return client.post(f"/api/v1/task/{task.id}/artifacts/", body, format="json")


# CreateArtifact


def test_create_artifact_and_upload(media_root, task):
    client = task_client(task)
    response = create(client, task, path="results/model.tar.zst", content_type="application/zstd", size=5)
    assert response.status_code == 201, response.json()
    body = response.json()
    assert set(body) == ARTIFACT_FIELDS
    assert (body["path"], body["size"], body["content_type"]) == ("results/model.tar.zst", 5, "application/zstd")
    assert body["s3_put_url"].startswith(f"http://testserver/api/v1/storage/ponos/artifacts/{task.id}/results/")

    put = local_request("put", body["s3_put_url"], data=b"bytes", content_type="application/zstd")
    assert put.status_code == 200
    assert (media_root / "ponos" / "artifacts" / str(task.id) / "results" / "model.tar.zst").read_bytes() == b"bytes"

    download = client.get(f"/api/v1/task/{task.id}/artifact/results/model.tar.zst")
    assert download.status_code == 302
    got = local_request("get", download["Location"])
    assert got.status_code == 200
    assert got["Content-Type"] == "application/zstd"
    assert b"".join(got.streaming_content) == b"bytes"


def test_create_artifact_default_content_type(task):
    response = create(task_client(task), task, path="output.bin", size=0)
    assert response.status_code == 201, response.json()
    assert response.json()["content_type"] == "application/octet-stream"


@pytest.mark.parametrize(
    "path",
    ["", "/etc/passwd", "../escape.txt", "a/../../b", "folder/", "a//b", "./a", "a/./b", "dir\\file", "x" * 501],
)
def test_create_artifact_bad_path(task, path):
    response = create(task_client(task), task, path=path, content_type="text/plain", size=1)
    assert response.status_code == 400
    assert list(response.json()) == ["path"]
    assert not Artifact.objects.exists()


@pytest.mark.parametrize("body", [{"path": "a.txt", "size": -1}, {"path": "a.txt"}, {"size": 3}])
def test_create_artifact_bad_body(task, body):
    response = task_client(task).post(f"/api/v1/task/{task.id}/artifacts/", body, format="json")
    assert response.status_code == 400
    assert not Artifact.objects.exists()


def test_create_artifact_duplicate(task):
    client = task_client(task)
    assert create(client, task, path="a.txt", content_type="text/plain", size=1).status_code == 201
    response = create(client, task, path="a.txt", content_type="text/plain", size=2)
    assert response.status_code == 400
    assert "already has an artifact" in response.json()["path"][0]
    assert Artifact.objects.get().size == 1


def test_create_artifact_only_own_token(user_client, anonymous_client, process, other_process, task):
    sibling = make_task(process, "sibling", state=TaskState.Running)
    stranger = make_task(other_process, "stranger", state=TaskState.Running)
    body = {"path": "a.txt", "content_type": "text/plain", "size": 1}
    assert create(task_client(sibling), task, **body).status_code == 404
    assert create(task_client(stranger), task, **body).status_code == 404
    assert create(user_client, task, **body).status_code == 403
    assert create(anonymous_client, task, **body).status_code == 401
    assert not Artifact.objects.exists()


def test_create_artifact_s3(s3, settings, task):
    client = task_client(task)
    response = create(client, task, path="out.json", content_type="application/json", size=2)
    assert response.status_code == 201, response.json()
    assert response.json()["s3_put_url"].startswith(
        f"https://{BUCKET}.s3.amazonaws.com/ponos/artifacts/{task.id}/out.json?"
    )
    # Not uploaded yet: nothing to download.
    assert client.get(f"/api/v1/task/{task.id}/artifact/out.json").status_code == 404

    store_artifact(task, "out.json", _write(settings, b"{}"), "application/json")
    download = client.get(f"/api/v1/task/{task.id}/artifact/out.json")
    assert download.status_code == 302
    assert download["Location"].startswith(f"https://{BUCKET}.s3.amazonaws.com/ponos/artifacts/{task.id}/out.json?")


def _write(settings, data):
    path = settings.MEDIA_ROOT.parent / f"upload-{uuid.uuid4()}"
    path.write_bytes(data)
    return path


# ListArtifacts


def make_artifacts(task, count):
    return Artifact.objects.bulk_create(
        [Artifact(task=task, path=f"file_{n}.txt", size=n, content_type="text/plain") for n in range(count)]
    )


@pytest.mark.parametrize("size", [2, 5])
def test_list_artifacts(guest_client, process, task, size, django_assert_num_queries):
    make_artifacts(task, size)
    make_artifacts(make_task(process, "other", state=TaskState.Completed), 3)
    url = f"/api/v1/task/{task.id}/artifacts/"
    guest_client.get(url)
    # Token, task (filtered by the caller's rights), artifacts: the same whatever their number.
    with django_assert_num_queries(3):
        response = guest_client.get(url)
    assert response.status_code == 200
    body = response.json()
    assert isinstance(body, list)
    assert [item["path"] for item in body] == [f"file_{n}.txt" for n in range(size)]
    assert all(set(item) == ARTIFACT_FIELDS and item["s3_put_url"] is None for item in body)


@pytest.mark.parametrize("size", [2, 5])
def test_list_artifacts_with_task_token(process, task, size, django_assert_num_queries):
    """The base worker's bootstrap lists the artifacts of the parents of its task."""
    parent = make_task(process, "parent", state=TaskState.Completed)
    make_artifacts(parent, size)
    client = task_client(task)
    with django_assert_num_queries(3):
        response = client.get(f"/api/v1/task/{parent.id}/artifacts/")
    assert response.status_code == 200
    assert len(response.json()) == size


def test_list_artifacts_access(other_client, anonymous_client, other_process, task):
    make_artifacts(task, 1)
    url = f"/api/v1/task/{task.id}/artifacts/"
    assert other_client.get(url).status_code == 404
    assert anonymous_client.get(url).status_code == 401
    stranger = make_task(other_process, "stranger", state=TaskState.Running)
    assert task_client(stranger).get(url).status_code == 404
    assert task_client(task).get(f"/api/v1/task/{uuid.uuid4()}/artifacts/").status_code == 404


def test_list_artifacts_empty(user_client, task):
    response = user_client.get(f"/api/v1/task/{task.id}/artifacts/")
    assert response.status_code == 200
    assert response.json() == []


# DownloadArtifact


def test_download_artifact(guest_client, process, task, tmp_path):
    source = tmp_path / "report.txt"
    source.write_text("all good")
    store_artifact(task, "logs/report.txt", source, "text/plain")
    response = guest_client.get(f"/api/v1/task/{task.id}/artifact/logs/report.txt")
    assert response.status_code == 302
    got = local_request("get", response["Location"])
    assert got["Content-Type"] == "text/plain"
    assert 'filename="report.txt"' in got["Content-Disposition"]
    assert b"".join(got.streaming_content) == b"all good"

    # The base worker's bootstrap downloads its parents' artifacts with its own token.
    child = make_task(process, "child", state=TaskState.Running)
    assert task_client(child).get(f"/api/v1/task/{task.id}/artifact/logs/report.txt").status_code == 302


def test_download_artifact_missing(user_client, task):
    assert user_client.get(f"/api/v1/task/{task.id}/artifact/nothing.txt").status_code == 404
    # Declared, never uploaded
    Artifact.objects.create(task=task, path="declared.txt", size=3)
    assert user_client.get(f"/api/v1/task/{task.id}/artifact/declared.txt").status_code == 404
    assert user_client.get(f"/api/v1/task/{uuid.uuid4()}/artifact/nothing.txt").status_code == 404


def test_download_artifact_access(other_client, anonymous_client, other_process, task, tmp_path):
    source = tmp_path / "a.txt"
    source.write_text("a")
    store_artifact(task, "a.txt", source)
    url = f"/api/v1/task/{task.id}/artifact/a.txt"
    assert other_client.get(url).status_code == 404
    assert anonymous_client.get(url).status_code == 401
    stranger = make_task(other_process, "stranger", state=TaskState.Running)
    assert task_client(stranger).get(url).status_code == 404


# store_artifact (the agent)


def test_store_artifact_creates_then_updates(media_root, task, tmp_path):
    # Declared by the task through the API first, then collected by the agent from its folder.
    Artifact.objects.create(task=task, path="out/result.json", size=1, content_type="text/plain")
    source = tmp_path / "result.json"
    source.write_text('{"ok": true}')
    artifact = store_artifact(task, "out/result.json", source, "application/json")
    assert Artifact.objects.get() == artifact
    assert (artifact.size, artifact.content_type) == (12, "application/json")
    stored = media_root / "ponos" / "artifacts" / str(task.id) / "out" / "result.json"
    assert stored.read_text() == '{"ok": true}'

    source.write_text("{}")
    artifact = store_artifact(task, "out/result.json", source, "application/json")
    assert Artifact.objects.get().size == 2
    assert stored.read_text() == "{}"


def test_store_artifact_refuses_bad_paths(task, tmp_path):
    source = tmp_path / "a"
    source.write_text("a")
    for path in ("../a", "/a"):
        with pytest.raises(ValidationError) as error:
            store_artifact(task, path, source)
        assert list(error.value.detail) == ["path"]
    assert not Artifact.objects.exists()
