"""
Models and model versions through the API: who sees and changes what, and the errors the clients
read (the CLI reads the existing model's `id` from a 400 on CreateModel; the base worker retries
CreateModelVersion without its tag on the exact duplicate-tag message).
"""

import uuid

import pytest
from django.test import Client
from django.utils import timezone

from tests.tokens import token_client
from users.models import Group, Membership, Right, Role
from users.tests.factories import grant
from workers.models import Model, ModelVersion, ModelVersionState
from workers.tests.factories import make_model, make_version

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_root")]

DUPLICATE_TAG = "A version for this model with this tag already exists."


def warm(client):
    """A first request records the token's use; later ones only read."""
    client.get("/api/v1/user/")


# ListModels


def test_list_models_by_right(user, user_client, other_user):
    make_model("Admin's", user=user, level=Role.ADMIN)
    make_model("Contributor's", user=user, level=Role.CONTRIBUTOR)
    make_model("Public", public=True)
    make_model("Others'", user=other_user, level=Role.ADMIN)
    team = Group.objects.create(name="team")
    Membership.objects.create(user=user, group=team, level=Role.GUEST)
    grant(make_model("Team's"), Role.ADMIN, group=team)

    response = user_client.get("/api/v1/models/")
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 4
    assert {model["name"]: model["rights"] for model in body["results"]} == {
        "Admin's": ["read", "write", "admin"],
        "Contributor's": ["read", "write"],
        "Public": ["read"],
        # A group's right is capped by the membership level
        "Team's": ["read"],
    }
    assert set(body["results"][0]) == {"id", "name", "description", "public", "created", "updated", "rights"}


def test_list_models_anonymous_and_superuser(anonymous_client, superuser_client, user):
    make_model("Private", user=user, level=Role.ADMIN)
    make_model("Public", public=True)
    assert [model["name"] for model in anonymous_client.get("/api/v1/models/").json()["results"]] == ["Public"]
    results = superuser_client.get("/api/v1/models/").json()["results"]
    assert [(model["name"], model["rights"]) for model in results] == [
        ("Private", ["read", "write", "admin"]),
        ("Public", ["read", "write", "admin"]),
    ]


def test_list_models_name_filter(user, user_client):
    for name in ("Text recognition", "Layout analysis", "TEXT lines"):
        make_model(name, user=user, level=Role.GUEST)
    response = user_client.get("/api/v1/models/", {"name": "text"})
    assert [model["name"] for model in response.json()["results"]] == ["TEXT lines", "Text recognition"]


@pytest.mark.parametrize("page_size", [2, 10])
def test_list_models_query_count(user, user_client, django_assert_num_queries, page_size):
    for index in range(12):
        make_model(f"Model {index:02}", user=user, level=Role.CONTRIBUTOR)
    warm(user_client)
    # token, count, page
    with django_assert_num_queries(3):
        response = user_client.get("/api/v1/models/", {"page_size": page_size})
    assert response.status_code == 200
    assert len(response.json()["results"]) == page_size


# CreateModel


def test_create_model(user, user_client):
    response = user_client.post("/api/v1/models/", {"name": "  My model ", "description": "Reads lines"})
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["name"] == "My model"
    assert body["description"] == "Reads lines"
    assert body["public"] is False
    assert body["rights"] == ["read", "write", "admin"]
    model = Model.objects.get(pk=body["id"])
    assert model.creator == user
    assert Right.objects.get(object_id=model.id).level == Role.ADMIN


def test_create_model_existing_name_with_access(user, user_client):
    model = make_model("Taken", user=user, level=Role.CONTRIBUTOR)
    response = user_client.post("/api/v1/models/", {"name": "Taken"})
    assert response.status_code == 400
    assert response.json() == {
        "id": str(model.id),
        "name": ["A model named 'Taken' already exists: add versions to it."],
    }
    assert Model.objects.count() == 1


def test_create_model_existing_name_without_write_access(user, user_client):
    make_model("Taken", user=user, level=Role.GUEST)
    response = user_client.post("/api/v1/models/", {"name": "Taken"})
    assert response.status_code == 403
    assert "ask one of its administrators" in response.json()["detail"]
    assert Model.objects.count() == 1


def test_create_model_name_of_a_hidden_model(user, user_client, other_user):
    """A name only a hidden model carries is free: the answer never tells that model exists."""
    hidden = make_model("Secret project", user=other_user, level=Role.ADMIN)
    response = user_client.post("/api/v1/models/", {"name": "Secret project"})
    assert response.status_code == 201
    assert response.json()["id"] != str(hidden.id)
    assert Model.objects.filter(name="Secret project").count() == 2
    # The name stays taken among the models the user sees.
    assert user_client.post("/api/v1/models/", {"name": "Secret project"}).status_code == 400


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "name"),
        ({"name": "   "}, "name"),
        ({"name": "x" * 101}, "name"),
        ({"name": "ok", "public": "maybe"}, "public"),
    ],
)
def test_create_model_invalid(user_client, body, field):
    response = user_client.post("/api/v1/models/", body)
    assert response.status_code == 400
    assert list(response.json()) == [field]


def test_create_model_public(user_client, superuser_client):
    response = user_client.post("/api/v1/models/", {"name": "Shared", "public": True})
    assert response.status_code == 403
    assert response.json() == {"detail": "Only instance administrators can make a model public or private."}
    assert not Model.objects.exists()

    response = superuser_client.post("/api/v1/models/", {"name": "Shared", "public": True})
    assert response.status_code == 201
    assert response.json()["public"] is True


def test_create_model_anonymous(anonymous_client):
    assert anonymous_client.post("/api/v1/models/", {"name": "Nope"}).status_code == 401
    assert not Model.objects.exists()


# RetrieveModel, PartialUpdateModel


def test_retrieve_model(user, user_client, anonymous_client):
    model = make_model("Mine", user=user, level=Role.GUEST)
    response = user_client.get(f"/api/v1/model/{model.id}/")
    assert response.status_code == 200
    assert response.json()["rights"] == ["read"]
    assert anonymous_client.get(f"/api/v1/model/{model.id}/").status_code == 404
    assert user_client.get(f"/api/v1/model/{uuid.uuid4()}/").status_code == 404


def test_partial_update_model(user, user_client, other_user):
    model = make_model("Old", user=user, level=Role.ADMIN)
    make_model("Taken", user=other_user, level=Role.ADMIN)
    response = user_client.patch(f"/api/v1/model/{model.id}/", {"name": "New", "description": "Better"})
    assert response.status_code == 200
    assert (response.json()["name"], response.json()["description"]) == ("New", "Better")
    model.refresh_from_db()
    assert (model.name, model.description) == ("New", "Better")

    # Taken by a model the user cannot see: free for them.
    response = user_client.patch(f"/api/v1/model/{model.id}/", {"name": "Taken"})
    assert response.status_code == 200
    make_model("Seen", user=user, level=Role.GUEST)
    response = user_client.patch(f"/api/v1/model/{model.id}/", {"name": "Seen"})
    assert response.status_code == 400
    assert response.json() == {"name": ["A model named 'Seen' already exists: choose another name."]}
    response = user_client.patch(f"/api/v1/model/{model.id}/", {"public": True})
    assert response.status_code == 403


@pytest.mark.parametrize(("level", "status"), [(None, 404), (Role.GUEST, 403), (Role.CONTRIBUTOR, 403)])
def test_partial_update_model_needs_admin(user, user_client, level, status):
    model = make_model("Old", user=user if level else None, level=level)
    response = user_client.patch(f"/api/v1/model/{model.id}/", {"name": "New"})
    assert response.status_code == status
    model.refresh_from_db()
    assert model.name == "Old"


# ListModelVersions


def test_list_model_versions(user, user_client):
    model = make_model(user=user, level=Role.CONTRIBUTOR)
    available = make_version(model, tag="v1", state=ModelVersionState.Available, size=3)
    created = make_version(model, tag="v2")
    make_version(make_model("Other", user=user, level=Role.ADMIN), tag="elsewhere")

    response = user_client.get(f"/api/v1/model/{model.id}/versions/")
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2
    by_id = {version["id"]: version for version in body["results"]}
    assert [version["id"] for version in body["results"]] == [str(created.id), str(available.id)]
    assert set(by_id[str(created.id)]) == {
        "id", "model_id", "parent", "description", "tag", "state", "size", "hash", "archive_hash",
        "configuration", "s3_url", "s3_put_url", "created", "updated",
    }  # fmt: skip
    assert by_id[str(created.id)]["s3_put_url"].startswith(f"http://testserver/api/v1/storage/{created.archive_path}?")
    assert by_id[str(created.id)]["s3_url"] is None
    assert by_id[str(available.id)]["s3_put_url"] is None
    assert by_id[str(available.id)]["s3_url"].startswith(f"http://testserver/api/v1/storage/{available.archive_path}?")
    assert by_id[str(available.id)]["model_id"] == str(model.id)


def test_list_model_versions_guest_sees_available_only(user, user_client):
    model = make_model(user=user, level=Role.GUEST)
    available = make_version(model, state=ModelVersionState.Available)
    make_version(model)
    make_version(model, state=ModelVersionState.Error)
    results = user_client.get(f"/api/v1/model/{model.id}/versions/").json()["results"]
    assert [(version["id"], version["s3_put_url"]) for version in results] == [(str(available.id), None)]
    assert results[0]["s3_url"] is not None


def test_list_model_versions_no_access(user_client, anonymous_client):
    model = make_model()
    make_version(model, state=ModelVersionState.Available)
    assert user_client.get(f"/api/v1/model/{model.id}/versions/").status_code == 404
    assert anonymous_client.get(f"/api/v1/model/{model.id}/versions/").status_code == 404
    assert user_client.get(f"/api/v1/model/{uuid.uuid4()}/versions/").status_code == 404


@pytest.mark.parametrize("page_size", [2, 10])
def test_list_model_versions_query_count(user, user_client, django_assert_num_queries, page_size):
    model = make_model(user=user, level=Role.CONTRIBUTOR)
    for index in range(12):
        make_version(model, tag=f"v{index}", state=ModelVersionState.Available if index % 2 else "created")
    warm(user_client)
    # token, model with the user's level, count, page
    with django_assert_num_queries(4):
        response = user_client.get(f"/api/v1/model/{model.id}/versions/", {"page_size": page_size})
    assert response.status_code == 200
    assert len(response.json()["results"]) == page_size


# CreateModelVersion


def test_create_model_version(user, user_client):
    model = make_model(user=user, level=Role.CONTRIBUTOR)
    parent = make_version(model, tag="base", state=ModelVersionState.Available)
    response = user_client.post(
        f"/api/v1/model/{model.id}/versions/",
        {
            "tag": "v2",
            "description": "Fine-tuned",
            "configuration": {"epochs": 3, "labels": ["a", "b"]},
            "parent": str(parent.id),
            "size": 1234,
            "archive_hash": "0123456789ABCDEF0123456789ABCDEF",
        },
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    version = ModelVersion.objects.get(pk=body["id"])
    assert body["model_id"] == str(model.id)
    assert body["parent"] == str(parent.id)
    assert body["state"] == "created"
    assert body["configuration"] == {"epochs": 3, "labels": ["a", "b"]}
    assert body["archive_hash"] == "0123456789abcdef0123456789abcdef"
    assert body["s3_url"] is None
    assert body["s3_put_url"].startswith(f"http://testserver/api/v1/storage/models/{model.id}/{version.id}.tar.zst?")
    assert (version.tag, version.size, version.creator, version.parent) == ("v2", 1234, user, parent)


def test_create_model_version_minimal(user, user_client):
    model = make_model(user=user, level=Role.CONTRIBUTOR)
    response = user_client.post(f"/api/v1/model/{model.id}/versions/", {"configuration": {}, "tag": ""})
    assert response.status_code == 201
    body = response.json()
    assert (body["tag"], body["description"], body["configuration"], body["size"]) == (None, "", {}, None)
    # Any number of versions without a tag
    assert user_client.post(f"/api/v1/model/{model.id}/versions/", {}).status_code == 201


def test_create_model_version_duplicate_tag(user, user_client):
    model = make_model(user=user, level=Role.CONTRIBUTOR)
    make_version(model, tag="v1")
    # The same tag on another model is fine
    make_version(make_model("Other"), tag="v2")
    response = user_client.post(f"/api/v1/model/{model.id}/versions/", {"tag": "v1"})
    assert response.status_code == 400
    assert DUPLICATE_TAG in response.json()["non_field_errors"]
    assert list(response.json()) == ["non_field_errors"]
    assert user_client.post(f"/api/v1/model/{model.id}/versions/", {"tag": "v2"}).status_code == 201


def test_create_model_version_archived_model(user, user_client):
    model = make_model(user=user, level=Role.ADMIN, archived=timezone.now())
    response = user_client.post(f"/api/v1/model/{model.id}/versions/", {"tag": "v1"})
    assert response.status_code == 400
    assert response.json() == {"model": ["This model is archived: no version can be added to it."]}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"archive_hash": "not-an-md5"}, "archive_hash"),
        ({"hash": "xyz"}, "hash"),
        ({"size": -1}, "size"),
        ({"configuration": ["not", "a", "dict"]}, "configuration"),
        ({"state": "available"}, "state"),
        ({"tag": "x" * 51}, "tag"),
        ({"parent": "not-a-uuid"}, "parent"),
        ({"parent": "3f1c6c1e-2b4a-4d4e-9a7b-111111111111"}, "parent"),
    ],
)
def test_create_model_version_invalid(user, user_client, body, field):
    model = make_model(user=user, level=Role.CONTRIBUTOR)
    response = user_client.post(f"/api/v1/model/{model.id}/versions/", body, format="json")
    assert response.status_code == 400
    assert list(response.json()) == [field]
    assert not ModelVersion.objects.exists()


def test_create_model_version_unreadable_parent(user, user_client):
    model = make_model(user=user, level=Role.CONTRIBUTOR)
    hidden = make_version(make_model("Hidden"))
    response = user_client.post(f"/api/v1/model/{model.id}/versions/", {"parent": str(hidden.id)})
    assert response.status_code == 400
    assert response.json() == {"parent": ["No model version with this ID exists, or you have no access to it."]}


@pytest.mark.parametrize(("level", "status"), [(None, 404), (Role.GUEST, 403)])
def test_create_model_version_rights(user, user_client, level, status):
    model = make_model(user=user if level else None, level=level)
    assert user_client.post(f"/api/v1/model/{model.id}/versions/", {"tag": "v1"}).status_code == status
    assert not ModelVersion.objects.exists()


# RetrieveModelVersion


def test_retrieve_model_version(user, user_client):
    model = make_model(user=user, level=Role.GUEST)
    version = make_version(model, state=ModelVersionState.Available, configuration={"a": 1})
    response = user_client.get(f"/api/v1/modelversion/{version.id}/")
    assert response.status_code == 200
    body = response.json()
    assert body["configuration"] == {"a": 1}
    assert body["s3_put_url"] is None
    assert body["s3_url"].startswith(f"http://testserver/api/v1/storage/{version.archive_path}?token=")


def test_retrieve_model_version_visibility(user, user_client, other_client, superuser_client):
    model = make_model(user=user, level=Role.GUEST)
    created = make_version(model)
    # A guest does not see a version being uploaded; a contributor does, with its upload URL
    assert user_client.get(f"/api/v1/modelversion/{created.id}/").status_code == 404
    assert other_client.get(f"/api/v1/modelversion/{created.id}/").status_code == 404
    assert user_client.get(f"/api/v1/modelversion/{uuid.uuid4()}/").status_code == 404
    response = superuser_client.get(f"/api/v1/modelversion/{created.id}/")
    assert response.status_code == 200
    assert response.json()["s3_put_url"] is not None
    assert response.json()["s3_url"] is None


# UpdateModelVersion, PartialUpdateModelVersion


def test_update_model_version_as_the_worker_does(user, user_client):
    """The base worker's `update_model_version` PUTs only the values it has."""
    model = make_model(user=user, level=Role.CONTRIBUTOR)
    version = make_version(model, tag="v1", description="Kept")
    response = user_client.put(
        f"/api/v1/modelversion/{version.id}/",
        {"size": 42, "archive_hash": "0" * 32, "tag": "v2", "configuration": {"lr": 0.1}},
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["size"], body["archive_hash"], body["tag"], body["description"], body["state"]) == (
        42,
        "0" * 32,
        "v2",
        "Kept",
        "created",
    )
    assert body["configuration"] == {"lr": 0.1}


def test_update_model_version_duplicate_tag(user, user_client):
    model = make_model(user=user, level=Role.CONTRIBUTOR)
    make_version(model, tag="v1")
    version = make_version(model, tag="v2")
    response = user_client.patch(f"/api/v1/modelversion/{version.id}/", {"tag": "v1"})
    assert response.status_code == 400
    assert DUPLICATE_TAG in response.json()["non_field_errors"]
    # Its own tag again is no duplicate
    assert user_client.patch(f"/api/v1/modelversion/{version.id}/", {"tag": "v2"}).status_code == 200


def test_update_available_model_version(user, user_client):
    model = make_model(user=user, level=Role.CONTRIBUTOR)
    version = make_version(model, state=ModelVersionState.Available, size=10, archive_hash="a" * 32)
    response = user_client.patch(f"/api/v1/modelversion/{version.id}/", {"size": 11, "archive_hash": "b" * 32})
    assert response.status_code == 400
    message = "The archive of a version in the available state cannot change: create a new version for another archive."
    assert response.json() == {"size": [message], "archive_hash": [message]}
    # The same values, or the description and configuration, can be sent
    response = user_client.patch(
        f"/api/v1/modelversion/{version.id}/", {"size": 10, "description": "Better", "configuration": {"x": 1}}
    )
    assert response.status_code == 200
    assert (response.json()["description"], response.json()["configuration"]) == ("Better", {"x": 1})


@pytest.mark.parametrize(
    ("current", "target", "message"),
    [
        ("available", "created", "A version in the available state cannot become created"),
        ("available", "error", "A version in the available state cannot become error"),
        ("error", "available", "A version in the error state cannot become available"),
        ("created", "lost", '"lost" is not a valid choice.'),
    ],
)
def test_model_version_forbidden_states(user, user_client, current, target, message):
    model = make_model(user=user, level=Role.CONTRIBUTOR)
    version = make_version(model, state=current)
    response = user_client.patch(f"/api/v1/modelversion/{version.id}/", {"state": target})
    assert response.status_code == 400
    assert list(response.json()) == ["state"]
    assert response.json()["state"][0].startswith(message)
    version.refresh_from_db()
    assert version.state == current


def test_model_version_error_state(user, user_client):
    model = make_model(user=user, level=Role.CONTRIBUTOR)
    version = make_version(model)
    response = user_client.patch(f"/api/v1/modelversion/{version.id}/", {"state": "error"})
    assert response.status_code == 200
    assert response.json()["state"] == "error"
    assert response.json()["s3_put_url"] is None
    # Sending the current state again changes nothing
    assert user_client.patch(f"/api/v1/modelversion/{version.id}/", {"state": "error"}).status_code == 200


def test_model_version_available_without_archive(user, user_client):
    model = make_model(user=user, level=Role.CONTRIBUTOR)
    version = make_version(model)
    response = user_client.patch(f"/api/v1/modelversion/{version.id}/", {"state": "available"})
    assert response.status_code == 400
    assert list(response.json()) == ["state"]
    assert "has not been uploaded" in response.json()["state"][0]
    version.refresh_from_db()
    assert version.state == ModelVersionState.Created


def test_model_version_parent_cycle(user, user_client):
    model = make_model(user=user, level=Role.CONTRIBUTOR)
    grandparent = make_version(model)
    parent = make_version(model, parent=grandparent)
    child = make_version(model, parent=parent)
    for target in (grandparent, grandparent):
        response = user_client.patch(f"/api/v1/modelversion/{target.id}/", {"parent": str(child.id)})
        assert response.status_code == 400
        assert response.json() == {"parent": ["A model version cannot descend from itself: choose another parent."]}
    response = user_client.patch(f"/api/v1/modelversion/{parent.id}/", {"parent": str(parent.id)})
    assert response.status_code == 400
    # Another parent, then none
    response = user_client.patch(f"/api/v1/modelversion/{child.id}/", {"parent": str(grandparent.id)})
    assert (response.status_code, response.json()["parent"]) == (200, str(grandparent.id))
    response = user_client.patch(f"/api/v1/modelversion/{child.id}/", {"parent": None}, format="json")
    assert (response.status_code, response.json()["parent"]) == (200, None)


@pytest.mark.parametrize(("level", "status"), [(None, 404), (Role.GUEST, 403)])
def test_update_model_version_rights(user, user_client, level, status):
    model = make_model(user=user if level else None, level=level)
    version = make_version(model, tag="v1", state=ModelVersionState.Available)
    assert user_client.patch(f"/api/v1/modelversion/{version.id}/", {"tag": "v2"}).status_code == status
    assert user_client.put(f"/api/v1/modelversion/{version.id}/", {"tag": "v2"}).status_code == status
    version.refresh_from_db()
    assert version.tag == "v1"


# DestroyModelVersion


def test_destroy_model_version(user, user_client, media_root, django_capture_on_commit_callbacks):
    model = make_model(user=user, level=Role.ADMIN)
    version = make_version(model, state=ModelVersionState.Available)
    archive = media_root / version.archive_path
    archive.parent.mkdir(parents=True)
    archive.write_bytes(b"archive")

    with django_capture_on_commit_callbacks(execute=True):
        response = user_client.delete(f"/api/v1/modelversion/{version.id}/")
        # The archive is deleted once the deletion is committed, not before
        assert archive.exists()
    assert response.status_code == 204
    assert not ModelVersion.objects.exists()
    assert not archive.exists()


@pytest.mark.parametrize(("level", "status"), [(None, 404), (Role.GUEST, 403), (Role.CONTRIBUTOR, 403)])
def test_destroy_model_version_rights(user, user_client, level, status):
    model = make_model(user=user if level else None, level=level)
    version = make_version(model, state=ModelVersionState.Available)
    assert user_client.delete(f"/api/v1/modelversion/{version.id}/").status_code == status
    assert ModelVersion.objects.filter(pk=version.pk).exists()


def test_destroy_model_version_in_use(user, user_client, media_root):
    """Worker runs protect the versions they use: the refusal is a 409 and the archive stays."""
    from processes.services import create_user_worker_run
    from workers.tests.factories import WorkerVersionFactory

    model = make_model(user=user, level=Role.ADMIN)
    version = make_version(model, state=ModelVersionState.Available)
    archive = media_root / version.archive_path
    archive.parent.mkdir(parents=True)
    archive.write_bytes(b"archive")
    worker_version = WorkerVersionFactory(model_usage="supported")
    grant(worker_version.worker, Role.GUEST, user=user)
    create_user_worker_run(user, version_id=worker_version.id, model_version_id=version.id)

    response = user_client.delete(f"/api/v1/modelversion/{version.id}/")
    assert response.status_code == 409
    assert response.json()["errors"][0]["code"] == "protected"
    assert archive.exists()
    assert ModelVersion.objects.filter(pk=version.pk).exists()


def test_other_user_token(other_user, user):
    """Rights are the token owner's: another user's token sees nothing of a private model."""
    model = make_model(user=user, level=Role.ADMIN)
    version = make_version(model, state=ModelVersionState.Available)
    client = token_client(other_user)
    assert client.get(f"/api/v1/modelversion/{version.id}/").status_code == 404
    assert client.get(f"/api/v1/model/{model.id}/").status_code == 404


# Admin


def test_admin_pages(superuser, user):
    model = make_model("Admin model", user=user, level=Role.ADMIN)
    version = make_version(model, tag="v1")
    client = Client()
    client.force_login(superuser)
    for url in (
        "/admin/workers/model/",
        f"/admin/workers/model/{model.id}/change/",
        "/admin/workers/modelversion/",
        f"/admin/workers/modelversion/{version.id}/change/",
    ):
        response = client.get(url)
        assert response.status_code == 200, url
        assert b"v1" in response.content or b"Admin model" in response.content

    response = client.post(
        "/admin/workers/modelversion/", {"action": "mark_error", "_selected_action": [str(version.id)]}
    )
    assert response.status_code == 302
    version.refresh_from_db()
    assert version.state == ModelVersionState.Error

    client.post("/admin/workers/model/", {"action": "archive", "_selected_action": [str(model.id)]})
    model.refresh_from_db()
    assert model.archived is not None
    client.post("/admin/workers/model/", {"action": "unarchive", "_selected_action": [str(model.id)]})
    model.refresh_from_db()
    assert model.archived is None
