"""Worker types and workers: listing with rights and filters, creation (local or get-or-create), update."""

import pytest
from django.contrib.auth.models import AnonymousUser

from users.models import Group, Membership, Right, Role
from users.rights import get_max_level
from users.tests.factories import grant
from workers.models import Worker, WorkerType
from workers.tests.factories import WorkerFactory, WorkerTypeFactory, assert_list_queries

pytestmark = pytest.mark.django_db

WORKERS = "/api/v1/workers/"


def names(response):
    return [item["name"] for item in response.json()["results"]]


# --- ListWorkerTypes -------------------------------------------------------------------------


def test_list_worker_types(user_client, user, anonymous_client):
    """The types of the workers the caller can see only: a private worker's type tells nothing to others."""
    recognizer = WorkerTypeFactory(slug="recognizer", display_name="Recognizer")
    classifier = WorkerTypeFactory(slug="classifier", display_name="Classifier")
    secret = WorkerTypeFactory(slug="secret-project", display_name="Secret project")
    WorkerTypeFactory(slug="unused", display_name="Unused")
    grant(WorkerFactory(type=recognizer), Role.GUEST, user=user)
    WorkerFactory(type=classifier, public=True)
    WorkerFactory(type=secret)
    response = user_client.get(f"{WORKERS}types/")
    assert response.status_code == 200
    assert response.json()["count"] == 2
    assert [(t["slug"], t["display_name"]) for t in response.json()["results"]] == [
        ("classifier", "Classifier"),
        ("recognizer", "Recognizer"),
    ]
    assert [t["slug"] for t in anonymous_client.get(f"{WORKERS}types/").json()["results"]] == ["classifier"]


def test_list_worker_types_queries(user_client, user, django_assert_num_queries):
    for index in range(6):
        grant(WorkerFactory(type=WorkerTypeFactory(slug=f"type-{index}")), Role.GUEST, user=user)
    # Token, count, page.
    assert_list_queries(user_client, f"{WORKERS}types/", 3, django_assert_num_queries)


# --- ListWorkers -----------------------------------------------------------------------------


@pytest.fixture
def visible_workers(user, other_user):
    """Workers `user` sees in five ways, and two they do not see."""
    own = WorkerFactory(name="Own")
    grant(own, Role.ADMIN, user=user)
    through_group = WorkerFactory(name="Through group")
    team = Group.objects.create(name="team")
    Membership.objects.create(user=user, group=team, level=Role.GUEST)
    grant(through_group, Role.CONTRIBUTOR, group=team)
    public = WorkerFactory(name="Public", public=True)
    hidden = WorkerFactory(name="Hidden")
    grant(hidden, Role.ADMIN, user=other_user)
    WorkerFactory(name="Nobody's")
    return {"own": own, "group": through_group, "public": public, "hidden": hidden}


def test_list_workers_by_rights(user_client, visible_workers):
    response = user_client.get(WORKERS)
    assert response.status_code == 200
    assert names(response) == ["Own", "Public", "Through group"]
    own = response.json()["results"][0]
    assert own == {
        "id": str(visible_workers["own"].id),
        "name": "Own",
        "slug": visible_workers["own"].slug,
        "type": visible_workers["own"].type.slug,
        "description": "A worker",
        "repository_url": None,
        "public": False,
        "archived": None,
        "created": own["created"],
    }


def test_list_workers_instance_admin_sees_all(superuser_client, visible_workers):
    response = superuser_client.get(WORKERS)
    assert names(response) == ["Hidden", "Nobody's", "Own", "Public", "Through group"]


def test_list_workers_anonymous_sees_public(anonymous_client, visible_workers):
    response = anonymous_client.get(WORKERS)
    assert response.status_code == 200
    assert names(response) == ["Public"]


def test_list_workers_filters(user, user_client):
    classifier = WorkerTypeFactory(slug="classifier")
    recognizer = WorkerTypeFactory(slug="recognizer")
    local = WorkerFactory(name="Local classifier", type=classifier)
    remote = WorkerFactory(name="Remote RECOGNIZER", type=recognizer, repository_url="https://git.example.com/ocr")
    other_remote = WorkerFactory(name="Other", type=recognizer, repository_url="https://git.example.com/other")
    for worker in (local, remote, other_remote):
        grant(worker, Role.GUEST, user=user)

    def filtered(query):
        response = user_client.get(f"{WORKERS}?{query}")
        assert response.status_code == 200, response.json()
        return names(response)

    assert filtered("type=classifier") == ["Local classifier"]
    assert filtered(f"type={recognizer.id}") == ["Other", "Remote RECOGNIZER"]
    assert filtered("type=unknown") == []
    assert filtered("name=recog") == ["Remote RECOGNIZER"]
    assert filtered("repository_url=https://git.example.com/ocr") == ["Remote RECOGNIZER"]
    # Python's booleans, as the client sends them, and lower-case ones.
    assert filtered("local=True") == ["Local classifier"]
    assert filtered("local=false") == ["Other", "Remote RECOGNIZER"]
    assert filtered("local=False&type=recognizer&name=oth") == ["Other"]


def test_list_workers_invalid_boolean(user_client):
    response = user_client.get(f"{WORKERS}?local=maybe")
    assert response.status_code == 400
    assert response.json() == {"local": ["'maybe' is not a boolean: use true or false."]}


def test_list_workers_queries(user, user_client, django_assert_num_queries):
    for _ in range(6):
        grant(WorkerFactory(), Role.GUEST, user=user)
    # Token, count, page (rights and type in the same query).
    assert_list_queries(user_client, WORKERS, 3, django_assert_num_queries)
    assert_list_queries(user_client, f"{WORKERS}?local=true&name=worker", 3, django_assert_num_queries, (1, 4))


# --- RetrieveWorker --------------------------------------------------------------------------


def test_retrieve_worker(user_client, visible_workers, django_assert_num_queries):
    worker = visible_workers["group"]
    user_client.get(f"{WORKERS}{worker.id}/")
    with django_assert_num_queries(2):
        response = user_client.get(f"{WORKERS}{worker.id}/")
    assert response.status_code == 200
    assert response.json()["id"] == str(worker.id)
    assert response.json()["type"] == worker.type.slug


def test_retrieve_public_worker_anonymously(anonymous_client, visible_workers):
    assert anonymous_client.get(f"{WORKERS}{visible_workers['public'].id}/").status_code == 200
    assert anonymous_client.get(f"{WORKERS}{visible_workers['own'].id}/").status_code == 404


def test_retrieve_worker_hidden(user_client, visible_workers):
    hidden = visible_workers["hidden"]
    response = user_client.get(f"{WORKERS}{hidden.id}/")
    assert response.status_code == 404
    assert response.json() == {"detail": f"Worker {hidden.id} not found, or you have no access to it."}


def test_retrieve_worker_unknown(user_client):
    response = user_client.get(f"{WORKERS}aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa/")
    assert response.status_code == 404
    assert response.json() == {
        "detail": "Worker aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa not found, or you have no access to it."
    }


# --- CreateWorker ----------------------------------------------------------------------------


def test_create_local_worker(user, user_client):
    response = user_client.post(
        WORKERS, {"name": "My worker", "slug": "my-worker", "type": "classifier", "description": "Mine"}
    )
    assert response.status_code == 201, response.json()
    worker = Worker.objects.get(id=response.json()["id"])
    assert response.json() == {
        "id": str(worker.id),
        "name": "My worker",
        "slug": "my-worker",
        "type": "classifier",
        "description": "Mine",
        "repository_url": None,
        "public": False,
        "archived": None,
        "created": response.json()["created"],
    }
    assert worker.creator == user
    assert worker.type.display_name == "classifier"
    assert get_max_level(user, worker) == Role.ADMIN
    assert Right.objects.filter(user=user, object_id=worker.id, level=Role.ADMIN).count() == 1


def test_create_local_worker_twice_makes_two(user_client):
    body = {"name": "Mine", "slug": "mine", "type": "recognizer"}
    first = user_client.post(WORKERS, body)
    second = user_client.post(WORKERS, body)
    assert (first.status_code, second.status_code) == (201, 201)
    assert first.json()["id"] != second.json()["id"]
    # The free-text type is shared.
    assert WorkerType.objects.filter(slug="recognizer").count() == 1


def test_create_repository_worker_is_get_or_create(user, other_user, user_client):
    body = {
        "name": "Demo",
        "slug": "demo",
        "type": "classifier",
        "description": "Demo worker",
        "repository_url": "https://git.example.com/demo",
    }
    created = user_client.post(WORKERS, body)
    assert created.status_code == 201
    again = user_client.post(WORKERS, {**body, "name": "Renamed", "type": "other"})
    assert again.status_code == 200
    # Returned unchanged: the CLI compares and updates what differs itself.
    assert again.json() == created.json()
    assert Worker.objects.count() == 1
    # Same slug in another repository: another worker.
    elsewhere = user_client.post(WORKERS, {**body, "repository_url": "https://git.example.com/fork"})
    assert elsewhere.status_code == 201


def test_create_repository_worker_existing_without_access(user_client, other_user):
    worker = WorkerFactory(slug="demo", repository_url="https://git.example.com/demo")
    grant(worker, Role.ADMIN, user=other_user)
    response = user_client.post(
        WORKERS, {"name": "Demo", "slug": "demo", "type": "t", "repository_url": "https://git.example.com/demo"}
    )
    assert response.status_code == 403
    assert "no access to it" in response.json()["detail"]


def test_create_repository_worker_existing_public(user_client):
    worker = WorkerFactory(slug="demo", repository_url="https://git.example.com/demo", public=True)
    response = user_client.post(
        WORKERS, {"name": "Demo", "slug": "demo", "type": "t", "repository_url": "https://git.example.com/demo"}
    )
    assert response.status_code == 200
    assert response.json()["id"] == str(worker.id)


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({"slug": "a", "type": "t"}, {"name": ["This field is required."]}),
        ({"name": " ", "slug": "a", "type": "t"}, {"name": ["This field may not be blank."]}),
        (
            {"name": "A", "slug": "a b", "type": "t"},
            {"slug": ["Not a slug: letters, digits, dashes and underscores, at most 100 characters."]},
        ),
        ({"name": "A", "slug": "a"}, {"type": ["This field is required."]}),
        ({"name": "A", "slug": "a", "type": "   "}, {"type": ["This field may not be blank."]}),
        (
            {"name": "A", "slug": "a", "type": "t" * 101},
            {"type": ["Ensure this field has no more than 100 characters."]},
        ),
        (
            {"name": "A", "slug": "a", "type": "t", "repository_url": "not a url"},
            {"repository_url": ["Enter a valid URL."]},
        ),
    ],
)
def test_create_worker_invalid(user_client, body, errors):
    response = user_client.post(WORKERS, body)
    assert response.status_code == 400
    assert response.json() == errors
    assert not Worker.objects.exists()


def test_create_worker_anonymous(anonymous_client):
    response = anonymous_client.post(WORKERS, {"name": "A", "slug": "a", "type": "t"})
    assert response.status_code == 401


# --- PartialUpdateWorker ---------------------------------------------------------------------


def test_update_worker(user, user_client):
    worker = WorkerFactory(name="Old", description="Old description")
    grant(worker, Role.CONTRIBUTOR, user=user)
    response = user_client.patch(
        f"{WORKERS}{worker.id}/", {"name": "New", "type": "recognizer", "description": "New description"}
    )
    assert response.status_code == 200, response.json()
    assert (response.json()["name"], response.json()["type"], response.json()["description"]) == (
        "New",
        "recognizer",
        "New description",
    )
    worker.refresh_from_db()
    assert (worker.name, worker.type.slug, worker.description) == ("New", "recognizer", "New description")


def test_update_worker_partial_keeps_the_rest(user, user_client):
    worker = WorkerFactory(name="Old", description="Kept")
    grant(worker, Role.ADMIN, user=user)
    response = user_client.patch(f"{WORKERS}{worker.id}/", {"name": "New"})
    assert response.status_code == 200
    assert response.json()["description"] == "Kept"
    assert response.json()["type"] == worker.type.slug


def test_update_worker_guest_forbidden(user, user_client):
    worker = WorkerFactory(name="Old")
    grant(worker, Role.GUEST, user=user)
    response = user_client.patch(f"{WORKERS}{worker.id}/", {"name": "New"})
    assert response.status_code == 403
    assert response.json() == {
        "detail": "You need contributor access to the worker to update it; ask one of its administrators."
    }
    worker.refresh_from_db()
    assert worker.name == "Old"


def test_update_public_worker_forbidden(user_client):
    worker = WorkerFactory(public=True)
    assert user_client.patch(f"{WORKERS}{worker.id}/", {"name": "New"}).status_code == 403


def test_update_worker_hidden(user_client):
    worker = WorkerFactory()
    assert user_client.patch(f"{WORKERS}{worker.id}/", {"name": "New"}).status_code == 404


def test_update_worker_invalid(user, user_client):
    worker = WorkerFactory()
    grant(worker, Role.ADMIN, user=user)
    response = user_client.patch(f"{WORKERS}{worker.id}/", {"name": "", "type": " "})
    assert response.status_code == 400
    assert response.json() == {"name": ["This field may not be blank."], "type": ["This field may not be blank."]}


def test_update_worker_by_instance_admin(superuser_client):
    worker = WorkerFactory()
    assert superuser_client.patch(f"{WORKERS}{worker.id}/", {"description": ""}).json()["description"] == ""


def test_anonymous_level_is_zero_on_private_worker():
    # Guards the 404 of anonymous requests above: no right means level 0.
    assert get_max_level(AnonymousUser(), WorkerFactory()) == 0
