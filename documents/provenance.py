"""
Which worker run signs a result. Every publication endpoint takes an optional `worker_run_id`;
null or absent means a person made the result by hand. The worker run must be one the caller may
sign with:

- a task calling with its `Ponos` token signs with its own task's worker run, and no other, on
  the project of its process only;
- a person signs with one of their own user worker runs (their `local` process), or with a run of
  a process on the result's corpus (they already need the contributor level on the corpus to
  publish there).

Worker runs belong to the processes app, below this one: they are reached through the relation
of `Element.worker_run`, and the task of a `Ponos` token through `users.callers`.

Lists of results are read by provenance with `ProvenanceFilter`: by worker run, worker version,
model version (or none) and configuration (or none).
"""

import uuid
from dataclasses import dataclass

from django.contrib.postgres.expressions import ArraySubquery
from django.db.models import OuterRef, Q
from rest_framework.exceptions import PermissionDenied, ValidationError

from documents.models import Element
from users.callers import calling_task

LOCAL_MODE = "local"


def worker_run_model():
    return Element._meta.get_field("worker_run").related_model


def resolve_worker_run(request, worker_run_id, corpus_id, field="worker_run_id"):
    """
    The worker run `worker_run_id` if the caller may sign results on `corpus_id` with it, else a
    400 that says the same whether the run does not exist or is not the caller's to use.
    """
    task = calling_task(request)
    if worker_run_id is None:
        if task is not None and task.worker_run_id is not None:
            # A worker's results are never anonymous: a task publishes with its own run.
            raise ValidationError({field: ["A task publishes its results with its own worker run: send its id."]})
        return None
    if task is not None and worker_run_id != task.worker_run_id:
        raise PermissionDenied("A task token publishes only with the worker run of its own task.")
    if task is not None and task.worker_run is not None:
        # Read with the token: the task's run and process, as the query below would give them.
        run = task.worker_run
    else:
        run = worker_run_model().objects.select_related("process").filter(pk=worker_run_id).first()
    if run is not None:
        process = run.process
        if process.mode == LOCAL_MODE:
            # User worker runs are personal (a task's run is never one).
            usable = task is None and process.creator_id == request.user.id
        else:
            usable = process.corpus_id == corpus_id
        if usable:
            return run
    raise ValidationError(
        {
            field: [
                f"No worker run {worker_run_id} that can sign results on this project: use one of your own user "
                "worker runs, or a worker run of a process on this project."
            ]
        }
    )


# Reading by provenance


PROVENANCE_FIELDS = ("worker_run", "worker_version", "model_version", "configuration")


@dataclass(frozen=True)
class ProvenanceFilter:
    """
    Which results a list keeps, by the worker run that signed them. Each value is a UUID, `False`
    or None (no filter):

    - `worker_run`: that run's results; `False`: the results made by a person (no run);
    - `worker_version`: the results of any run of that version; `False`: by a person, as above;
    - `model_version`: the results of the runs using that model version; `False`: of the runs using
      none (results made by a person are not among them);
    - `configuration`: likewise, for the runs' configuration.

    The last three select worker runs, not results: they are turned into the literal ids of the
    matching runs (`runs_subquery`, fetched in the same query as the corpus or element the list
    belongs to), so that results are filtered by `worker_run_id = ANY(…)` on the (worker run, …)
    index of each result table, with an estimate PostgreSQL can trust. Only the runs that can sign
    results in the corpus are listed: those of its processes and users' worker runs (see
    `resolve_worker_run`). Runs are found by their version, model version and configuration
    through the indexes of those foreign keys.
    """

    worker_run: uuid.UUID | bool | None = None
    worker_version: uuid.UUID | bool | None = None
    model_version: uuid.UUID | bool | None = None
    configuration: uuid.UUID | bool | None = None

    @property
    def manual(self):
        """Only the results made by a person."""
        return self.worker_run is False or self.worker_version is False

    def run_conditions(self):
        """Lookups on worker runs for the filters that select runs, or an empty dict."""
        conditions = {}
        if self.worker_version:
            conditions["version_id"] = self.worker_version
        for name in ("model_version", "configuration"):
            value = getattr(self, name)
            if value is False:
                conditions[f"{name}__isnull"] = True
            elif value is not None:
                conditions[f"{name}_id"] = value
        return conditions

    def runs_subquery(self, corpus_ref):
        """
        The ids of the runs selected by version, model version and configuration that may sign
        results in the outer query's corpus (`corpus_ref`), as a list; None without such filters.
        """
        conditions = self.run_conditions()
        if not conditions:
            return None
        runs = worker_run_model().objects.filter(
            Q(process__corpus_id=OuterRef(corpus_ref)) | Q(process__mode=LOCAL_MODE), **conditions
        )
        return ArraySubquery(runs.order_by().values("id"))

    def filter(self, queryset, runs=None, *, field="worker_run"):
        """
        Filter results signed through `field`. `runs` are the ids fetched with `runs_subquery`;
        without them the runs are selected by a subquery (same rows, estimated less well).
        """
        if self.manual:
            queryset = queryset.filter(**{f"{field}__isnull": True})
        if self.worker_run:
            queryset = queryset.filter(**{f"{field}_id": self.worker_run})
        conditions = self.run_conditions()
        if conditions:
            if runs is None:
                runs = worker_run_model().objects.filter(**conditions).values("id")
            queryset = queryset.filter(**{f"{field}_id__in": runs})
        return queryset
