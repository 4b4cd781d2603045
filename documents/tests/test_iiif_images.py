"""
IIIF images: CreateIIIFURL (with the 409 `existing_id` the clients' shortcuts expect, API.md §1.7),
RetrieveImage and PartialUpdateImage (`status: checked`), against a IIIF server stub served from
the test itself (`documents.tests.iiif_stub`).
"""

# ruff: noqa: F811 (the pytest fixture imported from documents.tests.iiif_stub)

import pytest

from documents.models import Image, ImageServer
from documents.tests.iiif_stub import iiif_server  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db

CREATE = "/api/v1/image/iiif/url/"


def image_path(image_id):
    return f"/api/v1/image/{image_id}/"


def test_create_reads_info_json(user_client, iiif_server):
    url = iiif_server.add("folder%2Fpage1.jpg", 1200, 1800)
    response = user_client.post(CREATE, {"url": url, "width": None, "height": None})
    assert response.status_code == 201, response.json()
    body = response.json()
    image = Image.objects.select_related("server").get()
    assert body == {
        "id": str(image.id),
        "path": "folder%2Fpage1.jpg",
        "width": 1200,
        "height": 1800,
        "url": url,
        "s3_url": None,
        "status": "checked",
        "server": {
            "display_name": f"127.0.0.1:{iiif_server.server.server_address[1]}/iiif",
            "url": iiif_server.url,
            "version": 2,
            "max_width": None,
            "max_height": None,
        },
    }
    assert iiif_server.requests == ["/iiif/folder%2Fpage1.jpg/info.json"]


def test_create_from_info_json_url_and_iiif_3(user_client, iiif_server):
    iiif_server.version = 3
    url = iiif_server.add("page.jp2", 10, 20)
    response = user_client.post(CREATE, {"url": f"{url}/info.json", "width": None, "height": None})
    assert response.status_code == 201, response.json()
    assert response.json()["url"] == url
    assert ImageServer.objects.get().version == 3


def test_existing_image_is_a_conflict(user_client, iiif_server):
    url = iiif_server.add("page1.jpg", 100, 200)
    first = user_client.post(CREATE, {"url": url, "width": None, "height": None}).json()
    iiif_server.requests.clear()

    response = user_client.post(CREATE, {"url": url + "/", "width": None, "height": None})
    assert response.status_code == 409
    assert response.json() == {
        "type": "client_error",
        "errors": [
            {"attr": None, "code": "image_exists", "detail": "This image already exists: use it (RetrieveImage)."}
        ],
        "existing_id": first["id"],
    }
    # Known images are found without asking the IIIF server.
    assert iiif_server.requests == []
    assert Image.objects.count() == 1


def test_create_with_size_reads_nothing(user_client, iiif_server):
    url = iiif_server.add("page1.jpg", 100, 200)
    response = user_client.post(CREATE, {"url": url, "width": 100, "height": 200})
    assert response.status_code == 201
    assert (response.json()["status"], response.json()["width"], response.json()["height"]) == ("unchecked", 100, 200)
    assert iiif_server.requests == []


def test_known_server_is_the_longest_prefix(user_client, image_server):
    deeper = ImageServer.objects.create(url=f"{image_server.url}/deeper", display_name="Deeper")
    response = user_client.post(CREATE, {"url": f"{image_server.url}/deeper/a/b.jpg", "width": 10, "height": 10})
    assert response.status_code == 201
    image = Image.objects.get(pk=response.json()["id"])
    assert (image.server, image.path) == (deeper, "a/b.jpg")

    # A prefix only counts at a path boundary.
    response = user_client.post(CREATE, {"url": f"{image_server.url}/deeperstill.jpg", "width": 10, "height": 10})
    image = Image.objects.get(pk=response.json()["id"])
    assert (image.server, image.path) == (image_server, "deeperstill.jpg")
    assert ImageServer.objects.count() == 2


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"width": None, "height": None}, "url"),
        ({"url": "not a url", "width": None, "height": None}, "url"),
        ({"url": "ftp://iiif.example.com/iiif/page.jpg", "width": None, "height": None}, "url"),
        ({"url": "https://iiif.example.com", "width": 10, "height": 10}, "url"),
        ({"url": "https://iiif.example.com/iiif/page.jpg?size=full", "width": 10, "height": 10}, "url"),
        ({"url": "https://iiif.example.com/iiif/page.jpg", "width": 10, "height": None}, "width"),
        ({"url": "https://iiif.example.com/iiif/page.jpg", "width": 0, "height": 10}, "width"),
    ],
)
def test_create_validation(user_client, body, field):
    response = user_client.post(CREATE, body)
    assert response.status_code == 400
    assert list(response.json()) == [field]
    assert not Image.objects.exists() and not ImageServer.objects.exists()


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (None, "answered HTTP 404"),
        ((500, "oops"), "answered HTTP 500"),
        ((200, "not json"), "is not JSON"),
        ((200, '{"width": "wide", "height": 10}'), "no positive integer width and height"),
        ((200, "[1, 2]"), "is not a JSON object"),
    ],
)
def test_unreadable_info_json_creates_nothing(user_client, iiif_server, answer, message):
    if answer is not None:
        iiif_server.answers["page.jpg"] = answer
    response = user_client.post(CREATE, {"url": iiif_server.image_url("page.jpg"), "width": None, "height": None})
    assert response.status_code == 400
    assert message in response.json()["url"][0]
    assert not Image.objects.exists() and not ImageServer.objects.exists()


def test_unreachable_server(user_client, settings):
    settings.IIIF_INFO_TIMEOUT = 2
    # Port 9 (discard) on localhost: nothing listens there.
    response = user_client.post(CREATE, {"url": "http://127.0.0.1:9/iiif/page.jpg", "width": None, "height": None})
    assert response.status_code == 400
    assert "could not be reached" in response.json()["url"][0]


def test_create_needs_authentication(anonymous_client):
    response = anonymous_client.post(CREATE, {"url": "https://iiif.example.com/iiif/p.jpg", "width": 1, "height": 1})
    assert response.status_code in (401, 403)


def test_retrieve(user_client, image, django_assert_num_queries):
    user_client.get(image_path(image.id))  # records the token's first use
    with django_assert_num_queries(2):  # the token, the image with its server
        response = user_client.get(image_path(image.id))
    assert response.status_code == 200
    body = response.json()
    assert (body["id"], body["url"], body["server"]["url"]) == (str(image.id), image.url, image.server.url)


def test_retrieve_missing_and_anonymous(user_client, anonymous_client, image):
    assert user_client.get(image_path("00000000-0000-0000-0000-000000000000")).status_code == 404
    assert anonymous_client.get(image_path(image.id)).status_code in (401, 403)


def test_check_fills_or_confirms_the_size(user_client, iiif_server):
    url = iiif_server.add("page1.jpg", 100, 200)
    created = user_client.post(CREATE, {"url": url, "width": 100, "height": 200}).json()
    response = user_client.patch(image_path(created["id"]), {"status": "checked"})
    assert response.status_code == 200
    assert response.json()["status"] == "checked"
    assert Image.objects.get().status == "checked"

    # Asked again, the image is checked again.
    iiif_server.requests.clear()
    assert user_client.patch(image_path(created["id"]), {"status": "checked"}).status_code == 200
    assert iiif_server.requests == ["/iiif/page1.jpg/info.json"]


def test_check_failure_marks_the_image_in_error(user_client, iiif_server):
    url = iiif_server.add("page1.jpg", 100, 200)
    created = user_client.post(CREATE, {"url": url, "width": 300, "height": 200}).json()
    response = user_client.patch(image_path(created["id"]), {"status": "checked"})
    assert response.status_code == 400
    assert "100×200" in response.json()["status"][0]
    image = Image.objects.get()
    assert (image.status, image.width, image.height) == ("error", 300, 200)

    del iiif_server.images["page1.jpg"]
    response = user_client.patch(image_path(created["id"]), {"status": "checked"})
    assert response.status_code == 400
    assert "404" in response.json()["status"][0]


def test_check_body_and_missing_image(user_client, image):
    response = user_client.patch(image_path(image.id), {"status": "error"})
    assert response.status_code == 400
    assert list(response.json()) == ["status"]
    response = user_client.patch(image_path("00000000-0000-0000-0000-000000000000"), {"status": "checked"})
    assert response.status_code == 404
