"""
The default storage on S3 for a test (a pytest plugin of the root conftest):

- `s3`: moto's S3 inside the test process; every boto3 call and presigned URL stays in it.
- `s3_server`: moto's S3 served over HTTP on a port of its own, a real S3 API that boto3 and plain
  HTTP clients reach as they would a MinIO or an AWS endpoint.

Both yield a boto3 client on the bucket `BUCKET`, created empty; the files go under the folder the
fixture `s3_location` names (none unless a module overrides it, as an instance sharing a bucket would).
"""

import boto3
import pytest

from arkindex import storage

BUCKET = "arkindex-tests"
REGION = "us-east-1"


def use_bucket(settings, endpoint_url=None, location=""):
    """The default storage on `BUCKET`, under the folder `location`; a boto3 client on the bucket."""
    settings.AWS_STORAGE_BUCKET_NAME = BUCKET
    settings.AWS_LOCATION = location
    settings.AWS_S3_ENDPOINT_URL = endpoint_url
    settings.AWS_S3_REGION_NAME = REGION
    settings.AWS_S3_SIGNATURE_VERSION = "s3v4"
    settings.AWS_ACCESS_KEY_ID = "testing"
    settings.AWS_SECRET_ACCESS_KEY = "testing"
    settings.STORAGES = {**settings.STORAGES, "default": {"BACKEND": "storages.backends.s3.S3Storage"}}
    client = boto3.client(
        "s3",
        endpoint_url=endpoint_url,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    client.create_bucket(Bucket=BUCKET)
    assert isinstance(storage.backend(), storage.S3Backend)
    return client


@pytest.fixture
def s3_location():
    return ""


@pytest.fixture
def s3(settings, s3_location):
    from moto import mock_aws

    with mock_aws():
        yield use_bucket(settings, location=s3_location)


@pytest.fixture
def s3_server(settings, s3_location):
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield use_bucket(settings, endpoint_url=f"http://{host}:{port}", location=s3_location)
    finally:
        server.stop()
