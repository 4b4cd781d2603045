"""
Nothing acknowledged is lost, tried as a chaos test would: real RQ workers, agents and a Redis of
the test's own, killed with SIGKILL at a chosen moment.

- A results deletion whose worker dies in the middle of its DELETE: the dead worker's database
  backend stops within seconds (its locks with it), and the deletion completes once a new worker
  runs, enqueued again by the periodic scheduler.
- DestroyProcess racing StartProcess: exactly one wins, never a 204 and a started process, no 500.
- An agent killed while its task holds an element: the element goes back to the queue and the
  task of a second agent processes it; no element is lost.
- Redis down during StartProcess: the process starts (200), the work it needs is recorded, and
  the recovery enqueues it once Redis is back.

How long each recovery took is printed in the summary of the run ("recovery times").
"""

import shlex
import shutil
import subprocess
import threading
import time

import django_rq
import psycopg
import pytest
from django.db import connection
from rq import SimpleWorker

from arkindex import jobs
from arkindex.models import Job, JobState
from arkindex.rq import DEFAULT_QUEUE
from arkindex.tests.conftest import free_port
from documents.models import Transcription
from documents.tests.factories import CorpusFactory, ElementFactory, ElementTypeFactory
from ponos.models import Agent, Task, TaskState
from ponos.tests.running import kill_group, wait_finished, wait_for
from processes.models import ActivityState, Process, ProcessMode, WorkerActivity
from processes.tests.factories import ProcessFactory, WorkerRunFactory
from users.models import Role, Token
from users.tests.factories import grant
from workers.tests.factories import WorkerFactory, WorkerVersionFactory

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("transactional_db")]


@pytest.fixture
def corpus(user):
    corpus = CorpusFactory(name="Registers")
    grant(corpus, Role.ADMIN, user=user)
    page = ElementTypeFactory(corpus=corpus, slug="page", display_name="Page")
    for index in range(6):
        ElementFactory(corpus=corpus, type=page, name=f"Page {index}")
    return corpus


@pytest.fixture
def token(user):
    return Token.objects.create(user=user).key


def backend_pid_running(query_part):
    """The pid of the backend running a statement containing `query_part`, if any (another session's)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() "
            "AND state = 'active' AND query ILIKE %s",
            [f"%{query_part}%"],
        )
        row = cursor.fetchone()
    return row[0] if row else None


def backend_alive(pid):
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", [pid])
        return cursor.fetchone()[0] == 1


def test_killed_results_deletion_completes_after_a_new_worker(
    start_service, live_server, user, corpus, token, report_recovery
):
    import requests

    version = WorkerVersionFactory(state="available")
    process = ProcessFactory(mode=ProcessMode.Workers, corpus=corpus, creator=user)
    run = WorkerRunFactory(process=process, version=version)
    Transcription.objects.bulk_create(
        Transcription(element=element, text=f"line {n}", worker_run=run)
        for element in corpus.elements.all()
        for n in range(500)
    )
    # Another session holds one of the rows: the deletion waits on it in the middle of its DELETE.
    db = connection.settings_dict
    blocker = psycopg.connect(
        host=db["HOST"] or "127.0.0.1", port=db["PORT"] or 5432, user=db["USER"], dbname=db["NAME"]
    )
    blocker.cursor().execute(
        "SELECT id FROM documents_transcription WHERE worker_run_id = %s LIMIT 1 FOR UPDATE", [str(run.id)]
    )
    try:
        worker = start_service("rqworker", "high", "default", "low")
        response = requests.delete(
            f"{live_server.url}/api/v1/corpus/{corpus.id}/worker-results/",
            params={"worker_run_id": str(run.id)},
            headers={"Authorization": f"Token {token}"},
        )
        assert response.status_code == 204, response.text
        job = Job.objects.get()
        wait_for(lambda: backend_pid_running("DELETE FROM"), message="the deletion to run its DELETE")
        pid = backend_pid_running("DELETE FROM")

        killed = time.monotonic()
        kill_group(worker)
        wait_for(lambda: not backend_alive(pid), timeout=30, message="the dead worker's backend to stop")
        backend_stopped = time.monotonic() - killed
    finally:
        blocker.rollback()
        blocker.close()
    job.refresh_from_db()
    assert job.state == JobState.Running
    assert run.transcriptions.count() == 3000  # one transaction: nothing half-deleted

    # A new worker, and the periodic scheduler that enqueues again what nobody runs.
    start_service("rqworker", "high", "default", "low")
    restarted = time.monotonic()
    start_service("ponos_scheduler", env={"PONOS_SCHEDULER_INTERVAL": "2"})
    wait_for(lambda: Job.objects.get(pk=job.pk).state == JobState.Done, timeout=60, message="the job to complete")
    recovered = time.monotonic() - restarted
    assert not run.transcriptions.exists()
    job.refresh_from_db()
    assert job.attempts == 2
    report_recovery(
        "database backend of a results deletion killed mid-statement, from SIGKILL to gone", backend_stopped
    )
    report_recovery("that deletion done, from a new worker and scheduler starting (interval 2 s)", recovered)


def startable_process(corpus, user):
    process = ProcessFactory(
        mode=ProcessMode.Workers, corpus=corpus, creator=user, name="Race", activity_state=ActivityState.Disabled
    )
    worker = WorkerFactory()
    grant(worker, Role.GUEST, user=user)
    version = WorkerVersionFactory(worker=worker, state="available", configuration={"docker": {"command": "true"}})
    WorkerRunFactory(process=process, version=version)
    return process


def test_destroy_and_start_races(live_server, user, corpus, token):
    import requests

    outcomes = []
    for attempt in range(30):
        process = startable_process(corpus, user)
        statuses = {}

        def call(name, method, url, delay, statuses=statuses):
            time.sleep(delay)
            statuses[name] = requests.request(method, url, headers={"Authorization": f"Token {token}"}).status_code

        base = f"{live_server.url}/api/v1/process/{process.id}"
        threads = [
            threading.Thread(target=call, args=("destroy", "DELETE", f"{base}/", 0)),
            threading.Thread(target=call, args=("start", "POST", f"{base}/start/", 0.005 + (attempt % 12) * 0.005)),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert 500 not in statuses.values(), statuses
        process = Process.objects.filter(pk=process.pk).first()
        if statuses["destroy"] == 204:
            # The deletion won: the process never started, and is marked for its job.
            assert statuses["start"] in (404, 409), statuses
            assert process.deleting is not None and process.started is None
            assert not Task.objects.filter(process_id=process.pk).exists()
        else:
            assert (statuses["start"], statuses["destroy"]) == (200, 409), statuses
            assert process.started is not None and process.deleting is None
        outcomes.append(statuses["destroy"])
    # Both orders happened.
    assert {204, 409} <= set(outcomes), outcomes


SLOW_WORKER = """
import time

from arkindex_worker.worker import ElementsWorker


class Slow(ElementsWorker):
    def process_element(self, element):
        time.sleep(1.5)
        self.create_transcription(element, text="seen " + element.name, confidence=1.0)


if __name__ == "__main__":
    Slow(description="Takes its time over each page").run()
"""


def test_killed_agent_gives_its_elements_back(
    start_service, live_server, user, corpus, token, tmp_path, worker_python, run_in_clients_env, report_recovery
):
    import requests

    script = tmp_path / "slow.py"
    script.write_text(SLOW_WORKER)
    worker = WorkerFactory(slug="slow", name="Slow")
    grant(worker, Role.GUEST, user=user)
    version = WorkerVersionFactory(
        worker=worker,
        state="available",
        configuration={"docker": {"command": shlex.join([str(worker_python), str(script)])}},
    )
    process = ProcessFactory(
        mode=ProcessMode.Workers,
        corpus=corpus,
        creator=user,
        name="Two agents",
        chunks=2,
        skip_elements_json=True,
        activity_state=ActivityState.Pending,
    )
    run = WorkerRunFactory(process=process, version=version)
    start_service("rqworker", "high", "default", "low", "--worker-class", "rq.SimpleWorker")
    agents = [start_service("ponos_agent", "--concurrency", "1", ready="Ctrl-C to stop") for _ in range(2)]
    response = requests.post(
        f"{live_server.url}/api/v1/process/{process.id}/start/", headers={"Authorization": f"Token {token}"}
    )
    assert response.status_code == 200, response.text

    def holding():
        return WorkerActivity.objects.filter(worker_run=run, state="started").values_list("task_id", flat=True)

    # Both chunks consume the queue; kill the agent whose task holds an element, mid-element.
    wait_for(lambda: len(set(holding())) == 2, timeout=120, message="both tasks to hold an element")
    victim_task = Task.objects.get(pk=holding()[0])
    victim_pid = Agent.objects.get(pk=victim_task.agent_id).pid
    victim = next(agent for agent in agents if agent.pid == victim_pid)
    held = set(
        WorkerActivity.objects.filter(task_id=victim_task.pk, state="started").values_list("element_id", flat=True)
    )
    killed = time.monotonic()
    kill_group(victim)

    wait_for(
        lambda: Task.objects.get(pk=victim_task.pk).state == TaskState.Error, timeout=60, message="its task to end"
    )
    detected = time.monotonic() - killed
    process = wait_finished(process, 300)
    pages = set(corpus.elements.values_list("id", flat=True))
    activities = {a.element_id: a for a in WorkerActivity.objects.filter(worker_run=run)}
    # Nothing lost: every page was processed, the held one by the surviving task.
    assert {a.state for a in activities.values()} == {"processed"}
    assert set(activities) == pages
    for element_id in held:
        assert (activities[element_id].attempts, activities[element_id].task_id) == (1, None)
        assert "ended (error)" in activities[element_id].last_error
    # Nothing done twice but what the killed task had not finished.
    per_page = {page: run.transcriptions.filter(element_id=page).count() for page in pages}
    assert all(count == 1 for page, count in per_page.items() if page not in held), per_page
    stats = requests.get(
        f"{live_server.url}/api/v1/process/{process.id}/activity-stats/", headers={"Authorization": f"Token {token}"}
    ).json()
    assert (stats[0]["processed"], stats[0]["retried"], stats[0]["failed"]) == (6, len(held), 0)
    assert stats[0]["estimated_completion"] is None
    report_recovery("task of an agent killed mid-element ended, its element queued again (timeout 5 s)", detected)


@pytest.fixture
def own_redis(tmp_path, monkeypatch):
    """A Redis server of the test's own, that the test stops and starts again; the server's queues use it."""
    port = free_port()
    command = [
        shutil.which("redis-server"),
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
    ]
    url = f"redis://127.0.0.1:{port}/0"
    for queue in django_rq.settings.QUEUES.values():
        monkeypatch.setitem(queue, "URL", url)

    class Server:
        process = None
        address = url

        def start(self):
            self.process = subprocess.Popen([*command, "--dir", str(tmp_path)], stdout=subprocess.DEVNULL)
            wait_for(lambda: self.ping(), timeout=10, message="the test's Redis to start")

        def stop(self):
            self.process.terminate()
            self.process.wait(10)

        def ping(self):
            try:
                return django_rq.get_connection(DEFAULT_QUEUE).ping()
            except Exception:
                return False

    server = Server()
    server.start()
    yield server
    if server.process.poll() is None:
        server.stop()


def test_redis_down_during_start(
    own_redis, user, corpus, user_client, django_capture_on_commit_callbacks, report_recovery
):
    process = startable_process(corpus, user)
    Process.objects.filter(pk=process.pk).update(activity_state=ActivityState.Pending)
    own_redis.stop()
    with django_capture_on_commit_callbacks(execute=True):
        response = user_client.post(f"/api/v1/process/{process.id}/start/")
    # Committed, and said so: the work it needs is recorded, not lost.
    assert response.status_code == 200, response.content
    process.refresh_from_db()
    assert process.started is not None
    assert Task.objects.filter(process=process).count() == 2
    (job,) = Job.objects.all()
    assert (job.function, job.state) == ("processes.jobs.initialise_activities", JobState.Pending)
    # The health check says which service is down; nothing else answers a bare 500.
    assert user_client.get("/api/v1/health/").json() == {"database": "ok", "redis": "unreachable"}

    own_redis.start()
    Job.objects.filter(pk=job.pk).update(updated=job.updated - jobs.SUBMISSION_GRACE * 2)
    recovering = time.monotonic()
    assert jobs.recover_jobs() == 1
    assert django_rq.get_worker(DEFAULT_QUEUE, worker_class=SimpleWorker).work(burst=True)
    process.refresh_from_db()
    assert process.activity_state == ActivityState.Ready
    assert WorkerActivity.objects.filter(process=process).count() == corpus.elements.count()
    report_recovery(
        "activities of a process started while Redis was down, from recovery to ready", time.monotonic() - recovering
    )


def test_redis_down_answers_503_where_it_is_needed(own_redis, anonymous_client, settings, user):
    """Logging in needs the throttle's cache: without Redis, a clean 503 in the standard shape."""
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": own_redis.address}
    }
    own_redis.stop()
    response = anonymous_client.post("/api/v1/user/login/", {"email": user.email, "password": "x"}, format="json")
    assert response.status_code == 503
    assert response.json()["type"] == "server_error"
    assert response.json()["errors"][0]["code"] == "service_unavailable"
