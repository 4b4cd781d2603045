"""
The worker configuration rules: definition YAML (same verdicts and messages as the validator the
CLI runs), stored version configurations (legacy shape included), values, and what a worker
receives at run time. No database.
"""

import pytest

from workers.configuration import (
    DefinitionError,
    configuration_defaults,
    equals_defaults,
    missing_required_fields,
    normalize_version_configuration,
    parse_worker_definition,
    runtime_configuration,
    validate_values,
    version_configuration_from_definition,
)

BASE = "slug: demo\ndisplay_name: Demo\ntype: classifier\ndescription: A demo worker\n"

FULL_DEFINITION = (
    BASE
    + """gpu_usage: supported
model_usage: required
docker:
  command: python -m demo
  shm_size: 512m
configuration:
  - key: threshold
    display_name: Threshold
    help_text: Below it, predictions are dropped.
    type: float
    default: 0.5
  - key: mode
    display_name: Mode
    type: enum
    choices: [fast, slow]
    default: fast
    required: true
  - key: layers
    display_name: Layers
    type: int
    many: true
    default: [1, 2]
  - key: model
    display_name: Model
    type: model
  - key: fixed
    display_name: Fixed
    type: string
    editable: false
    default: hello
  - key: token
    display_name: Token
    type: secret
  - key: training
    display_name: Training
    type: group
    children:
      - key: epochs
        display_name: Epochs
        type: int
        default: 10
"""
)


def field(body):
    return BASE + "configuration:\n" + body


def test_full_definition_is_stored_in_the_legacy_shape():
    definition = parse_worker_definition(FULL_DEFINITION)
    assert version_configuration_from_definition(definition) == {
        "docker": {"command": "python -m demo", "shm_size": "512m"},
        "user_configuration": {
            "threshold": {
                "title": "Threshold",
                "type": "float",
                "default": 0.5,
                "help_text": "Below it, predictions are dropped.",
            },
            "mode": {"title": "Mode", "type": "enum", "choices": ["fast", "slow"], "default": "fast", "required": True},
            "layers": {"title": "Layers", "type": "list", "subtype": "int", "default": [1, 2]},
            "model": {"title": "Model", "type": "model"},
            "fixed": {"title": "Fixed", "type": "string", "default": "hello", "editable": False},
            "token": {"title": "Token", "type": "secret"},
            "training.epochs": {"title": "Epochs", "type": "int", "default": 10, "group": "training"},
        },
        "groups": {"training": {"title": "Training"}},
    }


def test_minimal_definition_has_an_empty_configuration():
    assert version_configuration_from_definition(parse_worker_definition(BASE)) == {}


def test_stored_definition_is_a_valid_version_configuration():
    stored = version_configuration_from_definition(parse_worker_definition(FULL_DEFINITION))
    assert normalize_version_configuration(stored) == stored


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("display_name: Demo\ntype: t\ndescription: d\n", "slug: Required field missing"),
        (BASE.replace("slug: demo", "slug: 'de mo'"), "slug: 'de mo' is not a slug"),
        (BASE + "foo: 1\n", "foo: Unexpected element"),
        (BASE + "gpu_usage: maybe\n", "gpu_usage: 'maybe' not in ('supported', 'required', 'disabled')"),
        (BASE + "docker:\n  image: x\n", "docker.image: Unexpected element"),
        (BASE + "docker:\n  shm_size: 0m\n", "docker.shm_size: '0m' is not a Docker shared memory size"),
        (BASE + "docker:\n  shm_size: 512\n", "docker.shm_size: 512 is not a Docker shared memory size"),
        (BASE.replace("display_name: Demo", "display_name: '  '"), "display_name: '  ' cannot be an empty string."),
        (BASE.replace("type: classifier", "type: " + "x" * 101), "is greater than 100"),
        (BASE + "configuration: {a: 1}\n", "configuration: {'a': 1} is not a list."),
        (field("  - 3\n"), "configuration.0: 3 is not a map."),
        (field("  - key: a\n    display_name: A\n"), "configuration.0.type: Required field missing"),
        (
            field("  - key: a\n    display_name: A\n    type: int\n    title: x\n"),
            "configuration.0.title: Unexpected element",
        ),
        (field("  - key: a\n    display_name: A\n    type: integer\n"), "configuration.0.type: 'integer' not in"),
        (
            field("  - key: a\n    display_name: A\n    type: int\n  - key: a\n    display_name: B\n    type: int\n"),
            "configuration.a: Duplicate key",
        ),
        (
            field(
                "  - key: g.a\n    display_name: A\n    type: int\n  - key: g\n    display_name: G\n    type: group\n"
                "    children:\n      - key: a\n        display_name: A\n        type: int\n"
            ),
            "configuration.g: Duplicate key",
        ),
        (field("  - key: a\n    display_name: A\n    type: enum\n"), "configuration.a: Missing 'choices' for enum"),
        (field("  - key: a\n    display_name: A\n    type: enum\n    choices: [x]\n"), "is less than 2"),
        (
            field("  - key: a\n    display_name: A\n    type: enum\n    choices: [x, x]\n"),
            "configuration.a: Duplicate values in 'choices' is not allowed",
        ),
        (
            field("  - key: a\n    display_name: A\n    type: enum\n    choices: [x, y]\n    default: z\n"),
            "configuration.a: Default value must be one of the choices: x|y",
        ),
        (
            field("  - key: a\n    display_name: A\n    type: int\n    editable: false\n"),
            "configuration.a: Missing default value on non-editable option",
        ),
        (
            field(
                "  - key: g\n    display_name: G\n    type: group\n    required: true\n    children:\n"
                "      - key: a\n        display_name: A\n        type: int\n"
            ),
            "configuration.g: A group cannot be required",
        ),
        (field("  - key: g\n    display_name: G\n    type: group\n"), "configuration.g: Missing 'children'"),
        (field("  - key: g\n    display_name: G\n    type: group\n    children: []\n"), "Set at least one 'children'"),
        (
            field(
                "  - key: g\n    display_name: G\n    type: group\n    children:\n"
                "      - key: h\n        display_name: H\n        type: group\n        children:\n"
                "          - key: a\n            display_name: A\n            type: int\n"
            ),
            "configuration.g: A group cannot have a child group",
        ),
        (
            field("  - key: a\n    display_name: A\n    type: bool\n    many: true\n"),
            "configuration.a: Type bool is not supported when using 'many'.",
        ),
        (
            field("  - key: a\n    display_name: A\n    type: int\n    many: true\n    default: 3\n"),
            "configuration.a: Default value must be a list",
        ),
        (
            field("  - key: a\n    display_name: A\n    type: int\n    default: '3'\n"),
            "configuration.a: Default value must be an integer",
        ),
        (field("  - key: a\n    display_name: A\n    type: float\n    default: .nan\n"), "Default value cannot be NaN"),
        (
            field("  - key: a\n    display_name: A\n    type: dict\n    default: {x: 1}\n"),
            "Values of the default mapping must all be strings",
        ),
        (
            field("  - key: a\n    display_name: A\n    type: model\n    default: abc\n"),
            "configuration.a: Type model cannot have a default value.",
        ),
        ("- a\n- b\n", "definition: ['a', 'b'] is not a map."),
    ],
)
def test_definition_rules(text, error):
    with pytest.raises(DefinitionError) as excinfo:
        parse_worker_definition(text)
    assert any(error in message for message in excinfo.value.errors), excinfo.value.errors


def test_definition_reports_every_error():
    with pytest.raises(DefinitionError) as excinfo:
        parse_worker_definition("slug: 'a b'\nfoo: 1\n")
    assert len(excinfo.value.errors) == 5, excinfo.value.errors


def test_definition_yaml_syntax_error():
    with pytest.raises(DefinitionError) as excinfo:
        parse_worker_definition("slug: [unclosed\n")
    assert excinfo.value.errors[0].startswith("The YAML could not be parsed")


@pytest.mark.parametrize(
    "text",
    [
        BASE + "gpu_usage: null\ndocker: null\n",
        field("  - key: a\n    display_name: A\n    type: model\n    editable: false\n    default: null\n"),
        field("  - key: a\n    display_name: A\n    type: float\n    default: 3\n"),
        field("  - key: a\n    display_name: A\n    type: text\n    default: |\n      two\n      lines\n"),
        field("  - key: a\n    display_name: A\n    type: dict\n    default: {x: 'y'}\n"),
    ],
)
def test_definitions_the_validator_accepts(text):
    parse_worker_definition(text)


LEGACY = {
    "docker": {"command": "worker-demo"},
    "configuration": {"batch_size": 8},
    "secrets": ["demo/token.json"],
    "user_configuration": {
        "threshold": {"title": "Threshold", "type": "float", "default": 0.5},
        "names": {"title": "Names", "type": "list", "subtype": "string", "default": ["a"]},
        "prompt": {"title": "Prompt", "type": "string", "multiline": True, "required": True},
        "mode": {"title": "Mode", "type": "enum", "choices": ["a", "b"], "default": "a"},
        "flag": {"title": "Flag", "type": "bool", "default": False},
        "model": {"title": "Model", "type": "model"},
        "mapping": {"title": "Mapping", "type": "dict", "default": {"a": "b"}},
        "api_key": {"title": "API key", "type": "secret"},
    },
}


def test_legacy_configuration_is_kept_as_is():
    assert normalize_version_configuration(LEGACY) == LEGACY
    assert normalize_version_configuration(None) == {}
    assert normalize_version_configuration({}) == {}


@pytest.mark.parametrize(
    ("configuration", "error"),
    [
        ([], "[] is not a map."),
        ({"foo": 1}, "foo: Unexpected element"),
        ({"docker": {"image": "x"}}, "docker.image: Unexpected element"),
        ({"docker": {"shm_size": "-1"}}, "docker.shm_size: '-1' is not a Docker shared memory size"),
        ({"docker": "x"}, "docker: 'x' is not a map."),
        ({"configuration": [1]}, "configuration: [1] is not a map."),
        ({"secrets": "x"}, "secrets: 'x' is not a list of secret names."),
        ({"user_configuration": []}, "user_configuration: [] is not a map."),
        ({"user_configuration": {"a": 1}}, "user_configuration.a: 1 is not a map."),
        ({"user_configuration": {"a": {"type": "int"}}}, "user_configuration.a: title: Required field missing"),
        ({"user_configuration": {"a": {"title": "A", "type": "integer"}}}, "user_configuration.a: type: 'integer'"),
        (
            {"user_configuration": {"a": {"title": "A", "type": "int", "foo": 1}}},
            "user_configuration.a: foo: Unexpected",
        ),
        ({"user_configuration": {"a": {"title": "A", "type": "list"}}}, "user_configuration.a: subtype: a list needs"),
        ({"user_configuration": {"a": {"title": "A", "type": "int", "subtype": "int"}}}, "only a list has a subtype"),
        ({"user_configuration": {"a": {"title": "A", "type": "enum"}}}, "an enum needs a list of string choices"),
        ({"user_configuration": {"a": {"title": "A", "type": "int", "default": "x"}}}, "default: Must be an integer."),
        ({"user_configuration": {"a": {"title": "A", "type": "int", "required": "yes"}}}, "required: 'yes' is not a"),
        ({"user_configuration": {"a": {"title": "A", "type": "int", "multiline": True}}}, "only a string can be"),
        ({"user_configuration": {"a": {"title": "A", "type": "int", "editable": False}}}, "needs a default"),
        ({"groups": {"g": {}}}, "groups.g.title: Required field missing"),
    ],
)
def test_version_configuration_rules(configuration, error):
    with pytest.raises(DefinitionError) as excinfo:
        normalize_version_configuration(configuration)
    assert any(error in message for message in excinfo.value.errors), excinfo.value.errors


def test_defaults_leave_out_unset_and_fixed_fields():
    stored = version_configuration_from_definition(parse_worker_definition(FULL_DEFINITION))
    assert configuration_defaults(stored) == {
        "threshold": 0.5,
        "mode": "fast",
        "layers": [1, 2],
        "training.epochs": 10,
    }
    assert configuration_defaults({}) == {}


def test_values_are_checked_against_the_fields():
    assert validate_values(LEGACY, {"threshold": 1, "prompt": "Hello", "names": ["x", "y"]}) == {}
    assert validate_values(
        LEGACY,
        {
            "threshold": "high",
            "names": ["x", 1],
            "prompt": None,
            "mode": "c",
            "flag": 1,
            "model": "not-a-uuid",
            "mapping": {"a": 1},
            "unknown": 1,
            "batch_size": 4,
        },
    ) == {
        "threshold": ["Must be a number."],
        "names": ["Item 1: Must be a string."],
        "prompt": ["This field is required: set a value."],
        "mode": ["Must be one of: a, b."],
        "flag": ["Must be a boolean."],
        "model": ["Must be the UUID of a model."],
        "mapping": ["Must be a mapping of strings to strings."],
        "unknown": [
            "This key is not a field of the worker version. "
            "Known fields: api_key, flag, mapping, mode, model, names, prompt, threshold."
        ],
        "batch_size": ["This value is fixed by the worker version and cannot be set."],
    }


def test_required_field_without_default_must_be_set():
    assert validate_values(LEGACY, {"threshold": 1}) == {"prompt": ["This field is required: set a value."]}
    assert missing_required_fields(LEGACY, {}) == ["prompt"]
    assert missing_required_fields(LEGACY, {"prompt": "x"}) == []
    # A default satisfies a required field.
    with_default = {"user_configuration": {"a": {"title": "A", "type": "int", "required": True, "default": 1}}}
    assert missing_required_fields(with_default) == []


@pytest.mark.parametrize(
    ("field_type", "good", "bad"),
    [
        ("int", 3, True),
        ("int", -1, 1.5),
        ("float", 1.5, float("inf")),
        ("float", 2, "2"),
        ("bool", False, 0),
        ("string", "x", 3),
        ("text", "a\nb", None),
        ("secret", "demo/secret", 1),
        ("element_type", "page", ["page"]),
        ("worker_version", "e0b4ba9f-5ad9-4e47-9a53-4b0d4f0f9a3b", "e0b4ba9f"),
        ("corpus_export", "e0b4ba9f-5ad9-4e47-9a53-4b0d4f0f9a3b", 12),
        ("dict", {"a": "b"}, ["a"]),
    ],
)
def test_value_types(field_type, good, bad):
    fields = {"user_configuration": {"a": {"title": "A", "type": field_type, "required": True}}}
    assert validate_values(fields, {"a": good}) == {}
    assert "a" in validate_values(fields, {"a": bad})


def test_fixed_fields_cannot_be_set():
    stored = version_configuration_from_definition(parse_worker_definition(FULL_DEFINITION))
    assert validate_values(stored, {"fixed": "bye"}) == {
        "fixed": ["This field cannot be edited: remove it from the configuration."]
    }
    assert validate_values(stored, ["a"]) == {
        "non_field_errors": ["The configuration must be a mapping of field keys to values."]
    }


def test_equals_defaults_compares_effective_values():
    assert equals_defaults(LEGACY, {})
    assert equals_defaults(LEGACY, {"flag": False, "threshold": 0.5})
    assert not equals_defaults(LEGACY, {"flag": True})
    assert not equals_defaults(LEGACY, {"prompt": "x"})
    assert not equals_defaults(LEGACY, {"threshold": None})


def test_runtime_configuration_merges_defaults_and_values():
    assert runtime_configuration(LEGACY, {"threshold": 0.9, "api_key": "demo/key", "dropped": 1}) == [
        {"key": "api_key", "value": "demo/key", "secret": True},
        {"key": "batch_size", "value": 8, "secret": False},
        {"key": "dropped", "value": 1, "secret": False},
        {"key": "flag", "value": False, "secret": False},
        {"key": "mapping", "value": {"a": "b"}, "secret": False},
        {"key": "mode", "value": "a", "secret": False},
        {"key": "model", "value": None, "secret": False},
        {"key": "names", "value": ["a"], "secret": False},
        {"key": "prompt", "value": None, "secret": False},
        {"key": "threshold", "value": 0.9, "secret": False},
    ]


def test_runtime_configuration_without_configuration():
    assert runtime_configuration({}) == []
    assert runtime_configuration(None, None) == []
    stored = version_configuration_from_definition(parse_worker_definition(FULL_DEFINITION))
    assert {item["key"]: item["value"] for item in runtime_configuration(stored)} == {
        "threshold": 0.5,
        "mode": "fast",
        "layers": [1, 2],
        "model": None,
        "fixed": "hello",
        "token": None,
        "training.epochs": 10,
    }
