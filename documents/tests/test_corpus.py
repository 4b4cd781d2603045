"""ListCorpus, CreateCorpus, RetrieveCorpus, PartialUpdateCorpus, DestroyCorpus and CreateElementType."""

import django_rq
import pytest
from django.db import connections
from django.urls import reverse
from rq import SimpleWorker, Worker

from documents.models import Corpus, Element, ElementPath, ElementType
from documents.tests.factories import CorpusFactory, ElementFactory, ElementTypeFactory
from users.models import Right, Role
from users.tests.factories import grant

pytestmark = pytest.mark.django_db


def corpus_url(corpus):
    return reverse("corpus-detail", kwargs={"id": corpus.id})


# ListCorpus


@pytest.mark.parametrize("extra_corpora", [0, 12])
def test_list_corpus_plain_array(user_client, user, corpus, public_corpus, extra_corpora, django_assert_num_queries):
    ElementTypeFactory(corpus=corpus, slug="page", display_name="Page")
    for index in range(extra_corpora):
        extra = CorpusFactory(name=f"Extra {index:02d}")
        grant(extra, Role.GUEST, user=user)
        ElementTypeFactory(corpus=extra, slug="page", display_name="Page")
    CorpusFactory(name="Hidden")

    # Token, corpora with their levels, types: the same whatever the number of corpora.
    with django_assert_num_queries(4):
        response = user_client.get(reverse("corpus-list"))
    assert response.status_code == 200
    body = response.json()
    assert isinstance(body, list)
    assert len(body) == 2 + extra_corpora
    by_name = {item["name"]: item for item in body}
    assert "Hidden" not in by_name
    assert by_name["Private corpus"] == {
        "id": str(corpus.id),
        "name": "Private corpus",
        "description": "",
        "public": False,
        "indexable": False,
        "top_level_type": None,
        "created": corpus.created.isoformat().replace("+00:00", "Z"),
        "rights": ["read", "write"],
        "types": [
            {
                "id": str(corpus.types.get().id),
                "slug": "page",
                "display_name": "Page",
                "folder": False,
                "color": "28b62c",
            }
        ],
    }
    assert by_name["Public corpus"]["rights"] == ["read"]


def test_list_corpus_anonymous_sees_public_only(anonymous_client, corpus, public_corpus):
    response = anonymous_client.get(reverse("corpus-list"))
    assert response.status_code == 200
    assert [item["id"] for item in response.json()] == [str(public_corpus.id)]


def test_list_corpus_instance_admin_sees_all(superuser_client, corpus, public_corpus):
    response = superuser_client.get(reverse("corpus-list"))
    assert {item["id"] for item in response.json()} == {str(corpus.id), str(public_corpus.id)}
    assert all(item["rights"] == ["read", "write", "admin"] for item in response.json())


# CreateCorpus


def test_create_corpus(user_client, user):
    response = user_client.post(reverse("corpus-list"), {"name": "New corpus", "description": "Letters"})
    assert response.status_code == 201, response.json()
    body = response.json()
    corpus = Corpus.objects.get(id=body["id"])
    assert corpus.creator == user
    assert body["rights"] == ["read", "write", "admin"]
    assert body["types"] == []
    assert body["public"] is False
    assert Right.objects.get(object_id=corpus.id).level == Role.ADMIN


def test_create_corpus_requires_login(anonymous_client):
    response = anonymous_client.post(reverse("corpus-list"), {"name": "New corpus"})
    assert response.status_code == 401


def test_create_corpus_bad_input(user_client):
    response = user_client.post(reverse("corpus-list"), {"name": "", "public": "maybe"})
    assert response.status_code == 400
    assert set(response.json()) == {"name", "public"}


# RetrieveCorpus


def test_retrieve_corpus(user_client, corpus, types, django_assert_num_queries):
    corpus.top_level_type = types["folder"]
    corpus.save()
    with django_assert_num_queries(4):
        response = user_client.get(corpus_url(corpus))
    assert response.status_code == 200
    body = response.json()
    assert body["top_level_type"] == "folder"
    assert [item["slug"] for item in body["types"]] == ["folder", "line", "page"]
    assert body["types"][0]["folder"] is True


def test_retrieve_public_corpus_anonymous(anonymous_client, public_corpus):
    response = anonymous_client.get(corpus_url(public_corpus))
    assert response.status_code == 200
    assert response.json()["rights"] == ["read"]


def test_retrieve_private_corpus_hidden(other_client, anonymous_client, corpus):
    for client in (other_client, anonymous_client):
        response = client.get(corpus_url(corpus))
        assert response.status_code == 404
        assert response.json() == {"detail": f"Corpus {corpus.id} not found, or you have no access to it."}


def test_retrieve_missing_corpus(user_client):
    response = user_client.get(reverse("corpus-detail", kwargs={"id": "11111111-1111-1111-1111-111111111111"}))
    assert response.status_code == 404


# PartialUpdateCorpus


def test_update_corpus(user_client, user, corpus, types):
    grant_admin = Right.objects.get(user=user, object_id=corpus.id)
    grant_admin.level = Role.ADMIN
    grant_admin.save()
    response = user_client.patch(
        corpus_url(corpus), {"name": "Renamed", "public": True, "top_level_type": "folder", "indexable": True}
    )
    assert response.status_code == 200, response.json()
    corpus.refresh_from_db()
    assert (corpus.name, corpus.public, corpus.top_level_type, corpus.indexable) == (
        "Renamed",
        True,
        types["folder"],
        False,  # instance administrators decide what the search engine indexes, in the Django admin
    )
    assert response.json()["top_level_type"] == "folder"


def test_update_corpus_type_of_other_corpus(superuser_client, corpus, public_corpus):
    ElementTypeFactory(corpus=public_corpus, slug="elsewhere", display_name="Elsewhere")
    response = superuser_client.patch(corpus_url(corpus), {"top_level_type": "elsewhere"})
    assert response.status_code == 400
    assert list(response.json()) == ["top_level_type"]


def test_update_corpus_needs_admin(user_client, corpus):
    response = user_client.patch(corpus_url(corpus), {"name": "Renamed"})
    assert response.status_code == 403
    assert "admin access" in response.json()["detail"]
    corpus.refresh_from_db()
    assert corpus.name == "Private corpus"


def test_update_corpus_hidden(other_client, corpus):
    assert other_client.patch(corpus_url(corpus), {"name": "Renamed"}).status_code == 404


# DestroyCorpus


def build_corpus_content(corpus, make_element):
    folder = make_element("folder", "Folder")
    for index in range(5):
        page = make_element(name=f"Page {index}", parent=folder)
        make_element("line", parent=page)
    corpus.top_level_type = corpus.types.get(slug="folder")
    corpus.save()


def test_destroy_corpus_runs_in_a_job(
    superuser_client, corpus, public_corpus, types, make_element, django_capture_on_commit_callbacks
):
    build_corpus_content(corpus, make_element)
    kept = ElementTypeFactory(corpus=public_corpus, slug="page", display_name="Page")
    Element.objects.create(corpus=public_corpus, type=kept, name="Kept")

    with django_capture_on_commit_callbacks(execute=True):
        response = superuser_client.delete(corpus_url(corpus))
    assert response.status_code == 204
    # Nothing is deleted by the request itself.
    assert Element.objects.filter(corpus=corpus).count() == 11

    queue = django_rq.get_queue("default")
    assert queue.count == 1
    # In-process worker: the job must see this test's transaction.
    django_rq.get_worker("default", worker_class=SimpleWorker).work(burst=True)

    assert not Corpus.objects.filter(id=corpus.id).exists()
    assert not Element.objects.filter(corpus_id=corpus.id).exists()
    assert not ElementType.objects.filter(corpus_id=corpus.id).exists()
    assert not Right.objects.filter(object_id=corpus.id).exists()
    assert Element.objects.filter(corpus=public_corpus).count() == 1
    assert queue.failed_job_registry.count == 0


def test_destroy_corpus_job_is_idempotent(corpus):
    from documents import jobs

    assert jobs.corpus_delete(str(corpus.id)) is True
    assert jobs.corpus_delete(str(corpus.id)) is False


@pytest.mark.django_db(transaction=True)
def test_destroy_corpus_with_forking_worker(make_user, django_capture_on_commit_callbacks):
    """The job through a real forking RQ worker, on committed data, as in production."""
    from documents import services
    from tests.tokens import token_client

    owner = make_user("owner@example.com")
    corpus = services.corpus_create(user=owner, name="Doomed")
    page_type = ElementTypeFactory(corpus=corpus, slug="page", display_name="Page")
    folder = ElementFactory(corpus=corpus, type=page_type, name="Folder")
    ElementFactory(corpus=corpus, type=page_type, name="Page", parent=folder)

    response = token_client(owner).delete(corpus_url(corpus))
    assert response.status_code == 204
    # The work horse is a fork: it must not share this process's database connection.
    connections.close_all()
    worker = django_rq.get_worker("default", worker_class=Worker)
    assert worker.work(burst=True)
    assert django_rq.get_queue("default").failed_job_registry.count == 0
    assert not Corpus.objects.filter(id=corpus.id).exists()
    assert not ElementPath.objects.exists()


def test_destroy_corpus_needs_admin(user_client, corpus):
    response = user_client.delete(corpus_url(corpus))
    assert response.status_code == 403
    assert django_rq.get_queue("default").count == 0


def test_destroy_corpus_hidden(other_client, corpus):
    assert other_client.delete(corpus_url(corpus)).status_code == 404


def test_destroy_corpus_anonymous(anonymous_client, public_corpus):
    assert anonymous_client.delete(corpus_url(public_corpus)).status_code == 401


# CreateElementType


def test_create_element_type(user_client, corpus):
    response = user_client.post(
        reverse("element-type-create"),
        {"slug": "page", "display_name": "Page", "folder": False, "corpus": str(corpus.id)},
    )
    assert response.status_code == 201, response.json()
    element_type = ElementType.objects.get(corpus=corpus, slug="page")
    assert response.json() == {
        "id": str(element_type.id),
        "corpus": str(corpus.id),
        "slug": "page",
        "display_name": "Page",
        "folder": False,
        "color": "28b62c",
    }


def test_create_element_type_existing_slug(user_client, corpus, types):
    response = user_client.post(
        reverse("element-type-create"), {"slug": "page", "display_name": "Other page", "corpus": str(corpus.id)}
    )
    assert response.status_code == 400
    assert response.json() == {
        "slug": [
            f"An element type with slug 'page' already exists in corpus {corpus.id}: "
            "use it (RetrieveCorpus lists the types)."
        ]
    }


def test_create_element_type_bad_input(user_client, corpus):
    response = user_client.post(
        reverse("element-type-create"), {"slug": "not a slug", "corpus": "nope", "color": "red"}
    )
    assert response.status_code == 400
    assert set(response.json()) == {"slug", "display_name", "corpus", "color"}


def test_create_element_type_hidden_corpus(other_client, corpus):
    response = other_client.post(
        reverse("element-type-create"), {"slug": "page", "display_name": "Page", "corpus": str(corpus.id)}
    )
    assert response.status_code == 400
    assert response.json() == {"corpus": [f"Corpus {corpus.id} not found, or you have no access to it."]}


def test_create_element_type_guest_forbidden(other_client, other_user, corpus):
    grant(corpus, Role.GUEST, user=other_user)
    response = other_client.post(
        reverse("element-type-create"), {"slug": "page", "display_name": "Page", "corpus": str(corpus.id)}
    )
    assert response.status_code == 403
    assert not ElementType.objects.exists()


def test_create_element_type_anonymous(anonymous_client, public_corpus):
    response = anonymous_client.post(
        reverse("element-type-create"), {"slug": "page", "display_name": "Page", "corpus": str(public_corpus.id)}
    )
    assert response.status_code == 401
