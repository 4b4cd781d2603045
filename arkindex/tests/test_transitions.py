"""The state machine helper shared by tasks, datasets, exports, model versions and worker versions."""

import pytest

from arkindex.api.exceptions import Conflict
from arkindex.transitions import Transitions
from datasets.models import DATASET_TRANSITIONS, EXPORT_TRANSITIONS, CorpusExportState, DatasetState
from documents.tests.factories import CorpusFactory
from ponos.models import TaskState
from ponos.services import TASK_TRANSITIONS
from workers.models import (
    MODEL_VERSION_TRANSITIONS,
    WORKER_VERSION_TRANSITIONS,
    ModelVersionState,
    WorkerVersionState,
)

LIGHTS = Transitions({"green": ("red",), "amber": ("green",), "red": ("amber",)}, name="light")


def test_allows_and_targets():
    assert LIGHTS.allows("red", "green")
    assert not LIGHTS.allows("green", "red")
    assert LIGHTS.targets_from("green") == ["amber"]
    assert LIGHTS.targets_from("nowhere") == []


def test_check():
    LIGHTS.check("red", "green")
    LIGHTS.check("red", "red")  # staying put is no move
    with pytest.raises(Conflict) as error:
        LIGHTS.check("green", "red")
    assert str(error.value.detail) == "A green light cannot become red (allowed: amber)."
    assert error.value.detail.code == "state_transition"


@pytest.mark.parametrize(
    "machine, states",
    [
        (TASK_TRANSITIONS, TaskState),
        (DATASET_TRANSITIONS, DatasetState),
        (WORKER_VERSION_TRANSITIONS, WorkerVersionState),
        (EXPORT_TRANSITIONS, CorpusExportState),
        (MODEL_VERSION_TRANSITIONS, ModelVersionState),
    ],
)
def test_every_state_is_declared(machine, states):
    """Each machine names every state of its model as a target, if only to say nothing leads there."""
    assert set(machine.sources) == set(states)
    for sources in machine.sources.values():
        assert sources <= set(states)


@pytest.mark.django_db
def test_apply_is_a_compare_and_set():
    from datasets.models import Dataset

    dataset = Dataset.objects.create(corpus=CorpusFactory(name="C"), name="D")
    stale = Dataset.objects.get(pk=dataset.pk)
    assert DATASET_TRANSITIONS.apply(dataset, DatasetState.Building)
    assert dataset.state == DatasetState.Building
    # Read before the move: it expects an open dataset, which is no longer there.
    assert not DATASET_TRANSITIONS.apply(stale, DatasetState.Building)
    assert stale.state == DatasetState.Open
    # A move the machine does not allow changes nothing.
    assert not DATASET_TRANSITIONS.apply(dataset, DatasetState.Open)
    dataset.refresh_from_db()
    assert dataset.state == DatasetState.Building


@pytest.mark.django_db
def test_move_from_any_allowed_state(user):
    from datasets.models import CorpusExport

    export = CorpusExport.objects.create(corpus=CorpusFactory(name="C"), user=user)
    stale = CorpusExport.objects.get(pk=export.pk)
    assert export.start()
    # Whatever it read, an active export fails; a done one would not.
    assert stale.fail()
    assert stale.state == CorpusExportState.Failed
    assert not export.finish()
