"""
Worker activities over the API: StartWorkerActivity (task tokens, SKIP LOCKED queue, never the same
element twice), UpdateWorkerActivity (transitions, 409, the deprecated worker-version form, rights)
and ListProcessActivityStats (one query, estimated completion).
"""

# ruff: noqa: F811 (pytest fixtures imported from processes.tests.start_fixtures)

import threading
import uuid
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone
from rest_framework.test import APIClient

from documents.tests.factories import ElementFactory
from ponos.models import Task, TaskState
from ponos.services import set_task_state
from ponos.tests.factories import TaskFactory
from processes.models import ActivityState, Process, ProcessMode, WorkerActivity, WorkerActivityState
from processes.services import activities
from processes.tests.factories import ProcessFactory, make_run
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
from users.models import Role
from users.tests.factories import grant


def stats_url(process_id):
    return f"/api/v1/process/{process_id}/activity-stats/"


def task_client(process, run, slug="task", state=TaskState.Running):
    task = TaskFactory(process=process, slug=slug, state=state, worker_run=run)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Ponos {task.token}")
    client.task = task
    return client


@pytest.fixture
def ready(process, runs):
    Process.objects.filter(id=process.id).update(activity_state=ActivityState.Pending)
    activities.activities_initialise(process_id=process.id)
    process.refresh_from_db()
    assert process.activity_state == ActivityState.Ready
    return process


def state_of(run, element):
    return WorkerActivity.objects.get(worker_run=run, element=element).state


# StartWorkerActivity


@pytest.mark.parametrize("short_way", [True, False], ids=["one statement", "the API view"])
def test_start_hands_out_each_element_once_in_order(
    ready, runs, elements, django_assert_num_queries, settings, short_way
):
    settings.ACTIVITY_FAST_PATH = short_way
    client = task_client(ready, runs[0])
    expected = list(
        WorkerActivity.objects.filter(worker_run=runs[0]).order_by("id").values_list("element_id", flat=True)
    )
    handed = []
    for _ in elements:
        # One statement (`ponos.api.activity_views`); in the view, the task's authentication, then one statement.
        with django_assert_num_queries(1 if short_way else 2):
            response = client.post(START_URL)
        assert response.status_code == 200, response.json()
        body = response.json()
        assert set(body) == {"id", "type_id", "name"}
        handed.append(body["id"])
    assert handed == [str(element_id) for element_id in expected]
    # The queue is empty: 404 (the base worker stops), after one more query for the process's state,
    # from the view once the statement found nothing.
    with django_assert_num_queries(4 if short_way else 3):
        response = client.post(START_URL)
    assert response.status_code == 404
    started = WorkerActivity.objects.filter(worker_run=runs[0])
    assert set(started.values_list("state", flat=True)) == {WorkerActivityState.Started}
    assert not started.filter(started__isnull=True).exists()
    # Other runs' queues are untouched.
    assert set(WorkerActivity.objects.exclude(worker_run=runs[0]).values_list("state", flat=True)) == {"queued"}


def test_start_element_shape(ready, runs, elements, page_type):
    first = WorkerActivity.objects.filter(worker_run=runs[1]).order_by("id").first().element
    response = task_client(ready, runs[1]).post(START_URL)
    assert response.json() == {"id": str(first.id), "type_id": str(page_type.id), "name": first.name}


def test_start_needs_a_task(ready, user_client):
    response = user_client.post(START_URL)
    assert response.status_code == 403
    assert "Ponos" in response.json()["detail"]


def test_start_anonymous(ready, anonymous_client):
    assert anonymous_client.post(START_URL).status_code in (401, 403)


def test_start_task_without_worker_run(ready):
    response = task_client(ready, None).post(START_URL)
    assert response.status_code == 400


@pytest.mark.parametrize("state", [ActivityState.Disabled, ActivityState.Pending, ActivityState.Error])
def test_start_needs_ready_activities(ready, runs, state):
    Process.objects.filter(id=ready.id).update(activity_state=state)
    response = task_client(ready, runs[0]).post(START_URL)
    assert response.status_code == 400
    assert state in str(response.json()) or "initialised" in str(response.json())
    assert not WorkerActivity.objects.exclude(state=WorkerActivityState.Queued).exists()


def test_start_ended_task_token(ready, runs):
    response = task_client(ready, runs[0], state=TaskState.Completed).post(START_URL)
    assert response.status_code == 401


@pytest.mark.django_db(transaction=True)
def test_start_skips_locked_rows(user):
    """A row locked by another transaction (a task taking it right now) is skipped, without waiting."""
    process, run = committed_queue(user, 3)
    first = WorkerActivity.objects.filter(worker_run=run).order_by("id").first()
    result = {}

    def other():
        try:
            with connection.cursor() as cursor:
                cursor.execute("SET lock_timeout = '2s'")
            result["row"] = activities.start_activity(process_id=process.id, worker_run_id=run.id, task_id=uuid.uuid4())
        finally:
            connection.close()

    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT id FROM {activities.ACTIVITIES} WHERE id = %s FOR UPDATE", [first.id])
        thread = threading.Thread(target=other)
        thread.start()
        thread.join(10)
    assert result["row"] is not None
    assert result["row"][0] != first.element_id


@pytest.mark.django_db(transaction=True)
def test_start_reads_the_queue_index(user):
    """
    Activities already handed out lie ahead of the queue in id order; taking the next one reads the
    partial queue index, not the primary key past all of them.
    """
    from django.test.utils import CaptureQueriesContext

    process, run = committed_queue(user, 20_000)
    # Statistics taken while everything was queued, as right after the initialisation.
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {activities.ACTIVITIES}")
    WorkerActivity.objects.filter(
        id__in=WorkerActivity.objects.filter(worker_run=run).order_by("id").values("id")[:15_000]
    ).update(state=WorkerActivityState.Processed)
    with CaptureQueriesContext(connection) as captured:
        activities.start_activity(process_id=process.id, worker_run_id=run.id, task_id=uuid.uuid4())
    (statement,) = [query["sql"] for query in captured.captured_queries if "SKIP LOCKED" in query["sql"]]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN {statement}")
        plan = "\n".join(row[0] for row in cursor.fetchall())
        transaction.set_rollback(True)
    assert "activity_queue" in plan, plan
    assert "workeractivity_pkey on processes_workeractivity activity" not in plan, plan


@pytest.mark.django_db(transaction=True)
def test_concurrent_tasks_never_get_the_same_element(user):
    """Eight threads, each with its own connection, drain a queue of 200 elements over HTTP."""
    process, run = committed_queue(user, 200)
    clients = [task_client(process, run, slug=f"task-{index}") for index in range(8)]
    handed = [[] for _ in clients]
    errors = []

    def consume(index):
        try:
            while True:
                response = clients[index].post(START_URL)
                if response.status_code == 404:
                    return
                assert response.status_code == 200, response.content
                handed[index].append(response.json()["id"])
        except Exception as error:  # reported by the main thread
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=consume, args=(index,)) for index in range(len(clients))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors
    every = [element_id for ids in handed for element_id in ids]
    assert len(every) == len(set(every)) == 200
    assert WorkerActivity.objects.filter(worker_run=run, state=WorkerActivityState.Started).count() == 200


# UpdateWorkerActivity


def put(client, run_id, element, process, state):
    return client.put(
        update_url(run_id),
        {"element_id": str(element.id), "process_id": str(process.id), "state": state},
        format="json",
    )


def test_update_lifecycle(ready, runs, elements, user_client, django_assert_num_queries):
    run, element = runs[0], elements[0]
    response = put(user_client, run.id, element, ready, "started")
    assert response.status_code == 200, response.json()
    activity = WorkerActivity.objects.get(worker_run=run, element=element)
    assert activity.state == "started" and activity.started is not None
    # The user's token, the run, the process with their level, one UPDATE.
    with django_assert_num_queries(4):
        assert put(user_client, run.id, element, ready, "error").status_code == 200
    assert state_of(run, element) == "error"
    # error → started again, then processed.
    assert put(user_client, run.id, element, ready, "started").status_code == 200
    assert put(user_client, run.id, element, ready, "processed").status_code == 200
    assert state_of(run, element) == "processed"
    # Other runs on the same element are untouched.
    assert state_of(runs[1], element) == "queued"


@pytest.mark.parametrize(
    ("current", "target"),
    [
        ("started", "started"),
        ("processed", "started"),
        ("processed", "error"),
        ("queued", "processed"),
        ("queued", "error"),
        ("error", "processed"),
        ("error", "error"),
        ("processed", "processed"),
    ],
)
def test_update_forbidden_transition_is_409(ready, runs, elements, user_client, current, target):
    WorkerActivity.objects.filter(worker_run=runs[0], element=elements[0]).update(state=current)
    response = put(user_client, runs[0].id, elements[0], ready, target)
    assert response.status_code == 409
    assert current in response.json()["detail"]
    assert state_of(runs[0], elements[0]) == current


def test_update_bad_state(ready, runs, elements, user_client):
    response = put(user_client, runs[0].id, elements[0], ready, "queued")
    assert response.status_code == 400
    assert "state" in response.json()


def test_update_missing_fields(ready, runs, user_client):
    response = user_client.put(update_url(runs[0].id), {}, format="json")
    assert response.status_code == 400
    assert set(response.json()) == {"element_id", "process_id", "state"}


def test_update_element_without_activity(ready, runs, corpus, page_type, user_client):

    stray = ElementFactory(corpus=corpus, type=page_type, name="Late page")
    response = put(user_client, runs[0].id, stray, ready, "started")
    assert response.status_code == 404


def test_update_unknown_run(ready, elements, user_client):
    response = put(user_client, ready.corpus_id, elements[0], ready, "started")
    assert response.status_code == 404


def test_update_process_mismatch(ready, runs, elements, corpus, user, user_client):
    other = ProcessFactory(corpus=corpus, creator=user, mode=ProcessMode.Workers)
    response = put(user_client, runs[0].id, elements[0], other, "started")
    assert response.status_code == 404
    assert response.json() == {"detail": f"No worker run {runs[0].id}, nor worker version, in process {other.id}."}


@pytest.mark.parametrize("state", [ActivityState.Disabled, ActivityState.Pending, ActivityState.Error])
def test_update_needs_ready_activities(ready, runs, elements, user_client, state):
    Process.objects.filter(id=ready.id).update(activity_state=state)
    assert put(user_client, runs[0].id, elements[0], ready, "started").status_code == 400


def test_update_rights(ready, runs, elements, corpus, other_user, other_client):
    # Hidden process: 404.
    assert put(other_client, runs[0].id, elements[0], ready, "started").status_code == 404
    # A guest reads the process but cannot report.
    grant(corpus, Role.GUEST, user=other_user)
    assert put(other_client, runs[0].id, elements[0], ready, "started").status_code == 403
    assert state_of(runs[0], elements[0]) == "queued"


def test_update_task_token_own_process_only(ready, runs, elements, corpus, user):
    client = task_client(ready, runs[0])
    assert put(client, runs[1].id, elements[0], ready, "started").status_code == 200
    other_process = ProcessFactory(corpus=corpus, creator=user, mode=ProcessMode.Workers)
    other_run = make_run(other_process, make_version("elsewhere"))
    response = put(client, other_run.id, elements[0], other_process, "started")
    # Another process is hidden from a task, as if it did not exist.
    assert response.status_code == 404


def test_update_deprecated_version_id(ready, runs, elements, user_client):
    response = put(user_client, runs[0].version_id, elements[0], ready, "started")
    assert response.status_code == 200, response.json()
    assert state_of(runs[0], elements[0]) == "started"


def test_update_deprecated_version_id_ambiguous(ready, runs, elements, user_client):
    from workers.models import WorkerConfiguration

    for index in range(4):
        configuration = WorkerConfiguration.objects.create(
            worker=runs[0].version.worker, name=f"Other {index}", configuration={"n": index}
        )
        make_run(ready, runs[0].version, configuration=configuration)
    response = put(user_client, runs[0].version_id, elements[0], ready, "started")
    assert response.status_code == 400
    # Every run using the version is counted.
    assert "is used by 5 worker runs" in str(response.json())
    assert state_of(runs[0], elements[0]) == "queued"


def test_update_deprecated_version_of_another_process(ready, runs, elements, corpus, user, user_client):
    other = ProcessFactory(corpus=corpus, creator=user, mode=ProcessMode.Workers)
    assert put(user_client, runs[0].version_id, elements[0], other, "started").status_code == 404


def test_update_race_only_one_start(ready, runs, elements, user_client):
    """Two tasks reporting `started` for the same element: the guarded UPDATE lets one through."""
    first = put(user_client, runs[0].id, elements[0], ready, "started")
    second = put(user_client, runs[0].id, elements[0], ready, "started")
    assert (first.status_code, second.status_code) == (200, 409)


# ListProcessActivityStats


def test_stats(ready, runs, elements, user_client, django_assert_num_queries):
    a = runs[0]
    now = timezone.now()
    WorkerActivity.objects.filter(worker_run=a, element__in=elements[:2]).update(
        state="processed", started=now - timedelta(seconds=30), updated=now - timedelta(seconds=20)
    )
    WorkerActivity.objects.filter(worker_run=a, element=elements[2]).update(state="started", started=now)
    WorkerActivity.objects.filter(worker_run=runs[1]).update(
        state="processed", started=now - timedelta(seconds=5), updated=now
    )
    user_client.get(stats_url(ready.id))  # the token's first use of the day updates `last_used`
    # The token, the process with the user's level, the statistics.
    with django_assert_num_queries(3):
        response = user_client.get(stats_url(ready.id))
    assert response.status_code == 200
    rows = response.json()
    assert [row["worker_run_id"] for row in rows] == [str(run.id) for run in runs]
    first, second, third = rows
    assert first["worker_version_id"] == str(a.version_id)
    assert first["model_version_id"] is None and first["configuration_id"] is None
    assert first["summary"] == a.summary
    assert (first["queued"], first["started"], first["processed"], first["error"]) == (1, 1, 2, 0)
    assert first["average_processing_time"] == pytest.approx(10)
    # 2 left (1 queued, 1 started), 10 s each, over 1 running task: about 20 s from now.
    estimate = timezone.datetime.fromisoformat(first["estimated_completion"])
    assert timedelta(seconds=15) < estimate - now < timedelta(seconds=30)
    assert second["processed"] == ELEMENT_COUNT and second["queued"] == 0
    assert second["average_processing_time"] == pytest.approx(5)
    assert second["estimated_completion"] is None
    assert third["queued"] == ELEMENT_COUNT
    assert third["average_processing_time"] is None and third["estimated_completion"] is None


def test_stats_query_count_does_not_grow(ready, runs, user_client, django_assert_num_queries):
    for index in range(5):
        make_run(ready, make_version(f"extra-{index}"))
    user_client.get(stats_url(ready.id))  # the token's first use of the day updates `last_used`
    with django_assert_num_queries(3):
        response = user_client.get(stats_url(ready.id))
    assert len(response.json()) == 8


def test_stats_rights(ready, corpus, other_user, other_client, runs):
    assert other_client.get(stats_url(ready.id)).status_code == 404
    grant(corpus, Role.GUEST, user=other_user)
    assert other_client.get(stats_url(ready.id)).status_code == 200


def test_stats_not_for_task_tokens(ready, runs, corpus, user):
    """Statistics are for the people watching a process; workers have no need of them."""
    client = task_client(ready, runs[0])
    assert client.get(stats_url(ready.id)).status_code == 403


def test_estimated_completion_parallelism():
    now = timezone.now()
    minute = timedelta(minutes=1)
    assert activities.estimated_completion(now, minute, queued=10, started=2) == now + 6 * minute
    assert activities.estimated_completion(now, minute, queued=3, started=0) == now + 3 * minute
    assert activities.estimated_completion(now, None, queued=3, started=0) is None
    assert activities.estimated_completion(now, minute, queued=0, started=0) is None


def test_stats_of_a_finished_process_have_no_estimate(ready, runs, elements, user_client):
    """Once the process ended (stopped here, elements left), no completion is estimated: nothing will run."""
    now = timezone.now()
    WorkerActivity.objects.filter(worker_run=runs[0], element__in=elements[:2]).update(
        state="processed", started=now - timedelta(seconds=30), updated=now - timedelta(seconds=20)
    )
    assert user_client.get(stats_url(ready.id)).json()[0]["estimated_completion"] is not None
    Process.objects.filter(pk=ready.pk).update(started=now - timedelta(minutes=5), finished=now)
    first, second = (user_client.get(stats_url(ready.id)).json()[0] for _ in range(2))
    assert first["estimated_completion"] is None
    assert first == second


# Elements held by a task that ends


def take(client, count):
    return [client.post(START_URL).json()["id"] for _ in range(count)]


def report(client, element_id, state):
    task = client.task
    body = {"element_id": element_id, "process_id": str(task.process_id), "state": state}
    return client.put(update_url(task.worker_run_id), body, format="json")


@pytest.mark.parametrize("end", [TaskState.Error, TaskState.Failed, TaskState.Stopped, TaskState.Completed])
def test_elements_held_by_an_ending_task_go_back(ready, runs, end):
    client = task_client(ready, runs[0])
    done, held = take(client, 2)
    assert report(client, done, "processed").status_code == 200
    other = task_client(ready, runs[0], slug="other")
    (theirs,) = take(other, 1)

    # The task ends holding an element: it is queued again at once, counted; what the task reported stays.
    if end == TaskState.Stopped:
        Task.objects.filter(pk=client.task.pk).update(state=TaskState.Stopping)
        client.task.state = TaskState.Stopping
    assert set_task_state(client.task, end)
    by_element = {str(a.element_id): a for a in WorkerActivity.objects.filter(worker_run=runs[0])}
    assert by_element[done].state == WorkerActivityState.Processed
    assert (by_element[held].state, by_element[held].attempts, by_element[held].task_id) == ("queued", 1, None)
    assert by_element[held].last_error == f"Task task ended ({end}) before reporting on this element."
    # Another task's element is not touched, and the queue hands the element out again.
    assert by_element[theirs].state == WorkerActivityState.Started
    assert by_element[theirs].task_id == other.task.pk
    assert held in take(other, ELEMENT_COUNT - 2)


def test_reporting_releases_the_element(ready, runs):
    client = task_client(ready, runs[0])
    (element,) = take(client, 1)
    assert WorkerActivity.objects.get(worker_run=runs[0], element_id=element).task_id == client.task.pk
    assert report(client, element, "error").status_code == 200
    assert set_task_state(client.task, TaskState.Failed)
    activity = WorkerActivity.objects.get(worker_run=runs[0], element_id=element)
    # Reported by the worker itself: not a loss.
    assert (activity.state, activity.attempts, activity.task_id) == (WorkerActivityState.Error, 0, None)


def test_an_element_lost_too_often_ends_in_error(ready, runs, settings):
    settings.ACTIVITY_MAX_ATTEMPTS = 2
    first = task_client(ready, runs[0], slug="first")
    (element,) = take(first, 1)
    assert set_task_state(first.task, TaskState.Error)
    # The queue serves in order: the lost element comes first again.
    second = task_client(ready, runs[0], slug="second")
    assert take(second, 1) == [element]
    assert set_task_state(second.task, TaskState.Error)
    activity = WorkerActivity.objects.get(worker_run=runs[0], element_id=element)
    assert (activity.state, activity.attempts) == (WorkerActivityState.Error, 2)
    row = activities.activity_statistics(ready.id)[0]
    assert (row["retried"], row["failed"], row["error"]) == (1, 1, 1)
    # A retry gives it its attempts back.
    Process.objects.filter(pk=ready.pk).update(activity_state=ActivityState.Pending)
    activities.activities_initialise(process_id=ready.id, reset=True)
    activity.refresh_from_db()
    assert (activity.state, activity.attempts) == (WorkerActivityState.Queued, 0)
