"""
Elements produced by worker runs: the `worker_run` and `worker_version` filters of ListElements,
ListElementChildren and ListElementParents (a UUID, or `False` for the elements made by a person),
the `worker_run` / `worker_run_id` / `worker_version_id` keys of every element shape, the query
counts of the lists, the plans on a large corpus, and the admin pages.

Worker runs are built directly (processes are configured through their own API elsewhere).
"""

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from documents import services
from documents.api.views import CorpusElementList, ElementChildrenList, ElementParentsList
from documents.models import Element, ElementPath, Image, Selection
from processes.models import Process, WorkerRun
from processes.tests.factories import ProcessFactory, make_run
from tests.sample_data import analyze, build_corpus
from workers.models import Worker, WorkerType, WorkerVersion
from workers.tests.factories import WorkerConfigurationFactory, WorkerVersionFactory

pytestmark = pytest.mark.django_db

MISSING = "11111111-1111-1111-1111-111111111111"


@pytest.fixture
def runs(corpus, user):
    """Runs A1 and A2 of version A (A2 with a configuration, in another process), and run B of version B."""
    version_a = WorkerVersionFactory(worker__name="Layout", tag="v1")
    version_b = WorkerVersionFactory(worker__name="Lines", tag="v2")
    process = ProcessFactory(mode="workers", corpus=corpus, creator=user)
    other_process = ProcessFactory(mode="workers", corpus=corpus, creator=user)
    configuration = WorkerConfigurationFactory(worker=version_a.worker, name="Fast")
    return {
        "version_a": version_a,
        "version_b": version_b,
        "a1": make_run(process, version_a),
        "a2": make_run(other_process, version_a, configuration=configuration),
        "b": make_run(process, version_b),
    }


@pytest.fixture
def tree(make_element, image, runs):
    """
    Folder (by a person) ⊃ P0 (run A1), P1 (run B), P2 (by a person); P0 ⊃ L0 (run A2), L1 (run A1).
    """
    folder = make_element("folder", "Folder")
    pages = {
        "P0": make_element(name="P0", parent=folder, image=image),
        "P1": make_element(name="P1", parent=folder, image=image),
        "P2": make_element(name="P2", parent=folder),
    }
    lines = {name: make_element("line", name, parent=pages["P0"]) for name in ("L0", "L1")}
    elements = {"Folder": folder, **pages, **lines}
    for name, run in (("P0", "a1"), ("P1", "b"), ("L0", "a2"), ("L1", "a1")):
        Element.objects.filter(pk=elements[name].pk).update(worker_run=runs[run])
    return elements


def names(response):
    assert response.status_code == 200, response.json()
    return [item["name"] for item in response.json()["results"]]


def params_for(runs, params):
    """Replace run and version keys (`a1`, `version_b`…) by their ids."""
    return {key: str(runs[value].id) if value in runs else value for key, value in params.items()}


def corpus_url(corpus):
    return reverse("corpus-elements", kwargs={"corpus": corpus.id})


def children_url(element):
    return reverse("element-children", kwargs={"id": element.id})


def parents_url(element):
    return reverse("element-parents", kwargs={"id": element.id})


MANUAL = ["Folder", "P2"]


@pytest.mark.parametrize(
    "params, expected",
    [
        ({}, ["Folder", "L0", "L1", "P0", "P1", "P2"]),
        ({"worker_run": "a1"}, ["L1", "P0"]),
        ({"worker_run": "a2"}, ["L0"]),
        ({"worker_run": "b"}, ["P1"]),
        ({"worker_run": "False"}, MANUAL),
        ({"worker_run": "false"}, MANUAL),
        ({"worker_run": MISSING}, []),
        ({"worker_version": "version_a"}, ["L0", "L1", "P0"]),
        ({"worker_version": "version_b"}, ["P1"]),
        ({"worker_version": "False"}, MANUAL),
        ({"worker_version": "false"}, MANUAL),
        ({"worker_version": MISSING}, []),
        # Combined with each other and with the other filters.
        ({"worker_run": "a1", "worker_version": "version_a"}, ["L1", "P0"]),
        ({"worker_run": "a1", "worker_version": "version_b"}, []),
        ({"worker_run": "False", "worker_version": "version_a"}, []),
        ({"worker_run": "False", "worker_version": "False"}, MANUAL),
        ({"worker_version": "version_a", "type": "line"}, ["L0", "L1"]),
        ({"worker_version": "version_a", "folder": "false", "name": "l"}, ["L0", "L1"]),
        ({"worker_run": "False", "top_level": "true"}, ["Folder"]),
        ({"worker_run": "False", "top_level": "false"}, ["P2"]),
        ({"worker_version": "version_a", "order": "name", "order_direction": "desc"}, ["P0", "L1", "L0"]),
        # Transcriptions do not exist yet.
        ({"worker_run": "a1", "transcription_worker_run": "false"}, []),
    ],
)
def test_list_elements_worker_filters(user_client, corpus, tree, runs, params, expected):
    response = user_client.get(corpus_url(corpus), params_for(runs, params))
    assert names(response) == expected
    assert response.json()["count"] == len(expected)


@pytest.mark.parametrize(
    "params, expected",
    [
        ({"worker_run": "a1"}, ["P0"]),
        ({"worker_run": "b"}, ["P1"]),
        ({"worker_run": "a2"}, []),
        ({"worker_run": "False"}, ["P2"]),
        ({"worker_version": "version_a"}, ["P0"]),
        ({"worker_version": "false"}, ["P2"]),
        ({"worker_version": "version_b", "order": "position", "order_direction": "desc"}, ["P1"]),
        ({"recursive": "true", "worker_run": "a1"}, ["L1", "P0"]),
        ({"recursive": "true", "worker_version": "version_a"}, ["L0", "L1", "P0"]),
        ({"recursive": "true", "worker_version": "version_a", "type": "line"}, ["L0", "L1"]),
        ({"recursive": "true", "worker_run": "False"}, ["P2"]),
        ({"recursive": "true", "worker_run": MISSING}, []),
    ],
)
def test_children_worker_filters(user_client, tree, runs, params, expected):
    response = user_client.get(children_url(tree["Folder"]), params_for(runs, params))
    assert names(response) == expected
    assert response.json()["count"] == len(expected)


@pytest.mark.parametrize(
    "params, expected",
    [
        ({}, ["P0"]),
        ({"worker_run": "a1"}, ["P0"]),
        ({"worker_run": "a2"}, []),
        ({"worker_run": "false"}, []),
        ({"worker_version": "version_a"}, ["P0"]),
        ({"recursive": "true"}, ["Folder", "P0"]),
        ({"recursive": "true", "worker_run": "False"}, ["Folder"]),
        ({"recursive": "true", "worker_version": "False", "type": "folder"}, ["Folder"]),
        ({"recursive": "true", "worker_version": "version_a"}, ["P0"]),
        ({"recursive": "true", "worker_version": "version_b"}, []),
    ],
)
def test_parents_worker_filters(user_client, tree, runs, params, expected):
    response = user_client.get(parents_url(tree["L1"]), params_for(runs, params))
    assert names(response) == expected
    assert response.json()["count"] == len(expected)


@pytest.mark.parametrize("field", ["worker_run", "worker_version"])
@pytest.mark.parametrize("value", ["nope", "12345", "True", "1111-2222"])
@pytest.mark.parametrize("which", ["corpus", "children", "parents"])
def test_bad_worker_filters(user_client, corpus, tree, field, value, which):
    url = {"corpus": corpus_url(corpus), "children": children_url(tree["Folder"]), "parents": parents_url(tree["L1"])}
    response = user_client.get(url[which], {field: value})
    assert response.status_code == 400
    body = response.json()
    assert list(body) == [field]
    assert f"'{value}' is not a valid UUID, nor false" in body[field][0]


def worker_keys(item):
    return {key: item[key] for key in ("worker_run", "worker_run_id", "worker_version_id")}


def expected_keys(run):
    if run is None:
        return {"worker_run": None, "worker_run_id": None, "worker_version_id": None}
    return {
        "worker_run": {"id": str(run.id), "summary": run.summary},
        "worker_run_id": str(run.id),
        "worker_version_id": str(run.version_id),
    }


def test_list_shapes(user_client, corpus, tree, runs):
    response = user_client.get(corpus_url(corpus))
    by_name = {item["name"]: worker_keys(item) for item in response.json()["results"]}
    assert by_name == {
        "Folder": expected_keys(None),
        "P0": expected_keys(runs["a1"]),
        "P1": expected_keys(runs["b"]),
        "P2": expected_keys(None),
        "L0": expected_keys(runs["a2"]),
        "L1": expected_keys(runs["a1"]),
    }
    assert by_name["L0"]["worker_run"]["summary"] == "Worker Layout @ v1 using configuration 'Fast'"
    assert by_name["P1"]["worker_run"]["summary"] == "Worker Lines @ v2"

    children = user_client.get(children_url(tree["Folder"]), {"recursive": "true", "with_has_children": "true"})
    assert {item["name"]: worker_keys(item) for item in children.json()["results"]} == {
        name: keys for name, keys in by_name.items() if name != "Folder"
    }
    parents = user_client.get(parents_url(tree["L0"]), {"recursive": "true"})
    assert {item["name"]: worker_keys(item) for item in parents.json()["results"]} == {
        "Folder": expected_keys(None),
        "P0": expected_keys(runs["a1"]),
    }


def test_retrieve_and_update_shapes(user_client, tree, runs, django_assert_num_queries):
    url = reverse("element-detail", kwargs={"id": tree["P0"].id})
    # Same count as an element made by a person: the run comes with the element.
    with django_assert_num_queries(3):
        response = user_client.get(url)
    assert response.status_code == 200
    assert worker_keys(response.json()) == expected_keys(runs["a1"])

    response = user_client.patch(url, {"name": "P0 renamed"}, format="json")
    assert response.status_code == 200, response.json()
    assert worker_keys(response.json()) == expected_keys(runs["a1"])

    manual = user_client.get(reverse("element-detail", kwargs={"id": tree["P2"].id}))
    assert worker_keys(manual.json()) == expected_keys(None)


def test_create_element_shape(user_client, corpus, tree, runs):
    # The element is signed by the worker run it was created with (documents.provenance).
    response = user_client.post(
        reverse("element-create"),
        {"corpus": str(corpus.id), "type": "line", "name": "New", "worker_run_id": str(runs["a1"].id)},
        format="json",
    )
    assert response.status_code == 201, response.json()
    assert worker_keys(response.json()) == expected_keys(runs["a1"])


def test_worker_run_cannot_be_deleted_with_elements(tree, runs):
    from django.db.models import ProtectedError

    with pytest.raises(ProtectedError):
        runs["b"].delete()


# Query counts: the same as the lists without worker runs (documents/tests/test_element_lists.py,
# where the first request also records the token's last use).


@pytest.mark.parametrize("page_size", [1, 3])
@pytest.mark.parametrize("params", [{}, {"worker_version": "version_a"}, {"worker_run": "a1"}, {"worker_run": "false"}])
def test_list_elements_query_count(user_client, corpus, tree, runs, params, page_size, django_assert_num_queries):
    user_client.get(corpus_url(corpus))  # warms the token's last use
    # Token, corpus with rights and types, count, page.
    with django_assert_num_queries(4):
        response = user_client.get(corpus_url(corpus), {**params_for(runs, params), "page_size": page_size})
    assert response.status_code == 200
    assert len(response.json()["results"]) == min(page_size, response.json()["count"])


@pytest.mark.parametrize("page_size", [1, 3])
@pytest.mark.parametrize("recursive", ["false", "true"])
def test_children_and_parents_query_count(user_client, tree, runs, page_size, recursive, django_assert_num_queries):
    user_client.get(children_url(tree["Folder"]))
    params = {"page_size": page_size, "recursive": recursive, "worker_version": str(runs["version_a"].id)}
    # Token, element with rights, path and types, count, page.
    with django_assert_num_queries(4):
        response = user_client.get(children_url(tree["Folder"]), params)
    assert len(response.json()["results"]) == min(page_size, response.json()["count"])
    with django_assert_num_queries(4):
        response = user_client.get(parents_url(tree["L1"]), {**params, "worker_version": ""})
    assert len(response.json()["results"]) == min(page_size, response.json()["count"])


# Admin


@pytest.fixture
def admin_site(superuser):
    client = Client()
    client.force_login(superuser)
    return client


def test_element_admin_worker_run_is_a_raw_id(admin_site, tree, runs, django_assert_max_num_queries):
    url = reverse("admin:documents_element_change", args=[tree["P0"].id])
    response = admin_site.get(url)
    assert response.status_code == 200
    content = response.content.decode()
    # A raw id input, not a <select> listing every worker run of the instance.
    assert 'name="worker_run"' in content
    assert f'value="{runs["a1"].id}"' in content
    assert '<select name="worker_run"' not in content
    assert runs["b"].summary not in content


def test_selection_admin(admin_site, user, tree):
    Selection.objects.create(user=user, element=tree["P0"])
    response = admin_site.get(reverse("admin:documents_selection_changelist"), {"q": "user@"})
    assert response.status_code == 200
    assert b"P0" in response.content
    add = admin_site.get(reverse("admin:documents_selection_add"))
    assert add.status_code == 200
    assert '<select name="element"' not in add.content.decode()
    assert '<select name="user"' not in add.content.decode()


# Plans on a large corpus


@pytest.fixture(scope="module")
def large_corpus(django_db_setup, django_db_blocker):
    """
    20,010 elements: every line (18,000) by one run, the pages of one folder (200) by a run of
    another version, the rest by people; a second corpus with its lines by another run of the
    first version. Built once for the module and committed, removed at the end.
    """
    from users.models import User

    with django_db_blocker.unblock():
        creator = User.objects.create_user(email="plans@example.com", password="secret-password")
        sample = build_corpus(name="Large", folders=10, pages_per_folder=200, lines_per_page=9)
        other = build_corpus(name="Other", folders=5, pages_per_folder=100, lines_per_page=5)
        lines_version = WorkerVersionFactory(tag="lines")
        pages_version = WorkerVersionFactory(tag="pages")
        process = ProcessFactory(mode="workers", corpus=sample.corpus, creator=creator)
        other_process = ProcessFactory(mode="workers", corpus=other.corpus, creator=creator)
        runs = {
            "lines": make_run(process, lines_version),
            "pages": make_run(process, pages_version),
            "other": make_run(other_process, lines_version),
        }
        Element.objects.filter(corpus=sample.corpus, type__slug="line").update(worker_run=runs["lines"])
        Element.objects.filter(corpus=other.corpus, type__slug="line").update(worker_run=runs["other"])
        folder_pages = Element.objects.filter(paths__parent=sample.folder_ids[0], type__slug="page")
        Element.objects.filter(id__in=folder_pages.values("id")).update(worker_run=runs["pages"])
        analyze()
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {WorkerRun._meta.db_table}")
    yield {"sample": sample, "runs": runs, "lines_version": lines_version, "pages_version": pages_version}
    with django_db_blocker.unblock():
        for corpus in (sample.corpus, other.corpus):
            Element.objects.filter(corpus=corpus).update(worker_run=None)
        Process.objects.filter(creator=creator).delete()
        for corpus in (sample.corpus, other.corpus):
            services.corpus_delete(corpus_id=corpus.id)
        worker_ids = [lines_version.worker_id, pages_version.worker_id]
        type_ids = list(Worker.objects.filter(id__in=worker_ids).values_list("type_id", flat=True))
        WorkerVersion.objects.filter(worker_id__in=worker_ids).delete()
        Worker.objects.filter(id__in=worker_ids).delete()
        WorkerType.objects.filter(id__in=type_ids).delete()
        creator.delete()
        image = Image.objects.select_related("server").get(path="sample.jpg")
        image.delete()
        image.server.delete()
        # The dead rows and index entries left behind would change the plans of the next modules.
        with connection.cursor() as cursor:
            for model in (Element, ElementPath):
                cursor.execute(f"VACUUM ANALYZE {model._meta.db_table}")


def view_queryset(view_class, user, params, **kwargs):
    """The queryset a list view builds for a request, as the API runs it."""
    request = Request(APIRequestFactory().get("/", params))
    request.user = user
    view = view_class(request=request, kwargs=kwargs, format_kwarg=None)
    return view.get_queryset()


def plans(queryset):
    """The plans of the two queries of a list: the count, then the first page of 20."""
    with CaptureQueriesContext(connection) as context:
        queryset.count()
        list(queryset[:20])
    texts = []
    for query in context.captured_queries:
        with connection.cursor() as cursor:
            cursor.execute(f"EXPLAIN {query['sql']}")
            texts.append("\n".join(row[0] for row in cursor.fetchall()))
    print(*texts, sep="\n---\n")
    return texts


SEQ_SCAN = "Seq Scan on documents_element "
INDEX = "element_worker_run_corpus"


def resolve(large_corpus, params):
    lookup = {**large_corpus["runs"], **large_corpus}
    return {key: str(lookup[value].id) if value in lookup else value for key, value in params.items()}


# Rare values (a few pages, the elements made by people) are counted on an index: the (worker run,
# corpus) one, or for the pages made by people the type index, as good a plan for them. The lines
# are 18,000 of the 23,000 elements of the test instance: counting them by reading the table is
# then the right plan, so only their page is checked.
@pytest.mark.parametrize(
    "params, expected, rare",
    [
        ({"worker_run": "pages"}, 200, True),
        ({"worker_run": "other"}, 0, True),
        ({"worker_run": "false"}, 1810, True),
        ({"worker_version": "pages_version"}, 200, True),
        ({"worker_version": "false", "type": "page"}, 1800, (INDEX, "documents_element_type_id")),
        ({"worker_run": "pages", "order": "created"}, 200, True),
        ({"worker_run": "lines"}, 18000, False),
        ({"worker_version": "lines_version"}, 18000, False),
        ({"worker_run": "lines", "type": "line"}, 18000, False),
    ],
)
def test_corpus_worker_filter_plans(large_corpus, superuser, params, expected, rare):
    corpus_id = large_corpus["sample"].corpus.id
    queryset = view_queryset(CorpusElementList, superuser, resolve(large_corpus, params), corpus=corpus_id)
    count, page = plans(queryset)
    assert SEQ_SCAN not in page
    if rare:
        indexes = rare if isinstance(rare, tuple) else (INDEX,)
        assert any(index in count for index in indexes) and SEQ_SCAN not in count
    assert queryset.count() == expected


def test_version_filter_estimates_from_run_ids(large_corpus, superuser):
    """A version is filtered on its runs' literal ids: PostgreSQL estimates its 200 pages, not a guess."""
    corpus_id = large_corpus["sample"].corpus.id
    params = resolve(large_corpus, {"worker_version": "pages_version"})
    queryset = view_queryset(CorpusElementList, superuser, params, corpus=corpus_id)
    count, page = plans(queryset)
    assert "processes_workerrun" not in count
    assert INDEX in page


def test_children_worker_filter_plans(large_corpus, superuser):
    sample = large_corpus["sample"]
    params = resolve(large_corpus, {"worker_run": "pages"})
    queryset = view_queryset(ElementChildrenList, superuser, params, id=sample.folder_ids[0])
    for text in plans(queryset):
        assert SEQ_SCAN not in text
    assert queryset.count() == 200

    params = resolve(large_corpus, {"recursive": "true", "worker_version": "lines_version"})
    queryset = view_queryset(ElementChildrenList, superuser, params, id=sample.folder_ids[3])
    assert SEQ_SCAN not in plans(queryset)[1]
    assert queryset.count() == 1800

    page = sample.corpus.elements.filter(type__slug="page").order_by("name").first()
    queryset = view_queryset(ElementChildrenList, superuser, {"recursive": "true", "worker_run": "false"}, id=page.id)
    for text in plans(queryset):
        assert SEQ_SCAN not in text
    assert queryset.count() == 0


def test_parents_worker_filter_plans(large_corpus, superuser):
    sample = large_corpus["sample"]
    params = {"recursive": "true", "worker_run": "false"}
    # A line of folder 3 has two ancestors made by people; one of folder 0 only its folder.
    for folder, expected in ((sample.folder_ids[3], 2), (sample.folder_ids[0], 1)):
        line = Element.objects.filter(paths__path__contains=[folder], type__slug="line").order_by("name").first()
        queryset = view_queryset(ElementParentsList, superuser, params, id=line.id)
        for text in plans(queryset):
            assert SEQ_SCAN not in text
        assert queryset.count() == expected
