"""
A dataset process in three steps, each a `DatasetWorker` of the real `arkindex-base-worker` run as a
task by an agent with the local executor (seed 002, "Dataset processes"):

1. build: reads the sets of the process (ListProcessSets, then each set's elements) and writes, for
   each set, a file of its elements, which the agent keeps as the task's artifacts;
2. train (child of build): finds those files under `PONOS_DATA/<build task id>/`, learns from the
   train set a label for the dataset, and publishes a new version of its model (CreateModelVersion,
   then the multipart upload of the archive);
3. evaluate (child of train): reads the model written by train the same way and classifies each
   element of the test set with it.

There is no initialisation task, no elements list and no worker activity.
"""

import shlex

import pytest

from datasets import services as dataset_services
from datasets.models import DatasetSet, ProcessSet
from documents.tests.factories import CorpusFactory, ElementFactory, ElementTypeFactory
from ponos.models import Task
from ponos.tests.running import store_model_archive, wait_finished
from processes.models import ActivityState, ProcessMode, ProcessState, WorkerActivity
from processes.tests.factories import ProcessFactory, WorkerRunFactory
from users.models import Role, Token
from users.tests.factories import grant
from workers.models import Model, ModelVersion
from workers.tests.factories import WorkerFactory, WorkerVersionFactory

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("transactional_db")]

BUILD = """
import json

from arkindex_worker.worker import DatasetWorker


class Build(DatasetWorker):
    def process_set(self, dataset_set):
        elements = [{"id": element.id, "name": element.name} for element in self.list_set_elements(dataset_set)]
        (self.work_dir / f"{dataset_set.name}.json").write_text(json.dumps(elements))


if __name__ == "__main__":
    Build(description="Lists the elements of each set").run()
"""

TRAIN = """
import json
from pathlib import Path

from arkindex_worker.worker import DatasetWorker
from arkindex_worker.worker.training import TrainingMixin


class Train(DatasetWorker, TrainingMixin):
    def process_set(self, dataset_set):
        if dataset_set.name != "train":
            return
        (path,) = self.find_parents_file_paths(Path("train.json"))
        elements = json.loads(path.read_text())
        model_dir = self.work_dir / "model"
        model_dir.mkdir()
        label = "page-" + str(len(elements))
        (model_dir / "model.json").write_text(json.dumps({"label": label, "seen": len(elements)}))
        # Kept as an artifact for the evaluation, and published as a new model version.
        (self.work_dir / "model.json").write_text(json.dumps({"label": label}))
        self.publish_model_version(
            model_path=model_dir,
            model_id=self.model_details["id"],
            tag="trained",
            description=f"Trained on {len(elements)} elements",
            configuration={"label": label},
            parent=self.model_version_id,
        )


if __name__ == "__main__":
    Train(description="Learns a label from the train set").run()
"""

EVALUATE = """
import json
from pathlib import Path

from arkindex_worker.worker import DatasetWorker
from arkindex_worker.worker.classification import ClassificationMixin


class Evaluate(DatasetWorker, ClassificationMixin):
    def process_set(self, dataset_set):
        if dataset_set.name != "test":
            return
        (path,) = self.find_parents_file_paths(Path("model.json"))
        label = json.loads(path.read_text())["label"]
        for element in self.list_set_elements(dataset_set):
            self.create_classification(element, ml_class=label, confidence=0.5)


if __name__ == "__main__":
    Evaluate(description="Classifies the test set with the trained model").run()
"""

SPLITS = {"train": 6, "dev": 2, "test": 3}


@pytest.fixture
def corpus(user):
    corpus = CorpusFactory(name="Training data")
    grant(corpus, Role.ADMIN, user=user)
    page = ElementTypeFactory(corpus=corpus, slug="page", display_name="Page")
    dataset = dataset_services.dataset_create(
        corpus=corpus, creator=user, name="Pages", set_names=list(SPLITS), unique_elements=True
    )
    for set_name, count in SPLITS.items():
        for index in range(count):
            element = ElementFactory(corpus=corpus, type=page, name=f"{set_name} {index}")
            dataset_services.dataset_element_create(dataset=dataset, set_name=set_name, element=element)
    return corpus


def worker_version(user, tmp_path, worker_python, slug, script, **fields):
    path = tmp_path / f"{slug}.py"
    path.write_text(script)
    worker = WorkerFactory(slug=slug, name=slug.capitalize())
    grant(worker, Role.GUEST, user=user)
    return WorkerVersionFactory(
        worker=worker,
        state="available",
        configuration={"docker": {"command": shlex.join([str(worker_python), str(path)])}},
        **fields,
    )


def test_build_train_evaluate(ponos, live_server, user, corpus, tmp_path, worker_python, run_in_clients_env):
    import requests

    model = Model.objects.create(name="Classifier")
    grant(model, Role.CONTRIBUTOR, user=user)
    base = ModelVersion.objects.create(model=model, tag="base", state="available", configuration={})
    store_model_archive(base, {"model.json": "{}"})

    process = ProcessFactory(corpus=corpus, creator=user, mode=ProcessMode.Dataset, name="Train a classifier")
    build = WorkerRunFactory(process=process, version=worker_version(user, tmp_path, worker_python, "build", BUILD))
    train = WorkerRunFactory(
        process=process,
        version=worker_version(user, tmp_path, worker_python, "train", TRAIN, model_usage="required"),
        model_version=base,
        parents=[build.id],
    )
    evaluate = WorkerRunFactory(
        process=process,
        version=worker_version(user, tmp_path, worker_python, "evaluate", EVALUATE),
        parents=[train.id],
    )
    token = Token.objects.create(user=user).key
    headers = {"Authorization": f"Token {token}"}
    for dataset_set in DatasetSet.objects.filter(dataset__corpus=corpus):
        response = requests.post(
            f"{live_server.url}/api/v1/process/{process.id}/set/{dataset_set.id}/", headers=headers
        )
        assert response.status_code == 201, response.text
    response = requests.post(f"{live_server.url}/api/v1/process/{process.id}/start/", headers=headers)
    assert response.status_code == 200, response.text

    process = wait_finished(process, 600)
    assert process.state == ProcessState.Completed, list(process.tasks.values_list("slug", "state"))
    tasks = {task.slug: task for task in Task.objects.filter(process=process)}
    assert sorted(tasks) == ["build", "evaluate", "train"]
    assert process.activity_state == ActivityState.Disabled
    assert not WorkerActivity.objects.filter(process=process).exists()
    assert ProcessSet.objects.filter(process=process).count() == 3

    # Build's artifacts: one file per set, with the set's elements.
    assert sorted(tasks["build"].artifacts.values_list("path", flat=True)) == ["dev.json", "test.json", "train.json"]

    # Train published a new version of the model, child of the one it ran with.
    trained = ModelVersion.objects.get(model=model, tag="trained")
    assert trained.parent_id == base.id
    assert trained.configuration == {"label": "page-6"}
    assert trained.state == "available"

    # Evaluate classified each element of the test set with the trained label, signed by its run.
    classifications = evaluate.classifications.select_related("element", "ml_class")
    assert sorted(c.element.name for c in classifications) == ["test 0", "test 1", "test 2"]
    assert {c.ml_class.name for c in classifications} == {"page-6"}
    assert not build.classifications.exists() and not train.classifications.exists()
