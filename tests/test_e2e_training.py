"""
A training process end to end (seed 001: configurations are used in training processes): created
and started through the API, its single worker run (a stock `arkindex-base-worker` BaseWorker with
the TrainingMixin, run by an agent) reads its folders and model on its process, learns from the
train folder with its configuration, and publishes a new version of the model.
"""

import json
import shlex

import pytest

from documents.tests.factories import CorpusFactory, ElementFactory, ElementTypeFactory
from ponos.tests.running import wait_finished
from processes.models import ActivityState, ProcessState
from users.models import Role, Token
from users.tests.factories import grant
from workers.models import Model, ModelVersion, WorkerConfiguration
from workers.tests.factories import WorkerFactory, WorkerVersionFactory

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("transactional_db")]

TRAINER = """
import json

from arkindex_worker.worker.base import BaseWorker
from arkindex_worker.worker.training import TrainingMixin


class Trainer(BaseWorker, TrainingMixin):
    def run(self):
        self.configure()
        process = self.process_information
        assert process["mode"] == "training"
        seen = {
            name: [child["name"] for child in self.api_client.paginate("ListElementChildren", id=process[name])]
            for name in ("train_folder_id", "validation_folder_id")
        }
        model_dir = self.work_dir / "model"
        model_dir.mkdir()
        (model_dir / "weights.json").write_text(json.dumps({"seen": seen, "epochs": self.config["epochs"]}))
        self.publish_model_version(
            model_path=model_dir,
            model_id=process["model_id"],
            tag="trained",
            description=f"{len(seen['train_folder_id'])} pages, {self.config['epochs']} epochs",
            configuration={"epochs": self.config["epochs"]},
        )


if __name__ == "__main__":
    Trainer(description="Trains a model on the train folder").run()
"""


def test_training_process(ponos, live_server, user, tmp_path, worker_python, run_in_clients_env):
    import requests

    corpus = CorpusFactory(name="Handwriting")
    grant(corpus, Role.CONTRIBUTOR, user=user)
    folder = ElementTypeFactory(corpus=corpus, slug="folder", display_name="Folder", folder=True)
    page = ElementTypeFactory(corpus=corpus, slug="page", display_name="Page")
    folders = {name: ElementFactory(corpus=corpus, type=folder, name=name) for name in ("train", "val")}
    for index in range(4):
        ElementFactory(corpus=corpus, type=page, name=f"Train {index}", parent=folders["train"])
    ElementFactory(corpus=corpus, type=page, name="Val 0", parent=folders["val"])
    model = Model.objects.create(name="HTR")
    grant(model, Role.CONTRIBUTOR, user=user)

    script = tmp_path / "trainer.py"
    script.write_text(TRAINER)
    worker = WorkerFactory(slug="trainer", name="Trainer")
    grant(worker, Role.ADMIN, user=user)
    version = WorkerVersionFactory(
        worker=worker,
        state="available",
        configuration={
            "docker": {"command": shlex.join([str(worker_python), str(script)])},
            "user_configuration": {"epochs": {"title": "Epochs", "type": "int", "default": 1}},
        },
    )
    configuration = WorkerConfiguration.objects.create(worker=worker, name="Longer", configuration={"epochs": 3})

    headers = {"Authorization": f"Token {Token.objects.create(user=user).key}"}
    api = f"{live_server.url}/api/v1"
    response = requests.post(
        f"{api}/process/corpus/{corpus.id}/",
        json={
            "mode": "training",
            "name": "Train HTR",
            "model_id": str(model.id),
            "train_folder_id": str(folders["train"].id),
            "validation_folder_id": str(folders["val"].id),
        },
        headers=headers,
    )
    assert response.status_code == 201, response.text
    process_id = response.json()["id"]
    response = requests.post(
        f"{api}/process/{process_id}/workers/",
        json={"worker_version_id": str(version.id), "configuration_id": str(configuration.id)},
        headers=headers,
    )
    assert response.status_code == 201, response.text
    response = requests.post(f"{api}/process/{process_id}/start/", headers=headers)
    assert response.status_code == 200, response.text
    assert [task["slug"] for task in response.json()["tasks"]] == ["trainer"]

    from processes.models import Process

    process = wait_finished(Process.objects.get(pk=process_id), 300)
    assert process.state == ProcessState.Completed
    assert process.activity_state == ActivityState.Disabled
    trained = ModelVersion.objects.get(model=model, tag="trained")
    assert trained.state == "available"
    assert trained.configuration == {"epochs": 3}
    assert trained.description == "4 pages, 3 epochs"
    assert trained.creator == user
    # The archive it uploaded holds what it learnt, from both its folders.
    import io
    import tarfile

    import zstandard
    from django.core.files.storage import default_storage

    with default_storage.open(trained.archive_path) as archive:
        tar_bytes = zstandard.ZstdDecompressor().stream_reader(archive).read()
    with tarfile.open(fileobj=io.BytesIO(tar_bytes)) as tar:
        member = next(m for m in tar.getmembers() if m.name.endswith("weights.json"))
        weights = json.loads(tar.extractfile(member).read())
    assert weights == {
        "seen": {"train_folder_id": [f"Train {index}" for index in range(4)], "validation_folder_id": ["Val 0"]},
        "epochs": 3,
    }
