"""
Worker configuration: what a worker version declares, and the values a person chooses for it.

A worker version's `configuration` is stored in one shape, whatever way it arrived:

    {
        "docker": {"command": "worker-demo", "shm_size": "512m"},
        "user_configuration": {
            "<key>": {
                "title": "Shown name", "type": "int", "default": 3, "required": true,
                "choices": [...], "subtype": "int", "multiline": false, "help_text": "…",
                "editable": false, "group": "<group key>"
            }
        },
        "groups": {"<group key>": {"title": "…", "help_text": "…"}},
        "configuration": {"<key>": <static value>},
        "secrets": ["<name>"]
    }

It is the legacy `.arkindex.yml` shape (a `user_configuration` field has a `title`, a `type` and,
for a list, a `subtype`) extended with what the worker definition YAML adds: `text`, `secret`,
`model`… types, `help_text`, non-editable fields (`editable: false`), and groups, whose children are
stored as `<group>.<child>` keys, the way the definition checks their uniqueness. Keeping the legacy
shape means a version created by an older client, or copied from another version, needs no
conversion; importing a definition (`parse_worker_definition` then
`version_configuration_from_definition`) is the one conversion there is.

The definition YAML is validated with the rules of the worker configuration validator the CLI runs
before importing (strict: an unknown key is an "Unexpected element"), so that a file the CLI
accepts is accepted here and the other way round.

Values (a worker configuration) are checked against the fields of one version
(`validate_values`), and what a worker receives at run time is the version's defaults overridden by
those values (`runtime_configuration`). Every function here is pure: no database, no request.
"""

import math
import re
import uuid

import yaml

# Types a field may have in a worker definition YAML.
DEFINITION_TYPES = (
    "bool",
    "corpus_export",
    "dict",
    "element_type",
    "enum",
    "float",
    "group",
    "int",
    "model",
    "s3_bucket",
    "secret",
    "string",
    "text",
    "worker_version",
)
# Types a stored field may have: the definition types, groups flattened away, and the legacy `list`.
FIELD_TYPES = tuple(sorted({*DEFINITION_TYPES, "list"} - {"group"}))
# Types that may be repeated (`many: true` in a definition, `type: list` with a `subtype` when stored).
MANY_TYPES = ("int", "float", "string", "worker_version", "element_type")
# Legacy lists of booleans existed before `many` was restricted; they stay readable.
LIST_SUBTYPES = (*MANY_TYPES, "bool")
# Types whose default a definition may set; the others are filled in by a person or a model.
TYPES_WITH_DEFAULT = ("bool", "dict", "enum", "float", "int", "string", "text")
USAGE_CHOICES = ("supported", "required", "disabled")

SLUG_PATTERN = re.compile(r"^[-a-zA-Z0-9_]{1,100}$")
MEMORY_SIZE_PATTERN = re.compile(r"^([0-9]+)([bkmg]?)$")

STORED_FIELD_KEYS = (
    "title",
    "type",
    "subtype",
    "multiline",
    "required",
    "default",
    "choices",
    "help_text",
    "editable",
    "group",
)
VERSION_CONFIGURATION_KEYS = ("docker", "user_configuration", "groups", "configuration", "secrets")
DOCKER_KEYS = ("command", "shm_size")


class DefinitionError(ValueError):
    """A worker definition or version configuration that breaks the rules; `errors` lists each one."""

    def __init__(self, errors):
        super().__init__("; ".join(errors))
        self.errors = list(errors)


# --- Worker definition YAML (the format `arkindex worker import` sends) ------------------------


def parse_worker_definition(text):
    """
    Parse and validate a worker definition YAML. Returns the definition as a dict, or raises
    `DefinitionError` naming every broken rule as `<path>: <message>`.
    """
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise DefinitionError([f"The YAML could not be parsed: {e}"]) from None
    errors = validate_worker_definition(data)
    if errors:
        raise DefinitionError(errors)
    return data


def _join(path, key):
    return f"{path}.{key}" if path else str(key)


def _check_mapping(data, schema, path, errors):
    """
    Check a mapping against `{key: (required, check)}`: missing required keys, values, and keys
    the schema does not know. A null value counts as a missing one, as in the validator.
    """
    if not isinstance(data, dict):
        errors.append(f"{path or 'definition'}: {data!r} is not a map.")
        return False
    for key, (required, check) in schema.items():
        value = data.get(key)
        if value is None:
            if required:
                errors.append(f"{_join(path, key)}: Required field missing")
            continue
        message = check(value)
        if message:
            errors.append(f"{_join(path, key)}: {message}")
    for key in data:
        if key not in schema:
            errors.append(f"{_join(path, key)}: Unexpected element")
    return True


def _str(max_length=None, non_empty=False):
    def check(value):
        if not isinstance(value, str):
            return f"{value!r} is not a str."
        if max_length is not None and len(value) > max_length:
            return f"Length of {value!r} is greater than {max_length}."
        if non_empty and not value.strip():
            return f"{value!r} cannot be an empty string."

    return check


def _enum(*choices):
    def check(value):
        if value not in choices:
            return f"{value!r} not in ({', '.join(repr(choice) for choice in choices)})."

    return check


def _bool(value):
    if not isinstance(value, bool):
        return f"{value!r} is not a bool."


def _any(value):
    return None


def _slug(value):
    if not isinstance(value, str) or not SLUG_PATTERN.match(value):
        return f"{value!r} is not a slug (only 100 alphanumeric characters, underscores or dashes are allowed)."


def is_memory_size(value):
    """A Docker shared memory size: `<number><unit>`, unit among b, k, m, g or none, number > 0."""
    if not isinstance(value, str):
        return False
    match = MEMORY_SIZE_PATTERN.match(value)
    return bool(match) and int(match.group(1)) > 0


def _memory_size(value):
    if not is_memory_size(value):
        return f"{value!r} is not a Docker shared memory size (format is <number><unit>, number > 0)."


def _choices(value):
    if not isinstance(value, list):
        return f"{value!r} is not a list."
    for item in value:
        if not isinstance(item, str):
            return f"{item!r} is not a str."
    if len(value) < 2:
        return f"Length of {value!r} is less than 2."


DEFINITION_SCHEMA = {
    "slug": (True, _slug),
    "display_name": (True, _str(max_length=100, non_empty=True)),
    "type": (True, _str(max_length=100, non_empty=True)),
    "description": (True, _str(non_empty=True)),
    "gpu_usage": (False, _enum(*USAGE_CHOICES)),
    "model_usage": (False, _enum(*USAGE_CHOICES)),
    # Both are checked apart, for errors with nested paths.
    "docker": (False, _any),
    "configuration": (False, _any),
}
DOCKER_SCHEMA = {
    "command": (False, _str()),
    "shm_size": (False, _memory_size),
}
FIELD_SCHEMA = {
    "key": (True, _str(max_length=250, non_empty=True)),
    "display_name": (True, _str(max_length=250, non_empty=True)),
    "help_text": (False, _str()),
    "type": (True, _enum(*DEFINITION_TYPES)),
    "default": (False, _any),
    "many": (False, _bool),
    "editable": (False, _bool),
    "required": (False, _bool),
    "choices": (False, _choices),
    "children": (False, _any),
}


def _check_definition_docker(data, errors):
    docker = data.get("docker")
    if docker is not None:
        _check_mapping(docker, DOCKER_SCHEMA, "docker", errors)


def _claim_key(keys, key, parent=None):
    """Record a field key; False when it was already used (compared without surrounding spaces)."""
    if not isinstance(key, str):
        return True
    full_key = f"{parent}.{key}" if parent is not None else key
    full_key = full_key.strip()
    if full_key in keys:
        return False
    keys.add(full_key)
    return True


def _check_definition_field(field, path, errors, keys, top_level):
    if not _check_mapping(field, FIELD_SCHEMA, path, errors):
        return
    children = field.get("children")
    if children is not None:
        if not isinstance(children, list):
            errors.append(f"{path}.children: {children!r} is not a list.")
            children = []
        for index, child in enumerate(children):
            _check_definition_field(child, f"{path}.children.{index}", errors, keys, top_level=False)
    else:
        children = []

    key = field.get("key")
    if key is None:
        return
    if top_level and not _claim_key(keys, key):
        errors.append(f"configuration.{key}: Duplicate key")
    for child in children:
        if isinstance(child, dict) and not _claim_key(keys, child.get("key"), parent=key):
            errors.append(f"configuration.{key}: Duplicate key")
    for rule in DEFINITION_RULES:
        message = rule(field)
        if message:
            errors.append(f"configuration.{key}: {message}")


def _rule_not_editable_with_default(field):
    if field.get("editable", True) is True:
        return None
    if field.get("type") == "group":
        return "A group must be editable"
    # An explicit null is allowed: a model may provide the value later.
    if "default" not in field:
        return "Missing default value on non-editable option"


def _rule_enum_requires_choices(field):
    if field.get("type") != "enum":
        return None
    choices = field.get("choices")
    if not choices:
        return "Missing 'choices' for enum type option"
    if isinstance(choices, list) and len(set(map(repr, choices))) != len(choices):
        return "Duplicate values in 'choices' is not allowed"


def _rule_group_requires_children(field):
    if field.get("type") != "group":
        return None
    children = field.get("children")
    if children is None:
        return "Missing 'children' for group type option"
    if isinstance(children, list) and len(children) < 1:
        return "Set at least one 'children' for group type option"


def _rule_group_not_required(field):
    if field.get("type") == "group" and field.get("required", False) is True:
        return "A group cannot be required"


def _rule_no_subgroups(field):
    if field.get("type") != "group" or not isinstance(field.get("children"), list):
        return None
    if any(isinstance(child, dict) and child.get("type") == "group" for child in field["children"]):
        return "A group cannot have a child group"


def _rule_limit_types_on_many(field):
    field_type = field.get("type")
    if field.get("many") is True and field_type not in MANY_TYPES:
        return f"Type {field_type} is not supported when using 'many'. Only {'|'.join(MANY_TYPES)} are supported."


def _check_default_value(field, value, plural=False):
    field_type = field.get("type")
    prefix = "All default values" if plural else "Default value"
    if field_type == "bool":
        if not isinstance(value, bool):
            return f"{prefix} must be a boolean"
    elif field_type == "dict":
        if not isinstance(value, dict):
            return f"{prefix} must be a mapping"
        if not all(isinstance(key, str) for key in value):
            return "Keys of the default mapping must all be strings"
        if not all(isinstance(item, str) for item in value.values()):
            return "Values of the default mapping must all be strings"
    elif field_type == "enum":
        if not isinstance(value, str):
            return f"{prefix} must be a string"
        choices = field.get("choices")
        if isinstance(choices, list) and value not in choices:
            return f"{prefix} must be one of the choices: {'|'.join(map(str, choices))}"
    elif field_type == "float":
        # As in the validator, an int is a float, and so is a boolean (Python's bool is an int).
        if not isinstance(value, int | float):
            return f"{prefix} must be a float"
        if math.isnan(value):
            return f"{prefix} cannot be NaN"
        if math.isinf(value):
            return f"{prefix} cannot be Infinite"
    elif field_type == "int":
        if not isinstance(value, int):
            return f"{prefix} must be an integer"
    elif field_type in ("string", "text"):
        if not isinstance(value, str):
            return f"{prefix} must be a string"
    else:
        return f"Type {field_type} cannot have a default value. Only {'|'.join(TYPES_WITH_DEFAULT)} can."


def _rule_default_type_match(field):
    default = field.get("default")
    if default is None:
        return None
    if field.get("many") is True:
        if not isinstance(default, list):
            return "Default value must be a list"
        for value in default:
            message = _check_default_value(field, value, plural=True)
            if message:
                return message
        return None
    return _check_default_value(field, default)


DEFINITION_RULES = (
    _rule_default_type_match,
    _rule_enum_requires_choices,
    _rule_group_not_required,
    _rule_group_requires_children,
    _rule_limit_types_on_many,
    _rule_no_subgroups,
    _rule_not_editable_with_default,
)


def validate_worker_definition(data):
    """Every broken rule of a parsed worker definition, as `<path>: <message>` strings."""
    errors = []
    if not _check_mapping(data, DEFINITION_SCHEMA, "", errors):
        return errors
    _check_definition_docker(data, errors)
    fields = data.get("configuration")
    if fields is None:
        return errors
    if not isinstance(fields, list):
        errors.append(f"configuration: {fields!r} is not a list.")
        return errors
    keys = set()
    for index, field in enumerate(fields):
        _check_definition_field(field, f"configuration.{index}", errors, keys, top_level=True)
    return errors


def _stored_field(field, group=None):
    """One definition field in the stored (legacy-compatible) shape."""
    many = field.get("many") is True
    stored = {"title": field["display_name"], "type": "list" if many else field["type"]}
    if many:
        stored["subtype"] = field["type"]
    if field.get("help_text") is not None:
        stored["help_text"] = field["help_text"]
    if field.get("required") is not None:
        stored["required"] = field["required"]
    if field.get("choices") is not None:
        stored["choices"] = field["choices"]
    if "default" in field:
        stored["default"] = field["default"]
    if field.get("editable") is False:
        stored["editable"] = False
    if group is not None:
        stored["group"] = group
    return stored


def version_configuration_from_definition(definition):
    """The stored configuration of a version imported from a validated worker definition."""
    configuration = {}
    docker = {key: value for key, value in (definition.get("docker") or {}).items() if value is not None}
    if docker:
        configuration["docker"] = docker
    fields, groups = {}, {}
    for field in definition.get("configuration") or []:
        key = field["key"].strip()
        if field["type"] == "group":
            groups[key] = {"title": field["display_name"]}
            if field.get("help_text") is not None:
                groups[key]["help_text"] = field["help_text"]
            for child in field["children"]:
                fields[f"{key}.{child['key'].strip()}"] = _stored_field(child, group=key)
        else:
            fields[key] = _stored_field(field)
    if fields:
        configuration["user_configuration"] = fields
    if groups:
        configuration["groups"] = groups
    return configuration


# --- Stored version configuration (CreateWorkerVersion's `configuration`, legacy included) ------


def normalize_version_configuration(configuration):
    """
    Validate a version configuration sent as is (the stored shape, which includes the legacy
    `.arkindex.yml` one) and return it. Raises `DefinitionError` naming every broken rule.
    """
    if configuration is None:
        return {}
    errors = []
    if not isinstance(configuration, dict):
        raise DefinitionError([f"{configuration!r} is not a map."])
    for key in configuration:
        if key not in VERSION_CONFIGURATION_KEYS:
            errors.append(f"{key}: Unexpected element (allowed: {', '.join(VERSION_CONFIGURATION_KEYS)})")

    docker = configuration.get("docker")
    if docker is not None:
        _check_mapping(docker, DOCKER_SCHEMA, "docker", errors)

    static = configuration.get("configuration")
    if static is not None and not isinstance(static, dict):
        errors.append(f"configuration: {static!r} is not a map.")

    secrets = configuration.get("secrets")
    if secrets is not None and (not isinstance(secrets, list) or not all(isinstance(s, str) for s in secrets)):
        errors.append(f"secrets: {secrets!r} is not a list of secret names.")

    groups = configuration.get("groups")
    if groups is not None:
        if not isinstance(groups, dict):
            errors.append(f"groups: {groups!r} is not a map.")
        else:
            for key, group in groups.items():
                _check_mapping(
                    group,
                    {"title": (True, _str(max_length=250, non_empty=True)), "help_text": (False, _str())},
                    f"groups.{key}",
                    errors,
                )

    fields = configuration.get("user_configuration")
    if fields is not None:
        if not isinstance(fields, dict):
            errors.append(f"user_configuration: {fields!r} is not a map.")
        else:
            for key, field in fields.items():
                errors.extend(f"user_configuration.{key}: {message}" for message in _check_stored_field(key, field))

    if errors:
        raise DefinitionError(errors)
    return configuration


def _check_stored_field(key, field):
    if not isinstance(key, str) or not key.strip() or len(key) > 250:
        return [f"{key!r} is not a valid key: use a non-blank string of at most 250 characters."]
    if not isinstance(field, dict):
        return [f"{field!r} is not a map."]
    errors = []
    unknown = sorted(set(field) - set(STORED_FIELD_KEYS))
    errors.extend(f"{name}: Unexpected element" for name in unknown)

    title = field.get("title")
    if not isinstance(title, str) or not title.strip():
        errors.append("title: Required field missing (a non-blank string)")
    field_type = field.get("type")
    if field_type not in FIELD_TYPES:
        errors.append(f"type: {field_type!r} not in ({', '.join(FIELD_TYPES)}).")
        return errors
    subtype = field.get("subtype")
    if field_type == "list":
        if subtype not in LIST_SUBTYPES:
            errors.append(f"subtype: a list needs a subtype among {', '.join(LIST_SUBTYPES)}, not {subtype!r}.")
            return errors
    elif subtype is not None:
        errors.append("subtype: only a list has a subtype.")
    for name in ("required", "editable", "multiline"):
        if name in field and not isinstance(field[name], bool):
            errors.append(f"{name}: {field[name]!r} is not a bool.")
    if field.get("multiline") and field_type != "string":
        errors.append("multiline: only a string can be multiline.")
    if "help_text" in field and not isinstance(field["help_text"], str):
        errors.append(f"help_text: {field['help_text']!r} is not a str.")
    if "group" in field and not isinstance(field["group"], str):
        errors.append(f"group: {field['group']!r} is not a str.")
    choices = field.get("choices")
    if field_type == "enum":
        if not isinstance(choices, list) or not choices or not all(isinstance(choice, str) for choice in choices):
            errors.append("choices: an enum needs a list of string choices.")
            return errors
        if len(set(choices)) != len(choices):
            errors.append("choices: Duplicate values in 'choices' is not allowed")
    if field.get("editable") is False and "default" not in field:
        errors.append("default: a field that cannot be edited needs a default (null allowed).")
    if field.get("default") is not None:
        message = check_value(field, field["default"])
        if message:
            errors.append(f"default: {message}")
    return errors


# --- Values (worker configurations) -------------------------------------------------------------


def fields_of(version_configuration):
    """The user configuration fields of a version, `{key: field}`."""
    fields = (version_configuration or {}).get("user_configuration")
    return fields if isinstance(fields, dict) else {}


def static_configuration(version_configuration):
    """The legacy static values of a version, which no worker configuration overrides."""
    static = (version_configuration or {}).get("configuration")
    return static if isinstance(static, dict) else {}


def _is_uuid(value):
    if not isinstance(value, str):
        return False
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def _check_single_value(field_type, field, value):
    if field_type == "bool":
        if not isinstance(value, bool):
            return "Must be a boolean."
    elif field_type == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            return "Must be an integer."
    elif field_type == "float":
        if isinstance(value, bool) or not isinstance(value, int | float):
            return "Must be a number."
        if math.isnan(value) or math.isinf(value):
            return "Must be a finite number."
    elif field_type in ("string", "text", "element_type", "s3_bucket", "secret"):
        if not isinstance(value, str):
            return "Must be a string."
    elif field_type == "enum":
        choices = field.get("choices") or []
        if not isinstance(value, str) or value not in choices:
            return f"Must be one of: {', '.join(map(str, choices))}."
    elif field_type == "dict":
        if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
            return "Must be a mapping of strings to strings."
    elif field_type in ("model", "corpus_export", "worker_version"):
        if not _is_uuid(value):
            return f"Must be the UUID of a {field_type.replace('_', ' ')}."
    else:
        return f"Unknown field type {field_type!r}."
    return None


def check_value(field, value):
    """Why `value` is not valid for `field` (a stored field), or None when it is."""
    field_type = field.get("type")
    if field_type == "list":
        if not isinstance(value, list):
            return "Must be a list."
        for index, item in enumerate(value):
            message = _check_single_value(field.get("subtype"), field, item)
            if message:
                return f"Item {index}: {message}"
        return None
    return _check_single_value(field_type, field, value)


def configuration_defaults(version_configuration):
    """The default values of the editable fields of a version, `{key: default}` (unset ones left out)."""
    return {
        key: field["default"]
        for key, field in fields_of(version_configuration).items()
        if isinstance(field, dict) and field.get("editable", True) and field.get("default") is not None
    }


def validate_values(version_configuration, values):
    """
    Why `values` cannot configure a version, as `{key: [messages]}` (empty when they can): every
    key must be an editable field of the version, every value of its field's type, and every
    required field without a default must have a value.
    """
    if not isinstance(values, dict):
        return {"non_field_errors": ["The configuration must be a mapping of field keys to values."]}
    fields = fields_of(version_configuration)
    static = static_configuration(version_configuration)
    errors = {}
    for key, value in values.items():
        field = fields.get(key)
        if field is None:
            if key in static:
                errors[key] = ["This value is fixed by the worker version and cannot be set."]
            else:
                known = ", ".join(sorted(k for k, f in fields.items() if f.get("editable", True))) or "none"
                errors[key] = [f"This key is not a field of the worker version. Known fields: {known}."]
            continue
        if field.get("editable", True) is False:
            errors[key] = ["This field cannot be edited: remove it from the configuration."]
        elif value is None:
            if field.get("required"):
                # Null would override the default: a required field never runs without a value.
                if field.get("default") is None:
                    errors[key] = ["This field is required: set a value."]
                else:
                    errors[key] = ["This field is required: set a value, or leave it out to use its default."]
        else:
            message = check_value(field, value)
            if message:
                errors[key] = [message]
    for key in missing_required_fields(version_configuration, values):
        errors.setdefault(key, ["This field is required: set a value."])
    return errors


def missing_required_fields(version_configuration, values=None):
    """Keys of the required fields that run without a value: set to null in `values`, or absent without a default."""
    effective = effective_values(version_configuration, values)
    return sorted(
        key
        for key, field in fields_of(version_configuration).items()
        if isinstance(field, dict) and field.get("required") and effective.get(key) is None
    )


def effective_values(version_configuration, values=None):
    """
    What a run of the version receives for its editable fields with `values` as its configuration:
    each field's value, else its default, else null. Two configurations with the same effective
    values configure a run the same way, however they are written.
    """
    values = values or {}
    return {
        key: values[key] if key in values else field.get("default")
        for key, field in fields_of(version_configuration).items()
        if isinstance(field, dict) and field.get("editable", True)
    }


def equals_defaults(version_configuration, values):
    """Whether `values` change nothing to what the version's defaults already give."""
    return effective_values(version_configuration, values) == effective_values(version_configuration)


def runtime_configuration(version_configuration, values=None):
    """
    What a worker receives at run time (RetrieveWorkerRunConfiguration): one `{key, value, secret}`
    per key, sorted by key. Precedence, lowest first: the version's static values, its fields'
    defaults (null when unset), then `values`, the worker configuration chosen for the run, if any.
    A value set for a key the version does not declare (a field a later version dropped) is passed
    on as is. A `secret` value is the name of the secret to fetch, never its content.
    """
    fields = fields_of(version_configuration)
    merged = dict(static_configuration(version_configuration))
    for key, field in fields.items():
        merged[key] = field.get("default") if isinstance(field, dict) else None
    merged.update(values or {})
    return [
        {
            "key": key,
            "value": merged[key],
            "secret": isinstance(fields.get(key), dict) and fields[key].get("type") == "secret",
        }
        for key in sorted(merged)
    ]


def declared_secrets(version_configuration, values=None):
    """
    The names of the secrets a worker run may read (RetrieveSecret): those its version lists in
    `secrets`, and the values of the `secret` fields of its configuration (see `runtime_configuration`).
    """
    names = {name for name in version_configuration.get("secrets") or [] if isinstance(name, str)}
    for item in runtime_configuration(version_configuration, values):
        if item["secret"] and isinstance(item["value"], str):
            names.add(item["value"])
    return names
