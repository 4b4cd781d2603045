"""
Running the scheduler for real in tests: `manage.py` commands started as separate processes (RQ
workers, agents) against the test database and Redis, with the live server as the API the tasks
call. Test modules import the fixtures they use.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection

from ponos.models import Task
from processes.models import Process

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 90


def wait_for(condition, timeout=TIMEOUT, message="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.3)
    raise AssertionError(f"Timed out waiting for {message}")


@pytest.fixture
def services_env(live_server, settings):
    # Links the API gives out (downloads of exports, artifacts, model archives) point at the live server.
    settings.PUBLIC_URL = live_server.url
    db = connection.settings_dict
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
        "TEST_REDIS_URL": settings.RQ_QUEUES["default"]["URL"],
        "PONOS_API_URL": live_server.url,
        "PUBLIC_URL": live_server.url,
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "PONOS_AGENT_PING_INTERVAL": "1",
        "PONOS_LOG_FLUSH_INTERVAL": "1",
        "PONOS_AGENT_TIMEOUT": "5",
        "PYTHONUNBUFFERED": "1",
    }


@pytest.fixture
def start_service(services_env, tmp_path):
    """Start a manage.py command in the background; all are stopped at the end of the test."""
    started = []

    def start(*arguments, ready=None, env=None):
        log_path = tmp_path / f"{arguments[0]}-{len(started)}.log"
        log = open(log_path, "wb")
        process = subprocess.Popen(
            [sys.executable, "manage.py", *arguments],
            cwd=ROOT,
            env={**services_env, **(env or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
            # A group of its own, so that `kill_group` kills it with every child (work-horses, slots, tasks).
            start_new_session=True,
        )
        started.append((process, log))
        if ready:
            wait_for(lambda: ready in log_path.read_text(errors="replace"), 60, f"{arguments[0]} to start")
        return process

    yield start
    for process, _ in started:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process, log in started:
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
    # Shown by pytest when the test failed.
    for path in sorted(tmp_path.glob("*.log")):
        print(f"===== {path.name}\n{path.read_text(errors='replace')[-5000:]}")


def descendants(pid):
    """The processes `pid` started, and theirs, from /proc (RQ's work-horses leave their parent's group)."""
    children = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def kill_group(process):
    """SIGKILL a started service and everything it started, as a crash or the OOM killer would."""
    for pid in [process.pid, *descendants(process.pid)]:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    process.wait()


@pytest.fixture
def ponos(start_service):
    """One RQ worker for the scheduling jobs and two agents of two slots each."""
    start_service("rqworker", "high", "default", "low", "--worker-class", "rq.SimpleWorker")
    agents = [start_service("ponos_agent", "--concurrency", "2", ready="Ctrl-C to stop") for _ in range(2)]
    return agents


def wait_finished(process, timeout=TIMEOUT):
    def states():
        return [(task.slug, task.state) for task in Task.objects.filter(process=process)]

    try:
        wait_for(
            lambda: Process.objects.filter(pk=process.pk, finished__isnull=False).exists(),
            timeout,
            message="the process",
        )
    except AssertionError as error:
        raise AssertionError(f"{error}; its tasks: {states()}") from None
    process.refresh_from_db()
    if process.state != "completed":
        # A failing end-to-end test says why: the end of each unsuccessful task's log.
        from ponos.logs import read_log

        for task in Task.objects.filter(process=process).exclude(state="completed"):
            tail = read_log(task).decode(errors="replace")[-3000:]
            print(f"===== task {task.slug} ({task.state})\n{tail}")
    return process


def store_model_archive(model_version, files):
    """A `.tar.zst` archive of `files` ({name: text}) where the storage keeps the version's archive."""
    import io
    import tarfile

    import zstandard
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    tar_bytes = io.BytesIO()
    with tarfile.open(fileobj=tar_bytes, mode="w") as tar:
        for name, text in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(text.encode())
            tar.addfile(info, io.BytesIO(text.encode()))
    default_storage.save(model_version.archive_path, ContentFile(zstandard.compress(tar_bytes.getvalue())))
