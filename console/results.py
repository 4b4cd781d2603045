"""
The page that deletes worker results: the choices come from the worker runs that can have results on
the project; the form asks DestroyWorkerResults for a dry run first, then for the deletion.
"""

import uuid

from django.db.models import Q
from django.views.generic import TemplateView

from console.views import ConsolePage
from documents.models import Element
from documents.selectors import corpora_for_user
from processes.models import ProcessMode
from processes.selectors import readable_worker_runs
from users.models import Role

RUNS_LIMIT = 500


def distinct_by_id(objects):
    seen = {}
    for item in objects:
        if item is not None:
            seen.setdefault(item.id, item)
    return list(seen.values())


class DeleteResults(ConsolePage, TemplateView):
    template_name = "console/delete_results.html"

    def get_context_data(self, **kwargs):
        user = self.request.user
        corpora = list(corpora_for_user(user, Role.ADMIN).order_by("name", "id").values_list("id", "name"))
        context = {**super().get_context_data(**kwargs), "corpora": corpora}
        element = None
        element_id = self.request.GET.get("element")
        if element_id:
            try:
                element = (
                    Element.objects.filter(corpus__in=[pk for pk, _ in corpora], pk=uuid.UUID(element_id))
                    .select_related("type")
                    .first()
                )
            except ValueError:
                element = None
            if element is None:
                context["element_error"] = (
                    f"No element {element_id} on a project you administer: "
                    "results are deleted by the administrators of the element's project."
                )
        corpus_id = str(element.corpus_id) if element else self.request.GET.get("corpus")
        corpus = next(((pk, name) for pk, name in corpora if str(pk) == corpus_id), None)
        if corpus_id and corpus is None and element is None:
            context["corpus_error"] = "Choose one of the projects you administer."
        if corpus is None:
            return context
        runs = list(
            readable_worker_runs(user)
            .filter(Q(process__corpus_id=corpus[0]) | Q(process__mode=ProcessMode.Local))
            .select_related("version__worker", "model_version__model", "configuration", "process")
            .order_by("-created", "id")[:RUNS_LIMIT]
        )
        return {
            **context,
            "corpus": {"id": corpus[0], "name": corpus[1]},
            "element": element,
            "runs": runs,
            "versions": sorted(distinct_by_id(run.version for run in runs), key=lambda v: (v.worker.name, -v.version)),
            "model_versions": sorted(distinct_by_id(run.model_version for run in runs), key=lambda m: m.model.name),
            "configurations": sorted(distinct_by_id(run.configuration for run in runs), key=lambda c: c.name),
        }
