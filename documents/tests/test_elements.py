"""CreateElement, RetrieveElement, (Partial)UpdateElement and DestroyElement."""

import django_rq
import pytest
from django.urls import reverse
from rq import SimpleWorker

from documents import services
from documents.models import Element, ElementPath
from documents.tests.factories import ElementFactory, ElementTypeFactory
from documents.tests.trees import assert_tree_consistent, paths_of
from users.models import Role
from users.tests.factories import grant

pytestmark = pytest.mark.django_db

MISSING = "11111111-1111-1111-1111-111111111111"


def element_url(element):
    return reverse("element-detail", kwargs={"id": element.id})


def created(element):
    return element.created.isoformat().replace("+00:00", "Z")


# CreateElement


def test_create_element_as_worker_does(user_client, corpus, types, image, make_element):
    """The body the base worker sends: a child zone on an image, signed with a worker run id."""
    page = make_element(name="Page", image=image, polygon=[[0, 0], [0, 2000], [1000, 2000], [1000, 0]])
    response = user_client.post(
        reverse("element-create"),
        {
            "type": "line",
            "name": "Line 1",
            "image": str(image.id),
            "corpus": str(corpus.id),
            "polygon": [[10, 20], [10, 70], [510, 70], [510, 20]],
            "parent": str(page.id),
            "worker_run_id": None,
            "confidence": 0.5,
        },
    )
    assert response.status_code == 201, response.json()
    line = Element.objects.get(name="Line 1")
    assert response.json() == {
        "id": str(line.id),
        "name": "Line 1",
        "type": "line",
        "corpus": {"id": str(corpus.id), "name": "Private corpus", "public": False},
        "zone": {
            "id": str(line.id),
            # Stored closed.
            "polygon": [[10, 20], [10, 70], [510, 70], [510, 20], [10, 20]],
            "url": "https://iiif.example.com/iiif/2/folder%2Fpage1.jpg/10,20,500,50/full/0/default.jpg",
            "image": {
                "id": str(image.id),
                "path": "folder%2Fpage1.jpg",
                "width": 1000,
                "height": 2000,
                "url": "https://iiif.example.com/iiif/2/folder%2Fpage1.jpg",
                "s3_url": None,
                "status": "checked",
                "server": {
                    "display_name": "Example IIIF",
                    "url": "https://iiif.example.com/iiif/2",
                    "version": 2,
                    "max_width": None,
                    "max_height": None,
                },
            },
        },
        "rotation_angle": 0,
        "mirrored": False,
        "confidence": 0.5,
        "worker_run": None,
        "worker_version_id": None,
        "worker_run_id": None,
        "thumbnail_url": None,
        "created": created(line),
    }
    assert paths_of(line) == {((page.id,), 0)}
    assert line.creator.email == "user@example.com"


def test_create_element_slim_output_top_level(user_client, corpus, types):
    for value in ("True", "true", "1"):
        response = user_client.post(
            reverse("element-create") + f"?slim_output={value}",
            {"type": "folder", "name": f"Folder {value}", "corpus": str(corpus.id), "image": None, "polygon": None},
        )
        assert response.status_code == 201, response.json()
        element = Element.objects.get(name=f"Folder {value}")
        assert response.json() == {"id": str(element.id)}
        assert paths_of(element) == {((), 0)}


def test_create_element_full_image_zone(user_client, corpus, types, image):
    response = user_client.post(
        reverse("element-create"), {"type": "page", "name": "Page", "corpus": str(corpus.id), "image": str(image.id)}
    )
    assert response.status_code == 201, response.json()
    zone = response.json()["zone"]
    assert zone["polygon"] == [[0, 0], [0, 2000], [1000, 2000], [1000, 0], [0, 0]]
    assert zone["url"].endswith("/0,0,1000,2000/full/0/default.jpg")


def test_create_element_iiif3_and_folder_thumbnail(user_client, corpus, types, image):
    image.server.version = 3
    image.server.save()
    response = user_client.post(
        reverse("element-create"),
        {"type": "folder", "name": "Folder", "corpus": str(corpus.id), "image": str(image.id)},
    )
    body = response.json()
    assert body["zone"]["url"].endswith("/0,0,1000,2000/max/0/default.jpg")
    assert (
        body["thumbnail_url"] == "https://iiif.example.com/iiif/2/folder%2Fpage1.jpg/0,0,1000,2000/,400/0/default.jpg"
    )


@pytest.mark.parametrize(
    "body, field, message",
    [
        ({"type": "nope"}, "type", "has no element type 'nope': create it with CreateElementType first."),
        ({"parent": MISSING}, "parent", f"Element {MISSING} does not exist in corpus"),
        ({"image": MISSING}, "image", f"Image {MISSING} does not exist."),
        ({"polygon": [[0, 0], [0, 10], [10, 10]]}, "polygon", "A polygon needs an image: send `image` too."),
        ({"polygon": [[0, 0], [0, 10]], "image": "IMAGE"}, "polygon", "Ensure this field has at least 3 elements."),
        ({"polygon": [[0, 0], [0, 10], [0, 0]], "image": "IMAGE"}, "polygon", "at least 3 distinct points"),
        ({"polygon": [[0, 0], [0, 10], [0, 5], [0, 7]], "image": "IMAGE"}, "polygon", "The polygon is flat"),
        ({"polygon": [[0, 0], [0, 3000], [10, 10]], "image": "IMAGE"}, "polygon", "within the image"),
        ({"polygon": [[-1, 0], [0, 30], [10, 10]], "image": "IMAGE"}, "polygon", "within the image"),
        ({"polygon": [[0, 0, 0], [0, 30], [10, 10]], "image": "IMAGE"}, "polygon", "no more than 2 elements"),
        ({"confidence": 1.5}, "confidence", "less than or equal to 1"),
        ({"rotation_angle": -1}, "rotation_angle", "greater than or equal to 0"),
        ({"corpus": "not-a-uuid"}, "corpus", "Must be a valid UUID."),
        ({"corpus": MISSING}, "corpus", f"Corpus {MISSING} not found, or you have no access to it."),
        ({"name": ""}, "name", "This field may not be blank."),
    ],
)
def test_create_element_bad_input(user_client, corpus, types, image, body, field, message):
    data = {"type": "page", "name": "Page", "corpus": str(corpus.id), **body}
    if data.get("image") == "IMAGE":
        data["image"] = str(image.id)
    response = user_client.post(reverse("element-create"), data)
    assert response.status_code == 400
    errors = response.json()
    assert list(errors) == [field]
    assert message in str(errors[field])
    assert not Element.objects.exists()


def test_create_element_parent_in_other_corpus(user_client, user, corpus, types, public_corpus):

    grant(public_corpus, Role.CONTRIBUTOR, user=user)
    other_type = ElementTypeFactory(corpus=public_corpus, slug="page", display_name="Page")
    foreign = ElementFactory(corpus=public_corpus, type=other_type, name="Foreign")
    response = user_client.post(
        reverse("element-create"), {"type": "page", "name": "P", "corpus": str(corpus.id), "parent": str(foreign.id)}
    )
    assert response.status_code == 400
    assert list(response.json()) == ["parent"]


def test_create_element_guest_forbidden(other_client, other_user, corpus, types):
    grant(corpus, Role.GUEST, user=other_user)
    response = other_client.post(reverse("element-create"), {"type": "page", "name": "P", "corpus": str(corpus.id)})
    assert response.status_code == 403
    assert response.json() == {
        "detail": "You need contributor access to the corpus to create elements; ask one of its administrators."
    }


def test_create_element_anonymous(anonymous_client, public_corpus):
    response = anonymous_client.post(reverse("element-create"), {"type": "page", "name": "P"})
    assert response.status_code == 401


# RetrieveElement


def test_retrieve_element(user_client, make_element, django_assert_num_queries):
    folder = make_element("folder", "Folder")
    with django_assert_num_queries(3):
        response = user_client.get(element_url(folder))
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == str(folder.id)
    assert body["type"] == "folder"
    assert body["zone"] is None
    assert body["thumbnail_url"] is None
    assert body["classifications"] == []
    assert body["worker_run"] is None
    assert "has_children" not in body
    assert "polygon" not in body and "image" not in body


def test_retrieve_element_public_anonymous(anonymous_client, public_corpus):

    page_type = ElementTypeFactory(corpus=public_corpus, slug="page", display_name="Page")
    page = ElementFactory(corpus=public_corpus, type=page_type, name="Page")
    response = anonymous_client.get(element_url(page))
    assert response.status_code == 200
    assert response.json()["corpus"] == {"id": str(public_corpus.id), "name": "Public corpus", "public": True}


def test_retrieve_element_hidden(other_client, anonymous_client, make_element):
    page = make_element()
    for client in (other_client, anonymous_client):
        response = client.get(element_url(page))
        assert response.status_code == 404
        assert response.json() == {"detail": f"Element {page.id} not found, or you have no access to it."}


def test_retrieve_element_missing(user_client):
    assert user_client.get(reverse("element-detail", kwargs={"id": MISSING})).status_code == 404


# (Partial)UpdateElement


def test_partial_update_element(user_client, make_element, image):
    page = make_element(name="Page")
    response = user_client.patch(
        element_url(page),
        {
            "name": "Renamed",
            "type": "folder",
            "image": str(image.id),
            "polygon": [[1, 1], [1, 5], [5, 5]],
            "rotation_angle": 90,
            "mirrored": True,
            "confidence": 0.25,
        },
    )
    assert response.status_code == 200, response.json()
    page.refresh_from_db()
    assert (page.name, page.type.slug, page.image, page.rotation_angle, page.mirrored, page.confidence) == (
        "Renamed",
        "folder",
        image,
        90,
        True,
        0.25,
    )
    assert page.polygon == [[1, 1], [1, 5], [5, 5], [1, 1]]
    body = response.json()
    assert body["type"] == "folder"
    assert body["zone"]["polygon"] == page.polygon

    # A new polygon on the same image; then removing the zone altogether.
    response = user_client.patch(element_url(page), {"polygon": [[2, 2], [2, 8], [8, 8], [2, 2]]})
    assert response.status_code == 200, response.json()
    assert response.json()["zone"]["polygon"] == [[2, 2], [2, 8], [8, 8], [2, 2]]
    response = user_client.patch(element_url(page), {"image": None})
    assert response.status_code == 200
    assert response.json()["zone"] is None
    page.refresh_from_db()
    assert page.polygon is None


def test_update_element(user_client, make_element):
    page = make_element(name="Page")
    response = user_client.put(element_url(page), {"name": "Full", "type": "line"})
    assert response.status_code == 200, response.json()
    assert response.json()["type"] == "line"


@pytest.mark.parametrize(
    "body, field",
    [
        ({"type": "nope"}, "type"),
        ({"polygon": [[1, 1], [1, 5], [5, 5]]}, "polygon"),
        ({"image": MISSING}, "image"),
        ({"rotation_angle": 360}, "rotation_angle"),
        ({"confidence": -0.1}, "confidence"),
        ({"mirrored": "sideways"}, "mirrored"),
        ({"name": ""}, "name"),
    ],
)
def test_partial_update_element_bad_input(user_client, make_element, body, field):
    page = make_element(name="Page")
    response = user_client.patch(element_url(page), body)
    assert response.status_code == 400
    assert list(response.json()) == [field]


def test_partial_update_element_remove_polygon_keeps_image(user_client, make_element, image):
    page = make_element(name="Page", image=image)
    response = user_client.patch(element_url(page), {"polygon": None})
    assert response.status_code == 400
    assert "send `image: null`" in response.json()["polygon"][0]


def test_partial_update_element_guest_forbidden(other_client, other_user, corpus, make_element):
    grant(corpus, Role.GUEST, user=other_user)
    page = make_element(name="Page")
    response = other_client.patch(element_url(page), {"name": "Renamed"})
    assert response.status_code == 403
    assert response.json() == {
        "detail": "You need contributor access to the corpus to change or delete it; ask one of its administrators."
    }


def test_partial_update_element_hidden(other_client, make_element):
    page = make_element(name="Page")
    assert other_client.patch(element_url(page), {"name": "Renamed"}).status_code == 404


# DestroyElement


def test_destroy_element_subtree(user_client, corpus, make_element):
    folder = make_element("folder")
    page = make_element(parent=folder)
    make_element("line", parent=page)
    kept = make_element("folder")

    response = user_client.delete(element_url(page))
    assert response.status_code == 204
    assert set(Element.objects.values_list("id", flat=True)) == {folder.id, kept.id}
    assert_tree_consistent(corpus)


def test_destroy_large_subtree_in_job(
    user_client, corpus, make_element, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(services, "SYNC_DELETE_LIMIT", 2)
    folder = make_element("folder")
    for index in range(3):
        make_element(parent=folder, name=f"Page {index}")

    with django_capture_on_commit_callbacks(execute=True):
        response = user_client.delete(element_url(folder))
    assert response.status_code == 204
    assert Element.objects.count() == 4

    django_rq.get_worker("default", worker_class=SimpleWorker).work(burst=True)
    assert not Element.objects.exists()
    assert not ElementPath.objects.exists()


def test_destroy_element_guest_forbidden(other_client, other_user, corpus, make_element):
    grant(corpus, Role.GUEST, user=other_user)
    page = make_element()
    assert other_client.delete(element_url(page)).status_code == 403
    assert Element.objects.filter(id=page.id).exists()


def test_destroy_element_hidden(other_client, make_element):
    page = make_element()
    assert other_client.delete(element_url(page)).status_code == 404


def test_destroy_element_anonymous(anonymous_client, make_element):
    page = make_element()
    assert anonymous_client.delete(element_url(page)).status_code == 401
