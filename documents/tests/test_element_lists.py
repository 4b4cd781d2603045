"""ListElements, ListElementChildren and ListElementParents: filters, orders, rights, query counts."""

import pytest
from django.urls import reverse

from documents import services
from processes.tests.factories import ProcessFactory, WorkerRunFactory
from users.models import Role
from users.tests.factories import grant

pytestmark = pytest.mark.django_db

MISSING = "11111111-1111-1111-1111-111111111111"


@pytest.fixture
def tree(make_element, image):
    """
    Two folders at the top level; folder A holds pages P0..P4 (created in reverse name order),
    each page a line; page P0 is also in folder B.
    """
    folder_a = make_element("folder", "Folder A")
    folder_b = make_element("folder", "Folder B")
    pages = {}
    for index in reversed(range(5)):
        pages[index] = make_element(name=f"P{index}", parent=folder_a, image=image)
    lines = {index: make_element("line", f"Line {index}", parent=page) for index, page in pages.items()}
    services.element_add_parent(child=pages[0], parent=folder_b)
    return {"A": folder_a, "B": folder_b, "pages": pages, "lines": lines}


def ids(response):
    assert response.status_code == 200, response.json()
    return [item["id"] for item in response.json()["results"]]


def names(response):
    assert response.status_code == 200, response.json()
    return [item["name"] for item in response.json()["results"]]


def corpus_elements(corpus, **params):
    return reverse("corpus-elements", kwargs={"corpus": corpus.id}), params


def children_url(element):
    return reverse("element-children", kwargs={"id": element.id})


def parents_url(element):
    return reverse("element-parents", kwargs={"id": element.id})


# ListElements


def test_list_elements_default_order_by_name(user_client, corpus, tree):
    response = user_client.get(reverse("corpus-elements", kwargs={"corpus": corpus.id}))
    body = response.json()
    assert body["count"] == 12
    assert body["number"] == 1
    assert body["next"] is None
    assert names(response)[:3] == ["Folder A", "Folder B", "Line 0"]
    item = body["results"][0]
    assert set(item) == {
        "id",
        "name",
        "type",
        "corpus",
        "zone",
        "rotation_angle",
        "mirrored",
        "confidence",
        "worker_run",
        "worker_version_id",
        "worker_run_id",
        "thumbnail_url",
        "created",
    }


@pytest.mark.parametrize(
    "params, expected",
    [
        ({"type": "folder"}, ["Folder A", "Folder B"]),
        ({"type": "unknown"}, []),
        ({"folder": "True"}, ["Folder A", "Folder B"]),
        ({"folder": "false", "name": "p"}, ["P0", "P1", "P2", "P3", "P4"]),
        ({"name": "LINE 3"}, ["Line 3"]),
        ({"top_level": "true"}, ["Folder A", "Folder B"]),
        ({"top_level": "False", "type": "page", "order_direction": "desc"}, ["P4", "P3", "P2", "P1", "P0"]),
        ({"type": "page", "order": "created"}, ["P4", "P3", "P2", "P1", "P0"]),
        ({"worker_run": "False", "type": "folder"}, ["Folder A", "Folder B"]),
        ({"worker_run": MISSING}, []),
        ({"worker_version": MISSING}, []),
        ({"transcription_worker_run": "false"}, []),
    ],
)
def test_list_elements_filters(user_client, corpus, tree, params, expected):
    response = user_client.get(reverse("corpus-elements", kwargs={"corpus": corpus.id}), params)
    assert names(response) == expected
    assert response.json()["count"] == len(expected)


def test_list_elements_random_order(user_client, corpus, tree):
    response = user_client.get(
        reverse("corpus-elements", kwargs={"corpus": corpus.id}), {"order": "random", "type": "page"}
    )
    assert sorted(names(response)) == ["P0", "P1", "P2", "P3", "P4"]


def test_list_elements_options(user_client, corpus, tree):
    response = user_client.get(
        reverse("corpus-elements", kwargs={"corpus": corpus.id}),
        {
            "type": "page",
            "with_has_children": "True",
            "with_zone": "False",
            "with_corpus": "false",
            "with_classes": "true",
            "with_metadata": "1",
        },
    )
    item = response.json()["results"][0]
    assert item["has_children"] is True
    assert "zone" not in item and "corpus" not in item
    assert item["classes"] == [] and item["metadata"] == []
    plain = user_client.get(reverse("corpus-elements", kwargs={"corpus": corpus.id}), {"type": "page"})
    assert "classes" not in plain.json()["results"][0] and "metadata" not in plain.json()["results"][0]

    folders = user_client.get(
        reverse("corpus-elements", kwargs={"corpus": corpus.id}), {"type": "line", "with_has_children": "true"}
    )
    assert {item["has_children"] for item in folders.json()["results"]} == {False}


@pytest.mark.parametrize(
    "params, field",
    [
        ({"folder": "maybe"}, "folder"),
        ({"top_level": "2"}, "top_level"),
        ({"with_has_children": "yes please"}, "with_has_children"),
        ({"order": "position"}, "order"),
        ({"order": "size"}, "order"),
        ({"order_direction": "up"}, "order_direction"),
        ({"worker_run": "nope"}, "worker_run"),
        ({"transcription_worker_version": "nope"}, "transcription_worker_version"),
    ],
)
def test_list_elements_bad_parameters(user_client, corpus, params, field):
    response = user_client.get(reverse("corpus-elements", kwargs={"corpus": corpus.id}), params)
    assert response.status_code == 400
    assert list(response.json()) == [field]


def test_list_elements_rights(other_client, anonymous_client, other_user, corpus, tree):
    url = reverse("corpus-elements", kwargs={"corpus": corpus.id})
    assert other_client.get(url).status_code == 404
    assert anonymous_client.get(url).status_code == 404
    grant(corpus, Role.GUEST, user=other_user)
    assert other_client.get(url).json()["count"] == 12
    assert other_client.get(reverse("corpus-elements", kwargs={"corpus": MISSING})).status_code == 404


@pytest.fixture
def classified(corpus, tree, user):
    """Page P0 and P1 with classifications in every state and metadata of a person and of a worker run."""
    from documents.models import Classification, MetaData, MLClass
    from processes.models import ProcessMode
    from workers.tests.factories import WorkerVersionFactory

    run = WorkerRunFactory(
        process=ProcessFactory(corpus=corpus, creator=user, mode=ProcessMode.Workers),
        version=WorkerVersionFactory(),
    )
    page, other = tree["pages"][0], tree["pages"][1]
    ml_class = {name: MLClass.objects.create(corpus=corpus, name=name) for name in ("letter", "map", "photo", "seal")}
    best = [
        Classification.objects.create(element=page, ml_class=ml_class["letter"], state="validated", confidence=0.4),
        Classification.objects.create(
            element=page, ml_class=ml_class["map"], high_confidence=True, confidence=0.99, worker_run=run
        ),
    ]
    # Neither validated nor confident, or rejected although confident: not among the best classes.
    Classification.objects.create(element=page, ml_class=ml_class["photo"], confidence=0.5, worker_run=run)
    Classification.objects.create(
        element=page, ml_class=ml_class["seal"], high_confidence=True, state="rejected", worker_run=run
    )
    Classification.objects.create(element=other, ml_class=ml_class["seal"], state="validated")
    metadata = [
        MetaData.objects.create(element=page, type="date", name="date", value="1789-07-14"),
        MetaData.objects.create(element=page, type="text", name="folio", value="12r", worker_run=run),
    ]
    return {"page": page, "best": best, "metadata": metadata, "run": run}


def element_item(response, element):
    return next(item for item in response.json()["results"] if item["id"] == str(element.id))


@pytest.mark.parametrize("listing", ["corpus", "children", "parents"])
def test_list_with_classes_and_metadata(user_client, corpus, tree, classified, listing):
    page = classified["page"]
    url = {
        "corpus": reverse("corpus-elements", kwargs={"corpus": corpus.id}),
        "children": children_url(tree["A"]),
        "parents": parents_url(tree["lines"][0]),
    }[listing]

    response = user_client.get(url, {"with_classes": "true", "with_metadata": "true"})

    item = element_item(response, page)
    letter, map_ = classified["best"]
    run = classified["run"]
    assert item["classes"] == [
        {
            "id": str(letter.id),
            "ml_class": {"id": str(letter.ml_class_id), "name": "letter"},
            "state": "validated",
            "confidence": 0.4,
            "high_confidence": False,
            "worker_version": None,
            "worker_run": None,
        },
        {
            "id": str(map_.id),
            "ml_class": {"id": str(map_.ml_class_id), "name": "map"},
            "state": "pending",
            "confidence": 0.99,
            "high_confidence": True,
            "worker_version": str(run.version_id),
            "worker_run": {"id": str(run.id), "summary": run.summary},
        },
    ]
    date, folio = classified["metadata"]
    assert item["metadata"] == [
        {
            "id": str(date.id),
            "type": "date",
            "name": "date",
            "value": "1789-07-14",
            "dates": [{"type": "exact", "year": 1789, "month": 7, "day": 14}],
            "entity_id": None,
            "worker_run": None,
            "worker_run_id": None,
            "worker_version_id": None,
            "created": date.created.isoformat().replace("+00:00", "Z"),
        },
        {
            "id": str(folio.id),
            "type": "text",
            "name": "folio",
            "value": "12r",
            "dates": [],
            "entity_id": None,
            "worker_run": {"id": str(run.id), "summary": run.summary},
            "worker_run_id": str(run.id),
            "worker_version_id": str(run.version_id),
            "created": folio.created.isoformat().replace("+00:00", "Z"),
        },
    ]
    # The same shape as ListElementMetaData's items.
    listed = user_client.get(reverse("element-metadata", kwargs={"id": page.id})).json()
    listed = listed["results"] if isinstance(listed, dict) else listed
    assert [{key: entry[key] for key in item["metadata"][0]} for entry in listed] == item["metadata"]


@pytest.mark.parametrize("page_size", [2, 10])
@pytest.mark.parametrize("options", [{}, {"with_classes": "true", "with_metadata": "true"}])
def test_list_elements_query_count(
    user_client, corpus, tree, classified, page_size, options, django_assert_num_queries
):
    # Token (+ its last use), corpus with rights, count, page (classes and metadata in the page's query).
    with django_assert_num_queries(5):
        response = user_client.get(
            reverse("corpus-elements", kwargs={"corpus": corpus.id}),
            {"page_size": page_size, "with_has_children": "true", "folder": "false", "type": "page", **options},
        )
    assert len(ids(response)) == min(page_size, 5)


def test_list_elements_pages(user_client, corpus, tree):
    url = reverse("corpus-elements", kwargs={"corpus": corpus.id})
    first = user_client.get(url, {"page_size": 5}).json()
    last = user_client.get(url, {"page_size": 5, "page": 3}).json()
    assert first["count"] == last["count"] == 12
    assert len(first["results"]) == 5 and len(last["results"]) == 2
    assert last["next"] is None and first["next"] is not None


# ListElementChildren


def test_children_in_position_order(user_client, tree):
    # Created P4 first: positions follow creation, not names.
    assert names(user_client.get(children_url(tree["A"]))) == ["P4", "P3", "P2", "P1", "P0"]
    assert names(user_client.get(children_url(tree["A"]), {"order": "name"})) == ["P0", "P1", "P2", "P3", "P4"]
    assert names(user_client.get(children_url(tree["A"]), {"order_direction": "desc"})) == [
        "P0",
        "P1",
        "P2",
        "P3",
        "P4",
    ]
    assert names(user_client.get(children_url(tree["B"]))) == ["P0"]


def test_children_of_multi_path_element_listed_once(user_client, tree):
    """P0 has two paths (under A and B): its line has two paths with P0 as parent, and is listed once."""
    response = user_client.get(children_url(tree["pages"][0]))
    assert names(response) == ["Line 0"]
    assert response.json()["count"] == 1


def test_children_recursive(user_client, tree):
    response = user_client.get(children_url(tree["A"]), {"recursive": "True"})
    assert response.json()["count"] == 10
    assert names(response)[:2] == ["Line 0", "Line 1"]
    assert names(user_client.get(children_url(tree["B"]), {"recursive": "true"})) == ["Line 0", "P0"]
    assert names(user_client.get(children_url(tree["A"]), {"recursive": "true", "type": "page", "name": "4"})) == ["P4"]
    # `position` means name order in a recursive listing.
    assert names(user_client.get(children_url(tree["B"]), {"recursive": "true", "order": "position"})) == [
        "Line 0",
        "P0",
    ]


def test_children_filters(user_client, tree):
    url = children_url(tree["A"])
    assert names(user_client.get(url, {"type": "line"})) == []
    assert names(user_client.get(url, {"folder": "true"})) == []
    assert names(user_client.get(url, {"name": "p3"})) == ["P3"]
    item = user_client.get(url, {"with_has_children": "true"}).json()["results"][0]
    assert item["has_children"] is True
    assert item["zone"]["image"]["id"]


def test_children_bad_parameters(user_client, tree):
    for params, field in (({"recursive": "deep"}, "recursive"), ({"order": "size"}, "order")):
        response = user_client.get(children_url(tree["A"]), params)
        assert response.status_code == 400
        assert list(response.json()) == [field]


def test_children_rights(other_client, tree):
    assert other_client.get(children_url(tree["A"])).status_code == 404
    assert other_client.get(reverse("element-children", kwargs={"id": MISSING})).status_code == 404


@pytest.mark.parametrize("page_size", [1, 4])
@pytest.mark.parametrize("recursive", ["false", "true"])
def test_children_query_count(user_client, tree, classified, page_size, recursive, django_assert_num_queries):
    # Token (+ its last use), parent with rights and one of its paths, count, page.
    with django_assert_num_queries(5):
        response = user_client.get(
            children_url(tree["A"]),
            {
                "page_size": page_size,
                "recursive": recursive,
                "with_has_children": "true",
                "type": "page",
                "with_classes": "true",
                "with_metadata": "true",
            },
        )
    assert len(ids(response)) == page_size


# ListElementParents


def test_parents(user_client, tree):
    line = tree["lines"][0]
    assert names(user_client.get(parents_url(line))) == ["P0"]
    assert names(user_client.get(parents_url(tree["pages"][0]))) == ["Folder A", "Folder B"]
    response = user_client.get(parents_url(line), {"recursive": "True"})
    assert names(response) == ["Folder A", "Folder B", "P0"]
    assert response.json()["count"] == 3
    assert names(user_client.get(parents_url(line), {"recursive": "true", "folder": "true"})) == [
        "Folder A",
        "Folder B",
    ]
    assert names(user_client.get(parents_url(tree["A"]))) == []


def test_parents_bad_parameters_and_rights(user_client, other_client, tree):
    response = user_client.get(parents_url(tree["A"]), {"folder": "nope"})
    assert response.status_code == 400
    assert list(response.json()) == ["folder"]
    assert other_client.get(parents_url(tree["A"])).status_code == 404


@pytest.mark.parametrize("page_size", [1, 3])
def test_parents_query_count(user_client, tree, classified, page_size, django_assert_num_queries):
    with django_assert_num_queries(5):
        response = user_client.get(
            parents_url(tree["lines"][0]),
            {
                "page_size": page_size,
                "recursive": "true",
                "with_has_children": "1",
                "with_classes": "1",
                "with_metadata": "1",
            },
        )
    assert len(ids(response)) == page_size
