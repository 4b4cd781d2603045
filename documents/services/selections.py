"""
Each user's selection: the elements they picked to act on them together (a process on their
selection, adding them to a dataset). Adding and removing are one statement whatever the number of
elements, so that a script can import thousands of IDs at once (the CLI's `selection import`).

A selection only holds elements the user could read when adding them; lists show only those they
can still read. Deleting elements or a corpus removes them from every selection.
"""

from django.db import connection, transaction
from django.dispatch import receiver
from rest_framework.exceptions import ValidationError

from documents.models import Corpus, Element, Selection
from documents.selectors import ELEMENT_RELATED, corpora_for_user
from documents.signals import corpus_deleting, elements_deleting

SELECTIONS = Selection._meta.db_table
ELEMENTS = Element._meta.db_table
# How many unknown IDs an error message names at most.
LISTED_IDS = 20


def selected_elements(user, corpus_id=None):
    """The elements in `user`'s selection that they can still read, with what their serialisation needs."""
    queryset = Element.objects.filter(
        id__in=Selection.objects.filter(user=user).values("element_id"),
        corpus_id__in=corpora_for_user(user).values("id"),
    )
    if corpus_id is not None:
        queryset = queryset.filter(corpus_id=corpus_id)
    return queryset.select_related(*ELEMENT_RELATED)


def selection_add(*, user, element_ids):
    """
    Add elements to `user`'s selection, in one statement: all of them, or none when one does not
    exist or is hidden from the user (400 naming them). Elements already selected stay. Returns
    how many were added.
    """
    element_ids = list(dict.fromkeys(element_ids))
    readable = Element.objects.filter(id__in=element_ids, corpus_id__in=corpora_for_user(user).values("id"))
    readable_sql, readable_params = readable.order_by().values("id").query.sql_with_params()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"""
            WITH readable AS ({readable_sql}),
            added AS (
                INSERT INTO {SELECTIONS} (user_id, element_id, created)
                SELECT %s, readable.id, now() FROM readable
                ON CONFLICT (user_id, element_id) DO NOTHING
                RETURNING 1
            )
            SELECT ARRAY(SELECT id FROM readable), (SELECT COUNT(*) FROM added)
            """,
            [*readable_params, user.id],
        )
        found, added = cursor.fetchone()
        found = set(found)
        missing = [str(element_id) for element_id in element_ids if element_id not in found]
        if missing:
            # Raised inside the transaction: nothing is added.
            listed = ", ".join(missing[:LISTED_IDS]) + (", …" if len(missing) > LISTED_IDS else "")
            raise ValidationError(
                {"ids": [f"{len(missing)} element(s) do not exist or you have no access to them: {listed}."]}
            )
    return added


def selection_remove(*, user, element_ids=None):
    """Remove elements from `user`'s selection, or empty it when `element_ids` is None. Returns how many went."""
    queryset = Selection.objects.filter(user=user)
    if element_ids is not None:
        queryset = queryset.filter(element_id__in=element_ids)
    return queryset.delete()[0]


# Deletion hooks: run in the transaction of a corpus's or elements' deletion (see `documents.services`).


@receiver(corpus_deleting, sender=Corpus)
def delete_corpus_selections(sender, cursor, corpus_id, **kwargs):
    cursor.execute(
        f"DELETE FROM {SELECTIONS} WHERE element_id IN (SELECT id FROM {ELEMENTS} WHERE corpus_id = %s)", [corpus_id]
    )


@receiver(elements_deleting, sender=Element)
def delete_element_selections(sender, cursor, **kwargs):
    cursor.execute(f"DELETE FROM {SELECTIONS} WHERE element_id IN (SELECT id FROM doomed_elements)")
