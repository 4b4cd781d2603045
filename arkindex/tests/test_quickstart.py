"""
`arkindex-server quickstart`, run as a person runs it: the installed command, in a child process,
with no `DATABASE_URL` nor `REDIS_URL`, so that the embedded PostgreSQL and Redis really start. A
second run on the same data folder must bring back the same administrator, token and data.
"""

import json
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import redis
from rq import Queue

from arkindex import cli
from arkindex.tests.conftest import child_env, free_port, http, stop_process, wait_for

pytestmark = pytest.mark.slow

QUICKSTART = Path(sys.executable).with_name("arkindex-server")
READY_LINE = "Stop with Ctrl-C."
REDIS_KEY = "arkindex-quickstart-test"


@pytest.fixture
def data_dir():
    # Not under pytest's own temporary folder: pgserver opens the path to the folder up to the
    # system user it runs PostgreSQL as (when run as root), and a concurrent pytest session would
    # close it again.
    path = Path(tempfile.mkdtemp(prefix="arkindex-quickstart-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


class Quickstart:
    """One run of the command, its output in a file, stopped with SIGINT as Ctrl-C would."""

    def __init__(self, data_dir, **variables):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = data_dir / f"quickstart-{self.port}.log"
        with self.log.open("w") as output:
            self.process = subprocess.Popen(
                [str(QUICKSTART), "quickstart", "--data-dir", str(data_dir), "--port", str(self.port)]
                + ["--workers", "1"],
                env=child_env(**variables),
                cwd=data_dir,
                stdout=output,
                stderr=subprocess.STDOUT,
            )

    def output(self):
        return self.log.read_text()

    def wait_ready(self):
        """The banner is printed once the API answers its health check: read what it tells."""

        def ready():
            if self.process.poll() is not None:
                pytest.fail(f"quickstart exited with {self.process.returncode}:\n{self.output()}", pytrace=False)
            return READY_LINE in self.output()

        wait_for(ready, 90, self.output)
        output = self.output()
        fields = {name: re.search(rf"^\s+{name}:\s+(\S+)$", output, re.M)[1] for name in ("Email", "Password", "Token")}
        exports = dict(re.findall(r"(\w+_URL)='([^']*)'", output))
        return fields["Email"], fields["Password"], fields["Token"], exports

    def stop(self):
        return stop_process(self.process, signal.SIGINT)


def run_job(redis_url, timeout=20):
    """Enqueue a job through the quickstart's Redis and wait for its worker to run it."""
    connection = redis.Redis.from_url(redis_url)
    try:
        job = Queue("default", connection=connection).enqueue("os.getpid")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not job.is_finished:
            time.sleep(0.2)
            job.refresh()
        return job.return_value()
    finally:
        connection.close()


def manage_on(data_dir, code):
    """`arkindex-server --data-dir DIR shell -c CODE` as the banner tells, from elsewhere, nothing exported."""
    return subprocess.run(
        [str(QUICKSTART), "--data-dir", str(data_dir), "shell", "-c", code],
        env=child_env(),
        cwd=tempfile.gettempdir(),
        capture_output=True,
        text=True,
        timeout=120,
    )


SHELL_REPORT = (
    "import json; from django.conf import settings; from ponos.models import Agent; "
    "from django.contrib.auth import get_user_model; "
    "print(json.dumps({'media': str(settings.MEDIA_ROOT), 'debug': settings.DEBUG, "
    "'agents': Agent.objects.count(), 'running_agents': Agent.objects.filter(stopped__isnull=True).count(), "
    "'users': get_user_model().objects.count()}))"
)


def report_once_agent_runs(data_dir, timeout=60):
    """The shell report, once the quickstart's agent has registered (it starts beside the API)."""
    deadline = time.monotonic() + timeout
    while True:
        result = manage_on(data_dir, SHELL_REPORT)
        assert result.returncode == 0, result.stderr
        report = json.loads(result.stdout.strip().splitlines()[-1])
        if report["running_agents"] or time.monotonic() > deadline:
            return report
        time.sleep(1)


def test_quickstart_embedded_twice(data_dir):
    # First run: everything is created.
    first = Quickstart(data_dir)
    try:
        email, password, token, exports = first.wait_ready()
        assert email == "admin@localhost"
        assert set(exports) == {"DATABASE_URL", "REDIS_URL"}
        # The socket lives in the data folder, at the same path at every start.
        assert exports["REDIS_URL"] == f"unix://{data_dir.resolve()}/redis/redis.sock?db=0"
        assert "export ARKINDEX_API_URL=http://localhost:" in first.output()
        assert f"arkindex-server --data-dir {data_dir.resolve()} <command>" in first.output()

        # A management command as the banner prints it: the same database, secret key and media folder.
        report = report_once_agent_runs(data_dir)
        assert report == {
            "media": str(data_dir.resolve() / "media"),
            "debug": True,
            "agents": 1,
            "running_agents": 1,
            "users": 1,
        }

        assert http("GET", f"{first.base}/api/v1/health/") == (200, {"database": "ok", "redis": "ok"})
        status, body = http("POST", f"{first.base}/api/v1/user/login/", {"email": email, "password": password})
        assert status == 200, body
        assert body["is_admin"] is True
        login_token = body["auth_token"]
        status, body = http("GET", f"{first.base}/api/v1/user/", token=token)
        assert (status, body["email"]) == (200, email)

        # The admin and the API docs have their styles and scripts.
        assert http("GET", f"{first.base}/static/admin/css/base.css")[0] == 200
        assert http("GET", f"{first.base}/api/v1/docs/")[0] == 200

        # The job worker runs jobs from the embedded Redis.
        assert isinstance(run_job(exports["REDIS_URL"]), int), first.output()
        redis.Redis.from_url(exports["REDIS_URL"]).set(REDIS_KEY, "kept")
    finally:
        code = first.stop()
    assert code == 0, first.output()
    assert not (data_dir / "postgres" / "postmaster.pid").exists(), "the embedded PostgreSQL is still running"
    assert {"secret_key", "admin.json", "postgres", "redis", "agent_id"} <= {path.name for path in data_dir.iterdir()}
    stopped = manage_on(data_dir, "print(1)")
    assert stopped.returncode == 1
    assert f"No quickstart runs in {data_dir.resolve()}: start one with" in stopped.stderr

    # Second run: the same credentials, the same data.
    second = Quickstart(data_dir)
    try:
        *credentials, second_exports = second.wait_ready()
        assert credentials == [email, password, token]
        assert second_exports == exports
        # The quickstart's agent is the same one as in the first run.
        report = report_once_agent_runs(data_dir)
        assert (report["agents"], report["running_agents"]) == (1, 1)
        status, body = http("POST", f"{second.base}/api/v1/user/login/", {"email": email, "password": password})
        assert (status, body["auth_token"]) == (200, login_token)
        assert redis.Redis.from_url(exports["REDIS_URL"]).get(REDIS_KEY) == b"kept"
    finally:
        code = second.stop()
    assert code == 0, second.output()


def test_quickstart_uses_given_servers(data_dir, test_database_url, test_redis_url):
    run = Quickstart(data_dir, DATABASE_URL=test_database_url, REDIS_URL=test_redis_url)
    try:
        email, password, token, exports = run.wait_ready()
        assert exports == {}
        assert "embedded" not in run.output()
        status, body = http("GET", f"{run.base}/api/v1/user/", token=token)
        assert (status, body["email"]) == (200, email)
    finally:
        code = run.stop()
    assert code == 0, run.output()
    assert not (data_dir / "postgres").exists()
    assert not (data_dir / "redis").exists()

    from django.contrib.auth import get_user_model

    assert get_user_model().objects.filter(email=email, is_superuser=True).exists()


# --- The quickstart's parts, in-process -----------------------------------------------------------


def test_defaults_do_not_override_the_user(tmp_path):
    environ = {"DEBUG": "false", "SECRET_KEY": "mine", "PUBLIC_URL": "https://arkindex.example.com"}
    cli.apply_defaults(environ, tmp_path, "127.0.0.1", 8000)
    assert environ["DEBUG"] == "false"
    assert environ["SECRET_KEY"] == "mine"
    assert environ["PUBLIC_URL"] == "https://arkindex.example.com"
    assert environ["MEDIA_ROOT"] == str(tmp_path / "media")
    assert not (tmp_path / "secret_key").exists()


def test_defaults_generate_a_lasting_secret_key(tmp_path):
    first, second = {}, {}
    cli.apply_defaults(first, tmp_path, "0.0.0.0", 8123)
    cli.apply_defaults(second, tmp_path, "0.0.0.0", 8123)
    assert first["DEBUG"] == "true"
    assert first["PUBLIC_URL"] == "http://localhost:8123"
    assert len(first["SECRET_KEY"]) >= 50
    assert first["SECRET_KEY"] == second["SECRET_KEY"]
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


@pytest.mark.parametrize(
    "host,public,probe",
    [
        ("127.0.0.1", "http://localhost:8000", "http://127.0.0.1:8000"),
        ("0.0.0.0", "http://localhost:8000", "http://127.0.0.1:8000"),
        ("::", "http://localhost:8000", "http://[::1]:8000"),
        ("192.0.2.7", "http://192.0.2.7:8000", "http://192.0.2.7:8000"),
    ],
)
def test_urls(host, public, probe):
    assert cli.public_url(host, 8000) == public
    assert cli.probe_url(host, 8000) == probe


def test_admin_is_created_once(db, tmp_path):
    email, password, token = cli.ensure_admin(tmp_path, "Admin@Localhost")
    assert email == "admin@localhost"
    assert cli.ensure_admin(tmp_path, "admin@localhost") == (email, password, token)
    assert (tmp_path / "admin.json").stat().st_mode & 0o077 == 0

    from django.contrib.auth import get_user_model

    user = get_user_model().objects.get(email=email)
    assert user.is_superuser and user.check_password(password)
    # A password changed since is not the quickstart's to show any more.
    user.set_password("changed-by-the-admin")
    user.save()
    assert cli.ensure_admin(tmp_path, email) == (email, None, token)


def test_supervisor_stops_all_when_one_exits():
    sleeper = cli.ManagedProcess("sleeper", [sys.executable, "-c", "import time; time.sleep(60)"])
    failing = cli.ManagedProcess("failing", [sys.executable, "-c", "import time; time.sleep(0.5); raise SystemExit(3)"])
    handlers = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    try:
        assert cli.Supervisor([sleeper, failing], stop_timeout=5).run() == 1
    finally:
        for signum, handler in handlers.items():
            signal.signal(signum, handler)
    assert failing.popen.returncode == 3
    assert sleeper.popen.returncode == -signal.SIGTERM
