"""
A real task probes what its token reaches: a worker written with `arkindex-base-worker`, run by an
agent, calls the API with the `Ponos` token the agent gave it, as a malicious worker would. Its
creator administers a second corpus; the task reaches none of it, reads only the secret its
version declares, and still publishes on its own pages.
"""

import json
import shlex

import pytest

from documents import services as documents_services
from documents.tests.factories import ElementFactory, ElementTypeFactory
from ponos.logs import read_log
from ponos.models import Task
from ponos.secret_store import secret_set
from ponos.tests.running import wait_finished
from processes.models import ActivityState, ProcessMode, ProcessState
from processes.tests.factories import ProcessFactory, WorkerRunFactory
from users.models import Token
from users.tests.factories import grant
from workers.tests.factories import WorkerFactory, WorkerVersionFactory

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("transactional_db")]

PROBER = """
import json

from arkindex.exceptions import ErrorResponse
from arkindex_worker.worker import ElementsWorker

OTHER_CORPUS = {other_corpus!r}
OTHER_ELEMENT = {other_element!r}


def probe(client, label, operation, **kwargs):
    try:
        answer = client.request(operation, **kwargs)
        status = 200
    except ErrorResponse as error:
        answer, status = error.content, error.status_code
    print("PROBE " + json.dumps({{"name": label, "status": status, "answer": answer}}), flush=True)


class Prober(ElementsWorker):
    def configure(self):
        super().configure()
        client = self.api_client
        probe(client, "read the other corpus", "RetrieveCorpus", id=OTHER_CORPUS)
        probe(client, "delete the other corpus", "DestroyCorpus", id=OTHER_CORPUS)
        probe(client, "rename an element of the other corpus", "PartialUpdateElement", id=OTHER_ELEMENT,
              body={{"name": "pwned"}})
        probe(client, "list the creator's corpora", "ListCorpus")
        probe(client, "rename the creator", "PartialUpdateUser", body={{"display_name": "pwned"}})
        probe(client, "read an undeclared secret", "RetrieveSecret", name="instance/other")
        probe(client, "read its declared secret", "RetrieveSecret", name="prober/key")

    def process_element(self, element):
        self.create_transcription(element, text="probed " + element.name, confidence=1.0)


if __name__ == "__main__":
    Prober(description="Probes what its token reaches").run()
"""


def test_a_real_task_reaches_its_process_only(ponos, live_server, user, tmp_path, worker_python, run_in_clients_env):
    import requests

    own = documents_services.corpus_create(user=user, name="Own")
    other = documents_services.corpus_create(user=user, name="Other")
    page = ElementTypeFactory(corpus=own, slug="page", display_name="Page")
    other_type = ElementTypeFactory(corpus=other, slug="page", display_name="Page")
    for index in range(3):
        ElementFactory(corpus=own, type=page, name=f"Page {index}")
    other_page = ElementFactory(corpus=other, type=other_type, name="Untouchable")
    secret_set(name="prober/key", value="the prober's key")
    secret_set(name="instance/other", value="someone else's key")

    script = tmp_path / "prober.py"
    script.write_text(PROBER.format(other_corpus=str(other.id), other_element=str(other_page.id)))
    worker = WorkerFactory(slug="prober", name="Prober")
    grant(worker, 10, user=user)
    version = WorkerVersionFactory(
        worker=worker,
        state="available",
        configuration={
            "docker": {"command": shlex.join([str(worker_python), str(script)])},
            "secrets": ["prober/key"],
        },
    )
    process = ProcessFactory(
        corpus=own,
        creator=user,
        mode=ProcessMode.Workers,
        name="Probing",
        element_type=page,
        activity_state=ActivityState.Pending,
    )
    run = WorkerRunFactory(process=process, version=version)
    token = Token.objects.create(user=user).key
    response = requests.post(
        f"{live_server.url}/api/v1/process/{process.id}/start/", headers={"Authorization": f"Token {token}"}
    )
    assert response.status_code == 200, response.text

    process = wait_finished(process, 300)
    assert process.state == ProcessState.Completed
    log = read_log(Task.objects.get(process=process, worker_run=run)).decode()
    probes = {
        probe["name"]: probe
        for probe in (json.loads(line.split("PROBE ", 1)[1]) for line in log.splitlines() if "PROBE " in line)
    }
    statuses = {name: probe["status"] for name, probe in probes.items()}
    assert statuses == {
        "read the other corpus": 404,
        "delete the other corpus": 403,
        "rename an element of the other corpus": 404,
        "list the creator's corpora": 403,
        "rename the creator": 403,
        "read an undeclared secret": 404,
        "read its declared secret": 200,
    }, log
    assert probes["delete the other corpus"]["answer"]["detail"].startswith("Task tokens cannot call DestroyCorpus")
    assert probes["read its declared secret"]["answer"]["content"] == "the prober's key"
    assert "someone else's key" not in log
    # Nothing of the other corpus changed; the task's own pages got its results.
    other.refresh_from_db()
    other_page.refresh_from_db()
    user.refresh_from_db()
    assert (other_page.name, user.display_name) == ("Untouchable", "user")
    assert run.transcriptions.count() == 3
