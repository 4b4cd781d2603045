"""
What deleting a corpus, elements or a process does to processes: a corpus takes its processes and
their worker runs with it; a deleted element stops being a process's folder filter. Set-based SQL,
run in the documents deletion's transaction (receivers of `documents.signals`).

Apps below this one (the scheduler's tasks, for instance) clear what a process's deletion must
also remove on `processes.signals.process_deleting`.
"""

from django.dispatch import receiver

from documents.models import Corpus, Element
from documents.signals import corpus_deleting, elements_deleting
from processes.models import Process, WorkerRun
from processes.signals import process_deleting

PROCESSES = Process._meta.db_table
WORKER_RUNS = WorkerRun._meta.db_table
PROCESS_ELEMENTS = Process.elements.through._meta.db_table


@receiver(corpus_deleting, sender=Corpus)
def delete_corpus_processes(sender, cursor, corpus_id, **kwargs):
    corpus_processes = f"SELECT id FROM {PROCESSES} WHERE corpus_id = %(corpus)s"
    params = {"corpus": corpus_id}
    # Each process first loses what the apps below clear on its deletion (tasks, activities), as
    # in DestroyProcess: they cannot find it once its row is gone.
    cursor.execute(corpus_processes, params)
    for (process_id,) in cursor.fetchall():
        process_deleting.send(sender=Process, cursor=cursor, process_id=process_id)
    cursor.execute(f"DELETE FROM {PROCESS_ELEMENTS} WHERE process_id IN ({corpus_processes})", params)
    cursor.execute(f"DELETE FROM {WORKER_RUNS} WHERE process_id IN ({corpus_processes})", params)
    # Templates of this corpus applied elsewhere are forgotten by their applications.
    cursor.execute(f"UPDATE {PROCESSES} SET template_id = NULL WHERE template_id IN ({corpus_processes})", params)
    cursor.execute(f"DELETE FROM {PROCESSES} WHERE corpus_id = %(corpus)s", params)


# The columns of a process that name one element: the folder filter, the folders of a training.
ELEMENT_COLUMNS = ("element_id", "train_folder_id", "validation_folder_id", "test_folder_id")


@receiver(elements_deleting, sender=Element)
def forget_deleted_elements(sender, cursor, **kwargs):
    cursor.execute(f"DELETE FROM {PROCESS_ELEMENTS} WHERE element_id IN (SELECT id FROM doomed_elements)")
    for column in ELEMENT_COLUMNS:
        cursor.execute(f"UPDATE {PROCESSES} SET {column} = NULL WHERE {column} IN (SELECT id FROM doomed_elements)")
