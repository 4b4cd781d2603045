"""
What deleting a process does to the scheduler's rows: the tasks of the process (every run), their
parent links and their artifacts go, in set-based SQL inside the deletion's transaction (see
`processes.signals.process_deleting`; a corpus's deletion runs it for each of its processes).

Files in the storage (logs, artifact contents) are not database rows: they are left for the storage
cleanup, and no row points at them any more.
"""

from django.dispatch import receiver

from ponos.models import Artifact, Task
from processes.models import Process
from processes.signals import process_deleting

TASKS = Task._meta.db_table
TASK_PARENTS = Task.parents.through._meta.db_table
ARTIFACTS = Artifact._meta.db_table


@receiver(process_deleting, sender=Process)
def delete_process_tasks(sender, cursor, process_id, **kwargs):
    tasks = f"SELECT id FROM {TASKS} WHERE process_id = %(process)s"
    params = {"process": str(process_id)}
    # A task's parents are tasks of its own process: the links of the process are those of its children.
    cursor.execute(f"DELETE FROM {TASK_PARENTS} WHERE from_task_id IN ({tasks})", params)
    cursor.execute(f"DELETE FROM {ARTIFACTS} WHERE task_id IN ({tasks})", params)
    cursor.execute(f"DELETE FROM {TASKS} WHERE process_id = %(process)s", params)
