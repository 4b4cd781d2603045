"""
The two calls a running task makes for every element it processes: StartWorkerActivity, and
UpdateWorkerActivity for its own worker run. Routed, checked and answered by Django as any other
request (the URLconf, the host and security checks, CORS, the middlewares' headers), they skip
DRF's dispatch when they succeed: each is one statement, prepared by the driver
(`arkindex.prepared`), that authenticates the token, checks what the API's view checks, and takes
or moves the activity.

Only the plain success is answered here; whenever the statement changes nothing (unknown or ended
task, inactive creator, process not ready, another worker run, empty queue, forbidden transition)
or the request is anything else (a user token, an answer format other than JSON, a body that is not
the JSON object the API expects), the request goes on to the API's view in
`processes.api.activity_views`, which gives the answer and the error message; a statement that
changed nothing may run again there. `ACTIVITY_FAST_PATH=false` sends every call to those views;
tests compare the two answer for answer.
"""

import json
import logging
import uuid

from django.conf import settings
from django.db import InterfaceError, OperationalError, connection
from django.http import HttpResponse
from django.views.decorators.csrf import csrf_exempt

from arkindex.api.renderers import JSONRenderer
from arkindex.prepared import Statement
from ponos.authentication import ACTIVE_TASK_STATES
from ponos.models import Task
from processes.api.activity_views import StartWorkerActivity, UpdateWorkerActivity
from processes.models import ActivityState, Process
from processes.services import activities
from users.models import User

logger = logging.getLogger(__name__)

# Larger bodies are not activity reports: the API's view answers them.
MAX_BODY = 4096
JSON_MEDIA_RANGES = {"*/*", "application/*", "application/json"}

# The worker run and process of a running task by its token, if its process's creator is active
# and the process's activities are ready: what TaskAuthentication and the views check.
CALLER_SQL = f"""
    SELECT task.id, task.worker_run_id, task.process_id
    FROM {Task._meta.db_table} AS task
    JOIN {Process._meta.db_table} AS process ON process.id = task.process_id
    JOIN {User._meta.db_table} AS creator ON creator.id = process.creator_id
    WHERE task.token = %(token)s
    AND task.state IN ({", ".join(f"'{state}'" for state in ACTIVE_TASK_STATES)})
    AND creator.is_active
    AND process.activity_state = '{ActivityState.Ready}'
"""

START = Statement(
    activities.start_sql(
        f"SELECT worker_run_id FROM ({CALLER_SQL}) AS caller", f"SELECT id FROM ({CALLER_SQL}) AS caller"
    )
)
# Only the task's own worker run, in the process the body names.
UPDATE = Statement(
    activities.update_sql(
        f"SELECT worker_run_id FROM ({CALLER_SQL}) AS caller "
        "WHERE caller.worker_run_id = %(run)s::uuid AND caller.process_id = %(process)s::uuid",
        f"SELECT id FROM ({CALLER_SQL}) AS caller",
    )
)

start_view = StartWorkerActivity.as_view()
update_view = UpdateWorkerActivity.as_view()


def documented_as(view_class):
    """
    The operation of `view_class` in the schema (drf-spectacular reads `cls`, as DRF's `as_view`
    sets it) and for the task operations of `ponos.task_operations`; exempt from Django's CSRF
    check like DRF's views, whose authentication enforces it for sessions.
    """

    def decorate(view):
        view.cls, view.initkwargs = view_class, {}
        return csrf_exempt(view)

    return decorate


def task_token(request):
    """The token of a task calling with `Ponos <token>` for a JSON answer, or None: the API's view answers."""
    if not settings.ACTIVITY_FAST_PATH:
        return None
    parts = request.META.get("HTTP_AUTHORIZATION", "").split()
    if len(parts) != 2 or parts[0].lower() != "ponos":
        return None
    accept = request.META.get("HTTP_ACCEPT")
    if accept and not any(media.split(";")[0].strip() in JSON_MEDIA_RANGES for media in accept.split(",")):
        return None
    return parts[1]


def run(statement, values, result):
    """
    `result(cursor)` of the statement, run without the `SELECT 1` that checks a kept connection
    first; None when the connection fails: it is closed, and the API's view, which runs next,
    opens another and gives the answer.
    """
    try:
        with statement.execute(values, check_health=False) as cursor:
            return result(cursor)
    except (InterfaceError, OperationalError) as error:
        logger.warning("Activity statement failed, the API's view answers: %s: %s", type(error).__name__, error)
        if not connection.in_atomic_block:
            connection.close()
        return None


def answer(view_class, body):
    """The headers DRF gives the same success: its `Allow` and `Vary`, and no content type for an empty body."""
    response = HttpResponse(body, content_type="application/json")
    if not body:
        del response["Content-Type"]
    for name, value in view_class().default_response_headers.items():
        response[name] = value
    return response


@documented_as(StartWorkerActivity)
def start_worker_activity(request):
    token = task_token(request)
    if token is not None and request.method == "POST":
        row = run(START, {"token": token}, lambda cursor: cursor.fetchone())
        if row is not None:
            element_id, type_id, name = row
            body = JSONRenderer().render({"id": str(element_id), "type_id": str(type_id), "name": name})
            return answer(StartWorkerActivity, body)
    return start_view(request)


@documented_as(UpdateWorkerActivity)
def update_worker_activity(request, pk):
    token = task_token(request)
    report = report_of(request) if token is not None and request.method == "PUT" else None
    if report is not None:
        process_id, values = report
        values = {**values, "token": token, "run": str(pk), "process": str(process_id)}
        if run(UPDATE, values, lambda cursor: cursor.rowcount == 1):
            return answer(UpdateWorkerActivity, b"")
    return update_view(request, pk=pk)


def report_of(request):
    """`(process id, statement values)` of a plain report's body, or None for the API's view to judge it."""
    try:
        if request.content_type != "application/json" or int(request.META.get("CONTENT_LENGTH") or 0) > MAX_BODY:
            return None
        data = json.loads(request.body)
        values = activities.update_values(element_id=uuid.UUID(data["element_id"]), state=data["state"])
        return None if values is None else (uuid.UUID(data["process_id"]), values)
    except (ValueError, TypeError, KeyError, AttributeError):
        return None
