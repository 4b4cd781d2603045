"""
`arkindex-server cleanup` on the local storage and on a real S3 server (moto's, run as a server
that boto3 reaches over HTTP): old exports and the logs and artifacts of old processes go, files
no object owns go, and what is recent or linked to a dataset stays. A dry run deletes nothing.
"""

import io
import os
import time
import uuid
from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import CommandError, call_command
from django.utils import timezone

from arkindex import cleanup as cleanup_module
from arkindex import storage
from datasets.models import CorpusExport, CorpusExportState
from documents.models import DataFile
from documents.tests.factories import CorpusFactory
from ponos.logs import log_key
from ponos.models import Artifact, Task
from ponos.tests.factories import TaskFactory
from processes.models import ProcessMode
from processes.tests.factories import ProcessFactory
from workers.models import Model, ModelVersion

pytestmark = pytest.mark.django_db

OLD = timezone.now() - timedelta(days=40)


def store(key, content=b"x" * 100):
    default_storage.save(key, ContentFile(content))
    return key


def process_with_files(user, corpus, mode, finished, name):
    process = ProcessFactory(mode=mode, corpus=corpus, creator=user, name=name, started=finished, finished=finished)
    task = TaskFactory(process=process, slug="worker", state="completed", attempt=1)
    logs = [store(log_key(task.id, attempt)) for attempt in (0, 1)]
    artifact = Artifact.objects.create(task=task, path="out.json", size=100)
    store(artifact.storage_key)
    return process, [*logs, artifact.storage_key]


@pytest.fixture(autouse=True)
def own_media(settings, tmp_path):
    """A storage folder of the test's own: files other tests left must not count."""
    settings.MEDIA_ROOT = tmp_path


@pytest.fixture
def world(user):
    corpus = CorpusFactory(name="Old corpus")
    old, old_files = process_with_files(user, corpus, ProcessMode.Workers, OLD, "Old")
    dataset, dataset_files = process_with_files(user, corpus, ProcessMode.Dataset, OLD, "Dataset")
    recent, recent_files = process_with_files(user, corpus, ProcessMode.Workers, timezone.now(), "Recent")
    old_export = CorpusExport.objects.create(corpus=corpus, user=user, state=CorpusExportState.Done)
    recent_export = CorpusExport.objects.create(corpus=corpus, user=user, state=CorpusExportState.Done)
    CorpusExport.objects.filter(pk=old_export.pk).update(updated=OLD)
    for export in (old_export, recent_export):
        store(export.storage_key)
    version = ModelVersion.objects.create(model=Model.objects.create(name="M"), tag="v1")
    data_file = DataFile.objects.create(corpus=corpus, name="f", content_type="text/plain", size=3)
    owned = [store(version.archive_path), store(data_file.storage_key)]
    orphans = [
        store(f"ponos/logs/{uuid.uuid4()}/0.log"),
        store(f"ponos/artifacts/{uuid.uuid4()}/lost.txt"),
        store(f"exports/{corpus.id}/{uuid.uuid4()}.sqlite"),
        store(f"models/{version.model_id}/{uuid.uuid4()}.tar.zst"),
        store(f"data_files/{uuid.uuid4()}"),
    ]
    return {
        "old": old,
        "old_files": old_files,
        "kept_files": dataset_files + recent_files + owned + [recent_export.storage_key],
        "old_export": old_export,
        "recent_export": recent_export,
        "orphans": orphans,
        "dataset": dataset,
    }


@pytest.fixture
def no_margin(monkeypatch):
    """Files made by the test count as old enough to be orphans (S3 cannot backdate them)."""
    monkeypatch.setattr(cleanup_module, "ORPHAN_MARGIN", timedelta(seconds=-60))


def run(*arguments):
    out = io.StringIO()
    call_command("cleanup", *arguments, stdout=out)
    return out.getvalue()


def check_cleaned(world, output):
    for key in world["old_files"] + world["orphans"] + [world["old_export"].storage_key]:
        assert not storage.exists(key), key
    for key in world["kept_files"]:
        assert storage.exists(key), key
    assert not CorpusExport.objects.filter(pk=world["old_export"].pk).exists()
    assert CorpusExport.objects.filter(pk=world["recent_export"].pk).exists()
    assert not Artifact.objects.filter(task__process=world["old"]).exists()
    assert Artifact.objects.filter(task__process=world["dataset"]).exists()
    world["old"].refresh_from_db()
    assert world["old"].files_cleaned is not None
    # Deleted: the old export and the old process's logs and artifacts (2 objects, 4 files), and 5 orphans.
    assert output.splitlines()[-1] == "Deleted 2 expired object(s) and 9 file(s), 900 B in all."


def test_dry_run_then_cleanup(world, no_margin):
    output = run("--dry-run")
    assert output.startswith("Dry run: nothing is deleted.")
    assert "Would delete the logs and artifacts of process Old" in output
    assert "Would delete export" in output
    assert output.splitlines()[-1] == "Would delete 2 expired object(s) and 9 file(s), 900 B in all."
    for key in world["old_files"] + world["orphans"] + world["kept_files"]:
        assert storage.exists(key), key

    check_cleaned(world, run())
    # Nothing more the second time.
    assert run().splitlines()[-1] == "Deleted 0 expired object(s) and 0 file(s), 0 B in all."


def test_recent_orphans_are_left_alone(world):
    """A file younger than the margin may belong to an object being created: not an orphan yet."""
    run()
    for key in world["orphans"]:
        assert storage.exists(key), key
    old = time.time() - 2 * 3600
    for key in world["orphans"]:
        os.utime(default_storage.path(key), (old, old))
    run()
    for key in world["orphans"]:
        assert not storage.exists(key), key


def test_retention(world):
    assert "Would delete 0 expired object(s)" in run("--dry-run", "--days", "60").splitlines()[-1]
    with pytest.raises(CommandError, match="at least 1"):
        run("--days", "0")


@pytest.fixture
def s3_location():
    return "arkindex"


def test_cleanup_on_s3(s3_server, world, no_margin):
    output = run("--dry-run")
    assert output.splitlines()[-1] == "Would delete 2 expired object(s) and 9 file(s), 900 B in all."
    check_cleaned(world, run())


def test_cleaned_logs_say_so(world, superuser_client):
    task = Task.objects.get(process=world["old"])
    url = f"/api/v1/task/{task.id}/log/"
    assert superuser_client.get(url).content == b"x" * 100
    run()
    response = superuser_client.get(url)
    assert response.status_code == 200
    assert response.content.decode().startswith("[ponos] This log was removed by the instance's cleanup on ")
