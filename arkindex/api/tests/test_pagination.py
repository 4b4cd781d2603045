"""
Pagination shapes, as `arkindex.pagination.ResponsePaginator` reads them (API.md §1.9).

Page numbers: `{count, number, previous, next, results}` with a constant page size (the client
computes the number of pages from `count` and the first page's length). Cursors: `{previous,
next, results}`, plus `count` only when the request says `with_count` (a `count: null` would crash
the client), in the lower-case form the paginator sends or Python's `True` that `request()` sends.
"""

from urllib.parse import parse_qs, urlsplit

import pytest

pytestmark = [pytest.mark.urls("arkindex.api.tests.urls"), pytest.mark.django_db]

PAGES_URL = "/api/v1/tests/pages/"
CURSOR_URL = "/api/v1/tests/cursor/"


@pytest.fixture
def users(make_user):
    """45 users: with the default page size of 20, three pages (20, 20, 5)."""
    return [make_user() for _ in range(45)]


def local(url):
    """The path and query of an absolute `next`/`previous` link, for the test client."""
    split = urlsplit(url)
    return f"{split.path}?{split.query}"


def ids(users):
    return [user.id for user in sorted(users, key=lambda user: user.id)]


def test_page_number_shape(anonymous_client, users):
    response = anonymous_client.get(PAGES_URL)
    assert response.status_code == 200
    data = response.json()
    assert list(data) == ["count", "number", "previous", "next", "results"]
    assert data["count"] == 45
    assert data["number"] == 1
    assert data["previous"] is None
    assert parse_qs(urlsplit(data["next"]).query) == {"page": ["2"]}
    assert [item["id"] for item in data["results"]] == ids(users)[:20]


def test_page_number_walk(anonymous_client, users):
    """The client asks for pages 2..ceil(count / len(first page)) by number."""
    seen = []
    pages = []
    for number in (1, 2, 3):
        data = anonymous_client.get(PAGES_URL, {"page": number} if number > 1 else {}).json()
        pages.append(data)
        seen += [item["id"] for item in data["results"]]
    assert [len(page["results"]) for page in pages] == [20, 20, 5]
    assert [page["number"] for page in pages] == [1, 2, 3]
    assert pages[-1]["next"] is None
    assert parse_qs(urlsplit(pages[-1]["previous"]).query) == {"page": ["2"]}
    assert seen == ids(users)


def test_page_number_empty(anonymous_client, db):
    """`count: 0` ends the client's iteration before it divides by the first page's length."""
    data = anonymous_client.get(PAGES_URL).json()
    assert data == {"count": 0, "number": 1, "previous": None, "next": None, "results": []}


def test_page_number_out_of_range(anonymous_client, users):
    response = anonymous_client.get(PAGES_URL, {"page": 4})
    assert response.status_code == 404
    assert "detail" in response.json()


def test_page_size_capped(anonymous_client, users, settings):
    settings.API_MAX_PAGE_SIZE = 10
    data = anonymous_client.get(PAGES_URL, {"page_size": 500}).json()
    assert data["count"] == 45
    assert len(data["results"]) == 10

    data = anonymous_client.get(CURSOR_URL, {"page_size": 500}).json()
    assert len(data["results"]) == 10


def test_page_size_parameter(anonymous_client, users):
    data = anonymous_client.get(PAGES_URL, {"page_size": 7, "page": 7}).json()
    assert data["number"] == 7
    assert [item["id"] for item in data["results"]] == ids(users)[42:]


def test_cursor_shape_without_count(anonymous_client, users):
    response = anonymous_client.get(CURSOR_URL)
    assert response.status_code == 200
    data = response.json()
    assert list(data) == ["previous", "next", "results"]
    assert data["previous"] is None
    assert "cursor" in parse_qs(urlsplit(data["next"]).query)
    assert [item["id"] for item in data["results"]] == ids(users)[:20]


@pytest.mark.parametrize("value", ["true", "True", "1"])
def test_cursor_with_count(anonymous_client, users, value):
    data = anonymous_client.get(CURSOR_URL, {"with_count": value}).json()
    assert list(data) == ["previous", "next", "count", "results"]
    assert data["count"] == 45


@pytest.mark.parametrize("value", ["false", "False", "0", ""])
def test_cursor_without_count(anonymous_client, users, value):
    data = anonymous_client.get(CURSOR_URL, {"with_count": value}).json()
    assert "count" not in data


def test_cursor_with_count_invalid(anonymous_client, users):
    response = anonymous_client.get(CURSOR_URL, {"with_count": "maybe"})
    assert response.status_code == 400
    assert list(response.json()) == ["with_count"]


def test_cursor_walk(anonymous_client, users):
    """Following `next` (as the client does with its `cursor` value) sees every row once, in order."""
    seen = []
    data = anonymous_client.get(CURSOR_URL, {"with_count": "true"}).json()
    assert data["count"] == 45
    pages = 1
    seen += [item["id"] for item in data["results"]]
    while data["next"] is not None:
        # The client re-sends the original arguments with the cursor, not the `next` URL itself.
        cursor = parse_qs(urlsplit(data["next"]).query)["cursor"][0]
        data = anonymous_client.get(CURSOR_URL, {"cursor": cursor}).json()
        assert "count" not in data
        seen += [item["id"] for item in data["results"]]
        pages += 1
    assert pages == 3
    assert seen == ids(users)


def test_cursor_empty(anonymous_client, db):
    assert anonymous_client.get(CURSOR_URL).json() == {"previous": None, "next": None, "results": []}
    assert anonymous_client.get(CURSOR_URL, {"with_count": "true"}).json() == {
        "previous": None,
        "next": None,
        "count": 0,
        "results": [],
    }


def test_unpaginated_list_is_an_array(anonymous_client, users):
    data = anonymous_client.get("/api/v1/tests/unpaginated/").json()
    assert [item["id"] for item in data] == ids(users)


def test_pagination_in_schema(anonymous_client):
    """The parameters and `x-paginated` flag from which the client picks its pagination mode."""
    schema = anonymous_client.get("/api/v1/openapi/?format=json").json()
    operations = {
        path: item["get"]
        for path, item in schema["paths"].items()
        if path.startswith("/api/v1/tests/") and "get" in item
    }

    def query(path):
        return {parameter["name"] for parameter in operations[path].get("parameters", [])}

    assert operations[PAGES_URL]["x-paginated"] is True
    assert query(PAGES_URL) == {"page", "page_size"}
    assert operations[CURSOR_URL]["x-paginated"] is True
    assert query(CURSOR_URL) == {"cursor", "page_size", "with_count"}
    assert operations["/api/v1/tests/unpaginated/"]["x-paginated"] is False
    assert "x-paginated" not in operations["/api/v1/tests/bool/"]
