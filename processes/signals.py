"""
What deleting a process tells the apps below this one (the scheduler's tasks, the dataset sets of
a process…): `process_deleting` is sent with a `cursor` and the `process_id` inside the deletion's
transaction, before the process and its worker runs are deleted, also for each process of a corpus
being deleted.
"""

from django.dispatch import Signal

process_deleting = Signal()
