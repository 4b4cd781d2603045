"""
Corpora, their element types, IIIF images and the elements that worker results are attached to.

The element tree is stored as materialised paths: each `ElementPath` row holds the ids of an
element's ancestors from the top, and an element has one row per way down from a top-level element
(an element may have several parents). A top-level element has a single path `[]`. Two invariants
hold after every change made by `documents.services`:

- every path of a child under X is one of X's paths followed by X, for each of X's paths;
- all paths of an element ending with the same parent carry the same `ordering` (its position
  under that parent).

Children of X are the paths whose last item (`parent`, a generated column) is X; descendants are
the paths containing X (a GIN index answers `path @> ARRAY[X]`).
"""

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex, OpClass
from django.contrib.postgres.search import SearchVectorField
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Func
from django.db.models.functions import Upper

from arkindex.models import IndexableModel


class ArrayLast(Func):
    """The last item of a one-dimensional array, NULL for an empty one."""

    template = "(%(expressions)s)[array_length(%(expressions)s, 1)]"
    arity = 1


class Corpus(IndexableModel):
    name = models.CharField(max_length=250)
    description = models.TextField(blank=True, default="")
    public = models.BooleanField(default=False)
    indexable = models.BooleanField(default=False, help_text="Whether the search engine indexes this corpus.")
    top_level_type = models.ForeignKey(
        "documents.ElementType",
        null=True,
        blank=True,
        related_name="+",
        on_delete=models.SET_NULL,
        help_text="Type of the elements shown at the top of this corpus.",
    )
    creator = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, related_name="corpora", on_delete=models.SET_NULL
    )
    # Set by DestroyCorpus in the transaction that answers it: from then on the corpus is out of
    # everyone's reach (`users.rights`) until its deletion job removes it.
    deleting = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name", "id"]
        verbose_name_plural = "corpora"

    def __str__(self):
        return self.name

    @staticmethod
    def task_reach(scope):
        """A task reaches the corpus of its process, and no other (see `users.rights`)."""
        return models.Q(pk=scope.corpus_id)


class ElementType(IndexableModel):
    corpus = models.ForeignKey(Corpus, related_name="types", on_delete=models.CASCADE)
    slug = models.SlugField(max_length=100)
    display_name = models.CharField(max_length=250)
    folder = models.BooleanField(default=False)
    color = models.CharField(max_length=6, default="28b62c", help_text="Hexadecimal RGB colour, without `#`.")
    indexable = models.BooleanField(
        default=False, help_text="Whether the search engine indexes the elements of this type (in indexable corpora)."
    )

    class Meta:
        ordering = ["slug"]
        constraints = [models.UniqueConstraint(fields=["corpus", "slug"], name="unique_element_type_slug")]

    def __str__(self):
        return self.display_name


class ImageServer(IndexableModel):
    url = models.URLField(max_length=250, unique=True, help_text="Base URL of the IIIF image server.")
    display_name = models.CharField(max_length=250)
    version = models.PositiveSmallIntegerField(choices=[(2, "IIIF 2"), (3, "IIIF 3")], default=2)
    max_width = models.PositiveIntegerField(null=True, blank=True, help_text="Largest width served; empty: none.")
    max_height = models.PositiveIntegerField(null=True, blank=True, help_text="Largest height served; empty: none.")

    class Meta:
        ordering = ["display_name", "id"]

    def __str__(self):
        return self.display_name


class ImageStatus(models.TextChoices):
    Unchecked = "unchecked"
    Checked = "checked"
    Error = "error"


class Image(IndexableModel):
    server = models.ForeignKey(ImageServer, related_name="images", on_delete=models.PROTECT)
    path = models.CharField(max_length=800, help_text="Path of the image on its server, URL-encoded.")
    width = models.PositiveIntegerField(default=0)
    height = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=50, choices=ImageStatus.choices, default=ImageStatus.Unchecked)

    class Meta:
        ordering = ["server", "path"]
        constraints = [models.UniqueConstraint(fields=["server", "path"], name="unique_image_path_per_server")]

    def __str__(self):
        return self.path

    @property
    def url(self):
        """IIIF base URL of the image."""
        return f"{self.server.url.rstrip('/')}/{self.path.lstrip('/')}"


class Element(IndexableModel):
    # The composite indexes below that start with the corpus serve it; a separate one would only cost writes.
    corpus = models.ForeignKey(Corpus, related_name="elements", on_delete=models.CASCADE, db_index=False)
    type = models.ForeignKey(ElementType, related_name="elements", on_delete=models.PROTECT)
    name = models.CharField(max_length=250)
    image = models.ForeignKey(Image, null=True, blank=True, related_name="elements", on_delete=models.PROTECT)
    polygon = ArrayField(
        ArrayField(models.IntegerField(), size=2),
        null=True,
        blank=True,
        help_text="Closed polygon of the zone on the image, as [x, y] points.",
    )
    rotation_angle = models.PositiveSmallIntegerField(default=0, validators=[MaxValueValidator(359)])
    mirrored = models.BooleanField(default=False)
    confidence = models.FloatField(null=True, blank=True, validators=[MinValueValidator(0.0), MaxValueValidator(1.0)])
    creator = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, related_name="elements", on_delete=models.SET_NULL
    )
    # The worker run that produced the element; null for an element made by a person.
    # Indexed by (worker_run, corpus) below.
    worker_run = models.ForeignKey(
        "processes.WorkerRun", null=True, blank=True, related_name="elements", on_delete=models.PROTECT, db_index=False
    )

    class Meta:
        ordering = ["name", "id"]
        indexes = [
            # ListElements: `type` filter and default order by name; page 1 is read from the index.
            models.Index(fields=["corpus", "type", "name", "id"], name="element_corpus_type_name"),
            models.Index(fields=["corpus", "name", "id"], name="element_corpus_name"),
            models.Index(fields=["corpus", "created", "id"], name="element_corpus_created"),
            # `worker_run` / `worker_version` filters (`worker_run_id = ANY(…)`, or IS NULL for the
            # elements made by a person) within a corpus: their counts are index-only scans. Led by the
            # worker run, it also serves the foreign key (PROTECT checks, a run's results everywhere).
            models.Index(fields=["worker_run", "corpus"], name="element_worker_run_corpus"),
            # `name` filter (case-insensitive substring): Django compares UPPER(name) LIKE UPPER(…).
            GinIndex(OpClass(Upper("name"), name="gin_trgm_ops"), name="element_name_trgm"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(confidence__isnull=True) | models.Q(confidence__gte=0.0, confidence__lte=1.0),
                name="element_confidence_range",
            ),
            # A zone is an image and a polygon on it: both or neither.
            models.CheckConstraint(
                condition=models.Q(polygon__isnull=True, image__isnull=True)
                | models.Q(polygon__isnull=False, image__isnull=False),
                name="element_zone_complete",
            ),
        ]

    def __str__(self):
        return self.name


class ElementPath(IndexableModel):
    # Lookups by element are served by the unique (element, path) index.
    element = models.ForeignKey(Element, related_name="paths", on_delete=models.CASCADE, db_index=False)
    path = ArrayField(models.UUIDField(), default=list, blank=True, help_text="Ancestors' ids, from the top.")
    ordering = models.PositiveIntegerField(default=0, help_text="Position of the element under its parent.")
    parent = models.GeneratedField(
        expression=ArrayLast("path"),
        output_field=models.UUIDField(null=True),
        db_persist=True,
        help_text="The last item of the path: the element's parent on this path, null at the top level.",
    )

    class Meta:
        constraints = [models.UniqueConstraint(fields=["element", "path"], name="unique_element_path")]
        indexes = [
            # ListElementChildren, has_children, top_level (`parent IS NULL`) and the next position.
            models.Index(fields=["parent", "ordering"], name="element_path_parent"),
            # Recursive listings: `path @> ARRAY[id]`.
            GinIndex(fields=["path"], name="element_path_gin"),
        ]

    def __str__(self):
        return f"{self.element_id}: {'/'.join(map(str, self.path)) or '(top level)'}"


class Selection(models.Model):
    """The elements a user picked, to act on them together (a process, a dataset, a bulk action)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, related_name="selections", on_delete=models.CASCADE)
    element = models.ForeignKey(Element, related_name="selections", on_delete=models.CASCADE)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "element"], name="unique_selected_element")]
        indexes = [models.Index(fields=["element"], name="selection_element")]

    def __str__(self):
        return f"{self.user_id} selected {self.element_id}"


# Worker results. Each result is signed by the worker run that produced it (null: made by a person);
# every result table indexes (worker_run, parent) so that the provenance filters of its lists and a
# run's results everywhere (PROTECT checks, deleting a run's results) read an index.


def confidence_range(prefix, nullable=False):
    condition = models.Q(confidence__gte=0.0, confidence__lte=1.0)
    if nullable:
        condition |= models.Q(confidence__isnull=True)
    return models.CheckConstraint(condition=condition, name=f"{prefix}_confidence_range")


def worker_run_field(related_name):
    # Indexed together with the parent column by each model's Meta.
    return models.ForeignKey(
        "processes.WorkerRun",
        null=True,
        blank=True,
        related_name=related_name,
        on_delete=models.PROTECT,
        db_index=False,
    )


class TextOrientation(models.TextChoices):
    HorizontalLeftToRight = "horizontal-lr"
    HorizontalRightToLeft = "horizontal-rl"
    VerticalRightToLeft = "vertical-rl"
    VerticalLeftToRight = "vertical-lr"


class Transcription(IndexableModel):
    element = models.ForeignKey(Element, related_name="transcriptions", on_delete=models.CASCADE)
    text = models.TextField()
    confidence = models.FloatField(null=True, blank=True, validators=[MinValueValidator(0.0), MaxValueValidator(1.0)])
    orientation = models.CharField(
        max_length=50, choices=TextOrientation.choices, default=TextOrientation.HorizontalLeftToRight
    )
    worker_run = worker_run_field("transcriptions")

    class Meta:
        ordering = ["created", "id"]
        indexes = [models.Index(fields=["worker_run", "element"], name="transcription_worker_run")]
        constraints = [confidence_range("transcription", nullable=True)]

    def __str__(self):
        return self.text[:50]


class MLClass(IndexableModel):
    corpus = models.ForeignKey(Corpus, related_name="ml_classes", on_delete=models.CASCADE)
    name = models.CharField(max_length=1024)

    class Meta:
        ordering = ["name", "id"]
        verbose_name = "ML class"
        verbose_name_plural = "ML classes"
        constraints = [models.UniqueConstraint(fields=["corpus", "name"], name="unique_ml_class_name")]

    def __str__(self):
        return self.name


class ClassificationState(models.TextChoices):
    Pending = "pending"
    Validated = "validated"
    Rejected = "rejected"


class Classification(IndexableModel):
    element = models.ForeignKey(Element, related_name="classifications", on_delete=models.CASCADE, db_index=False)
    ml_class = models.ForeignKey(MLClass, related_name="classifications", on_delete=models.CASCADE)
    confidence = models.FloatField(null=True, blank=True, validators=[MinValueValidator(0.0), MaxValueValidator(1.0)])
    high_confidence = models.BooleanField(default=False)
    state = models.CharField(max_length=16, choices=ClassificationState.choices, default=ClassificationState.Pending)
    moderator = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        related_name="moderated_classifications",
        on_delete=models.SET_NULL,
    )
    worker_run = worker_run_field("classifications")

    class Meta:
        ordering = ["created", "id"]
        indexes = [models.Index(fields=["worker_run", "element"], name="classification_worker_run")]
        constraints = [
            confidence_range("classification", nullable=True),
            # A person's classifications (null run) are unique too. Led by the element, it serves its lookups.
            models.UniqueConstraint(
                fields=["element", "ml_class", "worker_run"],
                name="unique_classification",
                nulls_distinct=False,
            ),
        ]

    def __str__(self):
        return f"{self.ml_class_id} on {self.element_id}"


class MetaType(models.TextChoices):
    Text = "text"
    Markdown = "markdown"
    # Recent base workers also send HTML.
    HTML = "html"
    Date = "date"
    Location = "location"
    Reference = "reference"
    Numeric = "numeric"
    URL = "url"


class EntityType(IndexableModel):
    corpus = models.ForeignKey(Corpus, related_name="entity_types", on_delete=models.CASCADE)
    name = models.CharField(max_length=250)
    color = models.CharField(max_length=6, default="ff0000", help_text="Hexadecimal RGB colour, without `#`.")

    class Meta:
        ordering = ["name", "id"]
        constraints = [models.UniqueConstraint(fields=["corpus", "name"], name="unique_entity_type_name")]

    def __str__(self):
        return self.name


class Entity(IndexableModel):
    corpus = models.ForeignKey(Corpus, related_name="entities", on_delete=models.CASCADE, db_index=False)
    type = models.ForeignKey(EntityType, related_name="entities", on_delete=models.PROTECT)
    name = models.TextField()
    metas = models.JSONField(null=True, blank=True)
    worker_run = worker_run_field("entities")

    class Meta:
        ordering = ["name", "id"]
        verbose_name_plural = "entities"
        indexes = [
            # ListCorpusEntities: order by name; `worker_run` and the other provenance filters.
            models.Index(fields=["corpus", "name", "id"], name="entity_corpus_name"),
            models.Index(fields=["worker_run", "corpus"], name="entity_worker_run"),
            # ListCorpusEntities `name` filter (case-insensitive substring), as for elements.
            GinIndex(OpClass(Upper("name"), name="gin_trgm_ops"), name="entity_name_trgm"),
        ]

    def __str__(self):
        return self.name[:50]


class MetaData(IndexableModel):
    element = models.ForeignKey(Element, related_name="metadatas", on_delete=models.CASCADE)
    type = models.CharField(max_length=50, choices=MetaType.choices)
    name = models.CharField(max_length=250)
    value = models.TextField()
    entity = models.ForeignKey(Entity, null=True, blank=True, related_name="metadatas", on_delete=models.SET_NULL)
    worker_run = worker_run_field("metadatas")

    class Meta:
        ordering = ["name", "id"]
        verbose_name = "metadata"
        verbose_name_plural = "metadata"
        indexes = [models.Index(fields=["worker_run", "element"], name="metadata_worker_run")]

    def __str__(self):
        return f"{self.name}: {self.value[:50]}"


class TranscriptionEntity(IndexableModel):
    transcription = models.ForeignKey(
        Transcription, related_name="transcription_entities", on_delete=models.CASCADE, db_index=False
    )
    entity = models.ForeignKey(Entity, related_name="transcription_entities", on_delete=models.CASCADE)
    offset = models.PositiveIntegerField()
    length = models.PositiveIntegerField(validators=[MinValueValidator(1)])
    confidence = models.FloatField(null=True, blank=True, validators=[MinValueValidator(0.0), MaxValueValidator(1.0)])
    worker_run = worker_run_field("transcription_entities")

    class Meta:
        ordering = ["offset", "length", "id"]
        verbose_name_plural = "transcription entities"
        indexes = [models.Index(fields=["worker_run", "transcription"], name="trans_entity_worker_run")]
        constraints = [
            confidence_range("transcription_entity", nullable=True),
            models.CheckConstraint(condition=models.Q(length__gt=0), name="transcription_entity_length"),
            models.UniqueConstraint(
                fields=["transcription", "entity", "offset", "length", "worker_run"],
                name="unique_transcription_entity",
                nulls_distinct=False,
            ),
        ]

    def __str__(self):
        return f"{self.entity_id} at {self.offset}+{self.length} of {self.transcription_id}"


class Embedding(IndexableModel):
    element = models.ForeignKey(Element, related_name="embeddings", on_delete=models.CASCADE)
    value = ArrayField(models.FloatField(), help_text="The embedding vector.")
    worker_run = worker_run_field("embeddings")

    class Meta:
        ordering = ["created", "id"]
        indexes = [models.Index(fields=["worker_run", "element"], name="embedding_worker_run")]

    def __str__(self):
        return f"Embedding of {self.element_id}"


# Data files: what a person uploads to a corpus for an import process to read (lists of IIIF images,
# IIIF manifests). Their bytes live in the storage (`arkindex.storage`), never in the database.


class DataFile(IndexableModel):
    """
    A file uploaded to a corpus, in parts, with the multipart operations: created `unchecked` with
    its announced size, `checked` once the storage holds that many bytes (`error` when it holds
    another size). Its content never changes afterwards: another content is another data file.
    """

    # Led by the corpus, the index below serves it.
    corpus = models.ForeignKey(Corpus, related_name="data_files", on_delete=models.CASCADE, db_index=False)
    name = models.CharField(max_length=100)
    content_type = models.CharField(max_length=120)
    size = models.PositiveBigIntegerField(help_text="Size in bytes: announced at creation, checked after the upload.")
    hash = models.CharField(
        max_length=32, blank=True, default="", help_text="MD5 of the content, in hexadecimal, once checked."
    )
    # The same states as an image's: the file is checked once found in the storage.
    status = models.CharField(max_length=50, choices=ImageStatus.choices, default=ImageStatus.Unchecked)
    creator = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, related_name="data_files", on_delete=models.SET_NULL
    )

    class Meta:
        ordering = ["name", "id"]
        indexes = [models.Index(fields=["corpus", "name", "id"], name="data_file_corpus_name")]

    def __str__(self):
        return self.name

    @property
    def storage_key(self):
        """Where the storage keeps the content."""
        return f"data_files/{self.id}"


class SearchSource(models.TextChoices):
    Element = "element"
    Transcription = "transcription"
    Metadata = "metadata"


def _search_link(model, **kwargs):
    # The database keeps these consistent itself (ON DELETE CASCADE, added by migration 0009): the
    # ORM neither checks nor cascades them.
    return models.ForeignKey(model, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+", **kwargs)


class SearchEntry(models.Model):
    """
    One text of an indexed element, as SearchCorpus finds it (`documents.services.search`): the name of an
    element of an indexable type (`parent` and `element` are then the same), or a transcription or
    metadata value of that element or of one of its descendants (`element` holds it). The database
    writes these rows itself, from triggers on the tables of the texts, and deletes them with what
    they point at; `reindex` makes a corpus's again.
    """

    id = models.BigAutoField(primary_key=True)
    corpus = _search_link(Corpus, db_index=False)
    parent = _search_link(Element, db_index=False)
    # The parent's type, copied so that filters and facets by type read no element.
    parent_type = _search_link(ElementType, db_index=False)
    element = _search_link(Element, db_index=False)
    source = models.CharField(max_length=16, choices=SearchSource.choices)
    # The element, transcription or metadata whose text this is.
    object_id = models.UUIDField()
    transcription = _search_link(Transcription, null=True, db_index=False)
    metadata = _search_link(MetaData, null=True, db_index=False)
    worker_run = _search_link("processes.WorkerRun", null=True, db_index=False)
    confidence = models.FloatField(null=True)
    vector = SearchVectorField()

    class Meta:
        verbose_name_plural = "search entries"
        constraints = [models.UniqueConstraint(fields=["parent", "object_id"], name="search_entry_unique")]
        indexes = [
            GinIndex(fields=["vector"], name="search_entry_vector"),
            models.Index(fields=["corpus"], name="search_entry_corpus"),
            # Paths removed: the texts an element held for an ancestor.
            models.Index(fields=["element", "parent"], name="search_entry_element"),
            models.Index(
                fields=["transcription"],
                name="search_entry_transcription",
                condition=models.Q(transcription__isnull=False),
            ),
            models.Index(fields=["metadata"], name="search_entry_metadata", condition=models.Q(metadata__isnull=False)),
        ]

    def __str__(self):
        return f"{self.source} {self.object_id} of {self.parent_id}"
