"""
`arkindex-server`: the quickstart, and every Django management command.

`arkindex-server quickstart` runs a complete server from a data folder on a machine that has
nothing but Python: it starts the embedded PostgreSQL and Redis (unless `DATABASE_URL` /
`REDIS_URL` name real servers), applies the migrations, makes sure an administrator exists, then
runs the API under granian and the background job worker as supervised child processes until
Ctrl-C. Any other subcommand is a management command (`arkindex-server migrate`, `rqworker`…);
`arkindex-server --data-dir DIR <command>` runs one with the configuration of the quickstart
running in DIR, which the quickstart writes down in DIR/quickstart.json while it runs.

The quickstart's development defaults (DEBUG, a secret key generated once and kept in the data
folder, media and static files in the data folder) are applied only to variables the user left
unset, and before the settings load, so that the children inherit exactly the same configuration.
"""

import argparse
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from arkindex.pids import process_alive

PROG = "arkindex-server"
ADMIN_TOKEN_NAME = "quickstart"
EMBEDDED_LABELS = {"DATABASE_URL": "PostgreSQL", "REDIS_URL": "Redis"}
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1", "0.0.0.0", "::", ""}


STATE_FILE = "quickstart.json"


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "quickstart":
        return quickstart(argv[1:])
    if argv and (argv[0] == "--data-dir" or argv[0].startswith("--data-dir=")):
        return manage_quickstart_data(argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(
            f"Usage: {PROG} quickstart [--help] | {PROG} [--data-dir DIR] <management command> [options]\n\n"
            "--data-dir runs the command on the data of the quickstart running in DIR.\n"
        )
    return manage(argv)


def manage_quickstart_data(argv):
    """
    `arkindex-server --data-dir DIR <command>`: a management command with the configuration of the
    quickstart running in DIR (its embedded PostgreSQL and Redis, secret key, media folder and
    defaults), as its banner says, and nothing to export.
    """
    if argv[0] == "--data-dir":
        if len(argv) < 2:
            sys.exit(f"Usage: {PROG} --data-dir DIR <management command> [options]")
        folder, argv = argv[1], argv[2:]
    else:
        folder, argv = argv[0].partition("=")[2], argv[1:]
    data_dir = Path(folder).expanduser().resolve()
    state_file = data_dir / STATE_FILE
    if not state_file.exists():
        sys.exit(f"No quickstart runs in {data_dir}: start one with `{PROG} quickstart --data-dir {data_dir}`.")
    state = json.loads(state_file.read_text())
    if state["embedded"] and not process_alive(state["pid"]):
        sys.exit(
            f"The quickstart of {data_dir} is not running, and its embedded services stop with it: start it "
            f"with `{PROG} quickstart --data-dir {data_dir}`, then run the command again."
        )
    for variable, value in state["embedded"].items():
        os.environ.setdefault(variable, value)
    apply_defaults(os.environ, data_dir, state["host"], state["port"])
    return manage(argv)


def manage(argv):
    """Run a Django management command, telling a configuration error plainly instead of a traceback."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "arkindex.settings")
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line

    try:
        settings.INSTALLED_APPS  # noqa: B018 (loads the settings)
    except ImproperlyConfigured as e:
        sys.exit(f"Configuration error: {e}")
    execute_from_command_line([PROG, *argv])
    return 0


def say(message):
    print(f"[quickstart] {message}", flush=True)


# --- The supervised processes ------------------------------------------------------------------


@dataclass
class ManagedProcess:
    """One long-running child of the quickstart: started in a session of its own, so that a Ctrl-C
    in the terminal reaches the supervisor only, which then stops every child in order."""

    name: str
    argv: list
    popen: subprocess.Popen | None = field(default=None, repr=False)

    def start(self):
        self.popen = subprocess.Popen(self.argv, start_new_session=True, preexec_fn=_die_with_parent)

    def running(self):
        return self.popen is not None and self.popen.poll() is None

    def signal(self, signum, group=False):
        if self.popen is None:
            return
        try:
            if group:
                os.killpg(self.popen.pid, signum)
            elif self.popen.poll() is None:
                self.popen.send_signal(signum)
        except (ProcessLookupError, PermissionError):
            pass


def _die_with_parent():
    """On Linux, a child gets SIGTERM if the supervisor itself is killed, so nothing is left behind."""
    if sys.platform.startswith("linux"):
        import ctypes

        PR_SET_PDEATHSIG = 1
        try:
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        except (OSError, AttributeError):
            pass


class Supervisor:
    """
    Runs processes until a stop is asked (SIGINT, SIGTERM, SIGHUP) or one of them exits on its own.
    A stop sends SIGTERM to each process (granian and RQ both finish their current work on it),
    waits up to `stop_timeout` seconds, then kills what is left; a second Ctrl-C kills at once.
    """

    def __init__(self, processes, stop_timeout=10, poll_interval=0.2):
        self.processes = list(processes)
        self.stop_timeout = stop_timeout
        self.poll_interval = poll_interval
        self.stop_requests = 0

    def _request_stop(self, signum, frame):
        self.stop_requests += 1
        if self.stop_requests == 1:
            say(f"{signal.Signals(signum).name} received, stopping (press Ctrl-C again to kill at once)")

    def run(self, ready_check=None, on_ready=None):
        """Return 0 after a requested stop, 1 when a process exited on its own."""
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, self._request_stop)
        for process in self.processes:
            process.start()
            say(f"Started {process.name} (pid {process.popen.pid})")

        ready = ready_check is None
        started = time.monotonic()
        warned = False
        code = 0
        while not self.stop_requests:
            dead = next((p for p in self.processes if not p.running()), None)
            if dead is not None:
                say(f"{dead.name} exited with code {dead.popen.returncode}; stopping everything. See its output above.")
                code = 1
                break
            if not ready:
                ready = ready_check()
                if ready and on_ready:
                    on_ready()
                elif not warned and time.monotonic() - started > 60:
                    say("The API still does not answer after 60 seconds; see the output above.")
                    warned = True
            time.sleep(self.poll_interval)
        self.stop()
        return code

    def stop(self):
        requests = self.stop_requests
        # Stop in the reverse order of start, so that job workers go before the API they may call.
        for process in reversed(self.processes):
            process.signal(signal.SIGTERM)
        deadline = time.monotonic() + self.stop_timeout
        while any(p.running() for p in self.processes):
            if time.monotonic() > deadline or self.stop_requests > max(requests, 1):
                for process in self.processes:
                    if process.running():
                        say(f"{process.name} did not stop, killing it")
                break
            time.sleep(0.1)
        for process in self.processes:
            # Also whatever the process started (granian workers, RQ work horses) and left behind.
            process.signal(signal.SIGKILL, group=True)
            if process.popen is not None:
                process.popen.wait()


# --- The quickstart ----------------------------------------------------------------------------


def _raise_keyboard_interrupt(signum, frame):
    raise KeyboardInterrupt


def _secret_file(path, make):
    """Content of a file only the current user can read, created by `make()` the first time."""
    if path.exists():
        return path.read_text().strip()
    value = make()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(value + "\n")
    return value


def public_url(host, port):
    shown = "localhost" if host in LOOPBACK_HOSTS else (f"[{host}]" if ":" in host else host)
    return f"http://{shown}:{port}"


def probe_url(host, port):
    """Where the supervisor itself reaches the API: a wildcard bind is reached on loopback."""
    if host in ("0.0.0.0", ""):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    return f"http://{f'[{host}]' if ':' in host else host}:{port}"


def apply_defaults(environ, data_dir, host, port):
    """The development defaults of the quickstart, for every variable the user did not set."""
    environ.setdefault("DJANGO_SETTINGS_MODULE", "arkindex.settings")
    environ["ARKINDEX_DATA_DIR"] = str(data_dir)
    environ.setdefault("DEBUG", "true")
    environ.setdefault("PUBLIC_URL", public_url(host, port))
    environ.setdefault("MEDIA_ROOT", str(data_dir / "media"))
    environ.setdefault("STATIC_ROOT", str(data_dir / "static"))
    if not environ.get("SECRET_KEY"):
        # Generated once and kept, so that sessions survive a restart; never the settings' default.
        environ["SECRET_KEY"] = _secret_file(data_dir / "secret_key", lambda: secrets.token_urlsafe(50))


def ensure_admin(data_dir, email):
    """
    The quickstart's administrator: created on the first run with a random password kept in the
    data folder, so that every later run prints the same credentials. Returns (email, password or
    None when it was changed since, API token).
    """
    from django.apps import apps
    from django.contrib.auth import get_user_model

    User = get_user_model()
    Token = apps.get_model("users", "Token")

    credentials_file = data_dir / "admin.json"
    stored = json.loads(credentials_file.read_text()) if credentials_file.exists() else {}
    email = email.strip().lower()
    password = stored.get(email)
    user = User.objects.filter(email__iexact=email).first()
    if user is None:
        password = password or secrets.token_urlsafe(12)
        user = User.objects.create_superuser(email=email, password=password)
        stored[email] = password
        credentials_file.touch(mode=0o600)
        credentials_file.write_text(json.dumps(stored, indent=2) + "\n")
    elif password is None or not user.check_password(password):
        password = None
    token, _ = Token.objects.get_or_create(user=user, name=ADMIN_TOKEN_NAME)
    return email, password, token.key


def prepare(data_dir, admin_email):
    """Migrate, collect static files when WhiteNoise will not find them itself, and ensure the admin."""
    import django
    import django_rq
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connections

    django.setup()
    try:
        django_rq.get_connection("default").ping()
    except Exception as e:
        raise SystemExit(
            f"Redis does not answer at REDIS_URL: {e}. Check REDIS_URL, or unset it to use the embedded Redis."
        ) from e
    say("Applying database migrations…")
    try:
        call_command("migrate", interactive=False, verbosity=0)
    except django.db.OperationalError as e:
        raise SystemExit(
            f"The database does not answer at DATABASE_URL: {e}. "
            "Check DATABASE_URL, or unset it to use the embedded PostgreSQL."
        ) from e
    if not settings.DEBUG:
        # In DEBUG, WhiteNoise serves the apps' static files straight from their folders.
        say("Collecting static files…")
        call_command("collectstatic", interactive=False, verbosity=0)
    credentials = ensure_admin(data_dir, admin_email)
    connections.close_all()
    return credentials


def quickstart_processes(host, port, workers, threads=4, data_dir=None):
    """The supervised processes. Add a process here to have it started, watched and stopped with the rest."""
    from arkindex.rq import QUEUES

    python = sys.executable
    return [
        ManagedProcess(
            "API (granian)",
            [python, "-m", "granian", "--interface", "wsgi", "arkindex.wsgi:application", "--no-ws"]
            + ["--host", host, "--port", str(port), "--workers", str(workers), "--blocking-threads", str(threads)]
            # A worker that dies is replaced rather than ending the whole quickstart (granian still exits
            # on a crash loop); a stop lets requests finish for 5 seconds, well within the supervisor's.
            + ["--respawn-failed-workers", "--workers-kill-timeout", "5"],
        ),
        ManagedProcess("job worker (rqworker)", [python, "-m", "arkindex.cli", "rqworker", *QUEUES]),
        ManagedProcess("task scheduler (ponos_scheduler)", [python, "-m", "arkindex.cli", "ponos_scheduler"]),
        ManagedProcess(
            "task agent (ponos_agent)",
            # One agent across restarts, rather than a new one listed at each start.
            [python, "-m", "arkindex.cli", "ponos_agent"]
            + (["--agent-file", str(data_dir / "agent_id")] if data_dir else []),
        ),
    ]


def check_port_free(host, port):
    """Fail before starting anything rather than after the migrations, when the API cannot listen."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as e:
            message = f"Cannot listen on {host}:{port} ({e.strerror}): stop what uses it, or pass another --port."
            raise SystemExit(message) from e


def health_check(base_url):
    def check():
        try:
            with urllib.request.urlopen(f"{base_url}/api/v1/health/", timeout=2) as response:
                return response.status == 200
        except (OSError, urllib.error.URLError):
            return False

    return check


def banner(data_dir, credentials, embedded):
    email, password, token = credentials
    url = os.environ["PUBLIC_URL"].rstrip("/")
    lines = [
        "",
        "=" * 78,
        f"Arkindex is running on {url}/",
        "",
        f"  Console:            {url}/",
        f"  API documentation:  {url}/api/v1/docs/",
        f"  Administration:     {url}/admin/",
        f"  Health check:       {url}/api/v1/health/",
        "",
        f"  Email:     {email}",
        f"  Password:  {password or '(changed since it was generated; not shown)'}",
        f"  Token:     {token}",
        "",
        "Clients and workers (arkindex-client, arkindex-base-worker, arkindex-cli) use:",
        f"  export ARKINDEX_API_URL={url}/ ARKINDEX_API_TOKEN={token}",
    ]
    lines += [
        "",
        "Management commands (shell, createsuperuser, cleanup, reindex…) on this data, while it runs:",
        f"  {PROG} --data-dir {data_dir} <command>",
    ]
    if embedded:
        urls = " ".join(f"{variable}='{os.environ[variable]}'" for variable in embedded)
        lines += ["", "The embedded services, for psql and redis-cli:", f"  {urls}"]
    lines += ["", f"Data folder: {data_dir}. Stop with Ctrl-C.", "=" * 78, ""]
    print("\n".join(lines), flush=True)


def write_state(data_dir, host, port, embedded):
    """What `--data-dir` needs to run a command on this quickstart's data (no secret: those stay in their files)."""
    state = {
        "pid": os.getpid(),
        "host": host,
        "port": port,
        "embedded": {variable: os.environ[variable] for variable in embedded},
    }
    path = data_dir / STATE_FILE
    path.touch(mode=0o600)
    path.write_text(json.dumps(state, indent=2) + "\n")


def quickstart(argv):
    parser = argparse.ArgumentParser(
        prog=f"{PROG} quickstart",
        description="Run the API and a background job worker on embedded PostgreSQL and Redis kept in a data "
        "folder (or on the servers named by DATABASE_URL and REDIS_URL), until Ctrl-C.",
    )
    parser.add_argument(
        "--data-dir",
        default=os.environ.get("ARKINDEX_DATA_DIR", "data"),
        help="folder of the embedded databases, secret key and files (default: $ARKINDEX_DATA_DIR or ./data)",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port to listen on (default: 8000)")
    parser.add_argument("--workers", type=int, default=2, help="API worker processes (default: 2)")
    parser.add_argument(
        "--threads", type=int, default=4, help="threads serving requests in each API worker (default: 4)"
    )
    options = parser.parse_args(argv)
    if options.workers < 1:
        parser.error("--workers must be at least 1")
    if options.threads < 1:
        parser.error("--threads must be at least 1")

    from arkindex.embedded import EmbeddedServices

    check_port_free(options.host, options.port)
    data_dir = Path(options.data_dir).expanduser().resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    # Until the supervisor takes over, a SIGTERM must still stop the embedded servers on the way out.
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _raise_keyboard_interrupt)
    embedded = [label for variable, label in EMBEDDED_LABELS.items() if not os.environ.get(variable)]
    if embedded:
        say(f"Starting the embedded {' and '.join(embedded)} in {data_dir}…")
    try:
        with EmbeddedServices(data_dir) as services:
            apply_defaults(os.environ, data_dir, options.host, options.port)
            credentials = prepare(data_dir, os.environ.get("ARKINDEX_ADMIN_EMAIL", "admin@localhost"))
            write_state(data_dir, options.host, options.port, services.embedded_variables)
            processes = quickstart_processes(options.host, options.port, options.workers, options.threads, data_dir)
            try:
                code = Supervisor(processes).run(
                    ready_check=health_check(probe_url(options.host, options.port)),
                    on_ready=lambda: banner(data_dir, credentials, services.embedded_variables),
                )
            finally:
                (data_dir / STATE_FILE).unlink(missing_ok=True)
            if services.embedded_variables:
                say("Stopping the embedded services…")
    except KeyboardInterrupt:
        say("Interrupted before the server was ready; embedded services stopped.")
        return 0
    say("Stopped.")
    return code


if __name__ == "__main__":
    sys.exit(main())
