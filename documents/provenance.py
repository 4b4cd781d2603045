"""
Which worker run signs a result. Every publication endpoint takes an optional `worker_run_id`;
null or absent means a person made the result by hand. The worker run must be one the caller may
sign with:

- a task calling with its `Ponos` token signs with its own task's worker run, and no other;
- a person signs with one of their own user worker runs (their `local` process), or with a run of
  a process on the result's corpus (they already need the contributor level on the corpus to
  publish there).

Worker runs belong to the processes app, below this one: they are reached through the relation
of `Element.worker_run`, and the task of a `Ponos` token through `request.auth` (anything with a
`worker_run_id` and a `process_id` that is not a user's API token).
"""

from rest_framework.exceptions import PermissionDenied, ValidationError

from documents.models import Element

LOCAL_MODE = "local"


def worker_run_model():
    return Element._meta.get_field("worker_run").related_model


def request_task(request):
    auth = getattr(request, "auth", None)
    if auth is None or not hasattr(auth, "worker_run_id") or not hasattr(auth, "process_id"):
        return None
    return auth


def resolve_worker_run(request, worker_run_id, corpus_id, field="worker_run_id"):
    """The worker run `worker_run_id` if the caller may sign results on `corpus_id` with it (else 400/403)."""
    task = request_task(request)
    if worker_run_id is None:
        if task is not None and task.worker_run_id is not None:
            # A worker's results are never anonymous: a task publishes with its own run.
            raise ValidationError({field: ["A task publishes its results with its own worker run: send its id."]})
        return None
    run = worker_run_model().objects.select_related("process").filter(pk=worker_run_id).first()
    if run is None:
        raise ValidationError({field: [f"No worker run {worker_run_id}."]})
    if task is not None:
        if run.pk != task.worker_run_id:
            raise PermissionDenied("A task token publishes only with the worker run of its own task.")
        return run
    process = run.process
    if process.mode == LOCAL_MODE:
        if process.creator_id != request.user.id:
            raise PermissionDenied("This user worker run belongs to someone else: sign with one of your own.")
        return run
    if process.corpus_id != corpus_id:
        raise ValidationError({field: ["This worker run belongs to a process of another project."]})
    return run
