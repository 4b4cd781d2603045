"""
Query-string filters of the element lists (ListElements, ListElementChildren, ListElementParents).

The clients send booleans as Python prints them (`True`/`False`) and `False` for "made by a person"
on worker filters, so values go through `arkindex.api.params`; a bad value answers 400 naming the
parameter. Each filter maps to an index (see `documents.models`): `type` and `folder` become literal
type ids (from the corpus's types, fetched with the corpus), read from the (corpus, type, name)
index; `top_level` is `parent IS NULL` on the paths' (parent, ordering) index; `name` uses the
trigram index; the provenance filters (`worker_run`, `worker_version`, `model_version`,
`configuration`, see `documents.provenance.ProvenanceFilter`) read the (worker run, corpus) index.

`provenance_parameters` documents those filters for every list of elements or results.
"""

import uuid

from django.db.models import Exists, OuterRef
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework.exceptions import ValidationError

from arkindex.api.params import parse_bool
from documents.models import ElementPath, Transcription
from documents.provenance import PROVENANCE_FIELDS, ProvenanceFilter
from documents.selectors import with_has_children

ORDERS = ("name", "created", "random")
CHILDREN_ORDERS = ("position", *ORDERS)
DIRECTIONS = ("asc", "desc")


def _bool(name, description):
    return OpenApiParameter(name, OpenApiTypes.BOOL, required=False, description=description)


def provenance_parameters(results):
    """The query parameters of a `ProvenanceFilter` on a list of `results` ("elements", "transcriptions"…)."""
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
    return [
        OpenApiParameter(
            name, OpenApiTypes.STR, required=False, description=descriptions[name], deprecated=name == "worker_version"
        )
        for name in PROVENANCE_FIELDS
    ]


def _transcription_filter(name, what, deprecated=False):
    return OpenApiParameter(
        name,
        OpenApiTypes.STR,
        required=False,
        deprecated=deprecated,
        description=(
            f"Only elements with a transcription made by this {what}. "
            "A UUID, or `false` for a transcription made by a person."
        ),
    )


COMMON_PARAMETERS = [
    OpenApiParameter("type", OpenApiTypes.STR, required=False, description="Only elements of this type (slug)."),
    OpenApiParameter(
        "name", OpenApiTypes.STR, required=False, description="Only elements whose name contains this text (any case)."
    ),
    _bool("folder", "Only elements of folder types (true) or of other types (false)."),
    OpenApiParameter(
        "order_direction", OpenApiTypes.STR, required=False, enum=DIRECTIONS, description="Sort direction (asc)."
    ),
    _bool("with_has_children", "Add `has_children` to each element."),
    _bool("with_classes", "Add the element's best `classes`."),
    _bool("with_metadata", "Add the element's `metadata`."),
    _bool("with_corpus", "Include `corpus` (default true)."),
    _bool("with_zone", "Include `zone` (default true)."),
    *provenance_parameters("elements"),
    _transcription_filter("transcription_worker_run", "worker run"),
    _transcription_filter("transcription_worker_version", "worker version (use `transcription_worker_run`)", True),
]


def _order_parameter(choices, default, extra=""):
    return OpenApiParameter(
        "order",
        OpenApiTypes.STR,
        required=False,
        enum=choices,
        description=f"Sort key (default `{default}`); ties are broken by id.{extra}",
    )


ELEMENTS_PARAMETERS = [
    *COMMON_PARAMETERS,
    _bool("top_level", "Only top-level elements (true), or only elements with a parent (false)."),
    _order_parameter(ORDERS, "name"),
]
CHILDREN_PARAMETERS = [
    *COMMON_PARAMETERS,
    _bool("recursive", "All descendants instead of direct children."),
    _order_parameter(
        CHILDREN_ORDERS,
        "position",
        " `position` is the order under the parent; for a recursive listing it sorts by name.",
    ),
]
PARENTS_PARAMETERS = [
    *COMMON_PARAMETERS,
    _bool("recursive", "All ancestors instead of direct parents."),
    _order_parameter(ORDERS, "name"),
]


class ElementListFilters:
    """The parsed query string of one element list request."""

    def __init__(self, query_params, *, orders=ORDERS, default_order="name", allow_top_level=False):
        get = query_params.get
        self.type = get("type") or None
        self.name = get("name") or None
        self.folder = parse_bool(get("folder"), field="folder")
        self.top_level = parse_bool(get("top_level"), field="top_level") if allow_top_level else None
        self.recursive = parse_bool(get("recursive"), field="recursive", default=False)
        self.with_has_children = parse_bool(get("with_has_children"), field="with_has_children", default=False)
        self.options = {
            "with_classes": parse_bool(get("with_classes"), field="with_classes", default=False),
            "with_metadata": parse_bool(get("with_metadata"), field="with_metadata", default=False),
            "with_corpus": parse_bool(get("with_corpus"), field="with_corpus", default=True),
            "with_zone": parse_bool(get("with_zone"), field="with_zone", default=True),
        }
        # The view fetches the runs this filter selects with the corpus or element (`provenance_runs`).
        self.provenance = ProvenanceFilter.from_query(query_params)
        self.transcription_provenance = ProvenanceFilter.from_query(
            query_params, prefix="transcription_", fields=("worker_run", "worker_version")
        )

        self.order = get("order") or default_order
        if self.order not in orders:
            raise ValidationError({"order": [f"'{self.order}' is not a valid order: use one of {', '.join(orders)}."]})
        self.direction = get("order_direction") or "asc"
        if self.direction not in DIRECTIONS:
            message = f"'{self.direction}' is not a valid direction: use asc or desc."
            raise ValidationError({"order_direction": [message]})

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
