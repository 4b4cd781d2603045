"""
The console's pages of what processes are made of: workers, their versions and configurations,
models and their versions, worker runs (the user's own, and the details of any they can read),
datasets. Each reads through the selectors the API reads through; forms post to the API.
"""

import uuid

from django.http import Http404
from django.views.generic import TemplateView
from rest_framework.exceptions import NotFound, PermissionDenied

from console.views import ConsolePage, error_messages, paginate
from datasets.services import dataset_elements, datasets_with_level, get_dataset
from documents.selectors import corpora_for_user
from processes.selectors import readable_worker_runs, user_worker_runs
from users.models import Role
from workers.api.filters import WorkerFilterSet
from workers.configuration import fields_of, static_configuration
from workers.models import WorkerConfiguration, WorkerVersion
from workers.selectors import get_worker, get_worker_version, readable_worker_types, readable_workers
from workers.services.ml_models import get_model, readable_models, visible_versions

VERSIONS_SHOWN = 50
DATASET_PAGE_SIZE = 50
RUN_RELATIONS = ("version__worker__type", "model_version__model", "configuration")


def filtered_workers(request):
    """The workers the user can see, filtered as ListWorkers filters them (type, name), with the page and its errors."""
    filters = WorkerFilterSet(request.GET, queryset=readable_workers(request.user).order_by("name", "id"))
    valid = filters.is_valid()
    page, query = paginate(request, filters.qs if valid else filters.queryset.none())
    return {
        "workers": page,
        "query": query,
        "filter_errors": [] if valid else error_messages(filters.errors),
        "worker_types": list(readable_worker_types(request.user).values_list("slug", flat=True)),
        "filtered": any(request.GET.get(name) for name in ("type", "name", "local")),
    }


class WorkerRunList(ConsolePage, TemplateView):
    """The user's worker runs and the seed's flow to create one: a local worker, a version, a run."""

    template_name = "console/worker_runs.html"

    def get_context_data(self, **kwargs):
        request = self.request
        runs = list(user_worker_runs(request.user).select_related(*RUN_RELATIONS))
        context = {**super().get_context_data(**kwargs), **filtered_workers(request), "runs": runs}
        created = request.GET.get("created")
        context["created_run"] = next((run for run in runs if str(run.id) == created), None)
        worker_id = request.GET.get("worker")
        if worker_id:
            worker = None
            try:
                worker = get_worker(request.user, uuid.UUID(worker_id), Role.GUEST, "see its versions")
            except ValueError:
                context["worker_error"] = f"'{worker_id}' is not a worker ID: choose a worker in the list."
            except (NotFound, PermissionDenied) as error:
                # A worker that is gone (or hidden) leaves the rest of the page usable.
                context["worker_error"] = str(error.detail)
            if worker is not None:
                used = {run.version_id for run in runs}
                versions = list(worker.versions.order_by("-version", "-created")[:VERSIONS_SHOWN])
                for version in versions:
                    version.has_user_run = version.id in used
                context.update({"worker": worker, "versions": versions})
        return context


class WorkerRunDetail(ConsolePage, TemplateView):
    """What produced a result: the worker version, model version, configuration and process of a worker run."""

    template_name = "console/worker_run.html"

    def get_context_data(self, **kwargs):
        run = (
            readable_worker_runs(self.request.user)
            .select_related(*RUN_RELATIONS, "process__corpus")
            .filter(pk=kwargs["pk"])
            .first()
        )
        if run is None:
            raise Http404(f"Worker run {kwargs['pk']} not found.")
        return {**super().get_context_data(**kwargs), "run": run}


class WorkerList(ConsolePage, TemplateView):
    template_name = "console/workers.html"

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), **filtered_workers(self.request)}


WORKER_TABS = ("versions", "configurations", "archived")


class WorkerDetail(ConsolePage, TemplateView):
    """A worker, with its versions, its configurations and, in a tab of their own, its archived ones."""

    template_name = "console/worker.html"

    def get_context_data(self, **kwargs):
        worker = get_worker(self.request.user, kwargs["pk"], Role.GUEST, "see it")
        tab = self.request.GET.get("tab")
        tab = tab if tab in WORKER_TABS else "versions"
        context = {**super().get_context_data(**kwargs), "worker": worker, "tab": tab, "tabs": WORKER_TABS}
        if tab == "versions":
            versions = WorkerVersion.objects.filter(worker=worker).order_by("-version", "-created")
            context["page"], context["query"] = paginate(self.request, versions)
        else:
            configurations = WorkerConfiguration.objects.filter(worker=worker, archived=tab == "archived")
            context["page"], context["query"] = paginate(self.request, configurations.order_by("name", "id"))
        context["is_worker_admin"] = worker.max_level >= Role.ADMIN
        return context


class WorkerVersionDetail(ConsolePage, TemplateView):
    template_name = "console/worker_version.html"

    def get_context_data(self, **kwargs):
        version = get_worker_version(self.request.user, kwargs["pk"], Role.GUEST, "see it")
        return {
            **super().get_context_data(**kwargs),
            "version": version,
            "fields": sorted(fields_of(version.configuration).items()),
            "static": sorted(static_configuration(version.configuration).items()),
            "docker": (version.configuration or {}).get("docker") or {},
        }


class ModelList(ConsolePage, TemplateView):
    template_name = "console/models.html"

    def get_context_data(self, **kwargs):
        queryset = readable_models(self.request.user).order_by("name", "id")
        name = self.request.GET.get("name", "").strip()
        if name:
            queryset = queryset.filter(name__icontains=name)
        page, query = paginate(self.request, queryset)
        return {**super().get_context_data(**kwargs), "models": page, "query": query, "name": name}


class ModelDetail(ConsolePage, TemplateView):
    template_name = "console/model.html"

    def get_context_data(self, **kwargs):
        model = get_model(user=self.request.user, model_id=kwargs["pk"])
        page, query = paginate(self.request, visible_versions(model).order_by("-created", "id"))
        return {**super().get_context_data(**kwargs), "model": model, "versions": page, "query": query}


class DatasetList(ConsolePage, TemplateView):
    template_name = "console/datasets.html"

    def get_context_data(self, **kwargs):
        corpora = corpora_for_user(self.request.user).values("id")
        datasets = datasets_with_level(self.request.user).filter(corpus__in=corpora).select_related("corpus")
        page, query = paginate(self.request, datasets.order_by("corpus__name", "name", "id"))
        return {**super().get_context_data(**kwargs), "datasets": page, "query": query}


class DatasetDetail(ConsolePage, TemplateView):
    """A dataset's sets, and the elements of the chosen one (the first by default)."""

    template_name = "console/dataset.html"

    def get_context_data(self, **kwargs):
        dataset = get_dataset(self.request.user, kwargs["pk"])
        sets = dataset.set_list or []
        chosen = self.request.GET.get("set") or (sets[0]["name"] if sets else None)
        current = next((item for item in sets if item["name"] == chosen), None)
        context = {**super().get_context_data(**kwargs), "dataset": dataset, "sets": sets, "current": current}
        if chosen is not None and current is None:
            context["set_error"] = f"This dataset has no set named '{chosen}': choose one of its sets."
        if current is not None:
            elements = (
                dataset_elements(dataset)
                .filter(set_id=current["id"])
                .select_related("element__type", "element__image")
                .order_by("element__name", "element_id")
            )
            context["page"], context["query"] = paginate(self.request, elements, DATASET_PAGE_SIZE)
        return context
