"""
The storage interface (`arkindex.storage`) on both backends.

Locally, files are written and read through this server's signed URLs, with no credential but the
token: the tests send the requests the clients send (a PUT with a body and a Content-Type, a PUT
with Content-MD5 for a part, a GET), through the Django test client. On S3, the same functions
run against moto's in-memory S3, and the presigned URLs are used with plain `requests` as the
clients do.
"""

import base64
import hashlib
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests
from django.core import signing
from django.test import Client

from arkindex import storage
from tests.s3 import BUCKET

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.PUBLIC_URL = "http://testserver"
    return settings.MEDIA_ROOT


def local_path(url):
    """What the test client needs of an absolute URL."""
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}" == "http://testserver"
    return f"{parts.path}?{parts.query}"


def md5_base64(data):
    return base64.b64encode(hashlib.md5(data).digest()).decode()


def put(url, data, **headers):
    return Client().put(local_path(url), data=data, **headers)


def test_local_put_then_get(media_root):
    url = storage.upload_url("models/a/archive.tar.zst")
    response = put(url, b"archive bytes", content_type="application/zstd")
    assert response.status_code == 200, response.content
    assert response["ETag"] == f'"{hashlib.md5(b"archive bytes").hexdigest()}"'
    assert (media_root / "models/a/archive.tar.zst").read_bytes() == b"archive bytes"
    assert storage.exists("models/a/archive.tar.zst")
    assert storage.size("models/a/archive.tar.zst") == 13
    assert storage.content_md5("models/a/archive.tar.zst") == hashlib.md5(b"archive bytes").hexdigest()
    # No temporary file is left beside the file
    assert [path.name for path in (media_root / "models/a").iterdir()] == ["archive.tar.zst"]

    response = Client().get(
        local_path(storage.download_url("models/a/archive.tar.zst", content_type="application/zstd"))
    )
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zstd"
    assert b"".join(response.streaming_content) == b"archive bytes"


def test_local_put_replaces(media_root):
    url = storage.upload_url("file.bin")
    assert put(url, b"first", content_type="application/octet-stream").status_code == 200
    assert put(url, b"second", content_type="application/octet-stream").status_code == 200
    assert (media_root / "file.bin").read_bytes() == b"second"


def test_local_get_with_filename():
    put(storage.upload_url("a/b.txt"), b"hello", content_type="text/plain")
    response = Client().get(local_path(storage.download_url("a/b.txt", filename="hello.txt")))
    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="hello.txt"'
    assert response["Content-Type"].startswith("text/plain")


def test_local_get_missing_file():
    response = Client().get(local_path(storage.download_url("nothing/here.bin")))
    assert response.status_code == 404
    assert response.json() == {"detail": "This file has not been uploaded."}


def test_local_put_signed_content_type():
    url = storage.upload_url("typed.json", content_type="application/json")
    response = put(url, b"{}", content_type="text/plain")
    assert response.status_code == 403
    assert "application/json" in response.json()["detail"]
    assert not storage.exists("typed.json")
    assert put(url, b"{}", content_type="application/json").status_code == 200


def test_local_expired_url(monkeypatch):
    upload = storage.upload_url("late.bin", expires=60)
    download = storage.download_url("late.bin", expires=60)
    real_time = storage.time.time
    monkeypatch.setattr(storage.time, "time", lambda: real_time() + 61)
    for response in (put(upload, b"x", content_type="application/octet-stream"), Client().get(local_path(download))):
        assert response.status_code == 403
        assert response.json() == {"detail": "This URL has expired: ask the API for a new URL."}
    assert not storage.exists("late.bin")


def test_local_forged_signature():
    url = storage.upload_url("forged.bin")
    parts = urlsplit(url)
    token = parse_qs(parts.query)["token"][0]
    # The same token for another key, then a token signed with another secret
    forged = [
        f"/api/v1/storage/other.bin?{urlencode({'token': token})}",
        f"{parts.path}?{urlencode({'token': token[:-2] + 'xx'})}",
        f"{parts.path}?"
        + urlencode({"token": signing.dumps({"k": "forged.bin", "m": "PUT", "x": 2**40}, key="not-our-secret-key")}),
        f"{parts.path}?",
    ]
    for path in forged:
        response = Client().put(path, data=b"x", content_type="application/octet-stream")
        assert response.status_code == 403, path
        assert "detail" in response.json()
    assert not storage.exists("forged.bin")
    assert not storage.exists("other.bin")


def test_local_url_signed_for_another_method():
    upload = storage.upload_url("method.bin")
    put(upload, b"x", content_type="application/octet-stream")
    response = Client().get(local_path(upload))
    assert response.status_code == 403
    assert "not signed for GET" in response.json()["detail"]

    download = storage.download_url("method.bin")
    assert put(download, b"y", content_type="application/octet-stream").status_code == 403
    assert Client().delete(local_path(download)).status_code == 405


def test_local_multipart_round_trip(media_root):
    key = "models/m/parts.tar.zst"
    chunks = [b"a" * 1000, b"b" * 1000, b"c" * 10]
    upload_id = storage.create_multipart(key)

    parts = []
    for number, chunk in enumerate(chunks, start=1):
        url = storage.multipart_part_url(key, upload_id, number, md5=md5_base64(chunk))
        response = put(url, chunk, content_type="", HTTP_CONTENT_MD5=md5_base64(chunk))
        assert response.status_code == 200, response.content
        assert response["ETag"] == f'"{hashlib.md5(chunk).hexdigest()}"'
        parts.append((number, response["ETag"]))
    # Nothing is visible until the upload completes
    assert not storage.exists(key)

    etag = storage.complete_multipart(key, upload_id, parts)
    assert (media_root / key).read_bytes() == b"".join(chunks)
    assert etag == storage.multipart_etag([hashlib.md5(chunk).hexdigest() for chunk in chunks])
    assert etag.endswith("-3")
    # The parts are gone, and the upload with them
    assert list((media_root / storage.MULTIPART_FOLDER).iterdir()) == []
    with pytest.raises(storage.UploadNotFound):
        storage.complete_multipart(key, upload_id, parts)


def test_local_multipart_part_checks_md5():
    key = "checked.bin"
    upload_id = storage.create_multipart(key)
    url = storage.multipart_part_url(key, upload_id, 1, md5=md5_base64(b"expected"))

    # Another Content-MD5 than the signed one
    response = put(url, b"other", content_type="", HTTP_CONTENT_MD5=md5_base64(b"other"))
    assert response.status_code == 403
    # The signed Content-MD5 over another content: S3's BadDigest
    response = put(url, b"other", content_type="", HTTP_CONTENT_MD5=md5_base64(b"expected"))
    assert response.status_code == 400
    assert response.json() == {"detail": "The content does not match its Content-MD5 header: send the part again."}

    with pytest.raises(storage.InvalidPart, match="Part 1 was not uploaded"):
        storage.complete_multipart(key, upload_id, [(1, hashlib.md5(b"expected").hexdigest())])


def test_local_multipart_complete_checks_parts():
    key = "parts.bin"
    upload_id = storage.create_multipart(key)
    etags = {}
    for number, chunk in ((1, b"one"), (2, b"two")):
        url = storage.multipart_part_url(key, upload_id, number, md5=md5_base64(chunk))
        etags[number] = put(url, chunk, content_type="", HTTP_CONTENT_MD5=md5_base64(chunk))["ETag"]

    with pytest.raises(storage.InvalidPart, match="ascending order"):
        storage.complete_multipart(key, upload_id, [(2, etags[2]), (1, etags[1])])
    with pytest.raises(storage.InvalidPart, match="does not match its ETag"):
        storage.complete_multipart(key, upload_id, [(1, etags[2]), (2, etags[2])])
    with pytest.raises(storage.InvalidPart, match="at least one part"):
        storage.complete_multipart(key, upload_id, [])
    with pytest.raises(storage.UploadNotFound, match="another object"):
        storage.complete_multipart("another.bin", upload_id, [(1, etags[1])])
    assert not storage.exists(key)

    # Completing with the first part only is allowed, as on S3
    storage.complete_multipart(key, upload_id, [(1, etags[1])])
    assert storage.backend().path(key).read_bytes() == b"one"


def test_local_multipart_abort(media_root):
    key = "aborted.bin"
    upload_id = storage.create_multipart(key)
    url = storage.multipart_part_url(key, upload_id, 1, md5=md5_base64(b"data"))
    assert put(url, b"data", content_type="", HTTP_CONTENT_MD5=md5_base64(b"data")).status_code == 200

    storage.abort_multipart(key, upload_id)
    assert list((media_root / storage.MULTIPART_FOLDER).iterdir()) == []
    # The part URL handed out before now leads nowhere
    response = put(url, b"data", content_type="", HTTP_CONTENT_MD5=md5_base64(b"data"))
    assert response.status_code == 404
    for call in (
        lambda: storage.abort_multipart(key, upload_id),
        lambda: storage.multipart_part_url(key, upload_id, 2),
        lambda: storage.abort_multipart(key, "../../etc"),
    ):
        with pytest.raises(storage.UploadNotFound):
            call()
    assert not storage.exists(key)


def test_delete():
    put(storage.upload_url("gone.bin"), b"x", content_type="application/octet-stream")
    storage.delete("gone.bin")
    assert not storage.exists("gone.bin")
    # Deleting what is not there is not an error, as on S3
    storage.delete("gone.bin")


@pytest.fixture
def s3_location():
    return "prefix"


def test_s3_put_then_get(s3):
    url = storage.upload_url("models/a/archive.tar.zst")
    assert url.startswith(f"https://{BUCKET}.s3.amazonaws.com/prefix/models/a/archive.tar.zst?")
    assert "X-Amz-Signature=" in url
    response = requests.put(url, data=b"archive bytes", headers={"Content-Type": "application/zstd"}, timeout=10)
    assert response.status_code == 200, response.text
    assert response.headers["ETag"] == f'"{hashlib.md5(b"archive bytes").hexdigest()}"'

    assert storage.exists("models/a/archive.tar.zst")
    assert storage.size("models/a/archive.tar.zst") == 13
    assert storage.content_md5("models/a/archive.tar.zst") == hashlib.md5(b"archive bytes").hexdigest()

    response = requests.get(
        storage.download_url("models/a/archive.tar.zst", content_type="application/zstd"), timeout=10
    )
    assert response.status_code == 200
    assert response.content == b"archive bytes"
    assert response.headers["Content-Type"] == "application/zstd"

    storage.delete("models/a/archive.tar.zst")
    assert not storage.exists("models/a/archive.tar.zst")


def test_s3_multipart_round_trip(s3):
    key = "models/m/parts.tar.zst"
    # S3 wants parts of 5 MiB at least, but for the last one
    chunks = [b"a" * 5 * 1024 * 1024, b"b" * 100]
    upload_id = storage.create_multipart(key, content_type="application/zstd")
    parts = []
    for number, chunk in enumerate(chunks, start=1):
        url = storage.multipart_part_url(key, upload_id, number, md5=md5_base64(chunk))
        response = requests.put(
            url, data=chunk, headers={"Content-Length": str(len(chunk)), "Content-MD5": md5_base64(chunk)}, timeout=10
        )
        assert response.status_code == 200, response.text
        parts.append((number, response.headers["Etag"]))

    # A forged part ETag is refused by S3 as by the local storage
    with pytest.raises(storage.InvalidPart):
        storage.complete_multipart(key, upload_id, [(1, parts[1][1]), parts[1]])

    etag = storage.complete_multipart(key, upload_id, parts)
    assert etag == storage.multipart_etag([hashlib.md5(chunk).hexdigest() for chunk in chunks])
    body = s3.get_object(Bucket=BUCKET, Key=f"prefix/{key}")
    assert body["ContentType"] == "application/zstd"
    assert body["Body"].read() == b"".join(chunks)
    # S3 does not know the MD5 of an object made of parts
    assert storage.content_md5(key) is None


def test_s3_multipart_abort(s3):
    key = "aborted.bin"
    upload_id = storage.create_multipart(key)
    storage.abort_multipart(key, upload_id)
    assert "Uploads" not in s3.list_multipart_uploads(Bucket=BUCKET)
    # S3's NoSuchUpload, as the local storage says it
    with pytest.raises(storage.UploadNotFound, match="completed, aborted, or never started"):
        storage.abort_multipart(key, upload_id)
    assert not storage.exists(key)


def test_s3_part_url_signs_content_md5(s3):
    key = "signed.bin"
    upload_id = storage.create_multipart(key)
    url = storage.multipart_part_url(key, upload_id, 1, md5=md5_base64(b"expected"))
    # S3 refuses a part sent with another Content-MD5 (moto does not check signatures that far)
    query = parse_qs(urlsplit(url).query)
    assert "content-md5" in query["X-Amz-SignedHeaders"][0].split(";")
    assert query["uploadId"] == [upload_id]
    assert query["partNumber"] == ["1"]
