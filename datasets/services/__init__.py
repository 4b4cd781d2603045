"""
Every change to datasets, their sets and their elements.

Content changes (sets, elements) run while holding a `FOR SHARE` lock on the dataset row, taken
when checking that the dataset is open: requests adding elements at the same time do not wait for
each other, but a state change (which updates the row) waits for them, and one that committed
first is seen by them, so that nothing is added to a dataset once it is being built. The rule of
`unique_elements` is the database's (see `datasets.models`): an insert that would put an element
in a second set of such a dataset fails on a unique index, whatever else runs at the same time.
"""

from django.contrib.postgres.expressions import ArraySubquery
from django.db import IntegrityError, connection, transaction
from django.db.models import OuterRef
from django.db.models.functions import JSONObject
from django.dispatch import receiver
from rest_framework.exceptions import NotFound, ValidationError

from arkindex.api.exceptions import Conflict
from arkindex.models import constraint_of
from datasets.models import DATASET_TRANSITIONS, Dataset, DatasetElement, DatasetSet, DatasetState
from documents.models import Corpus, Element, Selection
from documents.selectors import ELEMENT_RELATED, check_corpus_level, corpus_level_subquery
from documents.signals import corpus_deleting, elements_deleting
from users.models import Role

DATASETS = Dataset._meta.db_table
SETS = DatasetSet._meta.db_table
DATASET_ELEMENTS = DatasetElement._meta.db_table
SELECTIONS = Selection._meta.db_table
ELEMENTS = Element._meta.db_table

DUPLICATE_NAME = "A dataset with this name already exists in this corpus."
# How many conflicting elements an error message names at most.
LISTED_IDS = 20


# Reads


def sets_subquery(dataset_ref="pk"):
    """The sets of the outer query's dataset as a list of `{id, name}`, by name, without a query of their own."""
    return ArraySubquery(
        DatasetSet.objects.filter(dataset_id=OuterRef(dataset_ref))
        .order_by("name")
        .values(json=JSONObject(id="id", name="name"))
    )


def datasets_with_level(user):
    """Datasets with what their serialisation needs (`set_list`, creator) and the user's `level` on their corpus."""
    return (
        Dataset.objects.select_related("creator")
        .annotate(level=corpus_level_subquery(user), set_list=sets_subquery())
        .order_by("name", "id")
    )


def get_dataset(user, dataset_id, needed=Role.GUEST, action="read it"):
    """A dataset by ID with the user's `level` on its corpus: 404 when hidden from them, 403 below `needed`."""
    dataset = datasets_with_level(user).select_related("corpus").filter(pk=dataset_id).first()
    check_corpus_level(getattr(dataset, "level", 0), needed, what=f"Dataset {dataset_id}", action=action)
    return dataset


def dataset_elements(dataset, dataset_set=None):
    """The elements of a dataset, or of one of its sets, with what their serialisation needs."""
    queryset = DatasetElement.objects.filter(dataset=dataset)
    if dataset_set is not None:
        queryset = queryset.filter(set=dataset_set)
    return queryset.select_related("set", *(f"element__{relation}" for relation in ELEMENT_RELATED))


# Locks


def _lock_open(dataset, set_name=None):
    """
    Lock the dataset row in share mode until the end of the transaction and check that it is open;
    with `set_name`, also return that set's id (None when the dataset has no such set). Returns
    `(unique_elements, set_id)` as they are now.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT dataset.state, dataset.unique_elements, dataset_set.id
            FROM {DATASETS} AS dataset
            LEFT JOIN {SETS} AS dataset_set ON dataset_set.dataset_id = dataset.id AND dataset_set.name = %s
            WHERE dataset.id = %s
            FOR SHARE OF dataset
            """,
            [set_name, str(dataset.id)],
        )
        row = cursor.fetchone()
    if row is None:
        raise NotFound(f"Dataset {dataset.id} not found, or you have no access to it.")
    state, unique_elements, set_id = row
    if state != DatasetState.Open:
        raise Conflict(f"Dataset {dataset.id} is {state}: its sets and elements can only change while it is open.")
    return unique_elements, set_id


def _set_id(dataset, set_name):
    unique_elements, set_id = _lock_open(dataset, set_name)
    if set_id is None:
        raise ValidationError({"set": [f"Dataset {dataset.id} has no set named '{set_name}'."]})
    return unique_elements, set_id


# Datasets


def dataset_create(*, corpus, creator, name, description="", set_names, unique_elements=True):
    """A new open dataset with its sets, in one transaction."""
    try:
        with transaction.atomic():
            dataset = Dataset.objects.create(
                corpus=corpus, creator=creator, name=name, description=description, unique_elements=unique_elements
            )
            DatasetSet.objects.bulk_create(DatasetSet(dataset=dataset, name=set_name) for set_name in set_names)
    except IntegrityError as error:
        if constraint_of(error) == "unique_dataset_name":
            raise ValidationError({"non_field_errors": [DUPLICATE_NAME]}) from None
        raise
    return dataset


def dataset_update(*, dataset, user, fields):
    """
    Change a dataset. The state follows `DATASET_TRANSITIONS` (instance administrators move it
    freely); `unique_elements` changes only while the dataset is open, and turning it on fails when
    an element already sits in several sets. A forbidden change is a 409, and the row is locked
    while checking, so that it waits for the requests adding elements.
    """
    try:
        with transaction.atomic():
            current = Dataset.objects.select_for_update().get(pk=dataset.pk)
            state = fields.get("state", current.state)
            if not user.is_admin:
                DATASET_TRANSITIONS.check(current.state, state)
            unique_elements = fields.get("unique_elements", current.unique_elements)
            if unique_elements != current.unique_elements and current.state != DatasetState.Open:
                raise Conflict(
                    f"Dataset {current.id} is {current.state}: `unique_elements` can only change while it is open."
                )
            for name, value in fields.items():
                setattr(current, name, value)
            current.save(update_fields=[*fields, "updated"])
    except IntegrityError as error:
        constraint = constraint_of(error)
        if constraint == "unique_dataset_name":
            raise ValidationError({"non_field_errors": [DUPLICATE_NAME]}) from None
        if constraint == "unique_element_per_dataset":
            raise ValidationError(
                {
                    "unique_elements": [
                        "Some elements sit in several sets of this dataset: remove them from all but one."
                    ]
                }
            ) from None
        raise
    return current


def dataset_destroy(*, dataset):
    """Delete a dataset with its sets and elements; 409 while a process builds it."""
    with transaction.atomic():
        current = Dataset.objects.select_for_update().filter(pk=dataset.pk).first()
        if current is None:
            return
        if current.state == DatasetState.Building:
            raise Conflict(f"Dataset {current.id} is being built: it can be deleted once the build ends.")
        # Django's deletion is set-based here: sets are few, their elements go by set and by dataset.
        current.delete()


# Sets


def set_create(*, dataset, name):
    with transaction.atomic():
        _lock_open(dataset)
        try:
            with transaction.atomic():
                return DatasetSet.objects.create(dataset=dataset, name=name)
        except IntegrityError as error:
            if constraint_of(error) == "unique_dataset_set_name":
                raise ValidationError({"name": [f"Dataset {dataset.id} already has a set named '{name}'."]}) from None
            raise


def set_rename(*, dataset, dataset_set, name):
    with transaction.atomic():
        _lock_open(dataset)
        try:
            with transaction.atomic():
                DatasetSet.objects.filter(pk=dataset_set.pk).update(name=name)
        except IntegrityError as error:
            if constraint_of(error) == "unique_dataset_set_name":
                raise ValidationError({"name": [f"Dataset {dataset.id} already has a set named '{name}'."]}) from None
            raise
    dataset_set.name = name
    return dataset_set


def set_destroy(*, dataset, dataset_set):
    """Delete a set and its elements (the elements themselves stay in the corpus)."""
    with transaction.atomic():
        _lock_open(dataset)
        dataset_set.delete()


# Elements


def _in_other_set(dataset, set_id, element_ids):
    """`(element_id, set name)` of the given elements that sit in another set of the dataset, a few at most."""
    return list(
        DatasetElement.objects.filter(dataset=dataset, element_id__in=element_ids)
        .exclude(set_id=set_id)
        .order_by("element_id")
        .values_list("element_id", "set__name")[:LISTED_IDS]
    )


def dataset_element_create(*, dataset, set_name, element):
    """
    Put an element of the dataset's corpus in one of its sets. Returns whether it was added: an
    element already in that set stays there (a retried request succeeds).
    """
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            unique_elements, set_id = _set_id(dataset, set_name)
            cursor.execute(
                f"""
                INSERT INTO {DATASET_ELEMENTS} (id, dataset_id, set_id, element_id, unique_elements)
                VALUES (gen_random_uuid(), %s, %s, %s, %s)
                ON CONFLICT (element_id, set_id) DO NOTHING
                """,
                [str(dataset.id), str(set_id), str(element.id), unique_elements],
            )
            return cursor.rowcount == 1
    except IntegrityError as error:
        if constraint_of(error) != "unique_element_per_dataset":
            raise
    [(_, other)] = _in_other_set(dataset, set_id, [element.id]) or [(None, "another set")]
    raise ValidationError(
        {
            "set": [
                f"Element {element.id} is already in set '{other}' of this dataset, whose elements are unique: "
                "remove it from there first."
            ]
        }
    )


def dataset_elements_add_selection(*, dataset, set_name, user):
    """
    Put the elements of the dataset's corpus that `user` selected in one of its sets, in one
    statement; those already in that set stay. Refused as a whole when the dataset's elements are
    unique and some selected elements sit in another set. Returns how many were added.
    """
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            unique_elements, set_id = _set_id(dataset, set_name)
            cursor.execute(
                f"""
                INSERT INTO {DATASET_ELEMENTS} (id, dataset_id, set_id, element_id, unique_elements)
                SELECT gen_random_uuid(), %(dataset)s, %(set)s, selection.element_id, %(unique)s
                FROM {SELECTIONS} AS selection
                JOIN {ELEMENTS} AS element ON element.id = selection.element_id
                WHERE selection.user_id = %(user)s AND element.corpus_id = %(corpus)s
                ON CONFLICT (element_id, set_id) DO NOTHING
                """,
                {
                    "dataset": str(dataset.id),
                    "set": str(set_id),
                    "unique": unique_elements,
                    "user": user.id,
                    "corpus": str(dataset.corpus_id),
                },
            )
            return cursor.rowcount
    except IntegrityError as error:
        if constraint_of(error) != "unique_element_per_dataset":
            raise
    selected = Selection.objects.filter(user=user, element__corpus_id=dataset.corpus_id).values("element_id")
    listed = ", ".join(f"{element_id} ('{name}')" for element_id, name in _in_other_set(dataset, set_id, selected))
    raise ValidationError(
        {
            "set": [
                "Some selected elements are already in other sets of this dataset, whose elements are unique: "
                f"{listed}. Remove them from those sets or from your selection first."
            ]
        }
    )


def dataset_element_destroy(*, dataset, set_name, element_id):
    """Remove an element from a set; 404 when it is not in that set."""
    with transaction.atomic():
        _, set_id = _set_id(dataset, set_name)
        deleted, _ = DatasetElement.objects.filter(set_id=set_id, element_id=element_id).delete()
    if not deleted:
        raise NotFound(f"Element {element_id} is not in set '{set_name}' of dataset {dataset.id}.")


# Deletion hooks: run in the transaction of a corpus's or elements' deletion (see `documents.services`).


@receiver(corpus_deleting, sender=Corpus)
def delete_corpus_datasets(sender, cursor, corpus_id, **kwargs):
    corpus_datasets = f"SELECT id FROM {DATASETS} WHERE corpus_id = %(corpus)s"
    params = {"corpus": corpus_id}
    cursor.execute(f"DELETE FROM {DATASET_ELEMENTS} WHERE dataset_id IN ({corpus_datasets})", params)
    cursor.execute(f"DELETE FROM {SETS} WHERE dataset_id IN ({corpus_datasets})", params)
    cursor.execute(f"DELETE FROM {DATASETS} WHERE corpus_id = %(corpus)s", params)


@receiver(elements_deleting, sender=Element)
def delete_element_datasets(sender, cursor, **kwargs):
    cursor.execute(f"DELETE FROM {DATASET_ELEMENTS} WHERE element_id IN (SELECT id FROM doomed_elements)")
