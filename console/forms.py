"""
What the console's forms offer: the choices a person may pick (read through the same selectors as
the API checks them with) and the fields of a new worker configuration. The forms themselves post
to the API (`console.js`), so its rules and messages are the only ones.
"""

import json

from processes.services.worker_runs import usable_models, usable_workers
from workers.configuration import fields_of
from workers.models import ModelVersion, ModelVersionState, WorkerConfiguration, WorkerVersion, WorkerVersionState

CHOICES_LIMIT = 500

# How each field type is entered: (input, the JS type of its value)
FIELD_INPUTS = {
    "bool": ("bool", "bool"),
    "int": ("number", "int"),
    "float": ("number", "float"),
    "enum": ("enum", "string"),
    "dict": ("json", "json"),
    "list": ("json", "json"),
    "text": ("textarea", "string"),
}


def worker_run_choices(user):
    """Available versions of usable workers, available versions of usable models, usable configurations."""
    workers = usable_workers(user).values("id")
    versions = (
        WorkerVersion.objects.filter(worker__in=workers, state=WorkerVersionState.Available)
        .select_related("worker")
        .order_by("worker__name", "worker_id", "-version")[:CHOICES_LIMIT]
    )
    model_versions = (
        ModelVersion.objects.filter(model__in=usable_models(user).values("id"), state=ModelVersionState.Available)
        .select_related("model")
        .order_by("model__name", "model_id", "-created")[:CHOICES_LIMIT]
    )
    configurations = WorkerConfiguration.objects.filter(worker__in=workers, archived=False).order_by("name", "id")[
        :CHOICES_LIMIT
    ]
    return {
        "version_choices": list(versions),
        "model_version_choices": list(model_versions),
        "configuration_choices": list(configurations),
    }


def configuration_fields(version):
    """The editable fields of a version's user configuration, each with its input and its default as entered."""
    fields = []
    for key, field in fields_of(version.configuration).items():
        if not isinstance(field, dict) or field.get("editable", True) is False:
            continue
        kind = field.get("type", "string")
        if kind == "text" and not field.get("multiline", True):
            kind = "string"
        widget, value_type = FIELD_INPUTS.get(kind, ("text", "string"))
        default = field.get("default")
        if widget == "json":
            shown = "" if default is None else json.dumps(default)
        elif widget == "bool":
            shown = "" if default is None else ("true" if default else "false")
        else:
            shown = "" if default is None else str(default)
        fields.append(
            {
                "key": key,
                "title": field.get("title") or key,
                "help_text": field.get("help_text", ""),
                "required": bool(field.get("required")),
                "widget": widget,
                "value_type": value_type,
                "step": "1" if kind == "int" else "any",
                "choices": [str(choice) for choice in field.get("choices") or []],
                "default": shown,
            }
        )
    return fields
