"""The `.arkindex.yml` of a repository: versions, conversion of legacy fields, and every error named."""

import pytest

from workers.arkindex_yml import ArkindexYmlError, parse_arkindex_yml

VERSION_2 = """
version: 2
workers:
  - slug: demo
    name: Demo worker
    type: classifier
    description: Labels pages
    gpu_usage: supported
    model_usage: required
    docker:
      build: Dockerfile
      command: worker-demo --verbose
      shm_size: 512m
    user_configuration:
      threshold:
        title: Threshold
        type: float
        default: 0.5
      labels:
        title: Labels
        type: list
        subtype: string
        default: [a, b]
      prompt:
        title: Prompt
        type: string
        multiline: true
        required: true
      mode:
        title: "A long explanation of the mode,\\non several lines"
        type: enum
        choices: [fast, slow]
        default: fast
    configuration:
      batch: 4
    secrets: [demo/token.txt]
  - slug: other
    name: Other
    type: recognizer
    docker:
      build: other/Dockerfile
"""


def errors_of(text):
    with pytest.raises(ArkindexYmlError) as info:
        parse_arkindex_yml(text)
    return info.value.errors


def test_version_2():
    parsed = parse_arkindex_yml(VERSION_2)
    assert parsed.version == 2
    assert not parsed.published_by_ci
    demo, other = parsed.workers
    assert (demo.slug, demo.name, demo.type, demo.description) == ("demo", "Demo worker", "classifier", "Labels pages")
    assert (demo.gpu_usage, demo.model_usage) == ("supported", "required")
    assert demo.configuration == {
        "docker": {"command": "worker-demo --verbose", "shm_size": "512m"},
        "user_configuration": {
            "threshold": {"title": "Threshold", "type": "float", "default": 0.5},
            "labels": {"title": "Labels", "type": "list", "subtype": "string", "default": ["a", "b"]},
            "prompt": {"title": "Prompt", "type": "text", "required": True},
            "mode": {
                "title": "mode",
                "help_text": "A long explanation of the mode,\non several lines",
                "type": "enum",
                "choices": ["fast", "slow"],
                "default": "fast",
            },
        },
        "configuration": {"batch": 4},
        "secrets": ["demo/token.txt"],
    }
    # No description: the worker keeps its own; no docker command, no usage: the defaults.
    assert (other.description, other.gpu_usage, other.model_usage) == (None, "disabled", "disabled")
    assert other.configuration == {}


def test_version_1_has_the_same_shape():
    parsed = parse_arkindex_yml(VERSION_2.replace("version: 2", "version: 1"))
    assert parsed.version == 1
    assert [worker.slug for worker in parsed.workers] == ["demo", "other"]


def test_version_3_imports_nothing():
    # Neither `type` nor `docker.build`: the CI publishes the workers.
    parsed = parse_arkindex_yml("version: 3\nworkers:\n  - slug: demo\n    name: Demo\n")
    assert parsed.version == 3
    assert parsed.published_by_ci
    assert parsed.workers == []


@pytest.mark.parametrize(
    "text, message",
    [
        ("version: [", "The YAML could not be parsed"),
        ("- a list", ".arkindex.yml: ['a list'] is not a map."),
        ("workers: []", "version: Required field missing"),
        ("version: 4\nworkers: []", "version: 4 not in (1, 2, 3)."),
        ("version: true\nworkers: []", "version: True not in (1, 2, 3)."),
    ],
)
def test_file_errors(text, message):
    (error,) = errors_of(text)
    assert error.startswith(message)


def test_every_error_is_named_with_its_path():
    text = """
version: 2
extra: 1
workers:
  - slug: "not a slug"
    name: ""
    gpu_usage: always
    docker:
      command: 3
      shm_size: 0m
      image: python
    user_configuration:
      count: {title: Count, type: int, default: "three"}
      choice: {title: Choice, type: enum, choices: [a, b], default: c}
      nested: {title: Nested, type: group}
      flags: {title: Flags, type: list, subtype: bool}
      untitled: {type: string, colour: red}
      wrong: {title: Wrong, type: string, subtype: int}
    configuration: [1]
    secrets: secret
  - just a string
  - slug: demo
    name: Demo
    type: t
    docker: {build: Dockerfile}
  - slug: demo
    name: Demo again
    type: t
    docker: {build: Dockerfile}
"""
    errors = errors_of(text)
    expected = [
        "extra: Unexpected element",
        "workers.0.docker.image: Unexpected element",
        "workers.0.docker.build: Required field missing",
        "workers.0.user_configuration.untitled.colour: Unexpected element",
        "workers.0.user_configuration.wrong.subtype: only a list has a subtype.",
        "workers.0.configuration: [1] is not a map.",
        "workers.0.secrets: 'secret' is not a list of secret names.",
        "workers.0.slug: 'not a slug' is not a slug",
        "workers.0.name: '' cannot be an empty string.",
        "workers.0.type: Required field missing",
        "workers.0.gpu_usage: 'always' not in ('supported', 'required', 'disabled').",
        "workers.0.docker.command: 3 is not a str.",
        "workers.0.docker.shm_size: '0m' is not a Docker shared memory size",
        "workers.0.user_configuration.untitled.title: Required field missing",
        "workers.0.user_configuration.count: Default value must be an integer",
        "workers.0.user_configuration.choice: Default value must be one of the choices: a|b",
        "workers.0.user_configuration.nested: Missing 'children' for group type option",
        "workers.0.user_configuration.flags: Type bool is not supported when using 'many'.",
        "workers.1: 'just a string' is not a map.",
        "workers.3.slug: Duplicate slug 'demo', already declared by workers.2",
    ]
    for message in expected:
        assert any(error.startswith(message) for error in errors), (message, errors)
    assert len(errors) == len(expected), errors


def test_docker_build_and_type_required_in_version_2():
    errors = errors_of("version: 2\nworkers:\n  - slug: demo\n    name: Demo\n")
    assert errors == ["workers.0.docker: Required field missing", "workers.0.type: Required field missing"]


def test_workers_must_be_a_list():
    assert errors_of("version: 1\nworkers: {demo: 1}") == ["workers: {'demo': 1} is not a list."]
    assert errors_of("version: 1") == ["workers: Required field missing"]
