"""
Shapes of processes: a row of `ListProcesses`, the whole process (`RetrieveProcess`, and the answer
of `CreateProcess` and `PartialUpdateProcess`), the elements a process runs on, and the bodies of
the requests that configure one. Every value comes from the row and what is fetched with it
(`creator`, `element__type`, `element_type`, `folder_type`, `farm`, `repository`, the `state_value`,
`level` and `file_ids` annotations):
serialising a page runs no query. Bodies carry ids and slugs; the rules live in
`processes.services`.
"""

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from arkindex.api.params import INT_MAX
from documents.models import Element
from processes.api.serializers import TRAINING_FIELDS, TrainingFieldsMixin
from processes.models import FINAL_PROCESS_STATES, ActivityState, Process, ProcessMode, ProcessState
from processes.services import CHOSEN_ACTIVITY_STATES, CREATABLE_MODES
from users.models import Role


class ProcessCreatorSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    email = serializers.EmailField(read_only=True)
    display_name = serializers.CharField(read_only=True)


class ProcessListSerializer(serializers.ModelSerializer):
    """A row of the process list: what it is, who made it, and how long it ran or has been running."""

    state = serializers.ChoiceField(choices=ProcessState.choices, source="state_value", read_only=True)
    corpus = serializers.UUIDField(source="corpus_id", read_only=True, allow_null=True)
    creator = ProcessCreatorSerializer(read_only=True)
    duration = serializers.SerializerMethodField()
    repository_id = serializers.UUIDField(
        read_only=True, allow_null=True, help_text="The repository a repository process imports."
    )
    revision = serializers.CharField(
        read_only=True,
        allow_null=True,
        help_text="The branch, tag or commit a repository process imports; null for the default branch.",
    )

    class Meta:
        model = Process
        fields = (
            "id",
            "name",
            "mode",
            "state",
            "corpus",
            "creator",
            "created",
            "started",
            "finished",
            "duration",
            "repository_id",
            "revision",
        )
        read_only_fields = fields

    @extend_schema_field(OpenApiTypes.FLOAT)
    def get_duration(self, process) -> float | None:
        """
        Seconds from the start to the end of the process; while it runs and has no end yet, to now.
        Null when it has not started.
        """
        if process.started is None:
            return None
        if process.finished is not None:
            return (process.finished - process.started).total_seconds()
        if process.state_value in FINAL_PROCESS_STATES:
            return None
        return (timezone.now() - process.started).total_seconds()


class ProcessElementLightSerializer(serializers.ModelSerializer):
    type = serializers.SlugRelatedField(slug_field="slug", read_only=True, help_text="Slug of the element type.")

    class Meta:
        model = Element
        fields = ("id", "name", "type")
        read_only_fields = fields


class FarmLightSerializer(serializers.Serializer):
    id = serializers.UUIDField(read_only=True)
    name = serializers.CharField(read_only=True)


class ProcessRepositorySerializer(serializers.Serializer):
    id = serializers.UUIDField(read_only=True)
    url = serializers.CharField(read_only=True)


class ProcessSerializer(TrainingFieldsMixin, ProcessListSerializer):
    """
    A process with its element filters and options. A null `farm` runs on the default farm.
    `can_edit` and `can_delete` say what the requesting user may do (a started process only lets its
    name change). File imports show their data files (`file_ids`, annotated by the view in the
    same query) and the type of the folders they create.
    """

    element = ProcessElementLightSerializer(read_only=True, allow_null=True, help_text="The folder filter.")
    element_type = serializers.SlugRelatedField(
        slug_field="slug", read_only=True, allow_null=True, help_text="Slug of the type filter."
    )
    farm = FarmLightSerializer(read_only=True, allow_null=True)
    repository = ProcessRepositorySerializer(
        read_only=True, allow_null=True, help_text="The repository a repository process imports."
    )
    files = serializers.SerializerMethodField()
    folder_type = serializers.SlugRelatedField(
        slug_field="slug",
        read_only=True,
        allow_null=True,
        help_text="Slug of the type of the folder a file import creates for each data file.",
    )
    template_id = serializers.UUIDField(read_only=True, allow_null=True)
    has_element_list = serializers.BooleanField(
        read_only=True, required=False, help_text="Whether the process runs on an explicit list of elements."
    )
    can_edit = serializers.SerializerMethodField()
    can_delete = serializers.SerializerMethodField()

    class Meta(ProcessListSerializer.Meta):
        fields = (
            *ProcessListSerializer.Meta.fields,
            "element",
            "element_type",
            "name_contains",
            "load_children",
            "use_selection",
            "has_element_list",
            "farm",
            "template_id",
            *TRAINING_FIELDS,
            "activity_state",
            "use_cache",
            "use_gpu",
            "chunks",
            "skip_elements_json",
            "can_edit",
            "can_delete",
            "repository",
            "files",
            "folder_type",
        )
        read_only_fields = fields

    def _user(self):
        request = self.context.get("request")
        return getattr(request, "user", None)

    @extend_schema_field(serializers.ListField(child=serializers.UUIDField()))
    def get_files(self, process) -> list:
        """The data files a file import reads, in the order given at its creation."""
        file_ids = getattr(process, "file_ids", None)
        if file_ids is None:
            # A query per process otherwise: the view must read them with the process.
            raise ImproperlyConfigured(
                "ProcessSerializer needs `file_ids` annotated on each process "
                "(see processes.api.process_views.detailed_processes)."
            )
        return [str(file_id) for file_id in file_ids]

    def get_can_edit(self, process) -> bool:
        """Contributors of the corpus change processes (only the name once started)."""
        return getattr(process, "level", 0) >= Role.CONTRIBUTOR

    def get_can_delete(self, process) -> bool:
        """Admins of the corpus, and the creator while a contributor, delete a process that is not running."""
        level = getattr(process, "level", 0)
        user = self._user()
        is_creator = user is not None and user.is_authenticated and process.creator_id == user.id
        return level >= Role.ADMIN or (is_creator and level >= Role.CONTRIBUTOR)


class ProcessElementSerializer(serializers.Serializer):
    """An element a process runs on, as the base worker reads it (`ListProcessElements`)."""

    id = serializers.UUIDField(read_only=True)
    type_id = serializers.UUIDField(read_only=True)
    type = serializers.CharField(source="type_slug", read_only=True, help_text="Slug of the element type.")
    name = serializers.CharField(read_only=True)
    confidence = serializers.FloatField(read_only=True, allow_null=True)
    image_id = serializers.UUIDField(read_only=True, allow_null=True)
    polygon = serializers.ListField(
        child=serializers.ListField(child=serializers.IntegerField(), min_length=2, max_length=2),
        read_only=True,
        allow_null=True,
    )
    rotation_angle = serializers.IntegerField(read_only=True)
    mirrored = serializers.BooleanField(read_only=True)


# Request bodies


class ProcessConfigurationSerializer(serializers.Serializer):
    """What can be set on a process: its name at any time, the rest until it starts."""

    name = serializers.CharField(max_length=250, required=False, allow_null=True, allow_blank=True)
    element_id = serializers.UUIDField(
        required=False, allow_null=True, help_text="A folder of the corpus: the process runs on it and below it."
    )
    element_type = serializers.CharField(
        max_length=100,
        required=False,
        allow_null=True,
        allow_blank=True,
        help_text="Slug of an element type of the corpus: only elements of this type.",
    )
    name_contains = serializers.CharField(
        max_length=250,
        required=False,
        allow_null=True,
        allow_blank=True,
        help_text="Only elements whose name contains this text (any case).",
    )
    load_children = serializers.BooleanField(
        required=False, help_text="Add everything below the selected or listed elements."
    )
    use_selection = serializers.BooleanField(
        required=False, help_text="Run on the elements of the corpus in the creator's selection."
    )
    element_ids = serializers.ListField(
        child=serializers.UUIDField(),
        required=False,
        help_text=(
            "An explicit list of elements of the corpus, instead of a folder or the selection "
            "(type and name filters still apply). An empty list removes it."
        ),
    )
    chunks = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=INT_MAX,
        help_text="Split the elements of each worker run into this many parallel tasks.",
    )
    farm_id = serializers.UUIDField(
        required=False, allow_null=True, help_text="The farm whose agents run the tasks; null for the default farm."
    )
    use_cache = serializers.BooleanField(required=False)
    use_gpu = serializers.BooleanField(required=False)
    activity_state = serializers.ChoiceField(
        choices=ActivityState.choices,
        required=False,
        help_text="`pending` to track worker activities (workers processes only), `disabled` not to.",
    )
    skip_elements_json = serializers.BooleanField(
        required=False,
        help_text="Give workers no elements list: they take their elements from their activities (needs activities).",
    )

    model_id = serializers.UUIDField(
        required=False, allow_null=True, help_text="Training processes: the model the worker publishes versions of."
    )
    train_folder_id = serializers.UUIDField(
        required=False, allow_null=True, help_text="Training processes: the folder of the elements to learn from."
    )
    validation_folder_id = serializers.UUIDField(
        required=False, allow_null=True, help_text="Training processes: the folder of the validation elements."
    )
    test_folder_id = serializers.UUIDField(
        required=False, allow_null=True, help_text="Training processes: the folder of the test elements."
    )

    def validate_name(self, value):
        return value.strip() or None if value else None

    def validate_chunks(self, value):
        if value > settings.MAX_CHUNKS:
            raise serializers.ValidationError(f"Ensure this value is less than or equal to {settings.MAX_CHUNKS}.")
        return value

    def validate_activity_state(self, value):
        if value not in CHOSEN_ACTIVITY_STATES:
            raise serializers.ValidationError(
                f"A process reaches {value} when it starts: choose {' or '.join(CHOSEN_ACTIVITY_STATES)}."
            )
        return ActivityState(value)


class ProcessCreateSerializer(ProcessConfigurationSerializer):
    mode = serializers.ChoiceField(
        choices=ProcessMode.choices,
        default=ProcessMode.Workers,
        help_text=f"One of {', '.join(CREATABLE_MODES)}; the other modes are created by their own imports.",
    )


class ProcessUpdateSerializer(ProcessConfigurationSerializer):
    def validate(self, data):
        if "mode" in self.initial_data:
            raise serializers.ValidationError({"mode": ["The mode of a process cannot change: create another one."]})
        return data
