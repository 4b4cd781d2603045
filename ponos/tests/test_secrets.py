"""Secrets: encryption at rest, RetrieveSecret, the `ponos_secret` command and the admin form."""

import io
import logging

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from documents.tests.factories import CorpusFactory
from ponos.models import Secret, Task, TaskState
from ponos.secret_store import SecretDecryptionError, decrypt, encrypt, secret_set
from ponos.tests.factories import TaskFactory
from processes.models import ProcessMode
from processes.tests.factories import ProcessFactory, WorkerRunFactory
from workers.tests.factories import WorkerConfigurationFactory, WorkerVersionFactory

PLAINTEXT = "s3cr3t-p4ssw0rd ✓"


def url(name):
    return f"/api/v1/secret/{name}"


@pytest.fixture
def secret(db):
    return secret_set(name="corpus/iiif-token", value=PLAINTEXT)[0]


@pytest.fixture
def make_task(user):
    process = ProcessFactory(mode=ProcessMode.Repository, creator=user)

    def make(state=TaskState.Running):
        return TaskFactory(process=process, slug=f"task-{Task.objects.count()}", state=state)

    return make


def task_client(task):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Ponos {task.token}")
    return client


# Encryption


def test_round_trip(db):
    secret = Secret(name="api-key")
    secret.nonce, secret.content = encrypt("api-key", PLAINTEXT)
    assert PLAINTEXT.encode() not in bytes(secret.content)
    assert decrypt(secret) == PLAINTEXT


def test_round_trip_stored(secret):
    stored = Secret.objects.get(pk=secret.pk)
    assert isinstance(stored.content, memoryview | bytes)
    assert PLAINTEXT.encode() not in bytes(stored.content)
    assert len(bytes(stored.nonce)) == 12
    assert decrypt(stored) == PLAINTEXT


def test_nonce_per_secret():
    first = encrypt("a", PLAINTEXT)
    second = encrypt("a", PLAINTEXT)
    assert first[0] != second[0]
    assert first[1] != second[1]


@pytest.mark.parametrize("field", ["content", "nonce"])
def test_tampered_bytes(secret, field):
    data = bytearray(bytes(getattr(secret, field)))
    data[0] ^= 1
    setattr(secret, field, bytes(data))
    with pytest.raises(SecretDecryptionError):
        decrypt(secret)


def test_truncated_content(secret):
    secret.content = bytes(secret.content)[:4]
    with pytest.raises(SecretDecryptionError):
        decrypt(secret)


def test_row_copied_to_another_name(secret):
    """The name is authenticated with the content: a ciphertext moved to another name is refused."""
    copy = Secret.objects.create(name="other", nonce=secret.nonce, content=secret.content)
    with pytest.raises(SecretDecryptionError):
        decrypt(copy)


def test_other_key(secret, settings):
    settings.SECRETS_KEY = "another key"
    with pytest.raises(SecretDecryptionError):
        decrypt(secret)


def test_decryption_error_does_not_log_content(secret, caplog):
    secret.content = bytes(secret.content)[:-1] + b"\0"
    with caplog.at_level(logging.ERROR), pytest.raises(SecretDecryptionError):
        decrypt(secret)
    assert "corpus/iiif-token" in caplog.text
    assert PLAINTEXT not in caplog.text


def test_key_defaults_to_secret_key(secret, settings):
    """Without SECRETS_KEY, the key comes from SECRET_KEY."""
    settings.SECRETS_KEY = ""
    nonce, content = encrypt("x", "value")
    settings.SECRETS_KEY = settings.SECRET_KEY
    assert decrypt(Secret(name="x", nonce=nonce, content=content)) == "value"


# RetrieveSecret


def test_retrieve_admin(superuser_client, secret, django_assert_num_queries):
    superuser_client.get(url("corpus/iiif-token"))
    # Token, secret.
    with django_assert_num_queries(2):
        response = superuser_client.get(url("corpus/iiif-token"))
    assert response.status_code == 200
    assert response.json() == {"id": str(secret.id), "name": "corpus/iiif-token", "content": PLAINTEXT}


def test_retrieve_encoded_slash(superuser_client, secret):
    """Clients send the name with `%2F` when the schema has a plain `{name}` (API.md §5.10)."""
    response = superuser_client.get(url("corpus%2Fiiif-token"))
    assert response.status_code == 200
    assert response.json()["content"] == PLAINTEXT


@pytest.fixture
def worker_task(user):
    """A running task of a worker run whose version declares one secret and whose configuration names another."""
    version = WorkerVersionFactory(
        configuration={
            "secrets": ["corpus/iiif-token"],
            "user_configuration": {"api_key": {"title": "API key", "type": "secret"}, "n": {"type": "int"}},
        }
    )
    configuration = WorkerConfigurationFactory(
        worker=version.worker, configuration={"api_key": "mail/password", "n": 3}
    )
    process = ProcessFactory(mode=ProcessMode.Workers, creator=user, corpus=CorpusFactory(name="C"))
    run = WorkerRunFactory(process=process, version=version, configuration=configuration)
    return TaskFactory(process=process, slug="worker", state=TaskState.Running, worker_run=run)


def test_retrieve_task_token(worker_task, secret, django_assert_num_queries):
    client = task_client(worker_task)
    # Task (with its process, creator and model), its run with version and configuration, secret.
    with django_assert_num_queries(3):
        response = client.get(url("corpus/iiif-token"))
    assert response.status_code == 200
    assert response.json()["content"] == PLAINTEXT


def test_retrieve_task_token_secret_field(worker_task):
    """The value of a `secret` field of the run's configuration is a secret the task may read."""
    secret_set(name="mail/password", value="hunter2")
    response = task_client(worker_task).get(url("mail/password"))
    assert response.status_code == 200
    assert response.json()["content"] == "hunter2"


def test_retrieve_task_token_undeclared(worker_task, make_task, secret):
    """A secret the run does not declare is a 404, the same answer as for a name that does not exist."""
    secret_set(name="other/token", value="not yours")
    client = task_client(worker_task)
    undeclared = client.get(url("other/token"))
    unknown = client.get(url("unknown"))
    assert undeclared.status_code == unknown.status_code == 404
    assert undeclared.json()["detail"] == unknown.json()["detail"].replace("unknown", "other/token")
    assert "not yours" not in undeclared.content.decode()
    # The task of a repository import reads no secret at all: RetrieveSecret is not among its operations.
    assert task_client(make_task()).get(url("corpus/iiif-token")).status_code == 403


def test_retrieve_finished_task_token(make_task, secret):
    response = task_client(make_task(state=TaskState.Completed)).get(url("corpus/iiif-token"))
    assert response.status_code == 401


def test_retrieve_user_forbidden(user_client, secret):
    response = user_client.get(url("corpus/iiif-token"))
    assert response.status_code == 403
    assert "content" not in response.json()
    # Unknown names answer the same: a user cannot probe which secrets exist.
    assert user_client.get(url("nope")).status_code == 403


def test_retrieve_anonymous(anonymous_client, secret):
    assert anonymous_client.get(url("corpus/iiif-token")).status_code == 401


def test_retrieve_not_found(superuser_client, make_task, secret):
    assert superuser_client.get(url("corpus")).status_code == 404
    assert superuser_client.get(url("corpus/iiif-token/")).status_code == 404


def test_retrieve_undecryptable(superuser_client, secret, settings):
    settings.SECRETS_KEY = "rotated"
    response = superuser_client.get(url("corpus/iiif-token"))
    assert response.status_code == 500
    assert "SECRETS_KEY" in response.json()["detail"]
    assert PLAINTEXT not in response.content.decode()


def test_schema_path(db):
    response = Client().get("/api/v1/openapi/?format=json")
    operations = {
        operation["operationId"]: (path, method)
        for path, item in response.json()["paths"].items()
        for method, operation in item.items()
        if isinstance(operation, dict) and "operationId" in operation
    }
    assert operations["RetrieveSecret"] == ("/api/v1/secret/{name}", "get")
    assert operations["ListAgents"] == ("/api/v1/agents/", "get")
    assert operations["RetrieveAgent"] == ("/api/v1/agents/{id}/", "get")
    assert operations["ListFarms"] == ("/api/v1/farms/", "get")


# Management command


def run(*args):
    out = io.StringIO()
    call_command("ponos_secret", *args, stdout=out)
    return out.getvalue()


def test_command_set_value(db):
    output = run("set", "mail/password", "--value", PLAINTEXT)
    assert output == "Secret 'mail/password' created.\n"
    assert decrypt(Secret.objects.get(name="mail/password")) == PLAINTEXT

    output = run("set", "mail/password", "--value", "new")
    assert output == "Secret 'mail/password' updated.\n"
    assert PLAINTEXT not in output
    assert decrypt(Secret.objects.get(name="mail/password")) == "new"


def test_command_set_file(db, tmp_path):
    path = tmp_path / "config.json"
    path.write_text('{"token": "abc"}\n')
    assert run("set", "config.json", "--file", str(path)) == "Secret 'config.json' created.\n"
    assert decrypt(Secret.objects.get(name="config.json")) == '{"token": "abc"}\n'


def test_command_set_errors(db, tmp_path):
    binary = tmp_path / "key.bin"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(CommandError, match="UTF-8"):
        run("set", "key", "--file", str(binary))
    with pytest.raises(CommandError, match="Cannot read"):
        run("set", "key", "--file", str(tmp_path / "missing"))
    with pytest.raises(CommandError, match="empty"):
        run("set", "key", "--value", "")
    with pytest.raises(CommandError, match="cannot be empty or start or end with spaces"):
        run("set", " key", "--value", "x")
    assert not Secret.objects.exists()


def test_command_delete(secret):
    assert run("delete", "corpus/iiif-token") == "Secret 'corpus/iiif-token' deleted.\n"
    assert not Secret.objects.exists()
    with pytest.raises(CommandError, match="No secret"):
        run("delete", "corpus/iiif-token")


# Admin


@pytest.fixture
def admin_client(superuser):
    client = Client()
    client.force_login(superuser)
    return client


def test_admin_add_secret(admin_client):
    response = admin_client.post(reverse("admin:ponos_secret_add"), {"name": "s3/credentials", "plaintext": PLAINTEXT})
    assert response.status_code == 302, response.content.decode()[:3000]
    secret = Secret.objects.get(name="s3/credentials")
    assert decrypt(secret) == PLAINTEXT


def test_admin_add_requires_content(admin_client):
    response = admin_client.post(reverse("admin:ponos_secret_add"), {"name": "empty", "plaintext": ""})
    assert response.status_code == 200
    assert not Secret.objects.exists()


def test_admin_never_shows_content(admin_client, secret):
    changelist = admin_client.get(reverse("admin:ponos_secret_changelist"))
    change = admin_client.get(reverse("admin:ponos_secret_change", args=[secret.pk]))
    assert changelist.status_code == change.status_code == 200
    for response in (changelist, change):
        assert "corpus/iiif-token" in response.content.decode()
        assert PLAINTEXT not in response.content.decode()


def test_admin_change_keeps_or_replaces_content(admin_client, secret):
    change_url = reverse("admin:ponos_secret_change", args=[secret.pk])
    response = admin_client.post(change_url, {"name": "corpus/iiif-token", "plaintext": ""})
    assert response.status_code == 302
    assert decrypt(Secret.objects.get(pk=secret.pk)) == PLAINTEXT

    response = admin_client.post(change_url, {"name": "corpus/iiif-token", "plaintext": "replaced"})
    assert response.status_code == 302
    assert decrypt(Secret.objects.get(pk=secret.pk)) == "replaced"


def test_admin_rename_reencrypts(admin_client, secret):
    response = admin_client.post(
        reverse("admin:ponos_secret_change", args=[secret.pk]), {"name": "renamed", "plaintext": ""}
    )
    assert response.status_code == 302
    renamed = Secret.objects.get(pk=secret.pk)
    assert renamed.name == "renamed"
    assert decrypt(renamed) == PLAINTEXT


def test_admin_rename_undecryptable(admin_client, secret, settings):
    settings.SECRETS_KEY = "rotated"
    response = admin_client.post(
        reverse("admin:ponos_secret_change", args=[secret.pk]), {"name": "renamed", "plaintext": ""}
    )
    assert response.status_code == 200
    assert "enter it again" in response.content.decode()
    assert Secret.objects.get(pk=secret.pk).name == "corpus/iiif-token"


def test_admin_agents(admin_client, superuser):
    from django.utils import timezone

    from ponos.models import GPU, Agent, Farm

    farm = Farm.objects.get(name="default")
    second = Agent.objects.create(farm=farm, hostname="b-host", last_ping=timezone.now())
    first = Agent.objects.create(farm=farm, hostname="a-host", last_ping=timezone.now())
    GPU.objects.create(id="GPU-uuid-1", agent=first, index=0, name="Quadro RTX")

    changelist = admin_client.get(reverse("admin:ponos_agent_changelist")).content.decode()
    assert changelist.index("a-host") < changelist.index("b-host")
    change = admin_client.get(reverse("admin:ponos_agent_change", args=[first.pk]))
    assert change.status_code == 200
    assert "Quadro RTX" in change.content.decode()
    assert admin_client.get(reverse("admin:ponos_agent_change", args=[second.pk])).status_code == 200
    assert admin_client.get(reverse("admin:ponos_farm_changelist")).status_code == 200


def test_command_set_from_stdin(db, monkeypatch):
    """Without --file or --value the content is read from standard input, out of the process list."""
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(PLAINTEXT.encode())))
    assert run("set", "from-stdin") == "Secret 'from-stdin' created.\n"
    assert decrypt(Secret.objects.get(name="from-stdin")) == PLAINTEXT
