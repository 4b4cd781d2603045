"""
Worker results: transcriptions, ML classes, classifications, metadata, entities and embeddings.

Results carry the rights of their element's corpus: guests read them, contributors create them.
A hidden element or corpus answers 404 (a field error when it is named in the body), a readable
one without the contributor level 403. Every `worker_run_id` goes through `resolve_worker_run`,
and lists run a fixed number of queries whatever their page size.

Every list of results is filtered by provenance the same way (`documents.provenance.ProvenanceFilter`):
the worker runs its filters select are fetched in the query of the element, transcription or
corpus the list belongs to (`provenance_runs`), and the results are read by `worker_run_id` on
the (worker run, …) index of their table.
"""

from collections import namedtuple

from django.db.models import Q
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import permissions, status
from rest_framework.exceptions import ValidationError
from rest_framework.generics import GenericAPIView, ListAPIView, ListCreateAPIView
from rest_framework.response import Response

from documents.api.filters import (
    ClassificationListParameters,
    EntityListParameters,
    MetaDataListParameters,
    MLClassListParameters,
    TranscriptionEntityListParameters,
    TranscriptionListParameters,
)
from documents.api.result_serializers import (
    ClassificationCreateSerializer,
    ClassificationListSerializer,
    ClassificationRejectSerializer,
    ClassificationsCreateResponseSerializer,
    ClassificationsCreateSerializer,
    ClassificationSerializer,
    ElementTranscriptionResultSerializer,
    ElementTranscriptionsCreateSerializer,
    EmbeddingCreateSerializer,
    EmbeddingSerializer,
    EntitySerializer,
    EntityTypeCreateSerializer,
    EntityTypeSerializer,
    MetaDataBulkCreateSerializer,
    MetaDataBulkResponseSerializer,
    MetaDataCreateSerializer,
    MetaDataListSerializer,
    MetaDataSerializer,
    MLClassSerializer,
    TranscriptionCreateSerializer,
    TranscriptionEntitiesCreateSerializer,
    TranscriptionEntitiesResponseSerializer,
    TranscriptionEntityCreateSerializer,
    TranscriptionEntitySerializer,
    TranscriptionListSerializer,
    TranscriptionsCreateResponseSerializer,
    TranscriptionsCreateSerializer,
    TranscriptionSerializer,
)
from documents.api.serializers import missing_type, writable_corpus, zone_polygon
from documents.models import (
    Classification,
    Element,
    ElementPath,
    Embedding,
    Entity,
    EntityType,
    MetaData,
    MLClass,
    Transcription,
    TranscriptionEntity,
)
from documents.provenance import resolve_worker_run
from documents.selectors import (
    Unnest,
    check_corpus_level,
    corpus_level_subquery,
    corpus_levels,
    element_corpora,
    element_corpus_classes,
    element_type_ids,
    get_corpus,
    get_element,
    get_element_corpus,
    get_parent_zone,
    get_published_transcription,
    with_provenance_runs,
)
from documents.services import results as result_services
from users.models import Role

# What publishing on an element needs of it: its corpus, and the caller's level there.
PublishedElement = namedtuple("PublishedElement", "id corpus_id corpus_level")


def readable_elements(request, element_ids, field, corpora=None):
    """
    The elements `element_ids` (`PublishedElement`s) with the user's `corpus_level`: a field error naming
    those missing or hidden, a 403 when the user is not a contributor on one of their corpora. One
    prepared statement for the elements (unless their `corpora` are given, `{element id: corpus id}`
    of those that exist), and one query for the levels on their corpora (none for a task).
    """
    if corpora is None:
        corpora = element_corpora(element_ids)
    levels = corpus_levels(request.user, corpora.values())
    elements = {element: PublishedElement(element, corpus, levels[corpus]) for element, corpus in corpora.items()}
    missing = sorted({str(i) for i in element_ids if i not in elements or elements[i].corpus_level < Role.GUEST})
    if missing:
        raise ValidationError({field: [f"Elements {', '.join(missing)} do not exist, or you have no access to them."]})
    for level in set(levels.values()):
        check_corpus_level(level, Role.CONTRIBUTOR, what="Element", action="publish results on its elements")
    return elements


def element_and_descendants(element, recursive):
    """A condition on `element_id`: the element, and all its descendants when `recursive` (GIN index on paths)."""
    condition = Q(element_id=element.id)
    if recursive:
        condition |= Q(element_id__in=ElementPath.objects.filter(path__contains=[element.id]).values("element_id"))
    return condition


def resolve_runs(request, worker_run_id, corpus_ids):
    """The worker run, checked against each corpus the results go to (usually one)."""
    run = None
    for corpus_id in sorted(set(corpus_ids), key=str):
        run = resolve_worker_run(request, worker_run_id, corpus_id)
    return run


# Transcriptions


@extend_schema(tags=["transcriptions"])
class TranscriptionCreate(GenericAPIView):
    """Add a transcription to an element (contributors)."""

    permission_classes = (permissions.IsAuthenticated,)
    serializer_class = TranscriptionCreateSerializer

    @extend_schema(operation_id="CreateTranscription", responses={201: TranscriptionSerializer})
    def post(self, request, id):
        corpus_id = get_element_corpus(request.user, id, Role.CONTRIBUTOR, action="add transcriptions")
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        run = resolve_worker_run(request, data.get("worker_run_id"), corpus_id)
        (transcription,) = result_services.transcriptions_create([{**data, "element_id": id}], worker_run=run)
        return Response(TranscriptionSerializer(transcription).data, status=status.HTTP_201_CREATED)


@extend_schema(tags=["transcriptions"])
class TranscriptionBulkCreate(GenericAPIView):
    """Add transcriptions to several elements at once (contributors on their corpora); one INSERT."""

    permission_classes = (permissions.IsAuthenticated,)
    serializer_class = TranscriptionsCreateSerializer

    @extend_schema(operation_id="CreateTranscriptions", responses={201: TranscriptionsCreateResponseSerializer})
    def post(self, request):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        items = data["transcriptions"]
        elements = readable_elements(request, [item["element_id"] for item in items], "transcriptions")
        run = resolve_runs(request, data.get("worker_run_id"), [e.corpus_id for e in elements.values()])
        transcriptions = result_services.transcriptions_create(items, worker_run=run)
        body = {"worker_run_id": run.id if run else None, "transcriptions": transcriptions}
        return Response(TranscriptionsCreateResponseSerializer(body).data, status=status.HTTP_201_CREATED)


@extend_schema(tags=["transcriptions"])
class ElementTranscriptionsBulkCreate(GenericAPIView):
    """
    Create child elements of an element on its image, one per polygon, each with its transcription
    (contributors). A child of the same type and polygon is reused rather than duplicated.
    """

    permission_classes = (permissions.IsAuthenticated,)
    serializer_class = ElementTranscriptionsCreateSerializer
    pagination_class = None
    queryset = Element.objects.none()  # for the schema: the parent is fetched with the user's level

    @extend_schema(
        operation_id="CreateElementTranscriptions",
        responses={201: ElementTranscriptionResultSerializer(many=True)},
    )
    def post(self, request, id):
        parent = get_parent_zone(request.user, id, Role.CONTRIBUTOR, action="add elements and transcriptions")
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        if parent.image_id is None or not parent.polygon:
            raise ValidationError({"id": [f"Element {parent.id} has no image: its children cannot have polygons."]})
        element_type_id = element_type_ids(parent.corpus_id, [data["element_type"]]).get(data["element_type"])
        if element_type_id is None:
            raise ValidationError({"element_type": [missing_type(parent.corpus_id, data["element_type"])]})
        items = []
        errors = {}
        for index, item in enumerate(data["transcriptions"]):
            try:
                items.append({**item, "polygon": zone_polygon(parent.image, item["polygon"])})
            except ValidationError as error:
                errors[index] = error.detail
        if errors:
            raise ValidationError({"transcriptions": [errors.get(i, {}) for i in range(len(data["transcriptions"]))]})
        run = resolve_worker_run(request, data.get("worker_run_id"), parent.corpus_id)
        results = result_services.element_transcriptions_create(
            parent=parent, element_type_id=element_type_id, items=items, worker_run=run, creator=request.user
        )
        body = [{"id": t.id, "element_id": element_id, "created": created} for t, element_id, created in results]
        return Response(ElementTranscriptionResultSerializer(body, many=True).data, status=status.HTTP_201_CREATED)


@extend_schema(tags=["transcriptions"])
@extend_schema_view(
    get=extend_schema(
        operation_id="ListTranscriptions",
        parameters=[TranscriptionListParameters],
    )
)
class ElementResultList(ListAPIView):
    """
    The results of one kind (`model`) on an element, or on it and its descendants with `recursive`,
    kept by the provenance filters of `parameters`, in the order they were made (guests).
    """

    model = None
    parameters = None
    related = ("worker_run",)

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.model.objects.none()
        params, provenance = self.parameters.parse_with_provenance(self.request)
        element = get_element(self.request.user, self.kwargs["id"], Role.GUEST, provenance=provenance)
        queryset = self.filter(self.model.objects.filter(element_and_descendants(element, params["recursive"])), params)
        queryset = provenance.filter(queryset, getattr(element, "provenance_runs", None))
        return queryset.select_related(*self.related).order_by("created", "id")

    def filter(self, queryset, params):
        return queryset


class TranscriptionList(ElementResultList):
    """Transcriptions of an element, or of it and its descendants (guests)."""

    serializer_class = TranscriptionListSerializer
    model = Transcription
    parameters = TranscriptionListParameters
    related = ("worker_run", "element__type")

    def filter(self, queryset, params):
        if params.get("element_type"):
            queryset = queryset.filter(element__type__slug=params["element_type"])
        return queryset


# ML classes


@extend_schema(tags=["classifications"])
@extend_schema_view(
    get=extend_schema(
        operation_id="ListCorpusMLClasses",
        parameters=[MLClassListParameters],
        description="ML classes of a corpus, by name (guests).",
    ),
    post=extend_schema(
        operation_id="CreateMLClass",
        description="Add an ML class to a corpus (contributors); 400 when the name is taken.",
    ),
)
class CorpusMLClassList(ListCreateAPIView):
    serializer_class = MLClassSerializer

    def get_corpus(self, needed, action="read it"):
        return get_corpus(self.request.user, self.kwargs["id"], needed, action=action)

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return MLClass.objects.none()
        corpus = self.get_corpus(Role.GUEST)
        queryset = MLClass.objects.filter(corpus=corpus).order_by("name", "id")
        if search := MLClassListParameters.parse(self.request).get("search"):
            queryset = queryset.filter(name__icontains=search)
        return queryset

    def create(self, request, *args, **kwargs):
        corpus = self.get_corpus(Role.CONTRIBUTOR, action="create ML classes")
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        ml_class = result_services.ml_class_create(corpus=corpus, name=serializer.validated_data["name"])
        return Response(MLClassSerializer(ml_class).data, status=status.HTTP_201_CREATED)


# Classifications


def classified_element(request, element_id, field, ml_class_ids, classes_field):
    """
    The element to classify, checked as `readable_elements` checks it, then a field error
    (`classes_field`) naming those of the ML classes `ml_class_ids` that its corpus does not have:
    one prepared statement reads the element's corpus and the classes.
    """
    corpora, known_classes = element_corpus_classes(element_id, ml_class_ids)
    element = readable_elements(request, [element_id], field, corpora=corpora)[element_id]
    missing = sorted(map(str, set(ml_class_ids) - known_classes))
    if missing:
        message = (
            f"ML classes {', '.join(missing)} do not exist in corpus {element.corpus_id}: "
            "create them with CreateMLClass."
        )
        raise ValidationError({classes_field: [message]})
    return element


@extend_schema(tags=["classifications"])
class ClassificationCreate(GenericAPIView):
    """
    Classify an element (contributors). A person's classification is validated at once; a duplicate
    (same element, class and worker run) answers 400 with the message the base worker ignores.
    """

    permission_classes = (permissions.IsAuthenticated,)
    serializer_class = ClassificationCreateSerializer

    @extend_schema(operation_id="CreateClassification", responses={201: ClassificationSerializer})
    def post(self, request):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        element = classified_element(request, data["element"], "element", [data["ml_class"]], "ml_class")
        run = resolve_worker_run(request, data.get("worker_run_id"), element.corpus_id)
        if run is not None and data.get("confidence") is None:
            raise ValidationError({"confidence": ["A worker's classification needs a confidence, from 0 to 1."]})
        item = {"ml_class": data["ml_class"], **{k: data[k] for k in ("confidence", "high_confidence") if k in data}}
        (classification,) = result_services.classifications_create(
            element_ids=[element.id], items=[item], worker_run=run, user=request.user
        )
        return Response(ClassificationSerializer(classification).data, status=status.HTTP_201_CREATED)


@extend_schema(tags=["classifications"])
class ClassificationBulkCreate(GenericAPIView):
    """Classify an element with several classes at once (contributors); one INSERT."""

    permission_classes = (permissions.IsAuthenticated,)
    serializer_class = ClassificationsCreateSerializer

    @extend_schema(operation_id="CreateClassifications", responses={201: ClassificationsCreateResponseSerializer})
    def post(self, request):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        items = data["classifications"]
        ml_class_ids = [item["ml_class"] for item in items]
        element = classified_element(request, data["parent"], "parent", ml_class_ids, "classifications")
        run = resolve_worker_run(request, data.get("worker_run_id"), element.corpus_id)
        classifications = result_services.classifications_create(
            element_ids=[element.id] * len(items), items=items, worker_run=run, user=request.user
        )
        body = {"parent": element.id, "worker_run_id": run.id if run else None, "classifications": classifications}
        return Response(ClassificationsCreateResponseSerializer(body).data, status=status.HTTP_201_CREATED)


@extend_schema(tags=["classifications"])
class ClassificationReject(GenericAPIView):
    """
    Reject a classification (contributors). A worker's classification stays, rejected, and is
    returned; a person's is deleted (204). Rejecting a rejected classification answers 409.
    """

    permission_classes = (permissions.IsAuthenticated,)
    serializer_class = ClassificationSerializer

    @extend_schema(
        operation_id="RejectClassification",
        request=ClassificationRejectSerializer,
        responses={200: ClassificationSerializer, 204: OpenApiResponse(description="A person's, deleted.")},
        description=(
            "Reject a classification (contributors of its corpus): a worker's is kept, marked rejected and by "
            "whom; a person's is deleted (204). The body may repeat its class and the `rejected` state, which "
            "are checked. 409 when it is already rejected."
        ),
    )
    def put(self, request, id):
        body = ClassificationRejectSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        classification = (
            Classification.objects.select_related("worker_run", "moderator", "ml_class")
            .annotate(corpus_level=corpus_level_subquery(request.user, "element__corpus_id"))
            .filter(pk=id)
            .first()
        )
        check_corpus_level(
            getattr(classification, "corpus_level", 0),
            Role.CONTRIBUTOR,
            what=f"Classification {id}",
            action="moderate classifications",
        )
        named = body.validated_data.get("ml_class", {}).get("name")
        if named is not None and named != classification.ml_class.name:
            raise ValidationError(
                {"ml_class": [f"Classification {id} gives the class '{classification.ml_class.name}', not '{named}'."]}
            )
        if classification.state == "rejected":
            return Response({"state": [f"Classification {id} is already rejected."]}, status=status.HTTP_409_CONFLICT)
        classification = result_services.classification_reject(classification=classification, user=request.user)
        if classification is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        return Response(ClassificationSerializer(classification).data)


@extend_schema(tags=["classifications"])
@extend_schema_view(
    get=extend_schema(
        operation_id="ListElementClassifications",
        parameters=[ClassificationListParameters],
    )
)
class ElementClassificationList(ElementResultList):
    """Classifications of an element, or of it and its descendants, in the order they were made (guests)."""

    serializer_class = ClassificationListSerializer
    model = Classification
    parameters = ClassificationListParameters
    related = ("ml_class", "worker_run", "moderator")


# Metadata


@extend_schema(tags=["metadata"])
@extend_schema_view(
    get=extend_schema(
        operation_id="ListElementMetaData",
        description="Metadata of an element (guests), as a plain array; with its ancestors' when `load_parents`.",
        parameters=[MetaDataListParameters],
    ),
    post=extend_schema(
        operation_id="CreateMetaData",
        description="Add a metadata to an element (contributors).",
        request=MetaDataCreateSerializer,
        responses={201: MetaDataSerializer},
    ),
)
class ElementMetaData(ListCreateAPIView):
    serializer_class = MetaDataListSerializer
    pagination_class = None

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return MetaData.objects.none()
        params, provenance = MetaDataListParameters.parse_with_provenance(self.request)
        element = get_element(self.request.user, self.kwargs["id"], Role.GUEST, provenance=provenance)
        condition = Q(element_id=element.id)
        if params["load_parents"]:
            ancestors = ElementPath.objects.filter(element_id=element.id).annotate(ancestor=Unnest("path"))
            condition |= Q(element_id__in=ancestors.values("ancestor"))
        queryset = provenance.filter(MetaData.objects.filter(condition), getattr(element, "provenance_runs", None))
        return queryset.select_related("worker_run").order_by("name", "id")

    def create(self, request, *args, **kwargs):
        element_id = self.kwargs["id"]
        corpus_id = get_element_corpus(request.user, element_id, Role.CONTRIBUTOR, action="add metadata")
        serializer = MetaDataCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        run = resolve_worker_run(request, data.get("worker_run_id"), corpus_id)
        (metadata,) = result_services.metadata_create(element_id=element_id, items=[data], worker_run=run)
        return Response(MetaDataSerializer(metadata).data, status=status.HTTP_201_CREATED)


@extend_schema(tags=["metadata"])
class ElementMetaDataBulk(GenericAPIView):
    """
    Add several metadata to an element at once (contributors); one INSERT. Metadata already on the
    element (same name, type and value) answer 400 naming them, and nothing is created.
    """

    permission_classes = (permissions.IsAuthenticated,)
    serializer_class = MetaDataBulkCreateSerializer

    @extend_schema(operation_id="CreateMetaDataBulk", responses={201: MetaDataBulkResponseSerializer})
    def post(self, request, id):
        corpus_id = get_element_corpus(request.user, id, Role.CONTRIBUTOR, action="add metadata")
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        run = resolve_worker_run(request, data.get("worker_run_id"), corpus_id)
        metadata = result_services.metadata_create(element_id=id, items=data["metadata_list"], worker_run=run)
        body = {"worker_run_id": run.id if run else None, "metadata_list": metadata}
        return Response(MetaDataBulkResponseSerializer(body).data, status=status.HTTP_201_CREATED)


# Entities


@extend_schema(tags=["entities"])
@extend_schema_view(get=extend_schema(operation_id="ListCorpusEntityTypes", description="Entity types of a corpus."))
class CorpusEntityTypeList(ListAPIView):
    serializer_class = EntityTypeSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return EntityType.objects.none()
        corpus = get_corpus(self.request.user, self.kwargs["id"], Role.GUEST)
        return EntityType.objects.filter(corpus=corpus).order_by("name", "id")


@extend_schema(tags=["entities"])
@extend_schema_view(
    get=extend_schema(
        operation_id="ListCorpusEntities",
        description="Entities of a corpus, by name (guests).",
        parameters=[EntityListParameters],
    )
)
class CorpusEntityList(ListAPIView):
    serializer_class = EntitySerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Entity.objects.none()
        params, provenance = EntityListParameters.parse_with_provenance(self.request)
        entity_type = params.get("type")
        corpus = get_corpus(self.request.user, self.kwargs["id"], Role.GUEST, provenance=provenance)
        queryset = provenance.filter(Entity.objects.filter(corpus=corpus), getattr(corpus, "provenance_runs", None))
        if params.get("name"):
            queryset = queryset.filter(name__icontains=params["name"])
        if entity_type is not None:
            queryset = queryset.filter(type_id=entity_type)
        return queryset.select_related("type", "worker_run").order_by("name", "id")


@extend_schema(tags=["entities"])
class EntityTypeCreate(GenericAPIView):
    """Add an entity type to a corpus (contributors); 400 when the name is taken."""

    permission_classes = (permissions.IsAuthenticated,)
    serializer_class = EntityTypeCreateSerializer

    @extend_schema(operation_id="CreateEntityType", responses={201: EntityTypeCreateSerializer})
    def post(self, request):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            corpus = writable_corpus(request.user, data["corpus"], action="create entity types")
        except ValidationError as error:
            raise ValidationError({"corpus": error.detail}) from None
        entity_type = result_services.entity_type_create(corpus=corpus, name=data["name"], color=data.get("color"))
        return Response(EntityTypeCreateSerializer(entity_type).data, status=status.HTTP_201_CREATED)


def get_transcription(request, transcription_id, needed, action="read it", provenance=None):
    """A transcription with the user's `corpus_level`, and the `provenance_runs` of a filter of its entities."""
    queryset = (
        Transcription.objects.select_related("element", "worker_run")
        .annotate(corpus_level=corpus_level_subquery(request.user, "element__corpus_id"))
        .filter(pk=transcription_id)
    )
    transcription = with_provenance_runs(queryset, provenance, "element__corpus_id").first()
    check_corpus_level(
        getattr(transcription, "corpus_level", 0), needed, what=f"Transcription {transcription_id}", action=action
    )
    return transcription


def transcription_entity_types(transcription, items, field):
    """The entity types named by `type_id` in `items`, of the transcription's corpus; a field error otherwise."""
    wanted = {item["type_id"] for item in items}
    types = {t.id: t for t in EntityType.objects.filter(corpus_id=transcription.corpus_id, id__in=wanted)}
    missing = sorted(str(i) for i in wanted - set(types))
    if missing:
        message = f"Entity types {', '.join(missing)} do not exist in this corpus: create them with CreateEntityType."
        raise ValidationError({field: [message]})
    return [{**item, "type": types[item["type_id"]]} for item in items]


def _create_entities(request, transcription, items, worker_run_id, field):
    items = transcription_entity_types(transcription, items, field)
    run = resolve_worker_run(request, worker_run_id, transcription.corpus_id)
    try:
        created = result_services.transcription_entities_create(
            transcription=transcription, items=items, worker_run=run
        )
    except ValidationError as error:
        if field == "transcription_entities":
            raise
        # A single entity: its errors are the body's own.
        raise ValidationError(error.detail["transcription_entities"][0]) from None
    return run, created


@extend_schema(tags=["entities"])
@extend_schema_view(
    get=extend_schema(
        operation_id="ListTranscriptionEntities",
        description="Entities found in a transcription, by position (guests).",
        parameters=[TranscriptionEntityListParameters],
    ),
    post=extend_schema(
        operation_id="CreateTranscriptionEntity",
        description="Mark an entity in a transcription (contributors); the entity is named by the text it spans.",
        request=TranscriptionEntityCreateSerializer,
        responses={201: TranscriptionEntitySerializer},
    ),
)
class TranscriptionEntityList(ListCreateAPIView):
    serializer_class = TranscriptionEntitySerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return TranscriptionEntity.objects.none()
        _, provenance = TranscriptionEntityListParameters.parse_with_provenance(self.request)
        transcription = get_transcription(self.request, self.kwargs["id"], Role.GUEST, provenance=provenance)
        queryset = TranscriptionEntity.objects.filter(transcription=transcription)
        queryset = provenance.filter(queryset, getattr(transcription, "provenance_runs", None))
        return queryset.select_related("worker_run", "entity__type", "entity__worker_run").order_by(
            "offset", "length", "id"
        )

    def create(self, request, *args, **kwargs):
        transcription = get_published_transcription(
            request.user, self.kwargs["id"], Role.CONTRIBUTOR, action="add entities"
        )
        serializer = TranscriptionEntityCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        _, (created,) = _create_entities(request, transcription, [data], data.get("worker_run_id"), "type_id")
        return Response(TranscriptionEntitySerializer(created).data, status=status.HTTP_201_CREATED)


@extend_schema(tags=["entities"])
class TranscriptionEntitiesBulk(GenericAPIView):
    """Mark several entities in a transcription at once (contributors); one INSERT per table."""

    permission_classes = (permissions.IsAuthenticated,)
    serializer_class = TranscriptionEntitiesCreateSerializer

    @extend_schema(operation_id="CreateTranscriptionEntities", responses={201: TranscriptionEntitiesResponseSerializer})
    def post(self, request, id):
        transcription = get_published_transcription(request.user, id, Role.CONTRIBUTOR, action="add entities")
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        run, created = _create_entities(
            request, transcription, data["transcription_entities"], data.get("worker_run_id"), "transcription_entities"
        )
        body = {"worker_run_id": run.id if run else None, "transcription_entities": created}
        return Response(TranscriptionEntitiesResponseSerializer(body).data, status=status.HTTP_201_CREATED)


# Embeddings


@extend_schema(tags=["embeddings"])
@extend_schema_view(
    get=extend_schema(operation_id="ListEmbeddings", description="Embeddings of an element (guests)."),
    post=extend_schema(
        operation_id="CreateEmbedding",
        description="Add an embedding to an element (contributors).",
        request=EmbeddingCreateSerializer,
        responses={201: EmbeddingSerializer},
    ),
)
class ElementEmbeddings(ListCreateAPIView):
    serializer_class = EmbeddingSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Embedding.objects.none()
        element = get_element(self.request.user, self.kwargs["id"], Role.GUEST)
        return Embedding.objects.filter(element_id=element.id).select_related("worker_run").order_by("created", "id")

    def create(self, request, *args, **kwargs):
        element = get_element(request.user, self.kwargs["id"], Role.CONTRIBUTOR, action="add embeddings")
        serializer = EmbeddingCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        run = resolve_worker_run(request, data.get("worker_run_id"), element.corpus_id)
        embedding = result_services.embedding_create(element=element, value=data["value"], worker_run=run)
        return Response(EmbeddingSerializer(embedding).data, status=status.HTTP_201_CREATED)
