"""
Query strings of the documents' lists: the element lists (ListElements, ListElementChildren,
ListElementParents), the lists of results of an element or a corpus, and CreateElement's option.

The clients send booleans as Python prints them (`True`/`False`) and `False` for "made by a person"
on worker filters, so values go through the fields of `arkindex.api.params`; a bad value answers
400 naming the parameter. Each filter maps to an index (see `documents.models`): `type` and `folder` become literal
type ids (from the corpus's types, fetched with the corpus), read from the (corpus, type, name)
index; `top_level` is `parent IS NULL` on the paths' (parent, ordering) index; `name` uses the
trigram index; the provenance filters (`worker_run`, `worker_version`, `model_version`,
`configuration`, see `documents.provenance.ProvenanceFilter`) read the (worker run, corpus) index.

The parameters are declared once, as the fields of `ElementListParameters` and its subclasses, which
document them in the schema and parse them; `provenance_fields` declares the provenance filters of
every list of elements or results.
"""

import uuid

from django.db.models import Exists, OuterRef

from arkindex.api.params import (
    QueryBooleanField,
    QueryCharField,
    QueryChoiceField,
    QueryParameters,
    QueryUUIDField,
    UUIDOrFalseField,
)
from documents.models import ElementPath, Transcription
from documents.provenance import PROVENANCE_FIELDS, ProvenanceFilter
from documents.selectors import with_has_children

ORDERS = ("name", "created", "random")
CHILDREN_ORDERS = ("position", *ORDERS)
DIRECTIONS = ("asc", "desc")


def provenance_fields(results, prefix="", fields=PROVENANCE_FIELDS):
    """The fields of a `ProvenanceFilter` on a list of `results` ("elements", "transcriptions"…)."""
    descriptions = {
        "worker_run": f"Only {results} made by this worker run. A UUID, or `false` for {results} made by a person.",
        "worker_version": (
            f"Only {results} made by any worker run of this worker version. "
            f"A UUID, or `false` for {results} made by a person. Deprecated: a version may run with several "
            "models and configurations; filter by `worker_run`, or add `model_version` and `configuration`."
        ),
        "model_version": (
            f"Only {results} made by worker runs using this model version. "
            f"A UUID, or `false` for {results} of worker runs using no model (not those made by a person)."
        ),
        "configuration": (
            f"Only {results} made by worker runs using this worker configuration. "
            f"A UUID, or `false` for {results} of worker runs without a configuration (not those made by a person)."
        ),
    }
    return {
        prefix + name: UUIDOrFalseField(help_text=descriptions[name], deprecated=name == "worker_version")
        for name in fields
    }


def provenance_of(parameters, prefix="", fields=PROVENANCE_FIELDS):
    """The `ProvenanceFilter` of parsed parameters declared by `provenance_fields`."""
    return ProvenanceFilter(**{name: parameters.get(prefix + name) for name in fields})


class ResultListParameters(QueryParameters):
    """The worker run filters of a list of results; subclasses name the results and add their own parameters."""

    results = "results"

    def get_fields(self):
        return {**super().get_fields(), **provenance_fields(self.results)}

    @classmethod
    def parse_with_provenance(cls, request):
        """The parsed parameters, and the `ProvenanceFilter` they make."""
        values = cls.parse(request)
        return values, provenance_of(values)


class TranscriptionListParameters(ResultListParameters):
    results = "transcriptions"

    recursive = QueryBooleanField(
        default=False, help_text="Also list the transcriptions of all the element's descendants."
    )
    element_type = QueryCharField(help_text="Only on elements of this type (slug).")


class ClassificationListParameters(ResultListParameters):
    results = "classifications"

    recursive = QueryBooleanField(
        default=False, help_text="Also list the classifications of all the element's descendants."
    )


class MetaDataListParameters(ResultListParameters):
    results = "metadata"

    load_parents = QueryBooleanField(default=False, help_text="Also list the metadata of all the element's ancestors.")


class EntityListParameters(ResultListParameters):
    results = "entities"

    name = QueryCharField(help_text="Only entities whose name contains this text.")
    type = QueryUUIDField(help_text="Only entities of this type.")


class TranscriptionEntityListParameters(ResultListParameters):
    results = "transcription entities"


class MLClassListParameters(QueryParameters):
    search = QueryCharField(help_text="Only classes whose name contains this text.")


class CreateElementParameters(QueryParameters):
    slim_output = QueryBooleanField(default=False, help_text="Return only the new element's `id`.")


class ElementListParameters(QueryParameters):
    """The query string of every element list: filters, options, provenance and sort."""

    orders = ORDERS
    default_order = "name"

    type = QueryCharField(help_text="Only elements of this type (slug).")
    name = QueryCharField(help_text="Only elements whose name contains this text (any case).")
    folder = QueryBooleanField(help_text="Only elements of folder types (true) or of other types (false).")
    order_direction = QueryChoiceField(DIRECTIONS, default="asc", help_text="Sort direction (asc).")
    with_has_children = QueryBooleanField(default=False, help_text="Add `has_children` to each element.")
    with_classes = QueryBooleanField(default=False, help_text="Add the element's best `classes`.")
    with_metadata = QueryBooleanField(default=False, help_text="Add the element's `metadata`.")
    with_corpus = QueryBooleanField(default=True, help_text="Include `corpus` (default true).")
    with_zone = QueryBooleanField(default=True, help_text="Include `zone` (default true).")
    transcription_worker_run = UUIDOrFalseField(
        help_text="Only elements with a transcription made by this worker run. "
        "A UUID, or `false` for a transcription made by a person."
    )
    transcription_worker_version = UUIDOrFalseField(
        help_text="Only elements with a transcription made by this worker version (use `transcription_worker_run`). "
        "A UUID, or `false` for a transcription made by a person.",
        deprecated=True,
    )

    def get_fields(self):
        fields = super().get_fields()
        fields.update(provenance_fields("elements"))
        fields["order"] = QueryChoiceField(
            self.orders,
            default=self.default_order,
            help_text=f"Sort key (default `{self.default_order}`); ties are broken by id.{self.order_help}",
        )
        return fields

    order_help = ""


class CorpusElementsParameters(ElementListParameters):
    top_level = QueryBooleanField(help_text="Only top-level elements (true), or only elements with a parent (false).")


class ElementChildrenParameters(ElementListParameters):
    orders = CHILDREN_ORDERS
    default_order = "position"
    order_help = " `position` is the order under the parent; for a recursive listing it sorts by name."

    recursive = QueryBooleanField(default=False, help_text="All descendants instead of direct children.")


class ElementParentsParameters(ElementListParameters):
    recursive = QueryBooleanField(default=False, help_text="All ancestors instead of direct parents.")


class ElementListFilters:
    """The parsed query string of one element list request (`parameters`: its `ElementListParameters`)."""

    def __init__(self, request, parameters):
        values = parameters.parse(request)
        self.type = values.get("type")
        self.name = values.get("name")
        self.folder = values.get("folder")
        self.top_level = values.get("top_level")
        self.recursive = values.get("recursive", False)
        self.with_has_children = values["with_has_children"]
        self.options = {
            option: values[option] for option in ("with_classes", "with_metadata", "with_corpus", "with_zone")
        }
        # The view fetches the runs this filter selects with the corpus or element (`provenance_runs`).
        self.provenance = provenance_of(values)
        self.transcription_provenance = provenance_of(
            values, prefix="transcription_", fields=("worker_run", "worker_version")
        )
        self.order = values["order"]
        self.direction = values["order_direction"]

    def filter(self, queryset, corpus_types, provenance_runs=None):
        """
        Filter a list of elements of a corpus whose types are `corpus_types` (`{id, slug, folder}`
        dicts); `provenance_runs` are the ids of the runs the provenance filter selects, when it does.
        """
        if self.type is not None:
            type_ids = [uuid.UUID(t["id"]) for t in corpus_types if t["slug"] == self.type]
            queryset = queryset.filter(type_id__in=type_ids)
        if self.folder is not None:
            type_ids = [uuid.UUID(t["id"]) for t in corpus_types if t["folder"] == self.folder]
            queryset = queryset.filter(type_id__in=type_ids)
        if self.name is not None:
            queryset = queryset.filter(name__icontains=self.name)
        if self.top_level is not None:
            top_level_ids = ElementPath.objects.filter(parent__isnull=True).values("element_id")
            if self.top_level:
                queryset = queryset.filter(id__in=top_level_ids)
            else:
                queryset = queryset.exclude(id__in=top_level_ids)

        queryset = self.provenance.filter(queryset, provenance_runs)
        queryset = self.filter_transcriptions(queryset)

        if self.with_has_children:
            queryset = with_has_children(queryset)
        return queryset

    def filter_transcriptions(self, queryset):
        """
        `transcription_worker_run` / `transcription_worker_version`: the elements with a transcription
        by that run, or any run of that version; `False` for a transcription by a person. A semi-join
        on the transcriptions of each element (their element index).
        """
        if self.transcription_provenance == ProvenanceFilter():
            return queryset
        transcriptions = self.transcription_provenance.filter(Transcription.objects.filter(element_id=OuterRef("pk")))
        return queryset.filter(Exists(transcriptions))

    def sort(self, queryset, *, positioned=False):
        """Sort the list; `positioned` querysets are a parent's direct children, with a `position` alias."""
        if self.order == "random":
            return queryset.order_by("?")
        keys = {
            "position": ["position", "name", "id"] if positioned else ["name", "id"],
            "name": ["name", "id"],
            "created": ["created", "id"],
        }[self.order]
        if self.direction == "desc":
            keys = [f"-{key}" for key in keys]
        return queryset.order_by(*keys)
