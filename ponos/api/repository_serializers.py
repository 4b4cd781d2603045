"""
Shapes of repository imports: starting one, what its task reads (with the repository's
credentials, for that task's token only), and what the task sends back.
"""

import re

from rest_framework import serializers

from ponos.api.serializers import ProcessRunSerializer
from ponos.models import Farm
from processes.models import ProcessMode
from workers.api.serializers import WorkerVersionSerializer

# A branch, a tag or a commit hash, as Git accepts them on a command line (never an option).
REVISION_PATTERN = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._/+-]*$")
COMMIT_HASH_PATTERN = r"^[0-9a-f]{40}([0-9a-f]{24})?$"


class RepositoryImportCreateSerializer(serializers.Serializer):
    revision = serializers.CharField(
        max_length=250,
        required=False,
        allow_blank=True,
        default="",
        help_text="A branch, a tag or a commit hash; the repository's default branch when left out.",
    )
    farm_id = serializers.PrimaryKeyRelatedField(
        queryset=Farm.objects.all(),
        required=False,
        allow_null=True,
        default=None,
        help_text="Farm whose agents run the import. Defaults to the default farm.",
    )

    def validate_revision(self, value):
        value = value.strip()
        if value and (not REVISION_PATTERN.match(value) or ".." in value or value.endswith((".", "/", ".lock"))):
            raise serializers.ValidationError(
                "Not a Git revision: give a branch, a tag or a commit hash (letters, digits, `.`, `_`, `/`, `+`, `-`)."
            )
        return value


class RepositoryImportProcessSerializer(ProcessRunSerializer):
    """The repository process just started, with its task."""

    name = serializers.CharField(read_only=True)
    mode = serializers.ChoiceField(choices=ProcessMode.choices, read_only=True)


class ImportCredentialsSerializer(serializers.Serializer):
    username = serializers.CharField(read_only=True)
    password = serializers.CharField(read_only=True)


class RepositoryImportSerializer(serializers.Serializer):
    """What the import task of a repository process clones, read with its own token."""

    repository_id = serializers.UUIDField(read_only=True, source="repository.id")
    url = serializers.CharField(read_only=True, source="repository.url")
    revision = serializers.CharField(
        read_only=True, help_text="The branch, tag or commit to import; empty for the default branch."
    )
    credentials = ImportCredentialsSerializer(
        read_only=True, allow_null=True, help_text="For an HTTP(S) clone: send them only to the repository's host."
    )


class RepositoryImportPublishSerializer(serializers.Serializer):
    yaml = serializers.CharField(
        max_length=1_000_000, trim_whitespace=False, help_text="The `.arkindex.yml` of the revision, as found."
    )
    commit_hash = serializers.RegexField(COMMIT_HASH_PATTERN, help_text="The full hash of the commit imported.")
    branch = serializers.CharField(
        max_length=100, required=False, allow_null=True, allow_blank=True, help_text="The branch imported, if any."
    )
    tag = serializers.CharField(
        max_length=50, required=False, allow_null=True, allow_blank=True, help_text="A tag of the commit, if any."
    )


class ImportedVersionSerializer(serializers.Serializer):
    created = serializers.BooleanField(
        read_only=True, help_text="False for a version an earlier import of the same commit made."
    )
    worker_version = WorkerVersionSerializer(read_only=True)


class RepositoryImportResultSerializer(serializers.Serializer):
    version = serializers.IntegerField(read_only=True, help_text="The version of the `.arkindex.yml`.")
    stopped = serializers.BooleanField(read_only=True, help_text="True when the process stops, importing nothing.")
    detail = serializers.CharField(read_only=True)
    worker_versions = ImportedVersionSerializer(many=True, read_only=True)


CREDENTIALS_STATUS_CHOICES = (("created", "Created"), ("done", "Done"), ("error", "Error"))


class OAuthCredentialsSerializer(serializers.Serializer):
    """Where a user's Git credentials are used, never what they are."""

    id = serializers.UUIDField(read_only=True, help_text="The repository holding the credentials.")
    repository_url = serializers.CharField(source="url", read_only=True)
    provider_name = serializers.CharField(read_only=True, help_text="GitLab, GitHub, Bitbucket, or the host's name.")
    provider_url = serializers.CharField(read_only=True, help_text="The scheme and host the credentials open.")
    status = serializers.ChoiceField(
        choices=CREDENTIALS_STATUS_CHOICES,
        read_only=True,
        help_text="`created`: no import used them yet; `done`: the last import that ended (stopped ones aside) "
        "completed; `error`: it failed, and its log says whether the Git host refused the clone.",
    )
    last_import_id = serializers.UUIDField(
        read_only=True, allow_null=True, help_text="That last import's process, to read its log."
    )
    last_import_finished = serializers.DateTimeField(read_only=True, allow_null=True)
