"""
The console's pages. Each reads through the same selectors as the API (so the same rights) and
acts through the same services (so the same rules and messages); a refusal of a service is shown
on the page as the API would word it.
"""

import uuid

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.paginator import Paginator
from django.db.models import Prefetch
from django.http import Http404
from django.shortcuts import redirect
from django.urls import reverse
from django.views import View
from django.views.generic import TemplateView
from rest_framework.exceptions import APIException, NotFound, PermissionDenied

from console.forms import configuration_fields, worker_run_choices
from documents.models import Classification, MetaData, Transcription
from documents.selectors import corpora_for_user, element_children, get_element
from ponos import services as ponos_services
from ponos.models import Artifact, Task
from ponos.selectors import agents_queryset, running_tasks_prefetch
from ponos.services import tasks as task_services
from processes.api.process_filters import ProcessFilterSet
from processes.models import FINAL_PROCESS_STATES, ActivityState, ProcessMode, ProcessState, WorkerRun
from processes.selectors import listable_processes, process_for_user, processes_with_level, readable_worker_runs
from processes.services.activities import activity_statistics
from processes.services.worker_runs import CONFIGURABLE_MODES
from users.models import Role

PAGE_SIZE = 20
CHILDREN_SHOWN = 100


def paginate(request, queryset, size=PAGE_SIZE):
    """The requested page of `queryset`, and the request's query without its page (for the page links)."""
    page = Paginator(queryset, size).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return page, query.urlencode()


def error_messages(detail):
    """The messages of a refusal (a DRF error's detail: a string, a list or fields to lists), one per line."""
    if isinstance(detail, dict):
        return [
            message if field in ("detail", "non_field_errors") else f"{field}: {message}"
            for field, value in detail.items()
            for message in error_messages(value)
        ]
    if isinstance(detail, list):
        return [message for value in detail for message in error_messages(value)]
    return [str(detail)]


class ConsolePage(LoginRequiredMixin):
    """A page for signed-in people; the API's 404 and 403 become the site's own pages."""

    def dispatch(self, request, *args, **kwargs):
        try:
            return super().dispatch(request, *args, **kwargs)
        except NotFound as error:
            raise Http404(str(error.detail)) from None
        except PermissionDenied as error:
            raise DjangoPermissionDenied(str(error.detail)) from None


class ProcessList(ConsolePage, TemplateView):
    template_name = "console/processes.html"

    def get_context_data(self, **kwargs):
        user = self.request.user
        queryset = listable_processes(user).select_related("creator", "corpus").with_state().order_by("-created", "-id")
        filters = ProcessFilterSet(self.request.GET, queryset=queryset, request=self.request)
        valid = filters.is_valid()
        processes = filters.qs if valid else queryset.none()
        page, query = paginate(self.request, processes)
        corpora = list(corpora_for_user(user).order_by("name", "id").values_list("id", "name", "max_level"))
        return {
            **super().get_context_data(**kwargs),
            "page": page,
            "filters": filters,
            "filter_errors": [] if valid else error_messages(filters.errors),
            "query": query,
            "modes": ProcessMode.choices,
            "states": ProcessState.choices,
            "corpora": corpora,
            "creatable_on": [(pk, name) for pk, name, level in corpora if level >= Role.CONTRIBUTOR],
            "filtered": any(self.request.GET.get(name) for name in filters.filters),
        }


def process_page_context(user, pk):
    """The process, its last run's tasks by depth, its worker runs and their activity statistics."""
    queryset = processes_with_level(user).select_related("corpus", "creator", "farm", "element", "template")
    process = process_for_user(user, pk, queryset=queryset.with_state())
    tasks = list(
        ponos_services.process_run_tasks(process.id)
        .select_related("agent", "gpu", "worker_run__version__worker", "worker_run__model_version__model")
        .prefetch_related(Prefetch("artifacts", queryset=Artifact.objects.order_by("path")))
    )
    depths = {}
    for task in tasks:
        depths.setdefault(task.depth, []).append(task)
    worker_runs = list(
        WorkerRun.objects.filter(process=process)
        .select_related("version__worker", "model_version__model", "configuration")
        .order_by("created", "id")
    )
    summaries = {run.id: run.summary for run in worker_runs}
    for run in worker_runs:
        run.parent_summaries = [summaries.get(parent, str(parent)) for parent in run.parents]
    final = process.state in FINAL_PROCESS_STATES
    statistics = []
    if process.started is not None and process.activity_state != ActivityState.Disabled:
        statistics = activity_statistics(process.id, finished=final)
        for row in statistics:
            total = row["queued"] + row["started"] + row["processed"] + row["error"]
            row["total"] = total
            row["percent"] = round(100 * (row["processed"] + row["error"]) / total) if total else 0
    can_act = process.level >= Role.CONTRIBUTOR
    # A template's table is applied to other processes, never edited on its own page (seed 002).
    editable = (
        can_act
        and process.started is None
        and process.mode in CONFIGURABLE_MODES
        and process.mode != ProcessMode.Template
    )
    choices = worker_run_choices(user) if editable else {}
    versions = {run.version_id: run.version for run in worker_runs}
    return {
        **choices,
        "configuration_forms": [
            {"version": version, "fields": configuration_fields(version)} for version in versions.values()
        ]
        if editable
        else [],
        "process": process,
        "depths": sorted(depths.items()),
        "tasks": tasks,
        "worker_runs": worker_runs,
        "statistics": statistics,
        "live": process.started is not None and not final,
        "can_act": can_act,
        "editable": editable,
    }


class ProcessDetail(ConsolePage, TemplateView):
    """The status, configuration and activities of a process; `?part=live` is the part that updates itself."""

    def get_template_names(self):
        if self.request.GET.get("part") == "live":
            return ["console/process_live.html"]
        return ["console/process.html"]

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), **process_page_context(self.request.user, kwargs["pk"])}


def restart_task(process, request):
    try:
        task_id = uuid.UUID(request.POST.get("task", ""))
    except ValueError:
        task_id = None
    task = Task.objects.filter(process=process, pk=task_id).first() if task_id else None
    if task is None:
        raise NotFound("This task is not one of the process's.")
    task_services.task_restart(task)
    return f"Task {task.slug} runs again."


# action: (what the rights check names, what it does, what the page says once done)
PROCESS_ACTIONS = {
    "start": (
        "start it",
        lambda process, request: ponos_services.process_start(process=process),
        "The process started.",
    ),
    "stop": (
        "stop it",
        lambda process, request: ponos_services.process_stop(process=process),
        "The process is stopping.",
    ),
    "retry": (
        "retry it",
        lambda process, request: ponos_services.process_retry(process=process),
        "The process runs again.",
    ),
    "restart-task": ("restart its tasks", restart_task, None),
}


class ProcessAction(ConsolePage, View):
    """Start, stop or retry a process, restart one of its tasks: the services StartProcess… call."""

    http_method_names = ["post"]

    def post(self, request, pk, action):
        if action not in PROCESS_ACTIONS:
            raise Http404(f"No action {action!r} on a process.")
        what, act, done = PROCESS_ACTIONS[action]
        process = process_for_user(request.user, pk, Role.CONTRIBUTOR, action=what)
        try:
            outcome = act(process, request)
        except (NotFound, PermissionDenied):
            raise
        except APIException as error:
            for message in error_messages(error.detail):
                messages.error(request, message)
        else:
            messages.success(request, done or outcome)
        return redirect(reverse("console:process", kwargs={"pk": pk}))


class ElementDetail(ConsolePage, TemplateView):
    template_name = "console/element.html"

    def get_context_data(self, **kwargs):
        user = self.request.user
        element = get_element(user, kwargs["pk"], for_listing=True)
        all_children = element_children(element)
        children = all_children.select_related("type", "worker_run").order_by("position", "id")
        run_filter = self.request.GET.get("worker_run") or ""
        run_filter_error = None
        if run_filter == "none":
            children = children.filter(worker_run__isnull=True)
        elif run_filter:
            try:
                children = children.filter(worker_run_id=uuid.UUID(run_filter))
            except ValueError:
                run_filter_error = f"'{run_filter}' is not a worker run ID: choose one in the list."
                children = children.none()
        children_runs = (
            all_children.filter(worker_run__isnull=False)
            .order_by("worker_run__summary", "worker_run_id")
            .values_list("worker_run_id", "worker_run__summary")
            .distinct()
        )
        run_details = None
        if element.worker_run_id:
            run_details = (
                readable_worker_runs(user)
                .select_related("version__worker", "model_version__model", "configuration", "process")
                .filter(pk=element.worker_run_id)
                .first()
            )
        return {
            **super().get_context_data(**kwargs),
            "element": element,
            "children": list(children[:CHILDREN_SHOWN]),
            "children_limit": CHILDREN_SHOWN,
            "run_filter": run_filter,
            "run_filter_error": run_filter_error,
            "children_runs": list(children_runs),
            "run_details": run_details,
            "transcriptions": Transcription.objects.filter(element=element)
            .select_related("worker_run")
            .order_by("created", "id"),
            "classifications": Classification.objects.filter(element=element)
            .select_related("ml_class", "worker_run")
            .order_by("ml_class__name", "id"),
            "metadata": MetaData.objects.filter(element=element).select_related("worker_run").order_by("name", "id"),
        }


class AgentList(ConsolePage, TemplateView):
    """The agents, for instance administrators (as ListAgents)."""

    template_name = "console/agents.html"

    def get_context_data(self, **kwargs):
        if not self.request.user.is_admin:
            raise PermissionDenied("Only instance administrators can see the agents.")
        agents = agents_queryset().prefetch_related(running_tasks_prefetch())
        return {**super().get_context_data(**kwargs), "agents": list(agents)}
