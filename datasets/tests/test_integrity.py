"""
What the database holds whatever runs at the same time: an element in at most one set of a dataset
with `unique_elements`, nothing added once the dataset left the open state, the copies in dataset
element rows kept right; and what deleting a corpus or elements does to datasets. The admin pages.
"""

import threading
import time

import pytest
from django.db import IntegrityError, connection, transaction
from django.test import Client
from django.urls import reverse
from rest_framework.exceptions import ValidationError

from arkindex.api.exceptions import Conflict
from datasets import services
from datasets.models import Dataset, DatasetElement, DatasetSet, DatasetState
from datasets.tests.conftest import add, members
from documents import services as documents_services
from documents.tests.factories import CorpusFactory

# Concurrency


class Transaction(threading.Thread):
    """
    Runs `work` in a transaction of its own connection; with `hold`, keeps the transaction open
    (locks held) until `release()`. `result` and `error` tell what happened.
    """

    def __init__(self, work, *, hold=False):
        super().__init__(daemon=True)
        self.work = work
        self.hold = hold
        self.done_work = threading.Event()
        self.released = threading.Event()
        self.result = self.error = None

    def run(self):
        try:
            with transaction.atomic():
                self.result = self.work()
                self.done_work.set()
                if self.hold:
                    self.released.wait(30)
        except Exception as error:  # reported to the test
            self.error = error
        finally:
            self.done_work.set()
            connection.close()

    def release(self):
        self.released.set()
        self.join(30)
        assert not self.is_alive()


def wait_for_lock_waits(count=1, timeout=10):
    """Wait until `count` other connections wait for a lock (the second transaction is blocked)."""
    deadline = time.monotonic() + timeout
    with connection.cursor() as cursor:
        while True:
            cursor.execute(
                "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            if cursor.fetchone()[0] >= count:
                return
            assert time.monotonic() < deadline, "the second transaction never waited for the first"
            time.sleep(0.05)


def start(work, **kwargs):
    thread = Transaction(work, **kwargs)
    thread.start()
    assert thread.done_work.wait(30)
    return thread


@pytest.mark.django_db(transaction=True)
def test_concurrent_inserts_keep_elements_unique(make_dataset, make_element):
    dataset = make_dataset()
    page = make_element(name="Page")

    first = start(lambda: add(dataset, "train", page), hold=True)
    assert first.error is None
    second = Transaction(lambda: add(dataset, "dev", page))
    second.start()
    # The second insert waits on the unique index for the first transaction…
    wait_for_lock_waits()
    first.release()
    second.join(30)
    # …and fails once it commits.
    assert first.result is True
    assert isinstance(second.error, ValidationError)
    assert "already in set 'train'" in str(second.error.detail["set"][0])
    assert members(dataset) == {("train", "Page")}


@pytest.mark.django_db(transaction=True)
def test_concurrent_selections_keep_elements_unique(user, make_dataset, make_element):
    from documents.models import Selection

    dataset = make_dataset()
    pages = [make_element(name=f"Page {n}") for n in range(3)]
    Selection.objects.bulk_create(Selection(user=user, element=page) for page in pages)

    first = start(
        lambda: services.dataset_elements_add_selection(dataset=dataset, set_name="train", user=user), hold=True
    )
    second = Transaction(lambda: services.dataset_elements_add_selection(dataset=dataset, set_name="dev", user=user))
    second.start()
    wait_for_lock_waits()
    first.release()
    second.join(30)
    assert first.result == 3
    assert isinstance(second.error, ValidationError)
    assert {name for name, _ in members(dataset)} == {"train"}


@pytest.mark.django_db(transaction=True)
def test_state_change_waits_for_inserts(user, make_dataset, make_element):
    """A dataset leaving the open state waits for the elements being added, then freezes them."""
    dataset = make_dataset()
    page, late = make_element(name="Page"), make_element(name="Late")

    inserting = start(lambda: add(dataset, "train", page), hold=True)
    building = Transaction(
        lambda: services.dataset_update(dataset=dataset, user=user, fields={"state": DatasetState.Building})
    )
    building.start()
    wait_for_lock_waits()
    inserting.release()
    building.join(30)
    assert inserting.error is None and building.error is None
    assert members(dataset) == {("train", "Page")}

    with pytest.raises(Conflict):
        add(dataset, "train", late)


@pytest.mark.django_db(transaction=True)
def test_inserts_wait_for_state_change(user, make_dataset, make_element):
    """Elements added while a state change is being committed see the new state: nothing enters."""
    dataset = make_dataset()
    page = make_element(name="Page")

    building = start(
        lambda: services.dataset_update(dataset=dataset, user=user, fields={"state": DatasetState.Building}),
        hold=True,
    )
    inserting = Transaction(lambda: add(dataset, "train", page))
    inserting.start()
    wait_for_lock_waits()
    building.release()
    inserting.join(30)
    assert building.error is None
    assert isinstance(inserting.error, Conflict)
    assert not DatasetElement.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_inserts_wait_for_unique_elements(user, make_dataset, make_element):
    """Turning `unique_elements` on while an element is being added to a second set: the rule holds."""
    dataset = make_dataset(unique_elements=False)
    page = make_element(name="Page")
    add(dataset, "train", page)

    turning_on = start(
        lambda: services.dataset_update(dataset=dataset, user=user, fields={"unique_elements": True}), hold=True
    )
    inserting = Transaction(lambda: add(dataset, "dev", page))
    inserting.start()
    wait_for_lock_waits()
    turning_on.release()
    inserting.join(30)
    assert turning_on.error is None
    assert isinstance(inserting.error, ValidationError)
    assert members(dataset) == {("train", "Page")}


# The copies in dataset element rows


@pytest.mark.django_db
def test_rows_cannot_break_the_rule(make_dataset, make_element):
    dataset = make_dataset()
    other = make_dataset(name="Other")
    page = make_element(name="Page")
    train, dev = dataset.sets.get(name="train"), dataset.sets.get(name="dev")
    DatasetElement.objects.create(dataset=dataset, set=train, element=page, unique_elements=True)

    cases = [
        # A second set of a dataset with unique elements.
        {"dataset": dataset, "set": dev, "unique_elements": True},
        # A copy of the rule that is not the dataset's.
        {"dataset": dataset, "set": dev, "unique_elements": False},
        # A set of another dataset.
        {"dataset": other, "set": dev, "unique_elements": True},
    ]
    for fields in cases:
        with pytest.raises(IntegrityError), transaction.atomic():
            DatasetElement.objects.create(element=page, **fields)
    assert DatasetElement.objects.count() == 1


# Deletions


@pytest.mark.django_db
def test_corpus_deletion_removes_its_datasets(make_dataset, make_element):
    dataset = make_dataset()
    add(dataset, "train", make_element(name="Page"))
    elsewhere = make_dataset(name="Elsewhere", corpus=CorpusFactory(name="Other corpus"))

    assert documents_services.corpus_delete(corpus_id=dataset.corpus_id)
    assert list(Dataset.objects.all()) == [elsewhere]
    assert set(DatasetSet.objects.values_list("dataset_id", flat=True)) == {elsewhere.id}
    assert not DatasetElement.objects.exists()


@pytest.mark.django_db
def test_element_deletion_removes_it_from_datasets(dataset, make_element):
    folder = make_element("folder", "Folder")
    inside = make_element(name="Inside", parent=folder)
    outside = make_element(name="Outside")
    add(dataset, "train", folder)
    add(dataset, "dev", inside)
    add(dataset, "test", outside)

    documents_services.element_delete(element_id=folder.id)
    assert list(DatasetElement.objects.values_list("element_id", flat=True)) == [outside.id]


# Admin


@pytest.mark.django_db
def test_admin_pages(superuser, dataset, make_element):
    add(dataset, "train", make_element(name="Trained page"))
    add(dataset, "dev", make_element(name="Dev page"))
    client = Client()
    client.force_login(superuser)

    response = client.get(reverse("admin:datasets_dataset_changelist"), {"q": "Data", "state": "open"})
    assert response.status_code == 200
    assert b"Dataset" in response.content
    response = client.get(reverse("admin:datasets_dataset_change", args=[dataset.id]))
    assert response.status_code == 200
    assert b"train" in response.content

    url = reverse("admin:datasets_datasetelement_changelist")
    response = client.get(url, {"set_name": "train", "dataset__state": "open"})
    assert response.status_code == 200
    assert b"Trained page" in response.content and b"Dev page" not in response.content
    response = client.get(url, {"q": str(dataset.id)})
    assert b"Trained page" in response.content and b"Dev page" in response.content
