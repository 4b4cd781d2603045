"""The Django admin of corpora and elements: lists, search, and deletions through the services."""

import pytest
from django.test import Client
from django.urls import reverse

from documents.models import Corpus, Element, ElementPath
from documents.tests.trees import assert_tree_consistent

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_site(superuser):
    client = Client()
    client.force_login(superuser)
    return client


def test_changelists_and_search(admin_site, corpus, make_element, image):
    make_element("folder", "Folder")
    for model in ("corpus", "elementtype", "imageserver", "image", "element"):
        response = admin_site.get(reverse(f"admin:documents_{model}_changelist"), {"q": "o"})
        assert response.status_code == 200, model
    response = admin_site.get(reverse("admin:documents_element_changelist"), {"q": "Folder"})
    assert b"Folder" in response.content


def test_element_add_creates_top_level_path(admin_site, corpus, types):
    response = admin_site.post(
        reverse("admin:documents_element_add"),
        {
            "corpus": corpus.id,
            "type": types["page"].id,
            "name": "Added",
            "rotation_angle": 0,
            "paths-TOTAL_FORMS": 0,
            "paths-INITIAL_FORMS": 0,
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert ElementPath.objects.get(element__name="Added").path == []


def test_element_delete_removes_subtree(admin_site, corpus, make_element):
    folder = make_element("folder")
    page = make_element(parent=folder)
    make_element("line", parent=page)
    url = reverse("admin:documents_element_delete", args=[page.id])
    assert admin_site.get(url).status_code == 200
    response = admin_site.post(url, {"post": "yes"})
    assert response.status_code == 302
    assert list(Element.objects.values_list("id", flat=True)) == [folder.id]
    assert_tree_consistent(corpus)


def test_corpus_delete(admin_site, corpus, make_element):
    make_element("folder")
    url = reverse("admin:documents_corpus_delete", args=[corpus.id])
    assert admin_site.get(url).status_code == 200
    assert admin_site.post(url, {"post": "yes"}).status_code == 302
    assert not Corpus.objects.exists()
    assert not Element.objects.exists()
