"""
The two calls a running task makes for every element it processes, StartWorkerActivity and
UpdateWorkerActivity for its own worker run, answered in front of Django when they succeed.

Through Django, each call costs a request object, the middlewares, URL resolution, DRF's
dispatch, a query authenticating the token and one doing the work: most of the server's time
when many tasks consume their queues. Here each is one statement (prepared once per
database connection, see `arkindex.prepared`) that authenticates the token, checks everything the
API checks, and takes or moves the activity; the answer is what the API's view would answer.

Only success is answered here. Whenever the statement changes nothing (unknown or finished task,
inactive creator, process not ready, another worker run, empty queue, forbidden transition), or
the request is anything but the plain case (another path or method, a user token, a CORS request,
a body that is not the JSON object the API expects, a host or scheme Django would refuse or
redirect, a database error), the request goes on to Django unchanged, body included, and its
views give the answer and the error message. A statement that changed nothing may run again
there. So the API behaves the same with or without this path (`ACTIVITY_FAST_PATH=false` turns it
off); tests compare the two answer for answer.
"""

import io
import json
import logging
import re
import uuid

from django.conf import settings
from django.core import signals
from django.core.exceptions import DisallowedHost
from django.core.handlers.wsgi import WSGIRequest
from django.db import DatabaseError, connection
from rest_framework.renderers import JSONRenderer
from rest_framework.settings import api_settings

from arkindex.prepared import Statement
from ponos.authentication import ACTIVE_TASK_STATES
from ponos.models import Task
from processes.models import ActivityState, Process
from processes.services import activities
from users.models import User

logger = logging.getLogger(__name__)

START_PATH = "/api/v1/process/start-activity/"
UPDATE_PATH = re.compile(r"^/api/v1/workers/versions/(?P<run>[0-9a-fA-F-]{32,36})/activity/$")
# Larger bodies are not activity reports: Django answers them.
MAX_BODY = 4096

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
    "ponos_fast_start_activity",
    activities.start_sql(
        f"SELECT worker_run_id FROM ({CALLER_SQL}) AS caller", f"SELECT id FROM ({CALLER_SQL}) AS caller"
    ),
)
# Only the task's own worker run, in the process the body names.
UPDATE = Statement(
    "ponos_fast_update_activity",
    activities.update_sql(
        f"SELECT worker_run_id FROM ({CALLER_SQL}) AS caller "
        "WHERE caller.worker_run_id = %(run)s::uuid AND caller.process_id = %(process)s::uuid",
        f"SELECT id FROM ({CALLER_SQL}) AS caller",
    ),
)


class PassOn(Exception):
    """The request is Django's to answer."""


class TaskActivityFastPath:
    """WSGI application answering successful activity calls of tasks, passing everything else to `application`."""

    def __init__(self, application):
        self.application = application

    def __call__(self, environ, start_response):
        route = self.route(environ)
        if route is None:
            return self.application(environ, start_response)
        signals.request_started.send(sender=self.__class__, environ=environ)
        # No `SELECT 1` before the statement (CONN_HEALTH_CHECKS): if the kept connection is dead,
        # the statement fails and the request goes on to Django, whose check replaces it.
        connection.health_check_done = True
        try:
            request = WSGIRequest(environ)
            try:
                body = route(request, self.token(request))
            except (PassOn, DisallowedHost):
                body = None
            except DatabaseError as error:
                # Django runs the request again and reports what fails there; this says the fast
                # path itself is failing, where it would otherwise only seem slower.
                logger.warning("Activity fast path: %s: %s", type(error).__name__, error)
                body = None
            finally:
                # Django reads the body again when it answers.
                if "_body" in request.__dict__:
                    environ["wsgi.input"] = io.BytesIO(request._body)
        finally:
            signals.request_finished.send(sender=self.__class__)
        if body is None:
            return self.application(environ, start_response)
        start_response("200 OK", response_headers(request, body))
        return [body]

    def route(self, environ):
        """
        What answers a task's activity call: a function of the request and its token giving the body
        of the 200 the API would answer, having done what it would do, or raising PassOn. None for
        any other request, which goes to Django at once.
        """
        if environ.get("HTTP_AUTHORIZATION", "")[:6].lower() != "ponos ":
            return None
        method, path = environ.get("REQUEST_METHOD"), environ.get("PATH_INFO", "")
        if method == "POST" and path == START_PATH:
            return self.start
        if method == "PUT":
            match = UPDATE_PATH.match(path)
            if match:
                return lambda request, token: self.update(request, token, match.group("run"))
        return None

    def token(self, request):
        parts = request.META["HTTP_AUTHORIZATION"].split()
        if len(parts) != 2 or request.META.get("HTTP_ORIGIN"):
            raise PassOn
        host = request.get_host()  # DisallowedHost: Django answers 400
        if settings.SECURE_SSL_REDIRECT and not request.is_secure():
            raise PassOn
        user_agent = request.META.get("HTTP_USER_AGENT")
        if user_agent and any(pattern.search(user_agent) for pattern in settings.DISALLOWED_USER_AGENTS):
            raise PassOn
        if settings.PREPEND_WWW and host and not host.startswith("www."):
            raise PassOn
        return parts[1]

    def start(self, request, token):
        with connection.cursor() as cursor:
            START.execute(cursor, {"token": token})
            row = cursor.fetchone()
        if row is None:
            raise PassOn
        element_id, type_id, name = row
        return JSONRenderer().render({"id": str(element_id), "type_id": str(type_id), "name": name})

    def update(self, request, token, run_id):
        try:
            if request.content_type != "application/json" or int(request.META.get("CONTENT_LENGTH") or 0) > MAX_BODY:
                raise PassOn
            data = json.loads(request.body)
            values = activities.update_values(element_id=uuid.UUID(data["element_id"]), state=data["state"])
            process_id = uuid.UUID(data["process_id"])
            run_id = uuid.UUID(run_id)
        except (ValueError, TypeError, KeyError, AttributeError):
            raise PassOn from None
        if values is None:
            raise PassOn
        with connection.cursor() as cursor:
            UPDATE.execute(cursor, {**values, "token": token, "run": str(run_id), "process": str(process_id)})
            if cursor.rowcount != 1:
                raise PassOn
        return b""


def response_headers(request, body):
    """
    The headers Django gives the same successful answer: DRF's content type, `Vary` and `Allow`, and
    what the middlewares add (security headers, frame options, CORS's `Vary`).
    """
    # DRF varies on Accept when it could answer in several formats (the browsable API, in DEBUG).
    vary = "Accept, origin" if len(api_settings.DEFAULT_RENDERER_CLASSES) > 1 else "origin"
    headers = [("Content-Type", "application/json")] if body else []  # DRF sends none with an empty body
    headers += [("Vary", vary), ("Allow", f"{request.method}, OPTIONS")]
    if settings.X_FRAME_OPTIONS:
        headers.append(("X-Frame-Options", settings.X_FRAME_OPTIONS))
    headers.append(("Content-Length", str(len(body))))
    if settings.SECURE_HSTS_SECONDS and request.is_secure():
        value = f"max-age={settings.SECURE_HSTS_SECONDS}"
        if settings.SECURE_HSTS_INCLUDE_SUBDOMAINS:
            value += "; includeSubDomains"
        if settings.SECURE_HSTS_PRELOAD:
            value += "; preload"
        headers.append(("Strict-Transport-Security", value))
    if settings.SECURE_CONTENT_TYPE_NOSNIFF:
        headers.append(("X-Content-Type-Options", "nosniff"))
    if settings.SECURE_REFERRER_POLICY:
        policy = settings.SECURE_REFERRER_POLICY
        headers.append(("Referrer-Policy", policy if isinstance(policy, str) else ",".join(policy)))
    if settings.SECURE_CROSS_ORIGIN_OPENER_POLICY:
        headers.append(("Cross-Origin-Opener-Policy", settings.SECURE_CROSS_ORIGIN_OPENER_POLICY))
    return headers


def with_fast_paths(application):
    """`application` (Django's WSGI handler) behind the fast path, unless ACTIVITY_FAST_PATH turns it off."""
    if not settings.ACTIVITY_FAST_PATH:
        return application
    return TaskActivityFastPath(application)
