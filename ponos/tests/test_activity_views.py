"""
The activity calls of tasks (`ponos.api.activity_views`) against the API's views: a successful
StartWorkerActivity or UpdateWorkerActivity of a task gets the same status, headers and body with
one statement instead of DRF's dispatch; every other request reaches the API's view, body
included, and gets its answer. Both go through all of Django (URLconf, middlewares), so URL forms
and security settings are Django's; the tests enumerate them. Also the statements' preparation by
the driver (once per connection, none when turned off) and the generic plan of the start statement.
"""

# ruff: noqa: F811 (pytest fixtures imported from processes.tests.start_fixtures)

import io
import json
import re
from collections import namedtuple

import psycopg
import pytest
from django.core import signals
from django.core.handlers.wsgi import WSGIHandler
from django.db import close_old_connections, connection, transaction
from django.test.utils import CaptureQueriesContext, override_settings

from documents.models import Element
from ponos.api.activity_views import START
from ponos.models import Task, TaskState
from ponos.tests.factories import TaskFactory
from processes.models import ActivityState, Process, WorkerActivity, WorkerActivityState
from processes.services import activities
from processes.tests.start_fixtures import (  # noqa: F401
    ELEMENT_COUNT,
    START_URL,
    committed_queue,
    elements,
    make_version,
    page_type,
    process,
    runs,
    update_url,
)
from users.models import Token, User

Answer = namedtuple("Answer", "status headers body")
OTHER_PROCESS = "11111111-1111-4111-8111-111111111111"


class Served:
    """Django's WSGI application, with the tasks' shorter way on (`fast`) or off."""

    def __init__(self, fast):
        self.fast = fast
        self.handler = WSGIHandler()

    def __call__(self, environ, start_response):
        with override_settings(ACTIVITY_FAST_PATH=self.fast):
            return self.handler(environ, start_response)


@pytest.fixture
def django_app():
    return Served(fast=False)


@pytest.fixture
def fast_app():
    return Served(fast=True)


@pytest.fixture
def call():
    """
    Call a WSGI application as a server would. As the test client does, the closing of old
    database connections at the end of each request is detached: the test's transaction must
    outlive the request.
    """
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)

    def call(application, method, path, *, token=None, body=None, content_type="application/json", **headers):
        content = json.dumps(body).encode() if isinstance(body, dict) else (body or b"")
        environ = {
            "REQUEST_METHOD": method,
            "PATH_INFO": path,
            "SCRIPT_NAME": "",
            "QUERY_STRING": "",
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "80",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "HTTP_HOST": "127.0.0.1",
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(content),
            "wsgi.errors": io.StringIO(),
            "wsgi.multithread": True,
            "wsgi.multiprocess": True,
            "wsgi.run_once": False,
            "CONTENT_LENGTH": str(len(content)),
            **({"CONTENT_TYPE": content_type} if content else {}),
            **({"HTTP_AUTHORIZATION": token} if token else {}),
            **headers,
        }
        started = []
        response = application(
            environ, lambda status, response_headers, exc_info=None: started.append((status, response_headers))
        )
        try:
            content = b"".join(response)
        finally:
            if hasattr(response, "close"):
                response.close()
        status, response_headers = started[0]
        return Answer(int(status.split()[0]), {name.lower(): value for name, value in response_headers}, content)

    yield call
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def ready(process, runs):
    Process.objects.filter(id=process.id).update(activity_state=ActivityState.Pending)
    activities.activities_initialise(process_id=process.id)
    process.refresh_from_db()
    return process


def make_task(process, run, slug="task", state=TaskState.Running):
    return TaskFactory(process=process, slug=slug, state=state, worker_run=run)


def ponos(task):
    return f"Ponos {task.token}"


def queue(run):
    return list(WorkerActivity.objects.filter(worker_run=run).order_by("id").values_list("element_id", flat=True))


def states(run):
    return dict(WorkerActivity.objects.filter(worker_run=run).values_list("element_id", "state"))


def without_length(headers):
    return {name: value for name, value in headers.items() if name != "content-length"}


# Successes: Django's answer, one statement.


def test_start_answers_as_django_does(ready, runs, call, fast_app, django_app):
    task = make_task(ready, runs[0])
    first, second, *_ = queue(runs[0])
    # Non-ASCII names are written as Django writes them (UTF-8, not escaped).
    Element.objects.filter(id=first).update(name="Folio é 1")

    with CaptureQueriesContext(connection) as queries:
        fast = call(fast_app, "POST", START_URL, token=ponos(task))
    assert len(queries) == 1, [query["sql"] for query in queries]
    slow = call(django_app, "POST", START_URL, token=ponos(task))

    assert (fast.status, slow.status) == (200, 200)
    assert without_length(fast.headers) == without_length(slow.headers)
    assert int(fast.headers["content-length"]) == len(fast.body)
    assert json.loads(fast.body)["id"] == str(first)
    assert json.loads(slow.body)["id"] == str(second)
    assert "Folio é 1".encode() in fast.body
    # The same writing of JSON: what Django would write for the fast path's data.
    element = WorkerActivity.objects.get(worker_run=runs[0], element_id=first).element
    assert (
        fast.body
        == json.dumps(
            {"id": str(element.id), "type_id": str(element.type_id), "name": element.name},
            ensure_ascii=False,
            separators=(",", ":"),
        ).encode()
    )
    assert states(runs[0])[first] == states(runs[0])[second] == WorkerActivityState.Started


def test_update_answers_as_django_does(ready, runs, call, fast_app, django_app):
    task = make_task(ready, runs[0])
    first, second, *_ = queue(runs[0])
    call(fast_app, "POST", START_URL, token=ponos(task))
    call(fast_app, "POST", START_URL, token=ponos(task))
    body = {"process_id": str(ready.id), "state": WorkerActivityState.Processed}

    with CaptureQueriesContext(connection) as queries:
        fast = call(fast_app, "PUT", update_url(runs[0].id), token=ponos(task), body={**body, "element_id": str(first)})
    assert len(queries) == 1, [query["sql"] for query in queries]
    slow = call(django_app, "PUT", update_url(runs[0].id), token=ponos(task), body={**body, "element_id": str(second)})

    assert (fast.status, slow.status) == (200, 200)
    assert fast.headers == slow.headers
    assert fast.body == slow.body == b""
    assert states(runs[0])[first] == states(runs[0])[second] == WorkerActivityState.Processed


def test_every_transition_of_a_task(ready, runs, call, fast_app):
    """started → error → started → processed, each answered by the fast path in one statement."""
    task = make_task(ready, runs[1])
    element = queue(runs[1])[0]
    assert call(fast_app, "POST", START_URL, token=ponos(task)).status == 200
    for state in (WorkerActivityState.Error, WorkerActivityState.Started, WorkerActivityState.Processed):
        with CaptureQueriesContext(connection) as queries:
            answer = call(
                fast_app,
                "PUT",
                update_url(runs[1].id),
                token=ponos(task),
                body={"element_id": str(element), "process_id": str(ready.id), "state": state},
            )
        assert (answer.status, len(queries)) == (200, 1)
        assert states(runs[1])[element] == state


def test_secure_requests_get_django_security_headers(ready, runs, call, settings):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.SECURE_HSTS_SECONDS = 3600
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    # Built after the settings change: Django's middlewares read them when they are created.
    django_app, fast_app = Served(fast=False), Served(fast=True)
    task = make_task(ready, runs[0])
    fast = call(fast_app, "POST", START_URL, token=ponos(task), HTTP_X_FORWARDED_PROTO="https")
    slow = call(django_app, "POST", START_URL, token=ponos(task), HTTP_X_FORWARDED_PROTO="https")
    assert (fast.status, slow.status) == (200, 200)
    assert fast.headers["strict-transport-security"] == "max-age=3600; includeSubDomains"
    assert without_length(fast.headers) == without_length(slow.headers)


# Anything else: Django's answer, the database as Django leaves it.


def refusals():
    """(name, how to set up, request) of requests the fast path leaves to Django, all refused."""

    def start(token):
        return ("POST", START_URL, {"token": token})

    def update(token, run, **body):
        return ("PUT", update_url(run.id), {"token": token, "body": body})

    def report(case, element_state=None, **body):
        def request(ready, runs, task):
            element = queue(runs[0])[0]
            if element_state:
                WorkerActivity.objects.filter(worker_run=runs[0], element_id=element).update(state=element_state)
            values = {"element_id": str(element), "process_id": str(ready.id), "state": "processed", **body}
            return update(ponos(task), runs[0], **{k: v for k, v in values.items() if v is not None})

        return (case, request)

    yield "unknown token", lambda ready, runs, task: start("Ponos not-a-token")
    yield "two words", lambda ready, runs, task: start(f"Ponos {task.token} extra")

    def start_after(case, change):
        """A start by the task once `change(ready, runs, task)` made it a refusal."""
        return (case, lambda ready, runs, task: (change(ready, runs, task), start(ponos(task)))[1])

    yield start_after("ended task", lambda ready, runs, task: Task.objects.filter(id=task.id).update(state="completed"))
    yield start_after(
        "inactive creator", lambda ready, runs, task: User.objects.filter(id=ready.creator_id).update(is_active=False)
    )
    for state in (ActivityState.Pending, ActivityState.Disabled):
        yield start_after(
            f"activities {state}",
            lambda ready, runs, task, state=state: Process.objects.filter(id=ready.id).update(activity_state=state),
        )
    yield "task without run", lambda ready, runs, task: start(ponos(make_task(ready, None, slug="no-run")))
    yield start_after(
        "queue empty",
        lambda ready, runs, task: WorkerActivity.objects.filter(worker_run=runs[0]).update(state="processed"),
    )
    yield report("forbidden transition", element_state=WorkerActivityState.Queued)
    yield report("back to queued", element_state=WorkerActivityState.Started, state="queued")
    yield report("unknown state", element_state=WorkerActivityState.Started, state="done")
    yield report("element without activity", element_id="00000000-0000-4000-8000-000000000000")
    yield report("element not a UUID", element_state=WorkerActivityState.Started, element_id="nope")
    yield report("element missing", element_state=WorkerActivityState.Started, element_id=None)
    yield report("element a number", element_state=WorkerActivityState.Started, element_id=12)
    yield report("another process", element_state=WorkerActivityState.Started, process_id=OTHER_PROCESS)
    yield (
        "not JSON",
        lambda ready, runs, task: (
            "PUT",
            update_url(runs[0].id),
            {"token": ponos(task), "body": b"{not json"},
        ),
    )
    yield (
        "a JSON list",
        lambda ready, runs, task: ("PUT", update_url(runs[0].id), {"token": ponos(task), "body": b"[]"}),
    )
    yield (
        "a form",
        lambda ready, runs, task: (
            "PUT",
            update_url(runs[0].id),
            {"token": ponos(task), "body": b"state=processed", "content_type": "application/x-www-form-urlencoded"},
        ),
    )
    yield "a user token", lambda ready, runs, task: start(f"Token {Token.objects.create(user=ready.creator).key}")
    yield (
        "host not allowed",
        lambda ready, runs, task: ("POST", START_URL, {"token": ponos(task), "HTTP_HOST": "evil.test"}),
    )
    yield "another method", lambda ready, runs, task: ("GET", START_URL, {"token": ponos(task)})


REFUSALS = list(refusals())


@pytest.mark.parametrize("setup", [setup for _, setup in REFUSALS], ids=[name for name, _ in REFUSALS])
def test_refusals_are_django_answers(setup, ready, runs, call, fast_app, django_app):
    task = make_task(ready, runs[0])
    method, path, options = setup(ready, runs, task)
    before = states(runs[0])
    slow = call(django_app, method, path, **options)
    fast = call(fast_app, method, path, **options)
    assert 400 <= slow.status < 500, slow
    assert fast == slow
    assert states(runs[0]) == before


def test_other_runs_of_the_process_reach_django_with_their_body(ready, runs, call, fast_app):
    """A task reporting for another run of its process: allowed, answered by Django, which reads the body again."""
    task = make_task(ready, runs[0])
    element = queue(runs[1])[0]
    body = {"element_id": str(element), "process_id": str(ready.id), "state": WorkerActivityState.Started}
    with CaptureQueriesContext(connection) as queries:
        answer = call(fast_app, "PUT", update_url(runs[1].id), token=ponos(task), body=body)
    assert answer.status == 200, answer
    # The fast path's statement, then Django's authentication, process (with the caller's level), run lookup
    # and update.
    assert len(queries) == 5
    assert states(runs[1])[element] == WorkerActivityState.Started


SECURITY_SETTINGS = {
    "cors": {"CORS_ALLOWED_ORIGINS": ["https://front.example.com"]},
    "ssl redirect": {"SECURE_SSL_REDIRECT": True},
    "hsts": {"SECURE_HSTS_SECONDS": 60, "SECURE_HSTS_PRELOAD": True, "SECURE_HSTS_INCLUDE_SUBDOMAINS": True},
    "frames": {"X_FRAME_OPTIONS": "SAMEORIGIN"},
    "no sniff off": {"SECURE_CONTENT_TYPE_NOSNIFF": False},
    "referrer": {"SECURE_REFERRER_POLICY": "no-referrer"},
    "opener": {"SECURE_CROSS_ORIGIN_OPENER_POLICY": "same-origin-allow-popups"},
    "prepend www": {"PREPEND_WWW": True},
    "user agents": {"DISALLOWED_USER_AGENTS": [re.compile("curl")]},
}


@pytest.mark.parametrize("overrides", SECURITY_SETTINGS.values(), ids=SECURITY_SETTINGS.keys())
@pytest.mark.parametrize("kind", ["start", "update"])
def test_security_settings_are_django_s(overrides, kind, ready, runs, call, settings):
    for name, value in overrides.items():
        setattr(settings, name, value)
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    django_app, fast_app = Served(fast=False), Served(fast=True)
    task = make_task(ready, runs[0])
    headers = {
        "HTTP_ORIGIN": "https://front.example.com",
        "HTTP_X_FORWARDED_PROTO": "https",
        "HTTP_USER_AGENT": "curl/8",
    }
    answers = []
    for app in (fast_app, django_app):
        if kind == "start":
            answers.append(call(app, "POST", START_URL, token=ponos(task), **headers))
        else:
            element = queue(runs[0])[len(answers)]
            WorkerActivity.objects.filter(worker_run=runs[0], element_id=element).update(state="started")
            body = {"element_id": str(element), "process_id": str(ready.id), "state": "processed"}
            answers.append(call(app, "PUT", update_url(runs[0].id), token=ponos(task), body=body, **headers))
    fast, slow = answers
    assert fast.status == slow.status
    if kind == "start" and fast.status == 200:
        # Each took its own element: the bodies differ by the element only.
        assert json.loads(fast.body).keys() == json.loads(slow.body).keys()
        assert without_length(fast.headers) == without_length(slow.headers)
    else:
        assert fast == slow


URL_FORMS = {
    "uppercase run": lambda run: update_url(run.id).replace(str(run.id), str(run.id).upper()),
    "run without dashes": lambda run: update_url(run.id).replace(str(run.id), run.id.hex),
    "run in braces": lambda run: update_url(run.id).replace(str(run.id), "{" + str(run.id) + "}"),
    "update without trailing slash": lambda run: update_url(run.id).rstrip("/"),
    "start without trailing slash": lambda run: START_URL.rstrip("/"),
    "start with a double slash": lambda run: START_URL.replace("/process/", "//process/"),
    "start in uppercase": lambda run: START_URL.upper(),
}


@pytest.mark.parametrize("form", URL_FORMS.values(), ids=URL_FORMS.keys())
def test_url_forms_are_django_s(form, ready, runs, call, fast_app, django_app):
    task = make_task(ready, runs[0])
    path = form(runs[0])
    method = "POST" if "start" in path else "PUT"
    element = queue(runs[0])[0]
    WorkerActivity.objects.filter(worker_run=runs[0], element_id=element).update(state="started")
    body = {"element_id": str(element), "process_id": str(ready.id), "state": "processed"}
    before = states(runs[0])
    slow = call(django_app, method, path, token=ponos(task), body=body)
    fast = call(fast_app, method, path, token=ponos(task), body=body)
    assert slow.status >= 300, slow
    assert fast == slow
    assert states(runs[0]) == before


def test_setting_turns_it_off(ready, runs, call, django_app):
    task = make_task(ready, runs[0])
    with CaptureQueriesContext(connection) as queries:
        assert call(django_app, "POST", START_URL, token=ponos(task)).status == 200
    # The API's view: the task by its token, the process's state, the activity.
    assert len(queries) > 1


def test_only_json_answers_take_the_short_way(ready, runs, call, fast_app, django_app):
    task = make_task(ready, runs[0])
    for accept, status in (("text/html", 406), ("application/json; q=1", 200), ("*/*", 200)):
        fast = call(fast_app, "POST", START_URL, token=ponos(task), HTTP_ACCEPT=accept)
        slow = call(django_app, "POST", START_URL, token=ponos(task), HTTP_ACCEPT=accept)
        assert fast.status == slow.status == status


# Prepared statements


@pytest.fixture
def persistent_connection(monkeypatch):
    """The connection settings of a deployment: connections kept between requests."""
    monkeypatch.setitem(connection.settings_dict, "CONN_MAX_AGE", 60)


def prepared_statements():
    """The statements the current connection holds, prepared by the driver (not by SQL `PREPARE`)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements WHERE NOT from_sql")
        return [row[0] for row in cursor.fetchall()]


def test_prepared_by_the_driver_on_first_use(ready, runs, call, fast_app):
    task = make_task(ready, runs[0])
    assert call(fast_app, "POST", START_URL, token=ponos(task)).status == 200
    held = prepared_statements()
    assert sum("SKIP LOCKED" in statement for statement in held) == 1
    with CaptureQueriesContext(connection) as queries:
        assert call(fast_app, "POST", START_URL, token=ponos(task)).status == 200
    assert len(queries) == 1
    assert prepared_statements() == held


def test_preparation_can_be_turned_off(ready, runs, call, fast_app, settings):
    settings.DATABASE_PREPARED_STATEMENTS = False
    task = make_task(ready, runs[0])
    assert call(fast_app, "POST", START_URL, token=ponos(task)).status == 200
    assert not any("SKIP LOCKED" in statement for statement in prepared_statements())


@pytest.mark.django_db(transaction=True)
def test_a_dead_connection_is_replaced(user, call, fast_app, persistent_connection):
    """A kept connection the database dropped is replaced by Django's check as the next request starts."""
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)
    process, run = committed_queue(user, 10)
    task = make_task(process, run)
    connection.close()
    assert call(fast_app, "POST", START_URL, token=ponos(task)).status == 200
    settings = connection.settings_dict
    with psycopg.connect(
        dbname=settings["NAME"], user=settings["USER"], host=settings["HOST"] or None, port=settings["PORT"] or None
    ) as killer:
        killer.autocommit = True
        killer.execute("SELECT pg_terminate_backend(%s)", [connection.connection.info.backend_pid])
    assert call(fast_app, "POST", START_URL, token=ponos(task)).status == 200
    assert call(fast_app, "POST", START_URL, token=ponos(task)).status == 200
    assert WorkerActivity.objects.filter(worker_run=run, state=WorkerActivityState.Started).count() == 3


@pytest.mark.django_db(transaction=True)
def test_generic_start_plan_reads_the_queue_index(user):
    """
    A prepared statement ends up with a generic plan, planned without the token: it must still read
    the partial queue index, not the primary key past every activity handed out.
    """
    process, run = committed_queue(user, 20_000)
    task = make_task(process, run)
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {activities.ACTIVITIES}")
    WorkerActivity.objects.filter(
        id__in=WorkerActivity.objects.filter(worker_run=run).order_by("id").values("id")[:15_000]
    ).update(state=WorkerActivityState.Processed)
    numbered, names = START.numbered()
    assert names == ["token"]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL plan_cache_mode = force_generic_plan")
        cursor.execute(f"PREPARE test_generic_start AS {numbered}".replace("%", "%%"))
        cursor.execute("EXPLAIN EXECUTE test_generic_start(%s)", [task.token])
        plan = "\n".join(row[0] for row in cursor.fetchall())
        cursor.execute("DEALLOCATE test_generic_start")
        transaction.set_rollback(True)
    assert "activity_queue" in plan, plan
    assert "workeractivity_pkey on processes_workeractivity activity" not in plan, plan


@pytest.mark.django_db(transaction=True)
def test_the_live_server_of_end_to_end_tests_serves_it(user, live_server):
    """The clients and workers of end-to-end tests call the application as deployments serve it."""
    import urllib.request

    process, run = committed_queue(user, 3)
    task = make_task(process, run)
    request = urllib.request.Request(live_server.url + START_URL, method="POST", headers={"Authorization": ponos(task)})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
        assert json.loads(response.read())["id"] == str(queue(run)[0])
