"""
Deleting worker results (DestroyWorkerResults): every result that some worker runs signed on a
corpus, picked by worker run, worker version, model version (or the lack of one) and configuration
(or the lack of one), optionally under an element or the user's selection. The request checks the
filters and answers at once; an RQ job deletes, with set-based SQL (see
`documents.services.results.worker_results_delete`), so that a million results cost a few
statements. Results of the other worker runs, and those made by hand, stay.
"""

import logging
from dataclasses import asdict, dataclass

from django.db import transaction
from django.db.models import BooleanField, ExpressionWrapper, Q
from rest_framework.exceptions import ValidationError

from arkindex.api.exceptions import Conflict
from arkindex.jobs import enqueue_job
from documents.models import Element, Selection
from documents.provenance import ProvenanceFilter
from documents.services.results import worker_results_delete as delete_results
from processes.models import FINAL_PROCESS_STATES, ProcessMode, WorkerRun
from workers.models import ModelVersion, WorkerConfiguration, WorkerVersion

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ResultFilters:
    """Which worker runs' results go. `False` for a model version or configuration means "none"."""

    worker_run_id: str | None = None
    worker_version_id: str | None = None
    model_version_id: str | bool | None = None
    configuration_id: str | bool | None = None

    def described(self):
        """Each filter in words, as the job of a deletion shows them to its user."""
        for name, value in asdict(self).items():
            label = name.removesuffix("_id").replace("_", " ")
            if value is False:
                yield f"no {label}"
            elif value is not None:
                yield f"{label} {value}"

    def runs(self, corpus_id):
        """
        The matching runs that can have results on the corpus: those of its processes and users'
        worker runs, which sign anywhere. Runs are picked like the provenance filters of the lists.
        """
        provenance = ProvenanceFilter(
            worker_version=self.worker_version_id,
            model_version=self.model_version_id,
            configuration=self.configuration_id,
        )
        queryset = WorkerRun.objects.filter(
            Q(process__corpus_id=corpus_id) | Q(process__mode=ProcessMode.Local), **provenance.run_conditions()
        )
        if self.worker_run_id:
            queryset = queryset.filter(id=self.worker_run_id)
        return queryset

    def runs_sql(self, corpus_id):
        """
        The same runs as SQL with its parameters, each with `bound`: whether it belongs to a process of
        this corpus, so that its results can only be here.
        """
        bound = ExpressionWrapper(
            Q(process__corpus_id=corpus_id) & ~Q(process__mode=ProcessMode.Local), output_field=BooleanField()
        )
        return self.runs(corpus_id).annotate(bound=bound).order_by().values("id", "bound").query.sql_with_params()


def check_filters(*, corpus, filters, element_id=None, use_selection=False, user=None):
    """
    Refuse filters naming objects that do not exist (400 on the field), a worker run mixed with
    other run filters, an element outside the corpus, and a deletion while one of the matching
    runs' processes still runs (409). Returns the element ids of the scope, or None for the corpus.
    """
    if filters.worker_run_id and any(
        value is not None for value in (filters.worker_version_id, filters.model_version_id, filters.configuration_id)
    ):
        message = "A worker run already names its version, model version and configuration: send it alone."
        raise ValidationError({"worker_run_id": [message]})
    for field, model, value in (
        ("worker_run_id", WorkerRun, filters.worker_run_id),
        ("worker_version_id", WorkerVersion, filters.worker_version_id),
        ("model_version_id", ModelVersion, filters.model_version_id),
        ("configuration_id", WorkerConfiguration, filters.configuration_id),
    ):
        if value and not model.objects.filter(pk=value).exists():
            raise ValidationError({field: [f"No {model._meta.verbose_name} {value}."]})
    if not filters.runs(corpus.id).exists():
        # A run, version, model version or configuration of other projects only: nothing to delete here.
        field = next(
            (
                name
                for name in ("worker_run_id", "worker_version_id", "model_version_id", "configuration_id")
                if getattr(filters, name) is not None
            ),
            "worker_run_id",
        )
        label = field.removesuffix("_id").replace("_", " ")
        raise ValidationError({field: [f"No worker run of this project matches this {label}: it has no results here."]})

    scope = None
    if element_id and use_selection:
        raise ValidationError({"use_selection": ["Delete under an element or under the selection, not both."]})
    if element_id:
        if not Element.objects.filter(pk=element_id, corpus_id=corpus.id).exists():
            raise ValidationError({"element_id": [f"Element {element_id} is not in this project."]})
        scope = [element_id]
    elif use_selection:
        scope = list(
            Selection.objects.filter(user=user, element__corpus_id=corpus.id).values_list("element_id", flat=True)
        )
        if not scope:
            raise ValidationError({"use_selection": ["No element of this project is selected."]})

    running = (
        filters.runs(corpus.id)
        .with_process_state()
        .filter(process__started__isnull=False)
        .exclude(process_state_value__in=FINAL_PROCESS_STATES)
        .values_list("process_id", flat=True)
        .first()
    )
    if running:
        raise Conflict(
            f"Process {running} is still running with these worker runs: "
            "wait for it to end, or stop it, before deleting their results."
        )
    return scope


def worker_results_destroy(*, corpus, filters, scope=None, user=None):
    """Record the deletion as a durable job (`arkindex.jobs`), run once the caller's transaction commits."""
    chosen = ", ".join(filters.described())
    where = f"under {len(scope)} element(s) of" if scope is not None else "in"
    return enqueue_job(
        "processes.jobs.worker_results_delete",
        str(corpus.id),
        asdict(filters),
        [str(element_id) for element_id in scope] if scope is not None else None,
        description=f"Delete the worker results of {chosen} {where} corpus {corpus.name}",
        user=user,
    )


def worker_results_delete(*, corpus_id, filters, scope=None):
    """Delete the results (see the module's docstring); returns the number of rows deleted per kind."""
    sql, params = filters.runs_sql(corpus_id)
    counts = delete_results(corpus_id=corpus_id, runs_sql=sql, runs_params=params, scope_ids=scope)
    described = ", ".join(f"{count} {name}" for name, count in counts.items() if count) or "nothing"
    logger.info("Deleted worker results on corpus %s (%s): %s", corpus_id, filters, described)
    return counts


def worker_results_dry_run(*, corpus_id, filters, scope=None):
    """
    What `worker_results_delete` would delete, per kind of result, without deleting anything: the
    deletion itself runs in a transaction that is rolled back, so the figures come from the very
    statements a deletion would run and cannot drift from them.
    """
    sql, params = filters.runs_sql(corpus_id)
    with transaction.atomic():
        counts = delete_results(corpus_id=corpus_id, runs_sql=sql, runs_params=params, scope_ids=scope)
        transaction.set_rollback(True)
    return counts
