"""
The element lists read indexes, not whole tables: on a corpus of 20,000 elements loaded with
set-based SQL (and a second corpus, so that the corpus filter is selective), the plans of the
queries the list views build use the intended indexes and no sequential scan of the elements.
`bench/elements_listing.py` times the same queries on a million elements.
"""

import pytest
from django.db import connection
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from documents import services
from documents.api.views import CorpusElementList, ElementChildrenList
from documents.models import Image
from tests.sample_data import analyze, build_corpus

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def large_corpus(django_db_setup, django_db_blocker):
    """Built once for the module and committed (each test's transaction then reads it), removed at the end."""
    with django_db_blocker.unblock():
        sample = build_corpus(name="Large", folders=10, pages_per_folder=200, lines_per_page=9)
        other = build_corpus(name="Other", folders=5, pages_per_folder=100, lines_per_page=5)
        analyze()
    yield sample
    with django_db_blocker.unblock():
        for corpus in (sample.corpus, other.corpus):
            services.corpus_delete(corpus_id=corpus.id)
        image = Image.objects.select_related("server").get(path="sample.jpg")
        image.delete()
        image.server.delete()


def view_queryset(view_class, user, params=None, **kwargs):
    """The queryset a list view builds for a request, first page of 20, as the API runs it."""
    request = Request(APIRequestFactory().get("/", params or {}))
    request.user = user
    view = view_class(request=request, kwargs=kwargs, format_kwarg=None)
    return view.get_queryset()[:20]


def plan(queryset):
    text = queryset.explain()
    print(text)
    return text


def test_sample_corpus_size(large_corpus):
    assert large_corpus.elements == 10 + 2000 + 18000
    assert large_corpus.corpus.elements.count() == 20010
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM documents_elementpath WHERE parent IS NULL")
        assert cursor.fetchone()[0] == 15


def test_children_use_parent_index(large_corpus, superuser):
    folder = large_corpus.folder_ids[3]
    text = plan(view_queryset(ElementChildrenList, superuser, {"with_has_children": "true"}, id=folder))
    assert "element_path_parent" in text
    assert "Seq Scan on documents_element " not in text
    assert "Seq Scan on documents_elementpath" not in text

    queryset = view_queryset(ElementChildrenList, superuser, {"type": "page"}, id=folder)
    assert len(list(queryset)) == 20
    assert [element.name for element in queryset[:2]] == ["Page 000000", "Page 000001"]


def test_recursive_children_use_path_indexes(large_corpus, superuser):
    # A page's few descendants: found through the GIN index on paths.
    page = large_corpus.corpus.elements.filter(type__slug="page").order_by("name").first()
    text = plan(view_queryset(ElementChildrenList, superuser, {"recursive": "true"}, id=page.id))
    assert "element_path_gin" in text
    assert "Seq Scan on documents_element" not in text

    # A folder holding a tenth of the corpus: PostgreSQL may walk the corpus in name order instead,
    # checking each element's paths by index; either way, no table is read whole.
    text = plan(view_queryset(ElementChildrenList, superuser, {"recursive": "true"}, id=large_corpus.folder_ids[0]))
    assert "element_path_gin" in text or "unique_element_path" in text
    assert "Seq Scan on documents_element" not in text


def uses_type_index(text):
    # Type ids belong to one corpus, so the foreign key's own index serves as well as (corpus, type, name).
    return "element_corpus_type_name" in text or "documents_element_type_id" in text


def test_corpus_type_listing_uses_type_index(large_corpus, superuser):
    corpus = large_corpus.corpus
    text = plan(view_queryset(CorpusElementList, superuser, {"type": "page"}, corpus=corpus.id))
    assert uses_type_index(text)
    assert "Seq Scan on documents_element " not in text


def test_folder_listing_uses_type_index(large_corpus, superuser):
    text = plan(view_queryset(CorpusElementList, superuser, {"folder": "true"}, corpus=large_corpus.corpus.id))
    assert uses_type_index(text)
    assert "Seq Scan on documents_element " not in text


def test_corpus_listing_uses_name_index(large_corpus, superuser):
    text = plan(view_queryset(CorpusElementList, superuser, {}, corpus=large_corpus.corpus.id))
    assert "element_corpus_name" in text or "element_corpus_type_name" in text
    assert "Seq Scan on documents_element " not in text


def test_top_level_listing_uses_parent_index(large_corpus, superuser):
    text = plan(view_queryset(CorpusElementList, superuser, {"top_level": "true"}, corpus=large_corpus.corpus.id))
    assert "element_path_parent" in text
    assert "Seq Scan on documents_elementpath" not in text


def test_name_search_uses_trigram_index(large_corpus, superuser):
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_indexes WHERE indexname = 'element_name_trgm'")
        if cursor.fetchone() is None:
            pytest.skip("this PostgreSQL has no pg_trgm: the migration leaves the trigram index out")
    text = plan(view_queryset(CorpusElementList, superuser, {"name": "ab12"}, corpus=large_corpus.corpus.id))
    assert "element_name_trgm" in text
    assert "Seq Scan on documents_element " not in text
