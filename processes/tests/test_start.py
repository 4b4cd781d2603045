"""
The checks run before a process starts (`processes.services.starting.start_errors`): each rule alone, all of
them at once, and a fixed number of queries whatever the number of elements and worker runs.
StartProcess itself is tested with the scheduler (`ponos/tests/test_start_process.py`).
"""

# ruff: noqa: F811 (pytest fixtures imported from processes.tests.start_fixtures)

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from documents.tests.factories import ElementFactory
from processes.models import Process, ProcessMode
from processes.services import starting
from processes.services.starting import start_errors
from processes.tests.factories import ProcessFactory, make_run
from processes.tests.start_fixtures import (  # noqa: F401
    elements,
    make_version,
    page_type,
    process,
    runs,
)
from workers.models import FeatureUsage, Model, ModelVersion, ModelVersionState, WorkerVersionState
from workers.tests.factories import WorkerConfigurationFactory

REQUIRED_FIELD_CONFIGURATION = {
    "docker": {"command": "worker"},
    "user_configuration": {
        "language": {"title": "Language", "type": "string", "required": True},
        "threshold": {"title": "Threshold", "type": "float", "required": True, "default": 0.5},
        "notes": {"title": "Notes", "type": "string"},
    },
}


def run_errors(errors, run):
    return errors["worker_runs"][str(run.id)]


@pytest.fixture
def model_version():
    model = Model.objects.create(name="Layout")
    return ModelVersion.objects.create(model=model, tag="v1", state=ModelVersionState.Available)


def test_startable(process, runs):
    assert start_errors(process) == {}


def test_no_worker_runs(process):
    assert start_errors(process) == {
        "worker_runs": ["The process has no worker runs: add at least one before starting it."]
    }


def test_version_not_available(process):
    run = make_run(process, make_version("ocr", state=WorkerVersionState.Processing))
    (message,) = run_errors(start_errors(process), run)
    assert message.startswith(f"{run.summary}: The worker version is processing: only an available version can run.")


def test_version_without_image_nor_command(process):
    run = make_run(process, make_version("local", docker_image_iid=None, configuration={}))
    (message,) = run_errors(start_errors(process), run)
    assert "neither a Docker image nor a command" in message


@pytest.mark.parametrize(
    "image, configuration", [("registry.example.com/ocr:1", {}), (None, {"docker": {"command": "ocr"}})]
)
def test_image_or_command_is_enough(process, image, configuration):
    make_run(process, make_version("ocr", docker_image_iid=image, configuration=configuration))
    assert start_errors(process) == {}


def test_model_version_required(process):
    run = make_run(process, make_version("ocr", model_usage=FeatureUsage.Required))
    assert run_errors(start_errors(process), run) == [
        f"{run.summary}: The worker version requires a model version: set one on the worker run."
    ]


def test_model_version_not_available(process, model_version):
    model_version.state = ModelVersionState.Created
    model_version.save()
    run = make_run(process, make_version("ocr", model_usage=FeatureUsage.Supported), model_version=model_version)
    assert run_errors(start_errors(process), run) == [
        f"{run.summary}: The model version is created: only an available model version can be used."
    ]


def test_model_version_with_models_disabled(process, model_version):
    run = make_run(process, make_version("ocr", model_usage=FeatureUsage.Disabled), model_version=model_version)
    assert run_errors(start_errors(process), run) == [
        f"{run.summary}: The worker version does not use models: remove the model version from the worker run."
    ]


def test_archived_configuration(process):
    version = make_version("ocr")
    configuration = WorkerConfigurationFactory(worker=version.worker, archived=True)
    run = make_run(process, version, configuration=configuration)
    assert run_errors(start_errors(process), run) == [
        f"{run.summary}: The worker configuration is archived: choose another configuration or create one."
    ]


def test_required_field_without_default_unset(process):
    """Seed 002: a required field without default must be set by the selected configuration."""
    version = make_version("ocr", configuration=REQUIRED_FIELD_CONFIGURATION)
    run = make_run(process, version)
    assert run_errors(start_errors(process), run) == [
        f"{run.summary}: The worker version requires the field(s) language, which would run without a value: "
        "select a worker configuration that sets them."
    ]


def test_required_field_set_by_configuration(process):
    version = make_version("ocr", configuration=REQUIRED_FIELD_CONFIGURATION)
    configuration = WorkerConfigurationFactory(worker=version.worker, configuration={"language": "fr"})
    make_run(process, version, configuration=configuration)
    assert start_errors(process) == {}


def test_required_field_not_set_by_configuration(process):
    version = make_version("ocr", configuration=REQUIRED_FIELD_CONFIGURATION)
    configuration = WorkerConfigurationFactory(worker=version.worker, configuration={"notes": "x"})
    run = make_run(process, version, configuration=configuration)
    assert "language" in run_errors(start_errors(process), run)[0]


def test_required_field_set_to_null_by_configuration(process):
    """Null overrides a default: a required field set to null is missing, default or not."""
    version = make_version("ocr", configuration=REQUIRED_FIELD_CONFIGURATION)
    configuration = WorkerConfigurationFactory(
        worker=version.worker, configuration={"language": "fr", "threshold": None}
    )
    run = make_run(process, version, configuration=configuration)
    assert "threshold" in run_errors(start_errors(process), run)[0]


def test_empty_element_set(process, runs):
    process.name_contains = "nothing matches this"
    process.save()
    assert start_errors(process) == {
        "elements": ["The element filters of the process select no element: change the filters or add elements."]
    }


def test_empty_corpus(corpus, user):
    process = ProcessFactory(corpus=corpus, creator=user, mode=ProcessMode.Workers)
    make_run(process)
    assert list(start_errors(process)) == ["elements"]


def test_dataset_process_needs_no_elements(corpus, user):
    process = ProcessFactory(corpus=corpus, creator=user, mode=ProcessMode.Dataset)
    make_run(process)
    # Its inputs are sets of datasets, which the datasets app checks.
    assert list(start_errors(process)) == ["sets"]


def test_dataset_checks_extension_point(corpus, user, monkeypatch):
    """The datasets app registers its own checks (sets) for dataset processes, run for them only."""
    monkeypatch.setattr(starting, "DATASET_START_CHECKS", [])
    seen = []

    @starting.dataset_start_check
    def no_sets(process):
        seen.append(process.id)
        return {"sets": ["A dataset process needs at least one set."]}

    process = ProcessFactory(corpus=corpus, creator=user, mode=ProcessMode.Dataset)
    make_run(process)
    assert start_errors(process) == {"sets": ["A dataset process needs at least one set."]}
    assert seen == [process.id]
    workers_process = ProcessFactory(corpus=corpus, creator=user, mode=ProcessMode.Workers)
    make_run(workers_process)
    assert "sets" not in start_errors(workers_process)


@pytest.mark.parametrize("mode", [ProcessMode.Template, ProcessMode.Local, ProcessMode.Repository, ProcessMode.Export])
def test_mode_not_startable(corpus, user, mode):
    process = Process(corpus=corpus, creator=user, mode=mode)
    assert start_errors(process) == {
        "mode": [f"A process of mode {mode} cannot be started: only workers and dataset processes can."]
    }


def test_no_corpus(user):
    # The database refuses a workers process without a corpus; the check holds for an unsaved one.
    process = Process(creator=user, mode=ProcessMode.Workers)
    assert start_errors(process) == {"corpus": ["The process has no corpus: it cannot be started."]}


def test_unknown_parent_and_cycle(process):
    a = make_run(process)
    b = make_run(process, parents=[a])
    a.parents = [b.id]
    a.save()
    c = make_run(process)
    c.parents = ["00000000-0000-0000-0000-000000000000"]
    c.save()
    errors = start_errors(process)["worker_runs"]
    assert set(errors) == {str(a.id), str(b.id), str(c.id)}
    assert "form a cycle" in errors[str(a.id)][0]
    assert "form a cycle" in errors[str(b.id)][0]
    assert "are not worker runs of this process" in errors[str(c.id)][0]


def test_every_error_at_once(process, model_version):
    """One answer names every broken rule, per worker run, and the empty element set."""
    process.name_contains = "nothing matches this"
    process.save()
    unavailable = make_run(process, make_version("a", state=WorkerVersionState.Error))
    needs_model = make_run(process, make_version("b", model_usage=FeatureUsage.Required))
    model_version.state = ModelVersionState.Error
    model_version.save()
    bad_model = make_run(process, make_version("c", model_usage=FeatureUsage.Supported), model_version=model_version)
    version = make_version("d", configuration=REQUIRED_FIELD_CONFIGURATION, docker_image_iid=None)
    archived = WorkerConfigurationFactory(worker=version.worker, archived=True, configuration={"notes": "x"})
    many = make_run(process, version, configuration=archived)
    fine = make_run(process, make_version("e"))

    errors = start_errors(process)
    assert set(errors) == {"worker_runs", "elements"}
    assert set(errors["worker_runs"]) == {str(unavailable.id), str(needs_model.id), str(bad_model.id), str(many.id)}
    assert str(fine.id) not in errors["worker_runs"]
    assert len(run_errors(errors, unavailable)) == 1
    assert len(run_errors(errors, needs_model)) == 1
    assert len(run_errors(errors, bad_model)) == 1
    # No image, but a command: it can run; its configuration is archived and leaves `language` unset.
    messages = run_errors(errors, many)
    assert len(messages) == 2
    assert any("archived" in message for message in messages)
    assert any("language" in message for message in messages)


def count_queries(process):
    with CaptureQueriesContext(connection) as captured:
        start_errors(process)
    return len(captured.captured_queries)


def test_constant_queries(process, runs, corpus, page_type, elements, user):
    """The same queries for four elements and three worker runs as for many more of both."""
    small = count_queries(process)
    for index in range(30):
        ElementFactory(corpus=corpus, type=page_type, name=f"More {index}")
    for _ in range(5):
        make_run(process, make_version(f"more-{_}"), parents=[runs[0]])
    assert count_queries(process) == small
    # The worker runs (one query), the explicit element list (one), the element set (one EXISTS).
    assert small == 3
