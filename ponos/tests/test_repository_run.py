"""
Repository processes really run (seed 002, "Repository imports"): agents started with
`manage.py ponos_agent`, the local executor running `arkindex-repository-import`, which clones Git
repositories that the tests make with `git init` in their own folder (`file://` URLs, or plain
HTTP served by `git http-backend` from the test itself behind Basic authentication), and calls the
live API with its task token. Never the network.
"""

import base64
import os
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from ponos.logs import read_log
from ponos.models import Task, TaskState
from ponos.tests.running import wait_finished, wait_for
from processes.models import Process, ProcessState
from users.models import Token
from workers.models import Worker, WorkerVersion

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("transactional_db")]

PASSWORD = "glpat-secret-for-the-test"
VERSION_2 = """
version: 2
workers:
  - slug: labeller
    name: Labeller
    type: classifier
    description: Labels pages
    model_usage: supported
    docker:
      build: Dockerfile
      command: worker-labeller
      shm_size: 256m
    user_configuration:
      label: {title: Label, type: string, default: page}
  - slug: splitter
    name: Splitter
    type: segmenter
    docker:
      build: splitter/Dockerfile
"""
VERSION_3 = """
version: 3
workers:
  - slug: labeller
    name: Labeller
"""
INVALID = """
version: 2
workers:
  - slug: labeller
    name: Labeller
    gpu_usage: always
    docker:
      command: worker-labeller
"""


def git(*arguments, cwd):
    identity = ["-c", "user.name=Tests", "-c", "user.email=tests@example.com"]
    return subprocess.run(
        ["git", *identity, *arguments], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout.strip()


def make_repository(folder, arkindex_yml, tag=None):
    """A Git repository on branch `main` with one commit holding `.arkindex.yml`; its commit hash."""
    folder.mkdir(parents=True)
    git("init", "--quiet", "--initial-branch", "main", cwd=folder)
    (folder / ".arkindex.yml").write_text(arkindex_yml)
    (folder / "Dockerfile").write_text("FROM python:3.11-slim\n")
    git("add", ".", cwd=folder)
    git("commit", "--quiet", "-m", "Workers", cwd=folder)
    if tag:
        git("tag", tag, cwd=folder)
    return git("rev-parse", "HEAD", cwd=folder)


@pytest.fixture
def api(user, live_server):
    import requests

    session = requests.Session()
    session.headers["Authorization"] = f"Token {Token.objects.create(user=user).key}"
    session.base_url = f"{live_server.url}/api/v1"
    return session


@pytest.fixture
def file_urls(settings):
    settings.REPOSITORIES_ALLOW_FILE_URLS = True


def create_repository(api, url, credentials=None):
    response = api.post(f"{api.base_url}/process/repos/", json={"url": url, "credentials": credentials})
    assert response.status_code == 201, response.text
    return response.json()["id"]


def start_import(api, repository_id, revision=None):
    body = {"revision": revision} if revision else {}
    response = api.post(f"{api.base_url}/process/repos/{repository_id}/import/", json=body)
    assert response.status_code == 201, response.text
    return Process.objects.get(pk=response.json()["id"])


def log_of(process, run=0):
    """The whole log of the task of a run: the agent stores its end just after setting the final state."""
    task = Task.objects.get(process=process, run=run)
    wait_for(lambda: f"[ponos] Task {task.state}." in read_log(task).decode(), 30, "the end of the task's log")
    return read_log(task).decode()


def test_import_version_2_then_retry(ponos, api, tmp_path, file_urls):
    folder = tmp_path / "workers"
    commit = make_repository(folder, VERSION_2, tag="v1.0")
    url = f"file://{folder}"
    repository_id = create_repository(api, url)

    process = wait_finished(start_import(api, repository_id, "main"))
    log = log_of(process)
    assert process.state == ProcessState.Completed, log
    assert f"Commit {commit} on branch main, tag v1.0" in log
    assert "2 worker version(s) imported, 0 already imported." in log

    labeller = Worker.objects.get(repository_url=url, slug="labeller")
    assert (labeller.name, labeller.type.slug, labeller.description) == ("Labeller", "classifier", "Labels pages")
    version = labeller.versions.get()
    assert (version.revision_url, version.branch, version.tag) == (f"{url}/commit/{commit}", "main", "v1.0")
    assert (version.state, version.model_usage, version.docker_command, version.docker_shm_size) == (
        "available",
        "supported",
        "worker-labeller",
        "256m",
    )
    assert version.configuration["user_configuration"]["label"] == {
        "title": "Label",
        "type": "string",
        "default": "page",
    }
    assert Worker.objects.get(repository_url=url, slug="splitter").versions.count() == 1
    # The clone was made outside the task's folder: nothing became an artifact.
    assert not Task.objects.get(process=process).artifacts.exists()

    # Retrying recreates the import task alone, which finds the versions of this commit already there.
    response = api.post(f"{api.base_url}/process/{process.id}/retry/")
    assert response.status_code == 200, response.text
    assert [task["slug"] for task in response.json()["tasks"]] == ["import"]
    process = wait_finished(process)
    assert process.state == ProcessState.Completed
    assert Task.objects.filter(process=process).count() == 2
    assert "0 worker version(s) imported, 2 already imported." in log_of(process, run=1)
    assert WorkerVersion.objects.count() == 2

    # A later commit of the default branch gets new versions.
    (folder / "README.md").write_text("More\n")
    git("add", ".", cwd=folder)
    git("commit", "--quiet", "-m", "More", cwd=folder)
    process = wait_finished(start_import(api, repository_id))
    assert process.state == ProcessState.Completed, log_of(process)
    assert sorted(labeller.versions.values_list("version", "tag", "branch")) == [(1, "v1.0", "main"), (2, None, "main")]


def test_version_3_stops_without_importing(ponos, api, tmp_path, file_urls):
    folder = tmp_path / "published-by-ci"
    make_repository(folder, VERSION_3)
    process = wait_finished(start_import(api, create_repository(api, f"file://{folder}")))
    log = log_of(process)
    assert process.state == ProcessState.Stopped, log
    assert Task.objects.get(process=process).state == TaskState.Stopped
    assert "This .arkindex.yml is version 3" in log
    assert "imports nothing and stops" in log
    assert not Worker.objects.exists()


def test_invalid_arkindex_yml_fails_with_its_errors(ponos, api, tmp_path, file_urls):
    folder = tmp_path / "invalid"
    make_repository(folder, INVALID)
    repository_id = create_repository(api, f"file://{folder}")
    process = wait_finished(start_import(api, repository_id))
    log = log_of(process)
    assert process.state == ProcessState.Failed, log
    assert "The .arkindex.yml is invalid:" in log
    for error in (
        "workers.0.docker.build: Required field missing",
        "workers.0.type: Required field missing",
        "workers.0.gpu_usage: 'always' not in ('supported', 'required', 'disabled').",
    ):
        assert error in log
    assert not Worker.objects.exists()

    # A revision that does not exist fails too, saying so.
    process = wait_finished(start_import(api, repository_id, "no-such-branch"))
    assert process.state == ProcessState.Failed
    assert "The repository has no branch, tag or commit 'no-such-branch'." in log_of(process)


class GitHTTPHandler(BaseHTTPRequestHandler):
    """Git's smart HTTP protocol (`git http-backend`) behind Basic authentication."""

    root = None
    expected = None
    authorized = []

    def do_GET(self):
        self.serve()

    def do_POST(self):
        self.serve()

    def log_message(self, *args):
        pass

    def serve(self):
        if self.headers.get("Authorization") != self.expected:
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="git"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.authorized.append(self.path)
        path, _, query = self.path.partition("?")
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        env = {
            "PATH": os.environ["PATH"],
            "GIT_PROJECT_ROOT": str(self.root),
            "GIT_HTTP_EXPORT_ALL": "1",
            "PATH_INFO": path,
            "QUERY_STRING": query,
            "REQUEST_METHOD": self.command,
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(len(body)),
            "HTTP_CONTENT_ENCODING": self.headers.get("Content-Encoding", ""),
            "REMOTE_USER": "ci",
        }
        output = subprocess.run(["git", "http-backend"], input=body, env=env, capture_output=True).stdout
        head, _, content = output.partition(b"\r\n\r\n")
        headers = [line.split(":", 1) for line in head.decode().splitlines() if ":" in line]
        status = next((int(value.split()[0]) for name, value in headers if name.lower() == "status"), 200)
        self.send_response(status)
        for name, value in headers:
            if name.lower() != "status":
                self.send_header(name, value.strip())
        self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        self.wfile.write(content)


@pytest.fixture
def git_server(tmp_path):
    root = tmp_path / "served"
    root.mkdir()
    handler = type(
        "Handler",
        (GitHTTPHandler,),
        {"root": root, "expected": "Basic " + base64.b64encode(f"ci:{PASSWORD}".encode()).decode(), "authorized": []},
    )
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}", handler
    server.shutdown()
    server.server_close()


def test_credentials_of_an_http_repository(ponos, api, tmp_path, git_server):
    root, base_url, handler = git_server
    make_repository(Path(root) / "workers.git", VERSION_2)
    url = f"{base_url}/workers.git"
    with_credentials = create_repository(api, url, {"username": "ci", "password": PASSWORD})

    process = wait_finished(start_import(api, with_credentials))
    log = log_of(process)
    assert process.state == ProcessState.Completed, log
    assert handler.authorized, "The clone never sent the credentials"
    assert Worker.objects.filter(repository_url=url).count() == 2
    # The credentials were never printed, nor stored anywhere readable.
    assert PASSWORD not in log
    task = Task.objects.get(process=process)
    assert PASSWORD not in task.command and PASSWORD not in str(task.env)
    response = api.get(f"{api.base_url}/process/repos/{with_credentials}/")
    assert response.json()["has_credentials"] is True
    assert PASSWORD not in response.text
    response = api.get(f"{api.base_url}/task/{task.id}/")
    assert PASSWORD not in response.text

    # Without them, the clone fails at once instead of waiting for someone to type a password.
    response = api.patch(f"{api.base_url}/process/repos/{with_credentials}/", json={"credentials": None})
    assert response.status_code == 200, response.text
    process = wait_finished(start_import(api, with_credentials))
    log = log_of(process)
    assert process.state == ProcessState.Failed
    assert "git clone failed" in log
    assert PASSWORD not in log
