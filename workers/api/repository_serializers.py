"""
Shapes of Git repositories. Credentials go in, never out: a repository only says whether it has
some (`has_credentials`), and the password is write-only in the schema as in the code.
"""

from rest_framework import serializers

from workers.models import Repository


class RepositorySerializer(serializers.ModelSerializer):
    has_credentials = serializers.BooleanField(
        read_only=True, help_text="Whether an HTTP(S) clone of the repository sends credentials."
    )

    class Meta:
        model = Repository
        fields = ("id", "url", "has_credentials", "created", "updated")
        read_only_fields = fields


class CredentialsSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=250, help_text="The Git host's username (any name for most tokens).")
    password = serializers.CharField(
        max_length=2000,
        write_only=True,
        trim_whitespace=False,
        style={"input_type": "password"},
        help_text="A password or an access token allowed to read the repository. Never shown again.",
    )


class RepositoryCreateSerializer(serializers.Serializer):
    url = serializers.CharField(
        max_length=250,
        help_text=(
            "The URL a Git client clones, over HTTP(S), without credentials; it is also the `repository_url` "
            "of the workers it declares."
        ),
    )
    credentials = CredentialsSerializer(
        required=False, allow_null=True, default=None, help_text="For a repository that is not public."
    )


class RepositoryUpdateSerializer(serializers.Serializer):
    credentials = CredentialsSerializer(allow_null=True, help_text="New credentials, or null to remove them.")
