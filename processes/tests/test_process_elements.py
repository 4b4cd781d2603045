"""ListProcessElements: exactly the elements a process's filters select, each once, by cursor pages."""

import pytest
from rest_framework.test import APIClient

from documents import services as documents_services
from documents.models import ElementType, Image, ImageServer, Selection
from documents.tests.factories import CorpusFactory, ElementFactory, ElementTypeFactory
from ponos.models import TaskState
from ponos.tests.factories import TaskFactory
from processes import services
from processes.models import Process, ProcessMode
from processes.tests.factories import ProcessFactory
from users.models import Role
from users.tests.factories import grant
from workers.tests.factories import assert_list_queries

TREE = {
    # name: (type, parent)
    "Volume A": ("folder", None),
    "Page A1": ("page", "Volume A"),
    "Line A1.1": ("line", "Page A1"),
    "Line A1.2": ("line", "Page A1"),
    "Page A2": ("page", "Volume A"),
    "Line A2.1": ("line", "Page A2"),
    "Volume B": ("folder", None),
    "Page B1": ("page", "Volume B"),
    "Loose page": ("page", None),
}


def url(process):
    return f"/api/v1/process/{process.id}/elements/"


@pytest.fixture
def tree(corpus):
    """The elements of TREE by name; `Page A2` also sits in `Volume B`, to be listed once all the same."""
    types = {
        slug: ElementTypeFactory(corpus=corpus, slug=slug, display_name=slug.title(), folder=slug == "folder")
        for slug in ("folder", "page", "line")
    }
    elements = {}
    for name, (type_slug, parent) in TREE.items():
        elements[name] = ElementFactory(corpus=corpus, type=types[type_slug], name=name, parent=elements.get(parent))
    documents_services.element_add_parent(child=elements["Page A2"], parent=elements["Volume B"])
    # An element elsewhere, never listed.
    other = CorpusFactory(name="Other")
    other_type = ElementTypeFactory(corpus=other, slug="page", display_name="Page")
    elements["Elsewhere"] = ElementFactory(corpus=other, type=other_type, name="Page A9")
    return elements


@pytest.fixture
def process(corpus, user):
    return ProcessFactory(corpus=corpus, creator=user, mode=ProcessMode.Workers)


def listed(client, process, **params):
    response = client.get(url(process), {"page_size": 500, **params})
    assert response.status_code == 200, response.json()
    return sorted(element["name"] for element in response.json()["results"])


def names(*names):
    return sorted(names)


def configure(process, **fields):
    element_list = fields.pop("elements", None)
    for key, value in fields.items():
        setattr(process, key, value)
    process.save()
    if element_list is not None:
        process.elements.set(element_list)
    return process


ALL = names(*TREE)


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({}, ALL),
        ({"element": "Volume A"}, names("Volume A", "Page A1", "Line A1.1", "Line A1.2", "Page A2", "Line A2.1")),
        ({"element": "Volume B"}, names("Volume B", "Page B1", "Page A2", "Line A2.1")),
        ({"element": "Volume A", "element_type": "page"}, names("Page A1", "Page A2")),
        ({"element": "Volume A", "name_contains": "a1"}, names("Page A1", "Line A1.1", "Line A1.2")),
        ({"element_type": "line"}, names("Line A1.1", "Line A1.2", "Line A2.1")),
        ({"name_contains": "PAGE"}, names("Page A1", "Page A2", "Page B1", "Loose page")),
        ({"element_type": "page", "name_contains": "b"}, names("Page B1")),
        # load_children means nothing without selection or list: the whole corpus is already there.
        ({"load_children": True, "element_type": "folder"}, names("Volume A", "Volume B")),
    ],
)
def test_filters(user_client, process, tree, filters, expected):
    filters = dict(filters)
    if "element" in filters:
        filters["element"] = tree[filters["element"]]
    if "element_type" in filters:
        filters["element_type"] = ElementType.objects.get(corpus=process.corpus, slug=filters["element_type"])
    configure(process, **filters)
    assert listed(user_client, process) == expected
    assert sorted(services.process_elements(process).values_list("name", flat=True)) == expected


@pytest.mark.parametrize(
    ("load_children", "extra", "expected"),
    [
        (False, {}, names("Page A1", "Loose page")),
        (True, {}, names("Page A1", "Line A1.1", "Line A1.2", "Loose page")),
        (True, {"name_contains": "line"}, names("Line A1.1", "Line A1.2")),
    ],
)
def test_selection(user_client, user, other_user, process, tree, load_children, extra, expected):
    for name in ("Page A1", "Loose page", "Elsewhere"):
        Selection.objects.create(user=user, element=tree[name])
    # Another user's selection is not the creator's.
    Selection.objects.create(user=other_user, element=tree["Volume B"])
    configure(process, use_selection=True, load_children=load_children, **extra)
    assert listed(user_client, process) == expected


def test_selection_empty(user_client, process, tree):
    configure(process, use_selection=True, load_children=True)
    assert listed(user_client, process) == []


@pytest.mark.parametrize(
    ("load_children", "element_type", "expected"),
    [
        (False, None, names("Page A1", "Volume B")),
        (True, None, names("Page A1", "Line A1.1", "Line A1.2", "Volume B", "Page B1", "Page A2", "Line A2.1")),
        (True, "line", names("Line A1.1", "Line A1.2", "Line A2.1")),
        (False, "line", []),
    ],
)
def test_element_list(user_client, process, tree, load_children, element_type, expected):
    configure(
        process,
        elements=[tree["Page A1"], tree["Volume B"]],
        load_children=load_children,
        element_type=ElementType.objects.get(corpus=process.corpus, slug=element_type) if element_type else None,
    )
    assert listed(user_client, process) == expected


def test_element_list_wins_over_folder(user_client, process, tree):
    """Requests cannot set both, but the list is what counts if a process has both."""
    configure(process, element=tree["Volume A"], elements=[tree["Loose page"]])
    assert listed(user_client, process) == ["Loose page"]


def test_item_shape(user_client, process, corpus, tree):
    server = ImageServer.objects.create(url="https://iiif.example.com", display_name="IIIF")
    image = Image.objects.create(server=server, path="a.jpg", width=100, height=200, status="checked")
    polygon = [[0, 0], [0, 200], [100, 200], [100, 0], [0, 0]]
    page_type = ElementType.objects.get(corpus=corpus, slug="page")
    element = ElementFactory(
        corpus=corpus, type=page_type, name="Scanned", image=image, polygon=polygon, confidence=0.5, rotation_angle=90
    )
    configure(process, name_contains="scanned")
    response = user_client.get(url(process))
    assert response.json() == {
        "previous": None,
        "next": None,
        "results": [
            {
                "id": str(element.id),
                "type_id": str(page_type.id),
                "type": "page",
                "name": "Scanned",
                "confidence": 0.5,
                "image_id": str(image.id),
                "polygon": polygon,
                "rotation_angle": 90,
                "mirrored": False,
            }
        ],
    }


def test_cursor_pages(user_client, process, tree):
    seen = []
    next_url = url(process) + "?page_size=4&with_count=true"
    while next_url:
        response = user_client.get(next_url)
        assert response.status_code == 200
        data = response.json()
        assert data["count"] == len(TREE)
        assert len(data["results"]) <= 4
        seen += [element["id"] for element in data["results"]]
        next_url = data["next"]
    assert seen == sorted(seen)
    assert len(seen) == len(set(seen)) == len(TREE)
    assert "count" not in user_client.get(url(process)).json()


def test_page_size_capped(user_client, process, tree, settings):
    settings.API_MAX_PAGE_SIZE = 3
    assert len(user_client.get(url(process), {"page_size": 500}).json()["results"]) == 3


def test_bad_with_count(user_client, process):
    response = user_client.get(url(process), {"with_count": "maybe"})
    assert response.status_code == 400
    assert "with_count" in response.json()


@pytest.mark.parametrize("with_count", [False, True])
def test_queries(user_client, user, process, tree, with_count, django_assert_num_queries):
    Selection.objects.create(user=user, element=tree["Volume A"])
    configure(process, use_selection=True, load_children=True)
    query = "?with_count=true" if with_count else ""
    # Token, process with its level and whether it has a list, page (and count).
    assert_list_queries(user_client, url(process) + query, 3 + with_count, django_assert_num_queries, (2, 5))


def test_hidden_and_unknown(other_client, other_user, process, user):
    assert other_client.get(url(process)).status_code == 404
    missing = Process(id="00000000-0000-4000-8000-000000000000")
    assert other_client.get(url(missing)).status_code == 404
    grant(process.corpus, Role.GUEST, user=other_user)
    assert other_client.get(url(process)).status_code == 200


@pytest.mark.parametrize(
    ("mode", "message"),
    [
        (ProcessMode.Repository, "no corpus"),
        (ProcessMode.Local, "no corpus"),
        (ProcessMode.Dataset, "ListProcessSets"),
        (ProcessMode.Template, "template only holds worker runs"),
    ],
)
def test_processes_without_elements(user_client, user, corpus, mode, message):
    process = ProcessFactory(
        corpus=None if mode in (ProcessMode.Repository, ProcessMode.Local) else corpus, creator=user, mode=mode
    )
    response = user_client.get(url(process))
    assert response.status_code == 400
    assert message in response.json()["process"][0]


def test_task_reads_its_own_process_only(user, corpus, process, tree):
    task = TaskFactory(process=process, slug="worker", state=TaskState.Running)
    other = ProcessFactory(corpus=corpus, creator=user, mode=ProcessMode.Workers)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Ponos {task.token}")
    response = client.get(url(process), {"page_size": 500, "with_count": "True"})
    assert response.status_code == 200
    assert response.json()["count"] == len(TREE)
    assert client.get(url(other)).status_code == 404
