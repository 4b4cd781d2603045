"""
Exports with the real base worker against a live server: a stock `DatasetWorker` in developer mode
(`--set <dataset>:<set>`) starts the export of its dataset (StartExport), waits for it (ListExports),
downloads it (DownloadExport, then the redirect's `Location` without credentials) and reads the
SQLite file in `process_set`. Once the export is small and built within StartExport; once another
export of the dataset is already being built (`running_export`): the worker then waits for that one,
which a thread of the test builds meanwhile.

The worker is another process: the data is committed (`transactional_db`).
"""

import json
import threading
import time

import pytest
from django.db import connection

from datasets import services
from datasets.models import CorpusExport, CorpusExportState
from datasets.services import exports
from documents import services as documents_services
from documents.models import Transcription
from documents.tests.factories import CorpusFactory, ElementFactory, ElementTypeFactory
from users.models import Role, Token
from users.tests.factories import grant

pytestmark = [pytest.mark.e2e]

WORKER_SCRIPT = """
import json
import os
import sqlite3
import sys

import tenacity
from arkindex_worker.worker import DatasetWorker
from arkindex_worker.worker.corpus import CorpusMixin

# The worker waits a minute between two checks of an unfinished export: half a second here.
CorpusMixin.check_export_status.retry.wait = tenacity.wait_fixed(0.5)

report = {}


class ExportReader(DatasetWorker):
    def process_set(self, dataset_set):
        db = sqlite3.connect(dataset_set.dataset.downloaded_export)
        report[dataset_set.name] = {
            "export_id": dataset_set.dataset.export_id,
            "version": db.execute("SELECT version FROM export_version").fetchone()[0],
            "elements": sorted(name for (name,) in db.execute("SELECT name FROM element")),
            "members": sorted(
                name
                for (name,) in db.execute(
                    "SELECT element.name FROM dataset_element JOIN element ON element.id = element_id "
                    "WHERE set_name = ?",
                    [dataset_set.name],
                )
            ),
            "texts": sorted(text for (text,) in db.execute("SELECT text FROM transcription")),
        }
        db.close()


dataset_id = os.environ["E2E_DATASET_ID"]
sys.argv = ["worker", "--dev", "--set", f"{dataset_id}:train", f"{dataset_id}:dev"]
try:
    ExportReader().run()
finally:
    print(json.dumps(report))
"""


@pytest.fixture
def dataset(transactional_db, user, settings, live_server, tmp_path):
    # The storage's signed URLs point at the live server, and its files at a folder of the test.
    settings.PUBLIC_URL = live_server.url
    settings.MEDIA_ROOT = tmp_path / "media"
    corpus = CorpusFactory(name="E2E exports")
    grant(corpus, Role.CONTRIBUTOR, user=user)
    folder_type = ElementTypeFactory(corpus=corpus, slug="folder", display_name="Folder", folder=True)
    page_type = ElementTypeFactory(corpus=corpus, slug="page", display_name="Page")
    line_type = ElementTypeFactory(corpus=corpus, slug="line", display_name="Line")
    folder = ElementFactory(corpus=corpus, type=folder_type, name="Folder")
    pages = documents_services.elements_create(
        parent=folder, elements=[{"type": page_type, "name": f"Page {n}"} for n in range(3)]
    )
    for page in pages:
        line = ElementFactory(corpus=corpus, type=line_type, name=f"{page.name} line", parent=page)
        Transcription.objects.create(element=line, text=f"Text of {page.name}")
    dataset = services.dataset_create(corpus=corpus, creator=user, name="Pages", set_names=["train", "dev"])
    services.dataset_element_create(dataset=dataset, set_name="train", element=pages[0])
    services.dataset_element_create(dataset=dataset, set_name="train", element=pages[1])
    services.dataset_element_create(dataset=dataset, set_name="dev", element=pages[2])
    return dataset


EXPECTED = {
    "version": exports.EXPORT_VERSION,
    "elements": sorted(
        ["Folder", "Page 0", "Page 0 line", "Page 1", "Page 1 line", "Page 2", "Page 2 line"],
    ),
    "texts": ["Text of Page 0", "Text of Page 1", "Text of Page 2"],
}


def run_worker(run_in_clients_env, worker_python, live_server, user, dataset):
    token = Token.objects.get_or_create(user=user, name="e2e")[0].key
    process = run_in_clients_env(
        worker_python,
        WORKER_SCRIPT,
        env={"ARKINDEX_API_URL": live_server.url, "ARKINDEX_API_TOKEN": token, "E2E_DATASET_ID": dataset.id},
    )
    report = json.loads(process.stdout.strip().splitlines()[-1])
    print(json.dumps(report, indent=2))
    return process, report


def test_dataset_worker_downloads_its_export(live_server, user, dataset, worker_python, run_in_clients_env):
    process, report = run_worker(run_in_clients_env, worker_python, live_server, user, dataset)

    export = CorpusExport.objects.get()
    assert export.dataset_id == dataset.id
    assert export.state == CorpusExportState.Done
    # One export for the two sets of the dataset.
    assert report == {
        "train": {**EXPECTED, "export_id": str(export.id), "members": ["Page 0", "Page 1"]},
        "dev": {**EXPECTED, "export_id": str(export.id), "members": ["Page 2"]},
    }
    assert "Ran on 2 dataset sets: 2 completed, 0 failed" in process.stderr


def test_dataset_worker_waits_for_a_running_export(live_server, user, dataset, worker_python, run_in_clients_env):
    # An export of the dataset is waiting for its job: the worker must reuse it and wait until it is done.
    running = CorpusExport.objects.create(corpus=dataset.corpus, dataset=dataset, user=user)

    def build_later():
        try:
            time.sleep(3)
            exports.export_build(running)
        finally:
            connection.close()

    builder = threading.Thread(target=build_later)
    builder.start()
    try:
        process, report = run_worker(run_in_clients_env, worker_python, live_server, user, dataset)
    finally:
        builder.join()

    assert list(CorpusExport.objects.values_list("id", "state")) == [(running.id, CorpusExportState.Done)]
    assert exports.RUNNING_EXPORT in process.stderr
    assert "The SQL export is still in progress" in process.stderr
    assert report["train"] == {**EXPECTED, "export_id": str(running.id), "members": ["Page 0", "Page 1"]}
    assert report["dev"]["export_id"] == str(running.id)
