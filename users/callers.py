"""
Who is calling: a person, or a running task acting for its process's creator.

A task calls the API with its own `Ponos` token (the ponos app authenticates it). The request then
acts as the process's creator, narrowed to what the task's job needs: the creator's user object
carries a `TaskScope`, and everything that grants access reads it from there, so that no view has to
remember it:

- `users.rights.filter_rights` keeps only the task's corpus among corpora, and only the models the
  creator may write to (or the model of the task's own worker run) among models;
- an instance administrator's task is no instance administrator (`User.is_admin`);
- the processes app narrows processes and worker runs to the task's own process, the ponos app
  tasks, artifacts and secrets;
- which operations a task token may call at all is the ponos app's allow-list.

This is the only place that says whether a request comes from a task, and from which: use
`calling_task(request)`, or `task_scope_of(user)` where only the user is at hand.
"""

from dataclasses import dataclass
from typing import Any
from uuid import UUID


@dataclass(frozen=True)
class TaskScope:
    """What a running task's token reaches. `task` is the task itself (a model of the ponos app)."""

    task: Any
    task_id: UUID
    process_id: UUID
    corpus_id: UUID | None
    worker_run_id: UUID | None
    model_version_id: UUID | None
    model_id: UUID | None
    # The task's worker run (a model of the processes app) with its process, read with the token.
    worker_run: Any = None
    # The creator's level on the corpus, read with the token (`users.rights.level_sql`): what the
    # task reaches of it, so that queries on the corpus's objects need no rights subquery.
    corpus_level: int | None = None


def calling_task(request):
    """The scope of the task calling with its `Ponos` token, or None when a person (or nobody) calls."""
    return task_scope_of(getattr(request, "user", None))


def task_scope_of(user):
    """The scope of the task a user acts through, or None (a person, or nobody: anonymous users have none)."""
    return getattr(user, "task_scope", None)
