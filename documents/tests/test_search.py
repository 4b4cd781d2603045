"""
SearchCorpus and the search index: what is indexed (names of indexed elements, transcriptions and
metadata of them and of their descendants), how the index follows every write (the API, bulk
inserts, ORM updates, links, deletions), the indexable flags and `reindex`, the query language
(folded case and accents, phrases, exclusions), filters, facets, sorting, rights and bad input.
"""

import io

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.urls import reverse

from arkindex.models import Job
from documents import services
from documents.jobs import corpus_reindex
from documents.models import Corpus, ElementType, MetaData, SearchEntry, Transcription
from documents.services.search import reindex_corpus
from documents.tests.factories import CorpusFactory
from ponos.tests.factories import TaskFactory
from processes.models import WorkerRun
from processes.tests.factories import ProcessFactory
from users.models import Role
from users.tests.factories import grant
from workers.tests.factories import WorkerVersionFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def indexed(corpus, types):
    """The corpus indexable, its pages indexed (folders and lines not)."""
    Corpus.objects.filter(pk=corpus.pk).update(indexable=True)
    ElementType.objects.filter(pk=types["page"].pk).update(indexable=True)
    corpus.refresh_from_db()
    return corpus


@pytest.fixture
def run(corpus, user):
    run = WorkerRun(
        process=ProcessFactory(mode="workers", corpus=corpus, creator=user),
        version=WorkerVersionFactory(worker__name="HTR", tag="v1"),
    )
    run.save()
    return run


@pytest.fixture
def book(indexed, make_element, run):
    """A folder ⊃ two pages ⊃ lines, transcribed by a worker run and by a person."""
    folder = make_element("folder", "Registre de 1789")
    first = make_element("page", "Page 1", parent=folder)
    second = make_element("page", "Page 2", parent=folder)
    lines = [make_element("line", f"Line {n}", parent=first) for n in range(2)]
    Transcription.objects.create(element=lines[0], text="Élisabeth de Valois", confidence=0.9, worker_run=run)
    Transcription.objects.create(element=lines[1], text="Marie Antoinette", confidence=0.4, worker_run=run)
    Transcription.objects.create(element=second, text="Élisabeth reine d'Espagne")
    MetaData.objects.create(element=second, type="text", name="author", value="Jean-Baptiste Colbert")
    return {"folder": folder, "first": first, "second": second, "lines": lines}


def search(client, corpus, **params):
    return client.get(reverse("corpus-search", kwargs={"corpus": corpus.id}), params)


def found(response):
    assert response.status_code == 200, response.json()
    return sorted((result["parent_name"], result["source"], result["text"]) for result in response.json()["results"])


def entries_of(corpus):
    return sorted(SearchEntry.objects.filter(corpus=corpus).values_list("parent__name", "source", "element__name"))


def test_search_texts_of_indexed_elements(user_client, book, indexed):
    assert found(search(user_client, indexed, query="elisabeth")) == [
        ("Page 1", "transcription", "Élisabeth de Valois"),
        ("Page 2", "transcription", "Élisabeth reine d'Espagne"),
    ]
    # Names of indexed elements, not of others (folders and lines are not indexed).
    assert found(search(user_client, indexed, query="page 2")) == [("Page 2", "element", "Page 2")]
    assert found(search(user_client, indexed, query="registre")) == []
    assert found(search(user_client, indexed, query="colbert")) == [("Page 2", "metadata", "Jean-Baptiste Colbert")]
    result = search(user_client, indexed, query="Colbert").json()["results"][0]
    assert result["metadata_name"] == "author" and result["element_id"] == str(book["second"].id)
    line = search(user_client, indexed, query="antoinette").json()["results"][0]
    assert line["parent_id"] == str(book["first"].id) and line["element_id"] == str(book["lines"][1].id)
    assert line["element_type"] == "line" and line["parent_type"] == "page"
    assert line["worker_run"]["summary"].startswith("Worker HTR")
    assert line["confidence"] == 0.4 and line["transcription_id"] is not None and line["metadata_id"] is None


def test_query_language(user_client, book, indexed):
    def texts(query):
        return [text for _, _, text in found(search(user_client, indexed, query=query))]

    assert texts("ÉLISABETH VALOIS") == ["Élisabeth de Valois"]  # every word, any case or accent
    assert texts('"de valois"') == ["Élisabeth de Valois"]
    assert texts('"valois de"') == []
    assert texts("elisabeth -valois") == ["Élisabeth reine d'Espagne"]
    assert sorted(texts("antoinette or colbert")) == ["Jean-Baptiste Colbert", "Marie Antoinette"]


def test_filters_and_facets(user_client, book, indexed, run):
    body = search(user_client, indexed, query="elisabeth or marie").json()
    assert body["count"] == 3
    assert body["facets"]["element_type"] == [{"value": "page", "display_name": "Page", "count": 3}]
    assert body["facets"]["source"] == [{"value": "transcription", "count": 3}]
    assert body["facets"]["worker_run"] == [
        {"value": str(run.id), "summary": run.summary, "count": 2},
        {"value": None, "summary": None, "count": 1},
    ]

    def texts(**params):
        return [text for _, _, text in found(search(user_client, indexed, query="elisabeth or marie", **params))]

    assert texts(worker_run=str(run.id)) == ["Marie Antoinette", "Élisabeth de Valois"]
    assert texts(worker_run="false") == ["Élisabeth reine d'Espagne"]
    assert texts(confidence_min=0.5) == ["Élisabeth de Valois"]
    assert texts(confidence_max=0.5) == ["Marie Antoinette"]
    assert texts(element_type="line") == []
    assert texts(sources="element") == []
    assert found(search(user_client, indexed, query="page or colbert", sources=["element", "metadata"])) == [
        ("Page 1", "element", "Page 1"),
        ("Page 2", "element", "Page 2"),
        ("Page 2", "metadata", "Jean-Baptiste Colbert"),
    ]
    assert found(search(user_client, indexed, query="colbert", metadata_name="title")) == []

    only = search(user_client, indexed, query="elisabeth", only_facets="true").json()
    assert only["results"] == [] and only["count"] == 2 and only["facets"]["source"][0]["count"] == 2


def test_sort_and_pages(user_client, book, indexed):
    by_name = search(user_client, indexed, query="elisabeth or marie or page", sort="element_name", page_size=2)
    body = by_name.json()
    assert body["count"] == 5 and body["number"] == 1 and body["next"]
    assert [result["parent_name"] for result in body["results"]] == ["Page 1", "Page 1"]
    second = user_client.get(body["next"]).json()
    assert second["number"] == 2 and [result["parent_name"] for result in second["results"]] == ["Page 1", "Page 2"]
    ranked = search(user_client, indexed, query="elisabeth valois or elisabeth").json()["results"]
    assert ranked[0]["text"] == "Élisabeth de Valois" and ranked[0]["rank"] >= ranked[1]["rank"]


def test_queries(user_client, book, indexed, django_assert_num_queries):
    user_client.get(reverse("corpus-list"))
    # Token, corpus with level, facets (with the count), page.
    with django_assert_num_queries(4):
        assert search(user_client, indexed, query="elisabeth or marie or page").status_code == 200
    with django_assert_num_queries(3):
        assert search(user_client, indexed, query="page", only_facets="true").status_code == 200


# The index follows writes


def test_index_follows_the_api(user_client, indexed, book, run):
    page = book["second"]
    response = user_client.post(
        reverse("elements-bulk-create", kwargs={"id": page.id}),
        {"elements": [{"type": "line", "name": "New line"}]},
        format="json",
    )
    assert response.status_code == 201, response.json()
    line_id = response.json()[0]["id"]
    response = user_client.post(
        reverse("transcription-bulk"),
        {"transcriptions": [{"element_id": line_id, "text": "Philippe II", "orientation": "horizontal-lr"}]},
        format="json",
    )
    assert response.status_code == 201, response.json()
    assert found(search(user_client, indexed, query="philippe")) == [("Page 2", "transcription", "Philippe II")]
    response = user_client.post(
        reverse("element-metadata", kwargs={"id": line_id}), {"type": "text", "name": "king", "value": "Espagne"}
    )
    assert response.status_code == 201, response.json()
    assert ("Page 2", "metadata", "Espagne") in found(search(user_client, indexed, query="espagne"))
    # A renamed page, found by its new name only.
    response = user_client.patch(reverse("element-detail", kwargs={"id": page.id}), {"name": "Folio 2"}, format="json")
    assert response.status_code == 200, response.json()
    assert found(search(user_client, indexed, query="folio")) == [("Folio 2", "element", "Folio 2")]
    assert found(search(user_client, indexed, query="page 2")) == []
    # A deleted line takes its texts with it.
    assert user_client.delete(reverse("element-detail", kwargs={"id": line_id})).status_code == 204
    assert found(search(user_client, indexed, query="philippe")) == []


LESZCZYNSKA = "Marie Leszczynska"


def test_index_follows_updates_and_deletions(user_client, indexed, book):
    transcription = Transcription.objects.get(text="Marie Antoinette")
    transcription.text = LESZCZYNSKA
    transcription.save()
    assert found(search(user_client, indexed, query="leszczynska")) == [("Page 1", "transcription", LESZCZYNSKA)]
    assert found(search(user_client, indexed, query="antoinette")) == []
    Transcription.objects.filter(pk=transcription.pk).update(confidence=0.7)
    assert search(user_client, indexed, query="marie").json()["results"][0]["confidence"] == 0.7
    metadata = MetaData.objects.get(name="author")
    metadata.value = "Louvois"
    metadata.save()
    assert found(search(user_client, indexed, query="louvois")) == [("Page 2", "metadata", "Louvois")]
    # A text moved to another element is found under that element's indexed ancestors.
    Transcription.objects.filter(pk=transcription.pk).update(element=book["second"])
    assert found(search(user_client, indexed, query="leszczynska")) == [("Page 2", "transcription", LESZCZYNSKA)]
    Transcription.objects.filter(pk=transcription.pk).delete()
    MetaData.objects.all().delete()
    assert found(search(user_client, indexed, query="leszczynska or louvois")) == []


def test_index_follows_the_tree(user_client, indexed, book, make_element, types):
    first, second = book["first"], book["second"]
    line = book["lines"][0]
    # A line linked under a second page is found under both; unlinked, under the first only again.
    services.element_add_parent(child=line, parent=second)
    assert [name for name, _, _ in found(search(user_client, indexed, query="valois"))] == ["Page 1", "Page 2"]
    services.element_remove_parent(child=line, parent=second)
    assert [name for name, _, _ in found(search(user_client, indexed, query="valois"))] == ["Page 1"]
    # A new indexed element above existing texts: a page made a child of a new page-level section.
    section = make_element("page", "Section")
    services.element_add_parent(child=first, parent=section)
    assert [name for name, _, _ in found(search(user_client, indexed, query="valois"))] == ["Page 1", "Section"]
    # An element that changes type changes what it is indexed as.
    first.type = types["line"]
    first.save()
    assert [name for name, _, _ in found(search(user_client, indexed, query="valois"))] == ["Section"]
    assert found(search(user_client, indexed, query="page 1")) == []
    first.type = types["page"]
    first.save()
    assert [name for name, _, _ in found(search(user_client, indexed, query="valois"))] == ["Page 1", "Section"]
    before = entries_of(indexed)
    reindex_corpus(indexed.id)
    assert entries_of(indexed) == before


def test_deleted_with_the_corpus(indexed, book):
    assert SearchEntry.objects.filter(corpus=indexed).exists()
    services.corpus_delete(corpus_id=indexed.id)
    assert not SearchEntry.objects.exists()


def test_writes_outside_indexed_corpora_index_nothing(user, make_element, corpus, types):
    page = make_element("page", "Page")
    Transcription.objects.create(element=page, text="Nothing to index")
    assert not SearchEntry.objects.exists()
    # An indexable type is not enough: its corpus must be indexable too.
    ElementType.objects.filter(pk=types["page"].pk).update(indexable=True)
    Transcription.objects.create(element=page, text="Still nothing")
    assert not SearchEntry.objects.exists()


# Flags and reindexing


def test_flags_reindex(django_capture_on_commit_callbacks, user_client, corpus, types, make_element, superuser):
    page = make_element("page", "Page")
    Transcription.objects.create(element=page, text="Tabellion")
    corpus.indexable = True
    with django_capture_on_commit_callbacks():
        corpus.save()
    # Indexed by a job; until it has run, the corpus's types are not indexable anyway.
    job = Job.objects.get(function="documents.jobs.corpus_reindex")
    assert job.arguments == [str(corpus.id)] and job.description == f"Index corpus {corpus.name} for search"
    page_type = types["page"]
    page_type.indexable = True
    with django_capture_on_commit_callbacks():
        page_type.save()
    # The same job, not started yet, does both.
    assert Job.objects.get(function="documents.jobs.corpus_reindex") == job
    assert search(user_client, corpus, query="tabellion").json()["count"] == 0
    corpus_reindex(str(corpus.id))
    # Started, it no longer takes requests: the next change makes another job.
    job.refresh_from_db()
    assert job.key is None
    assert found(search(user_client, corpus, query="tabellion")) == [("Page", "transcription", "Tabellion")]
    # A type no longer indexable is left out at once, and its entries go with the next job.
    page_type.indexable = False
    page_type.save()
    assert search(user_client, corpus, query="tabellion").json()["count"] == 0
    reindex_corpus(corpus.id)
    assert not SearchEntry.objects.exists()


def test_reindex_command(indexed, book):
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM documents_searchentry")
    out = io.StringIO()
    call_command("reindex", str(indexed.id), stdout=out)
    output = out.getvalue()
    assert f"Indexing corpus {indexed.name}" in output
    assert output.splitlines()[-1] == "Indexed 1 corpus: 6 search entries."
    assert len(entries_of(indexed)) == 6
    out = io.StringIO()
    call_command("reindex", "--all", stdout=out)
    assert out.getvalue().splitlines()[-1] == "Indexed 1 corpus: 6 search entries."
    with pytest.raises(CommandError, match="not indexable"):
        call_command("reindex", str(CorpusFactory(name="Plain").id))
    with pytest.raises(CommandError, match="No corpus"):
        call_command("reindex", "11111111-1111-1111-1111-111111111111")
    with pytest.raises(CommandError, match="corpus IDs, or --all"):
        call_command("reindex")


def test_paused_writes_wait_for_reindex(indexed, make_element):
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL arkindex.search_paused = on")
        make_element("page", "Bulk page")
        cursor.execute("SET LOCAL arkindex.search_paused = off")
    assert not SearchEntry.objects.filter(parent__name="Bulk page").exists()
    reindex_corpus(indexed.id)
    assert SearchEntry.objects.filter(parent__name="Bulk page").exists()


# Rights and bad input


def test_rights(anonymous_client, other_client, other_user, user_client, book, indexed, public_corpus):
    assert search(other_client, indexed, query="elisabeth").status_code == 404
    grant(indexed, Role.GUEST, user=other_user)
    assert search(other_client, indexed, query="elisabeth").json()["count"] == 2
    assert search(anonymous_client, indexed, query="elisabeth").status_code == 404
    Corpus.objects.filter(pk=public_corpus.pk).update(indexable=True)
    assert search(anonymous_client, public_corpus, query="anything").json()["count"] == 0
    missing = user_client.get(
        reverse("corpus-search", kwargs={"corpus": "11111111-1111-1111-1111-111111111111"}), {"query": "a"}
    )
    assert missing.status_code == 404


def test_not_indexable(user_client, corpus):
    response = search(user_client, corpus, query="anything")
    assert response.status_code == 400
    assert "is not indexable" in response.json()["corpus"][0]


def test_task_tokens_do_not_search(indexed, run):
    from tests.tokens import task_client

    task = TaskFactory(process=run.process, slug="worker", state="running")
    response = search(task_client(task), indexed, query="anything")
    assert response.status_code == 403


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({}, "query"),
        ({"query": ""}, "query"),
        ({"query": "!!! ..."}, "query"),
        ({"query": "x" * 1001}, "query"),
        ({"query": "a", "sources": "entity"}, "sources"),
        ({"query": "a", "worker_run": "nope"}, "worker_run"),
        ({"query": "a", "confidence_min": "2"}, "confidence_min"),
        ({"query": "a", "confidence_min": "nan"}, "confidence_min"),
        ({"query": "a", "confidence_min": "0.8", "confidence_max": "0.2"}, "confidence_max"),
        ({"query": "a", "sort": "random"}, "sort"),
        ({"query": "a", "only_facets": "maybe"}, "only_facets"),
        ({"query": "a", "element_type": "no spaces"}, "element_type"),
        ({"query": "a", "page": "0"}, "detail"),
    ],
)
def test_bad_input(user_client, indexed, params, field):
    response = search(user_client, indexed, **params)
    assert response.status_code in (400, 404), response.json()
    assert field in response.json()


def test_query_syntax_never_fails(user_client, book, indexed):
    for query in ['"unclosed', "a & b | c", "!(x)", "a:*", "-", "or or or", "'quote'", "\\", "中文", "a <-> b"]:
        response = search(user_client, indexed, query=f"{query} elisabeth")
        assert response.status_code == 200, (query, response.json())
