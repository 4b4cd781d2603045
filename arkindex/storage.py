"""
One interface over the file storage, whatever holds the files.

Files (model archives, task artifacts, data files) are written and read by clients directly, never
through an API call that carries their bytes: the API hands out a URL that is valid for a limited
time, and the client sends a plain HTTP PUT or GET to it. Django's `default_storage` decides where
the bytes go (settings.STORAGES):

- S3Storage (django-storages), when `AWS_STORAGE_BUCKET_NAME` is set: the URLs are presigned by
  boto3 with the storage's own client, and multipart uploads are S3's.
- FileSystemStorage under MEDIA_ROOT otherwise: the URLs point at this server's own endpoint
  (`arkindex.api.storage_views`), and carry a signed token in their query string. The token is the
  only credential, as for a presigned S3 URL: the clients PUT with plain `requests` and no
  `Authorization` header. Multipart parts are kept in a folder per upload and joined on completion.

Callers use the module functions below and never look at the backend, so that the API behaves the
same on both: `upload_url`, `download_url`, `exists`, `size`, `content_md5`, `delete`, and
`create_multipart`, `multipart_part_url`, `complete_multipart`, `abort_multipart`.
"""

import base64
import datetime
import hashlib
import json
import os
import re
import shutil
import tempfile
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlencode

from botocore.exceptions import ClientError
from django.conf import settings
from django.core import signing
from django.core.exceptions import ImproperlyConfigured
from django.core.files.storage import FileSystemStorage, default_storage
from django.urls import reverse
from storages.backends.s3 import S3Storage
from storages.utils import clean_name

DEFAULT_EXPIRY = 3600
SIGNING_SALT = "arkindex.storage"
# Where the parts of unfinished multipart uploads wait, inside MEDIA_ROOT: API keys never start with a dot.
MULTIPART_FOLDER = ".multipart"
CHUNK_SIZE = 1024 * 1024
UPLOAD_NOT_FOUND = "This upload does not exist: it was completed, aborted, or never started."
MD5_HEX = re.compile(r"^[0-9a-f]{32}$")


class StorageError(Exception):
    """A storage operation refused by the storage itself; the message says why."""


class UploadNotFound(StorageError):
    pass


class InvalidPart(StorageError):
    pass


class SignatureError(StorageError):
    pass


def url_expiry():
    return int(getattr(settings, "STORAGE_URL_EXPIRY", DEFAULT_EXPIRY))


def md5_etag(md5_hex):
    """An ETag as S3 sends it: the MD5 in hexadecimal, between double quotes."""
    return f'"{md5_hex}"'


def normalize_etag(etag):
    return (etag or "").strip().strip('"').lower()


def multipart_etag(md5_hexes):
    """The ETag S3 gives an object built from parts: MD5 of the parts' binary MD5s, then the count."""
    digest = hashlib.md5(b"".join(bytes.fromhex(md5) for md5 in md5_hexes)).hexdigest()
    return f"{digest}-{len(md5_hexes)}"


@contextmanager
def s3_errors():
    """S3's refusals as storage errors, so that callers handle both backends alike."""
    try:
        yield
    except ClientError as e:
        code = e.response.get("Error", {}).get("Code", "")
        message = e.response.get("Error", {}).get("Message", str(e))
        if code == "NoSuchUpload":
            raise UploadNotFound(UPLOAD_NOT_FOUND) from e
        if code in ("InvalidPart", "InvalidPartOrder", "EntityTooSmall"):
            raise InvalidPart(message) from e
        raise StorageError(message) from e


@contextmanager
def atomic_file(destination):
    """
    A temporary file beside `destination`, renamed over it when the block succeeds and removed
    when it fails: a reader never sees half a file and an interrupted write leaves nothing.
    """
    destination = Path(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    file = tempfile.NamedTemporaryFile(dir=destination.parent, prefix=".upload-", delete=False)
    try:
        with file:
            yield file
    except BaseException:
        os.unlink(file.name)
        raise
    os.chmod(file.name, 0o644)
    os.replace(file.name, destination)


class S3Backend:
    """Presigned URLs and multipart uploads through the boto3 client of the S3Storage."""

    def __init__(self, storage):
        self.storage = storage

    @property
    def client(self):
        return self.storage.connection.meta.client

    def object_key(self, key):
        return self.storage._normalize_name(clean_name(key))

    def _params(self, key, **extra):
        return {"Bucket": self.storage.bucket_name, "Key": self.object_key(key), **extra}

    def upload_url(self, key, content_type=None, expires=None):
        params = self._params(key)
        if content_type:
            params["ContentType"] = content_type
        return self.client.generate_presigned_url("put_object", Params=params, ExpiresIn=expires or url_expiry())

    def download_url(self, key, content_type=None, filename=None, expires=None):
        params = self._params(key)
        if content_type:
            params["ResponseContentType"] = content_type
        if filename:
            params["ResponseContentDisposition"] = f'attachment; filename="{filename}"'
        return self.client.generate_presigned_url("get_object", Params=params, ExpiresIn=expires or url_expiry())

    def content_md5(self, key):
        """The MD5 of the object when S3 knows it: the ETag of a single PUT. Not for multipart objects."""
        with s3_errors():
            etag = normalize_etag(self.client.head_object(**self._params(key))["ETag"])
        return etag if MD5_HEX.match(etag) else None

    def create_multipart(self, key, content_type=None):
        extra = {"ContentType": content_type} if content_type else {}
        with s3_errors():
            return self.client.create_multipart_upload(**self._params(key, **extra))["UploadId"]

    def multipart_part_url(self, key, upload_id, part_number, md5=None, expires=None):
        params = self._params(key, UploadId=upload_id, PartNumber=part_number)
        if md5:
            params["ContentMD5"] = md5
        return self.client.generate_presigned_url("upload_part", Params=params, ExpiresIn=expires or url_expiry())

    def complete_multipart(self, key, upload_id, parts):
        with s3_errors():
            response = self.client.complete_multipart_upload(
                **self._params(key, UploadId=upload_id),
                MultipartUpload={
                    "Parts": [{"PartNumber": number, "ETag": md5_etag(normalize_etag(etag))} for number, etag in parts]
                },
            )
        return normalize_etag(response.get("ETag"))

    def abort_multipart(self, key, upload_id):
        with s3_errors():
            self.client.abort_multipart_upload(**self._params(key, UploadId=upload_id))

    def list_files(self, prefix):
        """(key, size in bytes, last modification) of every object under `prefix`, a page of 1,000 at a time."""
        location = self.storage._normalize_name(clean_name(prefix))
        strip = len(self.object_key(""))
        paginator = self.client.get_paginator("list_objects_v2")
        with s3_errors():
            for page in paginator.paginate(Bucket=self.storage.bucket_name, Prefix=location):
                for item in page.get("Contents", []):
                    yield item["Key"][strip:], item["Size"], item["LastModified"]


class LocalBackend:
    """
    Files under the FileSystemStorage's folder, read and written through this server's signed URLs.

    Every write lands in a temporary file of the destination folder first and is renamed over the
    destination, so that a reader never sees half a file and an interrupted upload leaves nothing.
    """

    def __init__(self, storage):
        self.storage = storage

    def path(self, key):
        return Path(self.storage.path(key))

    def list_files(self, prefix):
        root = Path(self.storage.location)
        for folder, _, names in os.walk(root / prefix):
            for name in names:
                path = Path(folder) / name
                stat = path.stat()
                modified = datetime.datetime.fromtimestamp(stat.st_mtime, tz=datetime.UTC)
                yield path.relative_to(root).as_posix(), stat.st_size, modified

    def _signed_url(self, key, payload, expires):
        payload = {"k": key, "x": int(time.time()) + (expires or url_expiry()), **payload}
        token = signing.dumps(payload, salt=SIGNING_SALT, compress=True)
        path = reverse("storage-object", kwargs={"key": key})
        # reverse() has already escaped the key for the URL
        return f"{settings.PUBLIC_URL}{path}?{urlencode({'token': token})}"

    def upload_url(self, key, content_type=None, expires=None):
        return self._signed_url(key, {"m": "PUT", "t": content_type}, expires)

    def download_url(self, key, content_type=None, filename=None, expires=None):
        return self._signed_url(key, {"m": "GET", "t": content_type, "f": filename}, expires)

    def content_md5(self, key):
        digest = hashlib.md5()
        with self.path(key).open("rb") as f:
            for chunk in iter(lambda: f.read(CHUNK_SIZE), b""):
                digest.update(chunk)
        return digest.hexdigest()

    def _upload_folder(self, upload_id):
        if not re.fullmatch(r"[0-9a-f]{32}", upload_id or ""):
            raise UploadNotFound(UPLOAD_NOT_FOUND)
        return self.path(MULTIPART_FOLDER) / upload_id

    def _checked_upload_folder(self, key, upload_id):
        folder = self._upload_folder(upload_id)
        try:
            meta = json.loads((folder / "upload.json").read_text())
        except (OSError, ValueError):
            raise UploadNotFound(UPLOAD_NOT_FOUND) from None
        if meta.get("key") != key:
            raise UploadNotFound("This upload belongs to another object: start an upload for this one.")
        return folder

    def create_multipart(self, key, content_type=None):
        upload_id = uuid.uuid4().hex
        folder = self._upload_folder(upload_id)
        folder.mkdir(parents=True)
        (folder / "upload.json").write_text(json.dumps({"key": key, "content_type": content_type}))
        return upload_id

    def multipart_part_url(self, key, upload_id, part_number, md5=None, expires=None):
        self._checked_upload_folder(key, upload_id)
        return self._signed_url(key, {"m": "PUT", "u": upload_id, "n": part_number, "md5": md5}, expires)

    def complete_multipart(self, key, upload_id, parts):
        folder = self._checked_upload_folder(key, upload_id)
        numbers = [number for number, _ in parts]
        if not parts:
            raise InvalidPart("An upload needs at least one part.")
        if numbers != sorted(set(numbers)):
            raise InvalidPart("Parts must be listed once each, in ascending order of part number.")
        md5s = []
        for number, etag in parts:
            part = folder / f"{number}.part"
            recorded = folder / f"{number}.md5"
            if not part.exists() or not recorded.exists():
                raise InvalidPart(f"Part {number} was not uploaded: upload it before completing.")
            if recorded.read_text() != normalize_etag(etag):
                raise InvalidPart(f"Part {number} does not match its ETag: send the ETag its upload answered.")
            md5s.append(recorded.read_text())

        destination = self.path(key)
        with atomic_file(destination) as out:
            for number, _ in parts:
                with (folder / f"{number}.part").open("rb") as f:
                    shutil.copyfileobj(f, out, CHUNK_SIZE)
        shutil.rmtree(folder, ignore_errors=True)
        return multipart_etag(md5s)

    def abort_multipart(self, key, upload_id):
        shutil.rmtree(self._checked_upload_folder(key, upload_id), ignore_errors=True)

    # Used by the storage endpoint
    def unsign(self, token):
        try:
            payload = signing.loads(token, salt=SIGNING_SALT)
        except signing.BadSignature:
            raise SignatureError("This URL's signature is invalid: ask the API for a new URL.") from None
        if payload.get("x", 0) < time.time():
            raise SignatureError("This URL has expired: ask the API for a new URL.")
        return payload

    def write(self, key, stream, *, upload_id=None, part_number=None, expected_md5=None):
        """
        Write a stream to the key, or to a part of an upload. Returns the MD5 of what was written;
        nothing is kept when `expected_md5` (base64, as in Content-MD5) differs.
        """
        if upload_id is not None:
            folder = self._checked_upload_folder(key, upload_id)
            destination = folder / f"{part_number}.part"
        else:
            destination = self.path(key)
        digest = hashlib.md5()
        with atomic_file(destination) as out:
            for chunk in iter(lambda: stream.read(CHUNK_SIZE), b""):
                digest.update(chunk)
                out.write(chunk)
            if expected_md5 is not None and base64.b64encode(digest.digest()).decode() != expected_md5:
                raise InvalidPart("The content does not match its Content-MD5 header: send the part again.")
        if upload_id is not None:
            with atomic_file(folder / f"{part_number}.md5") as out:
                out.write(digest.hexdigest().encode())
        return digest.hexdigest()


def backend():
    if isinstance(default_storage, FileSystemStorage):
        return LocalBackend(default_storage)
    if isinstance(default_storage, S3Storage):
        return S3Backend(default_storage)
    raise ImproperlyConfigured(
        f"The default storage {type(default_storage).__name__} is not supported: use FileSystemStorage or S3Storage."
    )


def is_local():
    return isinstance(backend(), LocalBackend)


def upload_url(key, content_type=None, expires=None):
    """A URL where a client PUTs the file's bytes, valid for `expires` seconds."""
    return backend().upload_url(key, content_type=content_type, expires=expires)


def download_url(key, content_type=None, filename=None, expires=None):
    """A URL where a client GETs the file without credentials, served with the given Content-Type."""
    return backend().download_url(key, content_type=content_type, filename=filename, expires=expires)


def exists(key):
    return default_storage.exists(key)


def size(key):
    return default_storage.size(key)


def content_md5(key):
    """The MD5 (hexadecimal) of a stored file, or None when the storage cannot tell it cheaply."""
    return backend().content_md5(key)


def delete(key):
    default_storage.delete(key)


def list_files(prefix):
    """
    (key, size in bytes, last modification as an aware datetime) of every file under the folder
    `prefix` ("ponos/logs/"…), in no particular order: the storage is walked, not the database.
    """
    return backend().list_files(prefix)


def create_multipart(key, content_type=None):
    """Start a multipart upload to `key`; returns its upload ID."""
    return backend().create_multipart(key, content_type=content_type)


def multipart_part_url(key, upload_id, part_number, md5=None, expires=None):
    """
    A URL where a client PUTs one part (1-based `part_number`). With `md5` (base64, as in the
    Content-MD5 header) the part is refused unless its content matches. The response to that PUT
    carries the part's ETag, which `complete_multipart` needs.
    """
    return backend().multipart_part_url(key, upload_id, part_number, md5=md5, expires=expires)


def complete_multipart(key, upload_id, parts):
    """Join the parts, given as (part_number, etag) in ascending order, into the object at `key`."""
    return backend().complete_multipart(key, upload_id, parts)


def abort_multipart(key, upload_id):
    """Forget an upload and the parts sent so far."""
    backend().abort_multipart(key, upload_id)
