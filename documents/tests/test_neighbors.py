"""ListElementNeighbors: previous and next siblings under each parent, rights, query count."""

import pytest
from django.urls import reverse

from documents import services
from users.models import Role
from users.tests.factories import grant

pytestmark = pytest.mark.django_db

MISSING = "11111111-1111-1111-1111-111111111111"


def neighbors_url(element):
    return reverse("element-neighbors", kwargs={"id": element.id})


def tiny(element):
    return {"id": str(element.id), "name": element.name, "type": element.type.slug}


@pytest.fixture
def tree(make_element):
    """Folder A holds pages P0, P1, P2 in that order; folder B holds P1 alone; P1 holds one line."""
    folder_a = make_element("folder", "Folder A")
    folder_b = make_element("folder", "Folder B")
    pages = [make_element(name=f"P{index}", parent=folder_a) for index in range(3)]
    services.element_add_parent(child=pages[1], parent=folder_b)
    line = make_element("line", "Line", parent=pages[1])
    return {"A": folder_a, "B": folder_b, "pages": pages, "line": line}


def test_neighbors_under_each_parent(user_client, tree):
    folder_a, folder_b, (p0, p1, p2) = tree["A"], tree["B"], tree["pages"]
    response = user_client.get(neighbors_url(p1))
    assert response.status_code == 200, response.json()
    body = response.json()
    assert isinstance(body, list)
    assert sorted(body, key=lambda item: item["path"][0]["name"]) == [
        {"previous": tiny(p0), "next": tiny(p2), "path": [tiny(folder_a)]},
        {"previous": None, "next": None, "path": [tiny(folder_b)]},
    ]


def test_first_and_last_children(user_client, tree):
    folder_a, (p0, p1, p2) = tree["A"], tree["pages"]
    assert user_client.get(neighbors_url(p0)).json() == [{"previous": None, "next": tiny(p1), "path": [tiny(folder_a)]}]
    assert user_client.get(neighbors_url(p2)).json() == [{"previous": tiny(p1), "next": None, "path": [tiny(folder_a)]}]


def test_one_item_per_path(user_client, tree):
    """The line is under P1, which has two parents: the line has two paths through P1, each listed."""
    p1 = tree["pages"][1]
    body = user_client.get(neighbors_url(tree["line"])).json()
    assert sorted((item["previous"], item["next"], [a["name"] for a in item["path"]]) for item in body) == [
        (None, None, ["Folder A", "P1"]),
        (None, None, ["Folder B", "P1"]),
    ]
    assert all(item["path"][-1] == tiny(p1) for item in body)


def test_top_level_element_has_no_neighbors(user_client, tree):
    assert user_client.get(neighbors_url(tree["A"])).json() == []


def test_order_follows_children_list(user_client, corpus, make_element):
    """Positions first, then names and ids for equal positions, as ListElementChildren sorts."""
    folder = make_element("folder", "Folder")
    pages = [make_element(name=name, parent=folder) for name in ("C", "A", "B")]
    # Equal positions (not made by the services, but possible in imported data): names decide.
    pages[2].paths.update(ordering=1)
    children = user_client.get(reverse("element-children", kwargs={"id": folder.id})).json()["results"]
    order = [child["name"] for child in children]
    assert order == ["C", "A", "B"]
    for index, name in enumerate(order):
        element = next(page for page in pages if page.name == name)
        [item] = user_client.get(neighbors_url(element)).json()
        assert (item["previous"] or {}).get("name") == (order[index - 1] if index else None)
        assert (item["next"] or {}).get("name") == (order[index + 1] if index + 1 < len(order) else None)


def test_neighbors_after_moving(user_client, tree):
    """Removing P1 from folder A joins its former neighbours."""
    p0, p1, p2 = tree["pages"]
    services.element_remove_parent(child=p1, parent=tree["A"])
    assert user_client.get(neighbors_url(p0)).json()[0]["next"] == tiny(p2)
    assert user_client.get(neighbors_url(p2)).json()[0]["previous"] == tiny(p0)


def test_rights(user_client, other_client, other_user, anonymous_client, corpus, public_corpus, tree):
    url = neighbors_url(tree["pages"][1])
    assert other_client.get(url).status_code == 404
    assert anonymous_client.get(url).status_code == 404
    assert other_client.get(reverse("element-neighbors", kwargs={"id": MISSING})).status_code == 404
    grant(corpus, Role.GUEST, user=other_user)
    assert other_client.get(url).status_code == 200
    corpus.public = True
    corpus.save()
    assert anonymous_client.get(url).status_code == 200


@pytest.mark.parametrize("parents", [1, 2, 6])
def test_query_count_does_not_depend_on_parents(user_client, make_element, parents, django_assert_num_queries):
    element = make_element(name="Child")
    for index in range(parents):
        parent = make_element("folder", f"Folder {index}")
        make_element(name="Before", parent=parent)
        services.element_add_parent(child=element, parent=parent)
        make_element(name="After", parent=parent)
    # Token and its last use, the element with the level, its paths with their neighbours, the ancestors.
    with django_assert_num_queries(5):
        response = user_client.get(neighbors_url(element))
    body = response.json()
    assert len(body) == parents
    assert all(item["previous"]["name"] == "Before" and item["next"]["name"] == "After" for item in body)


def test_schema(anonymous_client):
    schema = anonymous_client.get("/api/v1/openapi/?format=json").json()
    operation = schema["paths"]["/api/v1/elements/{id}/neighbors/"]["get"]
    assert operation["operationId"] == "ListElementNeighbors"
    assert operation["x-paginated"] is False
    assert "parameters" not in operation or all(p["name"] != "page" for p in operation["parameters"])
