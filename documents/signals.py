"""
What deleting a corpus or elements tells the apps below this one, whose tables point at corpora and
elements (processes, datasets, exports, selections, the search index…). Each signal is sent inside
the deletion's own transaction, before the corpus or the elements go; receivers run set-based SQL on
the `cursor` they are given, and an error in one rolls the whole deletion back.

- `corpus_deleting`: `cursor`, `corpus_id`.
- `elements_deleting`: `cursor`, while the temporary table `doomed_elements (id)` holds the IDs of
  the elements about to be deleted.
"""

from django.dispatch import Signal

corpus_deleting = Signal()
elements_deleting = Signal()
