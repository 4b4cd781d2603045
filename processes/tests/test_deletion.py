"""Deleting a corpus or an element keeps processes consistent, through the documents deletion jobs."""

import django_rq
import pytest

from documents import services as documents_services
from documents.models import Corpus, Element
from documents.tests.factories import CorpusFactory, ElementTypeFactory
from processes.models import Process, ProcessMode, WorkerRun
from processes.tests.factories import ProcessFactory, WorkerRunFactory
from workers.tests.factories import WorkerVersionFactory


@pytest.fixture
def corpus_process(user):
    corpus = CorpusFactory(name="Doomed")
    folder_type = ElementTypeFactory(corpus=corpus, slug="folder", display_name="Folder", folder=True)
    folder = Element.objects.create(corpus=corpus, type=folder_type, name="Folder")
    folder.paths.create(path=[], ordering=0)
    process = ProcessFactory(
        corpus=corpus, creator=user, mode=ProcessMode.Workers, element=folder, element_type=folder_type
    )
    WorkerRunFactory(process=process, version=WorkerVersionFactory())
    return process


def test_corpus_deletion_takes_processes(corpus_process, user, django_capture_on_commit_callbacks):
    other = ProcessFactory(creator=user, mode=ProcessMode.Local)
    with django_capture_on_commit_callbacks(execute=True):
        documents_services.corpus_destroy(corpus=corpus_process.corpus)
    django_rq.get_worker("default").work(burst=True)
    assert not Corpus.objects.filter(id=corpus_process.corpus_id).exists()
    assert not Process.objects.filter(id=corpus_process.id).exists()
    assert not WorkerRun.objects.filter(process_id=corpus_process.id).exists()
    assert Process.objects.filter(id=other.id).exists()


def test_element_deletion_clears_folder_filter(corpus_process):
    documents_services.element_delete(element_id=corpus_process.element_id)
    corpus_process.refresh_from_db()
    assert corpus_process.element_id is None
    assert corpus_process.worker_runs.count() == 1
