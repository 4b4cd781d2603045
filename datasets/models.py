"""
Datasets: named, split collections of the elements of a corpus (train, dev, test…) that dataset
processes read and that models are trained and evaluated on.

A dataset's content (its sets and their elements) changes only while the dataset is `open`; a
dataset being built, built, or whose build failed is frozen, so that what a process read stays
what the dataset holds. Its name and description can change at any time.

With `unique_elements`, an element sits in at most one set of the dataset. The database enforces
it, whatever the number of requests adding elements at the same time: each `DatasetElement` row
carries its dataset and a copy of the dataset's `unique_elements`, and a partial unique index on
(dataset, element) covers the rows whose copy is true. Two composite foreign keys, added by the
initial migration, keep those copies right: (set, dataset) must name a set of that dataset, and
(dataset, unique_elements) follows the dataset row (`ON UPDATE CASCADE`), so that turning the rule
on rewrites every row and fails on the unique index when an element already sits in two sets.
"""

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from arkindex.models import IndexableModel
from arkindex.transitions import Transitions
from documents.models import Corpus, Element


class DatasetState(models.TextChoices):
    # Sets and elements can change.
    Open = "open"
    # A process is building the dataset (an archive, an export): its content is frozen.
    Building = "building"
    Complete = "complete"
    Error = "error"


# The states a dataset may reach, each from the states it may come from (PartialUpdateDataset).
# Instance administrators may make any move, for instance to reopen a dataset.
DATASET_TRANSITIONS = Transitions(
    {
        DatasetState.Building: (DatasetState.Open, DatasetState.Error),
        DatasetState.Complete: (DatasetState.Building,),
        DatasetState.Error: (DatasetState.Building,),
        DatasetState.Open: (),
    },
    name="dataset",
)

DEFAULT_SET_NAMES = ("train", "dev", "test")


class Dataset(IndexableModel):
    # Lookups by corpus are served by the unique (corpus, name) index.
    corpus = models.ForeignKey(Corpus, related_name="datasets", on_delete=models.CASCADE, db_index=False)
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True, default="")
    creator = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, related_name="datasets", on_delete=models.SET_NULL
    )
    state = models.CharField(max_length=20, choices=DatasetState.choices, default=DatasetState.Open)
    unique_elements = models.BooleanField(
        default=True, help_text="Whether an element may sit in at most one set of the dataset."
    )

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["corpus", "name"], name="unique_dataset_name"),
            # Referenced by the (dataset, unique_elements) foreign key of dataset elements.
            models.UniqueConstraint(fields=["id", "unique_elements"], name="dataset_id_unique_elements"),
        ]

    def __str__(self):
        return self.name


class DatasetSet(IndexableModel):
    """A named part of a dataset (train, dev, test…). Dataset processes take sets as their inputs."""

    # Lookups by dataset are served by the unique (dataset, name) index.
    dataset = models.ForeignKey(Dataset, related_name="sets", on_delete=models.CASCADE, db_index=False)
    name = models.CharField(max_length=50)

    class Meta:
        ordering = ["dataset", "name"]
        constraints = [
            models.UniqueConstraint(fields=["dataset", "name"], name="unique_dataset_set_name"),
            # Referenced by the (set, dataset) foreign key of dataset elements.
            models.UniqueConstraint(fields=["id", "dataset"], name="dataset_set_id_dataset"),
        ]

    def __str__(self):
        return self.name


class DatasetElement(models.Model):
    """
    An element in a set of a dataset. `dataset` and `unique_elements` repeat the set's dataset and
    its rule (see the module's docstring), kept right by the database.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    dataset = models.ForeignKey(Dataset, related_name="dataset_elements", on_delete=models.CASCADE, db_index=False)
    set = models.ForeignKey(DatasetSet, related_name="set_elements", on_delete=models.CASCADE, db_index=False)
    element = models.ForeignKey(Element, related_name="dataset_elements", on_delete=models.CASCADE, db_index=False)
    unique_elements = models.BooleanField(help_text="The dataset's `unique_elements`, kept by the database.")

    class Meta:
        constraints = [
            # Led by the element: also serves ListElementDatasets and deleting elements.
            models.UniqueConstraint(fields=["element", "set"], name="unique_dataset_element"),
            models.UniqueConstraint(
                fields=["dataset", "element"],
                condition=models.Q(unique_elements=True),
                name="unique_element_per_dataset",
            ),
        ]
        indexes = [
            # ListDatasetElements pages through a set, or a whole dataset, by id.
            models.Index(fields=["set", "id"], name="dataset_element_set"),
            models.Index(fields=["dataset", "id"], name="dataset_element_dataset"),
        ]

    def __str__(self):
        return f"{self.element_id} in {self.set_id}"


class ProcessSet(models.Model):
    """
    A set of a dataset that a dataset process reads: workers list them with ListProcessSets. A set
    in use by a process cannot be deleted (the process shows what it ran on), nor its dataset.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    process = models.ForeignKey("processes.Process", related_name="process_sets", on_delete=models.CASCADE)
    set = models.ForeignKey(DatasetSet, related_name="process_sets", on_delete=models.PROTECT)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["process", "set"], name="unique_process_set")]
        indexes = [models.Index(fields=["set"], name="process_set_set")]

    def __str__(self):
        return f"{self.set_id} in {self.process_id}"


class CorpusExportState(models.TextChoices):
    Created = "created"
    Running = "running"
    Failed = "failed"
    Done = "done"


# Exports that still hold their (corpus, dataset) slot: a second one is refused (`running_export`).
ACTIVE_EXPORT_STATES = (CorpusExportState.Created, CorpusExportState.Running)
# A build starts, loses its worker (back to created), ends done; an active export may fail.
EXPORT_TRANSITIONS = Transitions(
    {
        CorpusExportState.Running: (CorpusExportState.Created,),
        CorpusExportState.Created: (CorpusExportState.Running,),
        CorpusExportState.Done: (CorpusExportState.Running,),
        CorpusExportState.Failed: ACTIVE_EXPORT_STATES,
    },
    name="export",
)


class CorpusExport(IndexableModel):
    """
    An SQLite export of a corpus, or of one of its datasets (`datasets.services.exports` builds it). Its file
    lives in the file storage at `storage_key` once the export is done. At most one export per
    corpus and dataset (or whole corpus) is created or running at a time: the database enforces it.
    """

    corpus = models.ForeignKey(Corpus, related_name="exports", on_delete=models.CASCADE, db_index=False)
    # Deleting a dataset deletes its exports, also when the deletion is a plain SQL statement (deleting
    # a corpus): the migration declares this foreign key ON DELETE CASCADE in the database itself.
    dataset = models.ForeignKey(
        Dataset, null=True, blank=True, related_name="exports", on_delete=models.CASCADE, db_constraint=False
    )
    user = models.ForeignKey(settings.AUTH_USER_MODEL, related_name="exports", on_delete=models.CASCADE)
    state = models.CharField(max_length=20, choices=CorpusExportState.choices, default=CorpusExportState.Created)
    source = models.CharField(max_length=50, default="default", help_text="The database the export reads.")

    class Meta:
        ordering = ["-created", "-id"]
        indexes = [
            # ListExports, newest first, of a corpus or of one dataset.
            models.Index(fields=["corpus", "dataset", "created"], name="export_corpus_dataset"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["corpus", "dataset"],
                condition=models.Q(state__in=ACTIVE_EXPORT_STATES),
                nulls_distinct=False,
                name="unique_active_export",
            ),
        ]

    def __str__(self):
        return f"Export of {self.dataset_id or 'corpus'} {self.corpus_id} ({self.state})"

    @property
    def storage_key(self):
        """Where the SQLite file lives in the file storage."""
        return f"{export_folder(self.corpus_id)}/{self.id}.sqlite"

    # Each a conditional UPDATE (`EXPORT_TRANSITIONS.move`): of two processes moving the same export,
    # one wins. Each returns whether it moved.
    def start(self):
        return EXPORT_TRANSITIONS.move(self, CorpusExportState.Running, updated=timezone.now())

    def restart(self):
        """Its build lost its worker (see `datasets.jobs.export_build`): back to waiting for one."""
        return EXPORT_TRANSITIONS.move(self, CorpusExportState.Created, updated=timezone.now())

    def finish(self):
        return EXPORT_TRANSITIONS.move(self, CorpusExportState.Done, updated=timezone.now())

    def fail(self):
        return EXPORT_TRANSITIONS.move(self, CorpusExportState.Failed, updated=timezone.now())


def export_folder(corpus_id):
    """The folder of the storage that holds every export file of a corpus."""
    return f"exports/{corpus_id}"
