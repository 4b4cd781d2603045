"""
`arkindex worker import` from the real `arkindex-cli` 0.5.0 against a live server: the worker
definition of a repository is validated by the CLI, the worker is created (or found again on a
second run), and a version is imported from the YAML; importing the same revision again finds the
existing version through the 409's `existing_id` instead of failing.
"""

import subprocess
import textwrap

import pytest

from users.models import Token

pytestmark = [pytest.mark.e2e]

REPOSITORY_URL = "https://git.example.com/team/demo-worker"
REVISION_URL = f"{REPOSITORY_URL}/-/commit/1a2b3c4d5e6f"

WORKER_DEFINITION = textwrap.dedent(
    """\
    slug: demo
    display_name: Demo worker
    type: recognizer
    description: Recognises text on pages.
    gpu_usage: supported
    model_usage: disabled
    docker:
      command: python -m demo
    configuration:
      - key: threshold
        display_name: Threshold
        type: float
        default: 0.5
      - key: mode
        display_name: Mode
        type: enum
        choices: [fast, accurate]
        default: fast
    """
)


@pytest.fixture
def repository(tmp_path):
    """A Git checkout holding the worker definition, as `worker import` expects to run in."""
    (tmp_path / "arkindex").mkdir()
    (tmp_path / "arkindex" / "demo.yml").write_text(WORKER_DEFINITION)
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    return tmp_path


def import_worker(cli_python, run_in_clients_env, live_server, token, repository):
    # The CLI's console script, installed beside the environment's interpreter.
    return run_in_clients_env(
        cli_python.parent / "arkindex",
        [
            "worker",
            "import",
            "registry.example.com/demo:1.0",
            "--repository-url",
            REPOSITORY_URL,
            "--revision-url",
            REVISION_URL,
            "--revision-branch",
            "main",
            "--revision-tag",
            "1.0",
        ],
        env={
            "ARKINDEX_API_URL": live_server.url,
            "ARKINDEX_API_TOKEN": token,
            "XDG_CONFIG_HOME": repository / ".config",
        },
        cwd=repository,
    )


def test_worker_import(live_server, transactional_db, user, repository, cli_python, run_in_clients_env):
    from workers.models import Worker

    token = Token.objects.create(user=user, name="cli").key

    first = import_worker(cli_python, run_in_clients_env, live_server, token, repository)
    worker = Worker.objects.get(repository_url=REPOSITORY_URL, slug="demo")
    assert worker.name == "Demo worker"
    assert worker.type.slug == "recognizer"
    assert worker.description == "Recognises text on pages."
    version = worker.versions.get()
    assert version.revision_url == REVISION_URL
    assert version.docker_image_iid == "registry.example.com/demo:1.0"
    assert version.branch == "main"
    assert version.tag == "1.0"
    assert version.gpu_usage == "supported"
    assert version.docker_command == "python -m demo"
    assert "error" not in first.stderr.lower(), first.stderr

    second = import_worker(cli_python, run_in_clients_env, live_server, token, repository)
    assert "Using existing worker version" in second.stderr + second.stdout
    assert Worker.objects.filter(repository_url=REPOSITORY_URL).count() == 1
    assert worker.versions.count() == 1


OIDC_PROBE = """
import os
from arkindex import ArkindexClient
from arkindex_cli.commands.login import has_oidc_feature

# As `arkindex login` asks before anyone logged in: anonymously, the features come from the 401.
client = ArkindexClient(base_url=os.environ["E2E_URL"])
print(has_oidc_feature(client))
"""


@pytest.mark.parametrize("oidc", [True, False])
def test_login_reads_features_anonymously(
    live_server, transactional_db, cli_python, run_in_clients_env, settings, oidc
):
    settings.ARKINDEX_FEATURES = {**settings.ARKINDEX_FEATURES, "oidc": oidc}
    result = run_in_clients_env(cli_python, OIDC_PROBE, env={"E2E_URL": live_server.url})
    assert result.stdout.strip().splitlines()[-1] == str(oidc)
    assert "Could not determine" not in result.stdout + result.stderr
