"""
Storage helpers shared by the tests of uploads and downloads (a pytest plugin of the root conftest):

- `media_root`: the local storage in a folder of the test's own, its URLs on the test client's host;
- `backend`: runs a test on both storages, the local folder and S3 (moto, see `tests.s3`);
- `http_put`, `http_get`: a request as a client sends it to a signed URL, through the test client
  for this server's own URLs and through `requests` for S3.
"""

import base64
import hashlib
from urllib.parse import urlsplit

import pytest
import requests
from django.test import Client


@pytest.fixture
def media_root(settings, tmp_path):
    """The local storage in a folder of the test's own, its signed URLs on the test client's host."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.PUBLIC_URL = "http://testserver"
    return settings.MEDIA_ROOT


@pytest.fixture(params=["local", "s3"])
def backend(request):
    """Run a test on both storages."""
    if request.param == "s3":
        request.getfixturevalue("s3")
    return request.param


def http_put(url, data, headers):
    """A PUT as the clients send it: `requests` for S3, the test client for this server's own URLs."""
    if url.startswith("http://testserver/"):
        parts = urlsplit(url)
        django_headers = {f"HTTP_{name.upper().replace('-', '_')}": value for name, value in headers.items()}
        content_type = django_headers.pop("HTTP_CONTENT_TYPE", "")
        response = Client().put(f"{parts.path}?{parts.query}", data=data, content_type=content_type, **django_headers)
        return response.status_code, response.headers
    response = requests.put(url, data=data, headers=headers, timeout=10)
    return response.status_code, response.headers


def http_get(url):
    if url.startswith("http://testserver/"):
        parts = urlsplit(url)
        response = Client().get(f"{parts.path}?{parts.query}")
        return response.status_code, response["Content-Type"], b"".join(response.streaming_content)
    response = requests.get(url, timeout=10)
    return response.status_code, response.headers["Content-Type"], response.content


def md5_base64(data):
    return base64.b64encode(hashlib.md5(data).digest()).decode()
