"""
The inputs of dataset processes: sets of datasets of the process's corpus, chosen until the process
starts (CreateProcessSet, DestroyProcessSet) and read by its workers (ListProcessSets). A dataset
process without any set cannot start; a set that a process uses cannot be deleted.
"""

from django.db import IntegrityError, transaction
from django.dispatch import receiver
from rest_framework.exceptions import NotFound, ValidationError

from datasets.models import DatasetSet, ProcessSet
from datasets.services import sets_subquery
from processes.models import Process, ProcessMode
from processes.services.starting import dataset_start_check
from processes.services.worker_runs import check_not_started
from processes.signals import process_deleting

PROCESS_SETS = ProcessSet._meta.db_table


def check_dataset_process(process):
    if process.mode != ProcessMode.Dataset:
        raise ValidationError(
            {"process": [f"Only dataset processes read sets of datasets; this one is a {process.mode} process."]}
        )


def find_set(process, set_id):
    """A set of a dataset of the process's corpus, else 404."""
    dataset_set = DatasetSet.objects.select_related("dataset").filter(pk=set_id).first()
    if dataset_set is None or dataset_set.dataset.corpus_id != process.corpus_id:
        raise NotFound(f"No set {set_id} in the datasets of this process's project.")
    return dataset_set


def process_set_create(*, process, set_id):
    check_dataset_process(process)
    dataset_set = find_set(process, set_id)
    with transaction.atomic():
        # The process row is locked, so that a set is never added while the process starts.
        started = Process.objects.select_for_update().filter(pk=process.pk).values_list("started", flat=True).get()
        check_not_started(started)
        try:
            with transaction.atomic():
                process_set = ProcessSet.objects.create(process=process, set=dataset_set)
        except IntegrityError:
            raise ValidationError({"set": ["This set is already an input of the process."]}) from None
    return process_set


def process_set_destroy(*, process, set_id):
    check_dataset_process(process)
    with transaction.atomic():
        started = Process.objects.select_for_update().filter(pk=process.pk).values_list("started", flat=True).get()
        check_not_started(started)
        deleted, _ = ProcessSet.objects.filter(process=process, set_id=set_id).delete()
    if not deleted:
        raise NotFound(f"Set {set_id} is not an input of this process.")


def process_sets(process):
    """The sets of a process with their datasets (and the datasets' sets), by dataset and set name."""
    return (
        ProcessSet.objects.filter(process=process)
        .select_related("set__dataset__creator")
        .annotate(dataset_set_list=sets_subquery("set__dataset_id"))
        .order_by("set__dataset__name", "set__dataset_id", "set__name", "id")
    )


@dataset_start_check
def needs_a_set(process):
    if not ProcessSet.objects.filter(process=process).exists():
        return {"sets": ["A dataset process runs on sets of datasets: add at least one with CreateProcessSet."]}
    return {}


@receiver(process_deleting, sender=Process)
def delete_process_sets(sender, cursor, process_id, **kwargs):
    cursor.execute(f"DELETE FROM {PROCESS_SETS} WHERE process_id = %s", [str(process_id)])
