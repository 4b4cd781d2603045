"""
End to end with the real `arkindex-client`: log in, read the user and the corpora, walk a
folder's children across pages and search the corpus, as workers and scripts do.

The client runs in its own environment (`tests/clients.py`) as a subprocess talking HTTP to
pytest-django's live server. That server runs in a thread of this process on the test database,
and the subprocess is another connection, so the data is committed (`transactional_db`), never
left inside a test transaction. The script prints one JSON report on its last line; assertions
are made here, so that a failure shows both what the client saw and what was expected.
"""

import json

import pytest

from documents.tests.factories import CorpusFactory, ElementTypeFactory
from processes.tests.factories import ProcessFactory, WorkerRunFactory
from users.tests.factories import grant

pytestmark = [pytest.mark.e2e]

PASSWORD = "e2e-client-password"
CHILDREN = 45  # with the default page size of 20: three pages (20, 20, 5)

CLIENT_SCRIPT = """
import json
import logging
import os

from arkindex import ArkindexClient, options_from_env
from arkindex.exceptions import ErrorResponse

email, password, folder_id = os.environ["E2E_EMAIL"], os.environ["E2E_PASSWORD"], os.environ["E2E_FOLDER_ID"]
report = {}
# The client logs each page it loads and each retry: on stderr, shown when the test fails.
logging.basicConfig(level=logging.INFO)

# ARKINDEX_API_URL only, as a worker or script configured from its environment: no token yet.
client = ArkindexClient(**options_from_env())

try:
    client.request("RetrieveUser")
except ErrorResponse as e:
    report["anonymous_user"] = {"status": e.status_code, "content": e.content}

try:
    client.login(email, "not the password")
except ErrorResponse as e:
    report["wrong_login"] = {"class": type(e).__name__, "status": e.status_code, "content": e.content}

user = client.login(email, password)
report["login"] = {"email": user["email"], "scheme": client.session.auth.scheme, "token": bool(user["auth_token"])}
report["user"] = client.request("RetrieveUser")
report["corpora"] = client.request("ListCorpus")
# `paginate()` on an `x-paginated: false` operation returns the plain list (the CLI relies on it).
report["corpora_paginated"] = client.paginate("ListCorpus")

paginator = client.paginate("ListElementChildren", id=folder_id)
report["children"] = [child["id"] for child in paginator]
report["pagination"] = {
    "mode": paginator.mode.value,
    "pages_loaded": paginator.pages_loaded,
    "count": paginator.count,
}
# The first page as `request()` returns it: the CLI reads `count` and `results` from it.
first_page = client.request("ListElementChildren", id=folder_id)
report["first_page"] = {key: value for key, value in first_page.items() if key != "results"}
report["first_page"]["results"] = len(first_page["results"])

# SearchCorpus through the client's paginator: the pages are indexed, found by name.
search = client.paginate("SearchCorpus", corpus=os.environ["E2E_CORPUS_ID"], query="page", sources=["element"])
report["search"] = {"names": [result["parent_name"] for result in search], "count": search.count}
first = client.request("SearchCorpus", corpus=os.environ["E2E_CORPUS_ID"], query="page 007")
report["search_first"] = {"results": [r["parent_name"] for r in first["results"]], "facets": first["facets"]}
try:
    client.request("SearchCorpus", corpus=os.environ["E2E_CORPUS_ID"], query="...")
except ErrorResponse as e:
    report["search_error"] = {"status": e.status_code, "content": e.content}

# What callico reads: the corpus's worker runs to filter by, the children's classes and metadata.
runs = client.paginate("ListCorpusWorkerRuns", id=os.environ["E2E_CORPUS_ID"])
report["worker_runs"] = [{"id": run["id"], "summary": run["summary"]} for run in runs]
classified = client.paginate("ListElementChildren", id=folder_id, with_classes=True, with_metadata=True)
report["classified"] = {
    child["name"]: {
        "classes": [c["ml_class"]["name"] for c in child["classes"]],
        "metadata": [(m["name"], m["value"]) for m in child["metadata"]],
    }
    for child in classified
    if child["classes"] or child["metadata"]
}

print(json.dumps(report))
"""


@pytest.fixture
def client_user(transactional_db, make_user):
    return make_user("e2e-client@example.com", password=PASSWORD)


@pytest.fixture
def folder_tree(client_user):
    """
    A corpus readable by `client_user`, with a folder and `CHILDREN` page children, created through
    the ORM (committed: the test is transactional). Returns the corpus, the folder and the children
    in the order the API lists them (their position under the folder).
    """
    from documents.models import Element, ElementPath
    from users.models import Role

    corpus = CorpusFactory(name="E2E corpus", indexable=True)
    grant(corpus, Role.ADMIN, user=client_user)
    folder_type = ElementTypeFactory(corpus=corpus, slug="folder", display_name="Folder", folder=True)
    page_type = ElementTypeFactory(corpus=corpus, slug="page", display_name="Page", indexable=True)
    folder = Element.objects.create(corpus=corpus, type=folder_type, name="Folder")
    ElementPath.objects.create(element=folder, path=[], ordering=0)
    # Names sort like positions, so the expected order holds whichever of the two the API sorts by.
    children = Element.objects.bulk_create(
        Element(corpus=corpus, type=page_type, name=f"Page {position:03d}") for position in range(CHILDREN)
    )
    ElementPath.objects.bulk_create(
        ElementPath(element=child, path=[folder.id], ordering=position) for position, child in enumerate(children)
    )
    return corpus, folder, children


@pytest.fixture
def classified_run(client_user, folder_tree):
    """A worker run of a process on the corpus that classified the first page and gave it a metadata."""
    from documents.models import Classification, MetaData, MLClass
    from processes.models import ProcessMode
    from workers.tests.factories import WorkerVersionFactory

    corpus, _, children = folder_tree
    process = ProcessFactory(corpus=corpus, creator=client_user, mode=ProcessMode.Workers)
    run = WorkerRunFactory(process=process, version=WorkerVersionFactory())
    letter = MLClass.objects.create(corpus=corpus, name="letter")
    Classification.objects.create(
        element=children[0], ml_class=letter, confidence=0.98, high_confidence=True, worker_run=run
    )
    MetaData.objects.create(element=children[0], type="text", name="folio", value="1r", worker_run=run)
    return run


def test_client_session(
    live_server, transactional_db, client_user, folder_tree, classified_run, worker_python, run_in_clients_env
):
    corpus, folder, children = folder_tree
    process = run_in_clients_env(
        worker_python,
        CLIENT_SCRIPT,
        env={
            "ARKINDEX_API_URL": live_server.url,
            "E2E_EMAIL": client_user.email,
            "E2E_PASSWORD": PASSWORD,
            "E2E_FOLDER_ID": folder.id,
            "E2E_CORPUS_ID": corpus.id,
        },
        timeout=300,
    )
    report = json.loads(process.stdout.strip().splitlines()[-1])
    # Shown by pytest only when an assertion below fails.
    print(json.dumps(report, indent=2))

    # Anonymous: a 401 that still tells the instance's features (`arkindex login` reads them).
    assert report["anonymous_user"]["status"] == 401
    assert "oidc" in report["anonymous_user"]["content"]["features"]

    # A wrong password is a plain 400 (legacy body), which the client raises as ErrorResponse.
    wrong_login = report["wrong_login"]
    assert wrong_login["status"] == 400
    assert wrong_login["class"] == "ErrorResponse"
    assert isinstance(wrong_login["content"], dict)

    assert report["login"] == {"email": client_user.email, "scheme": "Token", "token": True}
    assert report["user"]["email"] == client_user.email
    assert "oidc" in report["user"]["features"]

    assert isinstance(report["corpora"], list)
    assert str(corpus.id) in [item["id"] for item in report["corpora"]]
    assert report["corpora_paginated"] == report["corpora"]

    # Every child once, in order, over three pages of page-number pagination.
    assert report["children"] == [str(child.id) for child in children]
    assert report["pagination"] == {"mode": "page", "pages_loaded": 3, "count": CHILDREN}
    assert report["first_page"]["count"] == CHILDREN
    assert report["first_page"]["results"] == 20
    assert report["first_page"]["next"] is not None

    # SearchCorpus: every page found once over the client's pages, one by its name, a bad query a 400.
    assert sorted(report["search"]["names"]) == [child.name for child in children]
    assert report["search"]["count"] == CHILDREN
    assert report["search_first"]["results"] == ["Page 007"]
    assert report["search_first"]["facets"]["source"] == [{"value": "element", "count": 1}]
    assert report["search_error"]["status"] == 400
    assert "query" in report["search_error"]["content"]

    assert report["worker_runs"] == [{"id": str(classified_run.id), "summary": classified_run.summary}]
    assert report["classified"] == {"Page 000": {"classes": ["letter"], "metadata": [["folio", "1r"]]}}
