"""
The real `arkindex-base-worker` 0.6.0 configures itself from a user worker run on a live server:
it reads the run, its worker, its model version's configuration and the run's configuration, with
the token of the run's owner. With another user's token, the same worker run does not exist.
"""

import json

import pytest

from users.models import Role, Token

pytestmark = [pytest.mark.e2e]

WORKER_SCRIPT = """
import json
import sys

from arkindex_worker.worker import ElementsWorker

sys.argv = ["demo-worker"]
worker = ElementsWorker(description="End-to-end worker")
worker.configure()
print(json.dumps({
    "config": worker.config,
    "secrets": worker.secrets,
    "worker_details": worker.worker_details,
    "model_configuration": worker.model_configuration,
    "model_version_id": worker.model_version_id,
    "model_details": worker.model_details,
    "corpus": worker.process_information["corpus"],
    "process_mode": worker.process_mode.value,
    "read_only": worker.is_read_only,
}))
"""


@pytest.fixture
def user_worker_run(transactional_db, user):
    from processes.services import create_user_worker_run
    from users.tests.factories import grant
    from workers.models import Model, ModelVersion, WorkerConfiguration, WorkerType, WorkerVersion

    worker = WorkerType.objects.create(slug="recognizer", display_name="Recognizer").workers.create(
        name="Demo", slug="demo", description="A worker for scripts"
    )
    grant(worker, Role.ADMIN, user=user)
    version = WorkerVersion.objects.create(
        worker=worker,
        version=1,
        state="available",
        model_usage="supported",
        configuration={
            "user_configuration": {
                "threshold": {"title": "Threshold", "type": "float", "default": 0.5},
                "mode": {"title": "Mode", "type": "enum", "choices": ["fast", "accurate"], "default": "fast"},
                "debug": {"title": "Debug", "type": "bool", "default": False},
            }
        },
    )
    configuration = WorkerConfiguration.objects.create(
        worker=worker, name="Accurate", configuration={"mode": "accurate", "threshold": 0.8}
    )
    model = Model.objects.create(name="Layout")
    grant(model, Role.GUEST, user=user)
    model_version = ModelVersion.objects.create(
        model=model, tag="v2", state="available", configuration={"batch_size": 4}
    )
    return create_user_worker_run(
        user, version_id=version.id, model_version_id=model_version.id, configuration_id=configuration.id
    )


def configure(worker_python, run_in_clients_env, live_server, run, token, check=True):
    return run_in_clients_env(
        worker_python,
        WORKER_SCRIPT,
        env={"ARKINDEX_API_URL": live_server.url, "ARKINDEX_API_TOKEN": token, "ARKINDEX_WORKER_RUN_ID": run.id},
        check=check,
    )


def test_worker_configures_from_user_worker_run(
    live_server, user, other_user, user_worker_run, worker_python, run_in_clients_env
):
    token = Token.objects.create(user=user, name="worker").key
    process = configure(worker_python, run_in_clients_env, live_server, user_worker_run, token)
    report = json.loads(process.stdout.strip().splitlines()[-1])

    assert report["read_only"] is False
    assert report["config"] == {"debug": False, "mode": "accurate", "threshold": 0.8}
    assert report["worker_details"]["name"] == "Demo"
    assert report["worker_details"]["slug"] == "demo"
    assert report["worker_details"]["type"] == "recognizer"
    assert report["model_configuration"] == {"batch_size": 4}
    assert report["model_version_id"] == str(user_worker_run.model_version_id)
    assert report["model_details"]["name"] == "Layout"
    assert report["corpus"] is None
    assert report["process_mode"] == "local"
    assert "Worker Demo @ version 1 with model Layout @ v2 using configuration 'Accurate'" in process.stderr

    other_token = Token.objects.create(user=other_user, name="worker").key
    refused = configure(worker_python, run_in_clients_env, live_server, user_worker_run, other_token, check=False)
    assert refused.returncode != 0
    assert "404" in refused.stderr
