"""
`docker-compose.yml` and the `Dockerfile`, checked without Docker: the services an operator
expects are there, each command names a management command that exists, and the image gets every
app of the project.
"""

import importlib.util
import json
import re
import shlex
import tomllib

import pytest
import yaml
from django.core.management import get_commands

from arkindex.tests.conftest import REPO_ROOT

SERVER_SERVICES = ("api", "worker", "scheduler", "agent")


@pytest.fixture(scope="module")
def compose():
    return yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text())


def command_words(service):
    command = service["command"]
    if isinstance(command, list) and command[:2] == ["sh", "-c"]:
        command = command[2]
    words = shlex.split(command) if isinstance(command, str) else command
    return words


def management_commands(words):
    """Names of the management commands run by a command line (`arkindex-server X` or `manage.py X`)."""
    return [
        words[index + 1]
        for index, word in enumerate(words[:-1])
        if word == "arkindex-server" or word.endswith("manage.py")
    ]


def test_services(compose):
    assert set(compose["services"]) == {"db", "redis", "api", "worker", "scheduler", "agent"}
    assert compose["services"]["db"]["image"] == "postgres:15"
    assert compose["services"]["redis"]["image"] == "redis:7"
    for name in ("db", "redis", "api"):
        assert "healthcheck" in compose["services"][name], name


def test_server_services_share_the_configuration(compose):
    for name in SERVER_SERVICES:
        service = compose["services"][name]
        assert service["build"] == "."
        environment = service["environment"]
        assert environment["DATABASE_URL"].startswith("postgres://arkindex:arkindex@db:5432/")
        assert environment["REDIS_URL"] == "redis://redis:6379/0"
        assert environment["SECRET_KEY"].startswith("${SECRET_KEY:?"), "a missing SECRET_KEY must stop compose"
        assert "media:/data/media" in service["volumes"]


def granian_target(words):
    """The application a granian command line serves, as `(module, attribute)`."""
    granian = words[words.index("granian") + 1 :]
    assert granian[granian.index("--interface") + 1] == "wsgi"
    targets = [word for word in granian if ":" in word and not word.startswith("-")]
    assert len(targets) == 1, granian
    return targets[0].split(":")


def test_api_migrates_then_serves_with_granian(compose):
    api = compose["services"]["api"]
    words = command_words(api)
    assert management_commands(words) == ["migrate"]
    module, attribute = granian_target(words)
    assert importlib.util.find_spec(module) is not None, f"no module {module}"
    assert (module, attribute) == ("arkindex.wsgi", "application")
    assert re.search(r"api/v1/health/", " ".join(api["healthcheck"]["test"]))
    assert api["depends_on"] == {
        "db": {"condition": "service_healthy"},
        "redis": {"condition": "service_healthy"},
    }


@pytest.mark.parametrize("name", SERVER_SERVICES)
def test_commands_exist(compose, name):
    commands = management_commands(command_words(compose["services"][name]))
    assert commands, f"{name} runs no management command"
    available = get_commands()
    for command in commands:
        assert command in available, f"{name} runs `{command}`, which is no management command"


def test_worker_listens_on_every_queue(compose):
    from arkindex.rq import QUEUES

    words = command_words(compose["services"]["worker"])
    assert words[words.index("rqworker") + 1 :] == list(QUEUES)


def test_dockerfile_installs_every_app():
    dockerfile = (REPO_ROOT / "Dockerfile").read_text()
    assert dockerfile.startswith("#") and "FROM python:3.11-slim" in dockerfile
    users = re.findall(r"^USER (\S+)$", dockerfile, re.M)
    assert users and users[-1] not in ("root", "0"), "the server must not run as root"
    copied = set(re.findall(r"^COPY (\w+) \./\1$", dockerfile, re.M))
    packages = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]
    apps = {pattern.rstrip("*") for pattern in packages["include"]}
    assert apps == copied
    assert "collectstatic --noinput" in dockerfile
    ignored = (REPO_ROOT / ".dockerignore").read_text().split()
    assert {".git", ".venv", ".venv-clients", "data"} <= set(ignored)


def test_image_and_compose_serve_the_api_alike(compose):
    """Whether started by compose or by `docker run`, the API is the same application on port 8000."""
    cmd = re.search(r"^CMD (\[.*?\])$", (REPO_ROOT / "Dockerfile").read_text(), re.M | re.S)
    image = json.loads(cmd[1].replace("\\\n", ""))
    served = command_words(compose["services"]["api"])
    served = served[served.index("granian") :]
    assert granian_target(image) == granian_target(served)
    for words in (image, served):
        assert words[words.index("--host") + 1 :][:3] == ["0.0.0.0", "--port", "8000"], words
        assert {"--access-log", "--blocking-threads"} <= set(words), words
