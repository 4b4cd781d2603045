"""Body and response of CreateFilesProcess (see `processes.services.file_imports`)."""

from rest_framework import serializers

from ponos.api.serializers import ProcessRunSerializer
from processes.models import ProcessMode
from processes.services.file_imports import MAX_FILES


class FilesProcessCreateSerializer(serializers.Serializer):
    files = serializers.ListField(
        child=serializers.UUIDField(),
        min_length=1,
        max_length=MAX_FILES,
        help_text="IDs of checked data files of one corpus, imported in this order.",
    )
    # The processes' own enum in the schema; `files_process_create` refuses the modes of other processes.
    mode = serializers.ChoiceField(
        choices=ProcessMode.choices,
        default=ProcessMode.Files,
        help_text="`files` or `iiif`: both import lists of IIIF image URLs and IIIF manifests.",
    )
    element_type = serializers.SlugField(help_text="Slug of the type of the pages created, one per image.")
    folder_id = serializers.UUIDField(
        required=False, allow_null=True, help_text="Folder receiving the pages (or the new folders)."
    )
    folder_type = serializers.SlugField(
        required=False,
        allow_null=True,
        help_text="Slug of a folder type: each data file becomes a new folder of this type holding its pages.",
    )
    farm_id = serializers.UUIDField(required=False, allow_null=True, help_text="Farm running the import task.")
    name = serializers.CharField(required=False, allow_blank=True, max_length=250)


class FilesProcessSerializer(ProcessRunSerializer):
    """A file import just created and started, with its task."""

    name = serializers.CharField(read_only=True)
    mode = serializers.ChoiceField(choices=ProcessMode.choices, read_only=True)
    corpus = serializers.UUIDField(source="corpus_id", read_only=True)
    files = serializers.ListField(child=serializers.UUIDField(), source="file_ids", read_only=True)
    element_type = serializers.SlugField(source="element_type.slug", read_only=True)
    folder_id = serializers.UUIDField(source="element_id", read_only=True, allow_null=True)
    folder_type = serializers.SlugField(source="folder_type.slug", read_only=True, allow_null=True)
