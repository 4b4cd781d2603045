"""
Datasets and selections with the real clients against a live server: a script in the base worker's
environment creates a dataset and fills its sets as `arkindex-base-worker` does (its `create_dataset`
body, one CreateDatasetElement per element), then reads them back through the base worker's own
`DatasetWorker` in developer mode (`--set <dataset>:<set>`: RetrieveDatasetSet, RetrieveDataset, then
ListDatasetElements by cursor); the CLI's `selection import --clear` fills a selection, which then
goes into a set in one call (CreateDatasetElementsSelection), and is cleared with RemoveSelection `{}`.

The client processes are other connections: the data is committed (`transactional_db`).
"""

import json

import pytest

from datasets.models import Dataset, DatasetElement
from documents.models import Selection
from documents.tests.factories import CorpusFactory, ElementFactory, ElementTypeFactory
from users.models import Token
from users.tests.factories import grant

pytestmark = [pytest.mark.e2e]

PAGES = 25  # with the default page size of 20: two cursor pages for the train set

WORKER_SCRIPT = """
import json
import os
import sys

from arkindex import ArkindexClient, options_from_env
from arkindex.exceptions import ErrorResponse

corpus_id = os.environ["E2E_CORPUS_ID"]
page_ids = json.loads(os.environ["E2E_PAGE_IDS"])
client = ArkindexClient(**options_from_env())
report = {}

body = {"name": "Splits", "description": "Pages to learn from", "set_names": ["train", "dev"], "unique_elements": True}
dataset = client.request("CreateDataset", id=corpus_id, body=body)
report["created"] = dataset
try:
    client.request("CreateDataset", id=corpus_id, body=body)
except ErrorResponse as e:
    report["duplicate"] = {"status": e.status_code, "content": e.content}

for page_id in page_ids:
    client.request("CreateDatasetElement", id=dataset["id"], body={"set": "train", "element_id": page_id})
try:
    client.request("CreateDatasetElement", id=dataset["id"], body={"set": "dev", "element_id": page_ids[0]})
except ErrorResponse as e:
    report["not_unique"] = {"status": e.status_code, "content": e.content}
client.request("DestroyDatasetElement", dataset=dataset["id"], element=page_ids[-1], set="train")

# The base worker reads its sets as in developer mode: RetrieveDatasetSet, RetrieveDataset, ListDatasetElements.
from arkindex_worker.worker import DatasetWorker

sys.argv = ["worker", "--dev", "--set", f"{dataset['id']}:train"]
worker = DatasetWorker()
worker.configure()
sets = worker.list_sets()
report["sets"] = [{"name": s.name, "id": s.id, "dataset": s.dataset.id, "corpus_id": s.dataset.corpus_id} for s in sets]
report["train"] = [element.id for element in worker.list_set_elements(sets[0])]
paginator = client.paginate("ListDatasetElements", id=dataset["id"], set="train")
report["train_count"] = len(paginator)
report["element_datasets"] = [
    (item["dataset"]["id"], item["set"]) for item in client.paginate("ListElementDatasets", id=page_ids[0])
]
print(json.dumps(report))
"""

SELECTION_SCRIPT = """
import json
import os

from arkindex import ArkindexClient, options_from_env

client = ArkindexClient(**options_from_env())
report = {"selected": len(client.paginate("ListSelection"))}
dataset_id = os.environ["E2E_DATASET_ID"]
report["added"] = client.request("CreateDatasetElementsSelection", id=dataset_id, body={"set": "train"})
client.request("RemoveSelection", body={})
report["after_clear"] = len(client.paginate("ListSelection"))
print(json.dumps(report))
"""


@pytest.fixture
def corpus(transactional_db, user):
    from users.models import Role

    corpus = CorpusFactory(name="E2E datasets")
    grant(corpus, Role.CONTRIBUTOR, user=user)
    return corpus


@pytest.fixture
def pages(corpus):
    from documents import services

    folder_type = ElementTypeFactory(corpus=corpus, slug="folder", display_name="Folder", folder=True)
    page_type = ElementTypeFactory(corpus=corpus, slug="page", display_name="Page")
    folder = ElementFactory(corpus=corpus, type=folder_type, name="Folder")
    return services.elements_create(
        parent=folder, elements=[{"type": page_type, "name": f"Page {n:02d}"} for n in range(PAGES)]
    )


def test_datasets_with_the_real_clients(
    live_server, transactional_db, user, corpus, pages, tmp_path, worker_python, cli_python, run_in_clients_env
):
    token = Token.objects.create(user=user, name="e2e").key
    env = {"ARKINDEX_API_URL": live_server.url, "ARKINDEX_API_TOKEN": token, "XDG_CONFIG_HOME": tmp_path / "config"}
    page_ids = [str(page.id) for page in pages]

    process = run_in_clients_env(
        worker_python,
        WORKER_SCRIPT,
        env={**env, "E2E_CORPUS_ID": corpus.id, "E2E_PAGE_IDS": json.dumps(page_ids)},
    )
    report = json.loads(process.stdout.strip().splitlines()[-1])
    print(json.dumps(report, indent=2))

    dataset = Dataset.objects.get()
    assert report["created"]["id"] == str(dataset.id)
    assert report["created"]["corpus_id"] == str(corpus.id)
    assert [s["name"] for s in report["created"]["sets"]] == ["dev", "train"]
    assert report["duplicate"] == {
        "status": 400,
        "content": {"non_field_errors": ["A dataset with this name already exists in this corpus."]},
    }
    assert report["not_unique"]["status"] == 400
    train = dataset.sets.get(name="train")
    assert report["sets"] == [
        {"name": "train", "id": str(train.id), "dataset": str(dataset.id), "corpus_id": str(corpus.id)}
    ]
    # Every element of the set once, over two cursor pages; the last one was removed.
    assert sorted(report["train"]) == sorted(page_ids[:-1])
    assert report["train_count"] == PAGES - 1
    assert report["element_datasets"] == [[str(dataset.id), "train"]]

    # `arkindex selection import --clear` with the CLI: batches of AddSelection after RemoveSelection `{}`.
    Selection.objects.create(user=user, element=pages[0])
    ids_file = tmp_path / "ids.txt"
    ids_file.write_text("\n".join(page_ids[-5:]))
    run_in_clients_env(
        cli_python.parent / "arkindex", ["selection", "import", ids_file, "--clear", "--batch-size", "2"], env=env
    )
    assert set(Selection.objects.filter(user=user).values_list("element_id", flat=True)) == {
        page.id for page in pages[-5:]
    }

    process = run_in_clients_env(worker_python, SELECTION_SCRIPT, env={**env, "E2E_DATASET_ID": dataset.id})
    report = json.loads(process.stdout.strip().splitlines()[-1])
    # The last page had left the train set: it is back, the other four were there already.
    assert report == {"selected": 5, "added": {"set": "train", "added": 1}, "after_clear": 0}
    assert DatasetElement.objects.filter(set__name="train").count() == PAGES
