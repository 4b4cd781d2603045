"""
Data files: CreateDataFile, their upload with the multipart operations (`object_type: data_file`,
as `arkindex upload data_file` sends them) on both storages, RetrieveDataFile with its download
URL, ListCorpusDataFiles and DestroyDataFile. Deleting a data file read by a running process is
tested with file imports (`ponos/tests/test_file_imports.py`).
"""

# ruff: noqa: F811 (pytest fixtures imported from workers.tests.test_model_upload)

import hashlib
import uuid

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from arkindex import storage
from documents import services
from documents.models import DataFile
from documents.tests.factories import CorpusFactory
from tests.storage import http_get, http_put, md5_base64
from users.models import Role
from users.tests.factories import grant

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_root")]

CONTENT = b"https://iiif.example.com/iiif/2/page1.jpg\nhttps://iiif.example.com/iiif/2/page2.jpg\n"


def create_body(corpus, **fields):
    return {"name": "pages", "corpus": str(corpus.id), "content_type": "text/plain", "size": len(CONTENT), **fields}


def make_file(corpus, content=CONTENT, status="checked", name="pages"):
    data_file = DataFile.objects.create(
        corpus=corpus, name=name, content_type="text/plain", size=len(content), status=status
    )
    if status == "checked":
        default_storage.save(data_file.storage_key, ContentFile(content))
    return data_file


def upload(client, data_file_id, chunks):
    """The calls of `arkindex.multipart.MultipartUpload`, in order; returns the CompleteMultipartUpload response."""
    target = {"object_type": "data_file", "object_id": str(data_file_id)}
    response = client.post("/api/v1/multipart/", {**target, "checksum_algorithm": None}, format="json")
    assert response.status_code == 201, response.json()
    upload_id = response.json()["upload_id"]
    parts = []
    for number, chunk in enumerate(chunks, start=1):
        md5 = md5_base64(chunk)
        body = {"upload_id": upload_id, "checksum_algorithm": None, "part_number": number, "checksum": None}
        response = client.post("/api/v1/multipart/part/", {**target, **body, "md5_hash": md5}, format="json")
        assert response.status_code == 201, response.json()
        status, headers = http_put(
            response.json()["url"], chunk, {"Content-Length": str(len(chunk)), "Content-MD5": md5}
        )
        assert status == 200
        parts.append({"part_number": number, "etag": headers["Etag"], "checksum": None, "md5_hash": md5})
    return client.post(
        "/api/v1/multipart/complete/",
        {**target, "upload_id": upload_id, "checksum_algorithm": None, "parts": parts},
        format="json",
    )


# CreateDataFile


def test_create(user, user_client, corpus):
    response = user_client.post("/api/v1/process/files/create/", create_body(corpus))
    assert response.status_code == 201, response.json()
    data_file = DataFile.objects.get()
    assert response.json() == {
        "id": str(data_file.id),
        "name": "pages",
        "corpus": str(corpus.id),
        "content_type": "text/plain",
        "size": len(CONTENT),
        "hash": "",
        "status": "unchecked",
        "s3_url": None,
        "created": data_file.created.isoformat().replace("+00:00", "Z"),
    }
    assert data_file.creator == user


@pytest.mark.parametrize(
    ("fields", "errors"),
    [
        ({"name": ""}, ["name"]),
        ({"size": 0}, ["size"]),
        ({"content_type": "plain text"}, ["content_type"]),
        ({"name": "x" * 101, "size": -1}, ["name", "size"]),
    ],
)
def test_create_validation(user_client, corpus, fields, errors):
    response = user_client.post("/api/v1/process/files/create/", create_body(corpus, **fields))
    assert response.status_code == 400
    assert sorted(response.json()) == errors
    assert not DataFile.objects.exists()


def test_create_rights(user, user_client, other_client, anonymous_client, corpus):
    # Hidden corpus: a validation error on the field, as for every body naming a corpus
    response = other_client.post("/api/v1/process/files/create/", create_body(corpus))
    assert response.status_code == 400
    assert list(response.json()) == ["corpus"]
    # Readable, but not as a contributor
    grant(corpus, Role.GUEST, user=other_client.user)
    assert other_client.post("/api/v1/process/files/create/", create_body(corpus)).status_code == 403
    assert anonymous_client.post("/api/v1/process/files/create/", create_body(corpus)).status_code in (401, 403)
    assert not DataFile.objects.exists()


# Uploading with the multipart operations


def test_multipart_upload_checks_the_file(backend, user_client, corpus):
    # S3 takes parts of 5 MiB at least, but for the last one.
    chunks = [b"a" * 5 * 1024 * 1024, CONTENT]
    content = b"".join(chunks)
    created = user_client.post("/api/v1/process/files/create/", create_body(corpus, size=len(content))).json()

    response = upload(user_client, created["id"], chunks)
    assert response.status_code == 204, response.content
    data_file = DataFile.objects.get()
    assert data_file.status == "checked"
    # S3 does not tell the MD5 of an object made of parts.
    assert data_file.hash == ("" if backend == "s3" else hashlib.md5(content).hexdigest())

    body = user_client.get(f"/api/v1/process/files/{data_file.id}/").json()
    assert body["status"] == "checked"
    assert http_get(body["s3_url"]) == (200, "text/plain", content)

    # A checked file's content never changes.
    response = user_client.post(
        "/api/v1/multipart/", {"object_type": "data_file", "object_id": str(data_file.id)}, format="json"
    )
    assert response.status_code == 409
    assert response.json()["errors"][0]["code"] == "data_file_checked"


def test_upload_of_another_size_is_an_error(user_client, corpus):
    created = user_client.post("/api/v1/process/files/create/", create_body(corpus, size=3)).json()
    response = upload(user_client, created["id"], [CONTENT])
    assert response.status_code == 400
    assert response.json() == {
        "size": [
            f"The data file was announced with 3 bytes, but {len(CONTENT)} bytes were uploaded: "
            "upload the whole file again."
        ]
    }
    assert DataFile.objects.get().status == "error"

    # A file in error is uploaded again.
    assert upload(user_client, created["id"], [b"abc"]).status_code == 204
    assert DataFile.objects.get().status == "checked"


def test_upload_rights(user_client, other_client, corpus):
    data_file = make_file(corpus, status="unchecked")
    target = {"object_type": "data_file", "object_id": str(data_file.id)}
    assert other_client.post("/api/v1/multipart/", target, format="json").status_code == 404
    grant(corpus, Role.GUEST, user=other_client.user)
    assert other_client.post("/api/v1/multipart/", target, format="json").status_code == 403
    response = user_client.post("/api/v1/multipart/", {**target, "object_id": str(uuid.uuid4())}, format="json")
    assert response.status_code == 404


def test_upload_abort(user_client, corpus, media_root):
    data_file = make_file(corpus, status="unchecked")
    target = {"object_type": "data_file", "object_id": str(data_file.id)}
    upload_id = user_client.post("/api/v1/multipart/", target, format="json").json()["upload_id"]
    response = user_client.post("/api/v1/multipart/abort/", {**target, "upload_id": upload_id}, format="json")
    assert response.status_code == 204
    assert list((media_root / storage.MULTIPART_FOLDER).iterdir()) == []
    assert DataFile.objects.get().status == "unchecked"


# RetrieveDataFile


def test_retrieve(user_client, corpus, django_assert_num_queries, media_root):
    data_file = make_file(corpus)
    user_client.get(f"/api/v1/process/files/{data_file.id}/")  # records the token's first use
    with django_assert_num_queries(2):  # the token, the file with the user's level on its corpus
        response = user_client.get(f"/api/v1/process/files/{data_file.id}/")
    assert response.status_code == 200
    body = response.json()
    assert (body["id"], body["status"]) == (str(data_file.id), "checked")
    assert http_get(body["s3_url"]) == (200, "text/plain", CONTENT)


def test_retrieve_rights(other_client, corpus, public_corpus, anonymous_client):
    data_file = make_file(corpus, status="unchecked")
    assert other_client.get(f"/api/v1/process/files/{data_file.id}/").status_code == 404
    assert other_client.get(f"/api/v1/process/files/{uuid.uuid4()}/").status_code == 404
    # Guests read the file, but get no download URL.
    grant(corpus, Role.GUEST, user=other_client.user)
    checked = make_file(corpus, name="checked")
    response = other_client.get(f"/api/v1/process/files/{checked.id}/")
    assert response.status_code == 200
    assert response.json()["s3_url"] is None
    public_file = make_file(public_corpus)
    assert anonymous_client.get(f"/api/v1/process/files/{public_file.id}/").json()["s3_url"] is None


# ListCorpusDataFiles


@pytest.mark.parametrize("count", [2, 12])
def test_list(user_client, corpus, count, django_assert_num_queries, media_root):
    for index in range(count):
        make_file(corpus, name=f"file {index:02}")
    make_file(CorpusFactory(name="Other"), name="elsewhere")
    user_client.get(f"/api/v1/corpus/{corpus.id}/files/")
    # The token, the corpus with the user's level, the count, the page: whatever the page size
    with django_assert_num_queries(4):
        response = user_client.get(f"/api/v1/corpus/{corpus.id}/files/?page_size=20")
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == count
    assert [item["name"] for item in body["results"]] == [f"file {index:02}" for index in range(count)]
    assert all(item["s3_url"] for item in body["results"])


def test_list_rights(other_client, anonymous_client, corpus, public_corpus):
    assert other_client.get(f"/api/v1/corpus/{corpus.id}/files/").status_code == 404
    make_file(public_corpus)
    response = anonymous_client.get(f"/api/v1/corpus/{public_corpus.id}/files/")
    assert response.status_code == 200
    assert [item["s3_url"] for item in response.json()["results"]] == [None]


# DestroyDataFile


def test_destroy(user_client, corpus, django_capture_on_commit_callbacks):
    data_file = make_file(corpus)
    with django_capture_on_commit_callbacks(execute=True):
        response = user_client.delete(f"/api/v1/process/files/{data_file.id}/")
    assert response.status_code == 204
    assert not DataFile.objects.exists()
    assert not storage.exists(data_file.storage_key)


def test_destroy_rights(other_client, corpus):
    data_file = make_file(corpus)
    assert other_client.delete(f"/api/v1/process/files/{data_file.id}/").status_code == 404
    grant(corpus, Role.GUEST, user=other_client.user)
    assert other_client.delete(f"/api/v1/process/files/{data_file.id}/").status_code == 403
    assert DataFile.objects.filter(pk=data_file.pk).exists()


def test_corpus_deletion_deletes_data_files(corpus, django_capture_on_commit_callbacks):
    data_file = make_file(corpus)
    other = make_file(CorpusFactory(name="Other"), name="kept")
    with django_capture_on_commit_callbacks(execute=True):
        services.corpus_delete(corpus_id=corpus.id)
    assert list(DataFile.objects.all()) == [other]
    assert not storage.exists(data_file.storage_key)
    assert storage.exists(other.storage_key)
