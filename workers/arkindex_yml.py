"""
The `.arkindex.yml` at the root of a Git repository: the workers a repository process imports.

    version: 2
    workers:
      - slug: demo
        name: Demo
        type: classifier
        description: Labels pages            # optional
        gpu_usage: supported                 # optional: supported, required or disabled
        model_usage: disabled                # optional
        docker:
          build: Dockerfile                  # required in versions 1 and 2
          context: .                         # optional
          command: worker-demo               # optional
          shm_size: 512m                     # optional
        user_configuration:                  # optional: legacy fields (API.md §4.2)
          threshold: {title: Threshold, type: float, default: 0.5}
          labels: {title: Labels, type: list, subtype: string}
        configuration: {debug: false}        # optional: static values
        secrets: [demo/token.txt]            # optional: names of secrets

Versions 1 and 2 share this shape. Version 3 (seed 002) belongs to repositories whose CI publishes
their workers itself (`arkindex workers publish`, then ImportWorkerVersion): it needs neither
`type` nor `docker.build`, and a repository process imports nothing from it, so nothing but its
version number is read.

Each worker entry is checked by converting it into the worker definition of API.md §4.1 (`name`
becomes `display_name`, each legacy field becomes a definition field as `worker-validator convert`
does) and running the validator of ImportWorkerVersion on it: a repository import and
`arkindex worker import` accept and refuse the same workers. Errors name their place in the
`.arkindex.yml` (`workers.0.user_configuration.threshold.type: …`). The Docker build is only
checked: images are built elsewhere (the worker's CI), and an imported version runs its
`docker.command` until it gets an image.

Pure functions: no database, no request.
"""

from dataclasses import dataclass, field

import yaml

from workers import configuration as config

VERSIONS = (1, 2, 3)
# The version that only says "publication happens from the worker's CI".
PUBLISHED_BY_CI_VERSION = 3
TOP_LEVEL_KEYS = ("version", "workers")
ENTRY_KEYS = (
    "slug",
    "name",
    "type",
    "description",
    "gpu_usage",
    "model_usage",
    "docker",
    "user_configuration",
    "configuration",
    "secrets",
)
DOCKER_KEYS = ("build", "context", "command", "shm_size")
LEGACY_FIELD_KEYS = ("title", "type", "subtype", "multiline", "required", "default", "choices")
# A title that a definition cannot hold as its display name becomes its help text (§4.2).
TITLE_MAX_LENGTH = 250
# The definition requires a description, a `.arkindex.yml` does not: an entry without one is
# checked with this stand-in, and its worker keeps the description it has.
DESCRIPTION_STAND_IN = "No description"
# Names of the definition's keys in a `.arkindex.yml`, for the error paths.
ENTRY_NAMES = {"display_name": "name"}
FIELD_NAMES = {"display_name": "title", "help_text": "title", "many": "type"}


class ArkindexYmlError(ValueError):
    """A `.arkindex.yml` that breaks the rules; `errors` lists each one as `<path>: <message>`."""

    def __init__(self, errors):
        super().__init__("; ".join(errors))
        self.errors = list(errors)


@dataclass
class DeclaredWorker:
    """A worker declared by a `.arkindex.yml`, ready to become a new version of a repository worker."""

    slug: str
    name: str
    type: str
    description: str | None
    gpu_usage: str
    model_usage: str
    # The version's configuration, in the stored shape of `workers.configuration`.
    configuration: dict = field(default_factory=dict)


@dataclass
class ArkindexYml:
    version: int
    workers: list

    @property
    def published_by_ci(self):
        return self.version == PUBLISHED_BY_CI_VERSION


def parse_arkindex_yml(text):
    """The `.arkindex.yml` in `text`, checked; raises `ArkindexYmlError` naming every broken rule."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ArkindexYmlError([f"The YAML could not be parsed: {e}"]) from None
    if not isinstance(data, dict):
        raise ArkindexYmlError([f".arkindex.yml: {data!r} is not a map."])
    version = data.get("version")
    if version is None:
        raise ArkindexYmlError(["version: Required field missing"])
    if isinstance(version, bool) or version not in VERSIONS:
        raise ArkindexYmlError([f"version: {version!r} not in ({', '.join(map(str, VERSIONS))})."])
    if version == PUBLISHED_BY_CI_VERSION:
        return ArkindexYml(version=version, workers=[])

    errors = [f"{key}: Unexpected element" for key in data if key not in TOP_LEVEL_KEYS]
    entries = data.get("workers")
    if entries is None:
        errors.append("workers: Required field missing")
        entries = []
    elif not isinstance(entries, list):
        errors.append(f"workers: {entries!r} is not a list.")
        entries = []

    workers, slugs = [], {}
    for index, entry in enumerate(entries):
        path = f"workers.{index}"
        entry_errors = []
        worker = declared_worker(entry, entry_errors)
        errors.extend(f"{path}.{error}" if not error.startswith(":") else f"{path}{error}" for error in entry_errors)
        if worker is None:
            continue
        if worker.slug in slugs:
            first = slugs[worker.slug]
            errors.append(f"{path}.slug: Duplicate slug {worker.slug!r}, already declared by workers.{first}")
        slugs.setdefault(worker.slug, index)
        workers.append(worker)
    if errors:
        raise ArkindexYmlError(errors)
    return ArkindexYml(version=version, workers=workers)


def declared_worker(entry, errors):
    """
    One worker entry, checked: a `DeclaredWorker`, or None with the reasons added to `errors` as
    `<path in the entry>: <message>` (`: <message>` for the entry itself).
    """
    if not isinstance(entry, dict):
        errors.append(f": {entry!r} is not a map.")
        return None
    errors.extend(f"{key}: Unexpected element" for key in entry if key not in ENTRY_KEYS)
    docker = _docker(entry.get("docker"), errors)
    fields = _legacy_fields(entry.get("user_configuration"), errors)
    static = entry.get("configuration")
    if static is not None and not isinstance(static, dict):
        errors.append(f"configuration: {static!r} is not a map.")
    secrets = entry.get("secrets")
    if secrets is not None and (not isinstance(secrets, list) or not all(isinstance(name, str) for name in secrets)):
        errors.append(f"secrets: {secrets!r} is not a list of secret names.")

    description = entry.get("description")
    definition = {
        "slug": entry.get("slug"),
        "display_name": entry.get("name"),
        "type": entry.get("type"),
        "description": DESCRIPTION_STAND_IN if description is None else description,
        "gpu_usage": entry.get("gpu_usage"),
        "model_usage": entry.get("model_usage"),
        "docker": docker,
        "configuration": [definition_field(key, value) for key, value in fields.items()],
    }
    definition = {key: value for key, value in definition.items() if value is not None}
    keys = list(fields)
    errors.extend(_entry_error(error, keys) for error in config.validate_worker_definition(definition))
    if errors:
        return None

    stored = config.version_configuration_from_definition(definition)
    if static:
        stored["configuration"] = static
    if secrets:
        stored["secrets"] = secrets
    return DeclaredWorker(
        slug=definition["slug"],
        name=definition["display_name"],
        type=definition["type"].strip(),
        description=description,
        gpu_usage=definition.get("gpu_usage") or "disabled",
        model_usage=definition.get("model_usage") or "disabled",
        configuration=config.normalize_version_configuration(stored),
    )


def _docker(docker, errors):
    """The definition's `docker` (command and shm_size) from the entry's, whose `build` is required."""
    if docker is None:
        errors.append("docker: Required field missing")
        return None
    if not isinstance(docker, dict):
        errors.append(f"docker: {docker!r} is not a map.")
        return None
    errors.extend(f"docker.{key}: Unexpected element" for key in docker if key not in DOCKER_KEYS)
    build = docker.get("build")
    if build is None:
        errors.append("docker.build: Required field missing")
    elif not isinstance(build, str) or not build.strip():
        errors.append(f"docker.build: {build!r} is not the path of a Dockerfile.")
    context = docker.get("context")
    if context is not None and not isinstance(context, str):
        errors.append(f"docker.context: {context!r} is not a str.")
    return {key: docker[key] for key in ("command", "shm_size") if docker.get(key) is not None}


def _legacy_fields(fields, errors):
    """The legacy fields that are maps, `{key: field}`; the others are errors."""
    if fields is None:
        return {}
    if not isinstance(fields, dict):
        errors.append(f"user_configuration: {fields!r} is not a map.")
        return {}
    valid = {}
    for key, field_data in fields.items():
        path = f"user_configuration.{key}"
        if not isinstance(field_data, dict):
            errors.append(f"{path}: {field_data!r} is not a map.")
            continue
        errors.extend(f"{path}.{name}: Unexpected element" for name in field_data if name not in LEGACY_FIELD_KEYS)
        if "subtype" in field_data and field_data.get("type") != "list":
            errors.append(f"{path}.subtype: only a list has a subtype.")
        if "multiline" in field_data and not isinstance(field_data["multiline"], bool):
            errors.append(f"{path}.multiline: {field_data['multiline']!r} is not a bool.")
        valid[key] = field_data
    return valid


def definition_field(key, legacy):
    """
    A legacy `user_configuration` field as a worker definition field (API.md §4.2): `title` is the
    display name, or the help text when too long or on several lines; `type: list` is `many` of its
    `subtype`; a multiline string is `text`; `required`, `default` and `choices` are copied.
    """
    converted = {"key": key}
    title = legacy.get("title")
    if isinstance(title, str) and (len(title) > TITLE_MAX_LENGTH or "\n" in title.strip()):
        converted["display_name"] = key
        converted["help_text"] = title
    elif title is not None:
        converted["display_name"] = title
    field_type = legacy.get("type")
    if field_type == "list":
        converted["many"] = True
        field_type = legacy.get("subtype")
    if field_type == "string" and legacy.get("multiline") is True:
        field_type = "text"
    if field_type is not None:
        converted["type"] = field_type
    for name in ("required", "default", "choices"):
        if name in legacy:
            converted[name] = legacy[name]
    return converted


def _entry_error(error, keys):
    """An error of the definition validator, with the path of the `.arkindex.yml` entry."""
    path, separator, message = error.partition(": ")
    head, _, rest = path.partition(".")
    if head in ENTRY_NAMES:
        path = ENTRY_NAMES[head] + (f".{rest}" if rest else "")
    elif head == "configuration" and rest:
        # `configuration.<index>.<field>` from the mapping checks, `configuration.<key>` from the rules.
        index, _, tail = rest.partition(".")
        if tail and index.isdigit() and int(index) < len(keys):
            path = f"user_configuration.{keys[int(index)]}.{FIELD_NAMES.get(tail, tail)}"
        else:
            path = f"user_configuration.{rest}"
    return f"{path}{separator}{message}"
