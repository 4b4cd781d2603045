"""
What a task token reaches. A task calling with its `Ponos` token acts as its process's creator,
who may see far more than the process (every corpus they can read): views that a task calls narrow
it to its own process (seed 002: agents and tasks reach only the processes where they have a task).

- `OwnProcessOnly`, a permission: an object of another process is a 403 for a task token (the
  object exists and its creator could read it, but this credential may not). People are unaffected.
- `task_process_filter`, for querysets: a task token lists only what belongs to its process.
"""

from rest_framework.permissions import BasePermission

from ponos.authentication import request_task
from processes.models import Process


def object_process_id(obj):
    """The process an object belongs to: a process itself, or anything with a `process_id`."""
    if isinstance(obj, Process):
        return obj.pk
    process_id = getattr(obj, "process_id", None)
    if process_id is None and hasattr(obj, "task"):
        # An artifact belongs to the process of its task.
        process_id = obj.task.process_id
    return process_id


class OwnProcessOnly(BasePermission):
    """Task tokens reach only objects of their own process; people are not restricted here."""

    message = "A task token only gives access to the process of its task."

    def has_object_permission(self, request, view, obj):
        task = request_task(request)
        if task is None:
            return True
        return object_process_id(obj) == task.process_id


def task_process_filter(request, queryset, field="process_id"):
    """`queryset` narrowed to the calling task's process when a task token calls, else unchanged."""
    task = request_task(request)
    if task is None:
        return queryset
    return queryset.filter(**{field: task.process_id})
