"""The shape of a secret as a worker reads it: its name and its decrypted content."""

from rest_framework import serializers


class SecretSerializer(serializers.Serializer):
    id = serializers.UUIDField(read_only=True)
    name = serializers.CharField(read_only=True)
    content = serializers.CharField(read_only=True, help_text="The decrypted content, as text.")
