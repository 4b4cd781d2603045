"""Bodies of the IIIF image operations; responses are `documents.api.serializers.ImageSerializer`."""

from rest_framework import serializers

from arkindex.api.params import INT_MAX
from documents.models import ImageStatus


class IIIFURLCreateSerializer(serializers.Serializer):
    url = serializers.URLField(
        max_length=1024,
        help_text="Base URL of the image on its IIIF server (without `/info.json` or region parameters).",
    )
    width = serializers.IntegerField(
        required=False,
        allow_null=True,
        min_value=1,
        max_value=INT_MAX,
        help_text="Width in pixels; null to read it from `info.json`.",
    )
    height = serializers.IntegerField(
        required=False,
        allow_null=True,
        min_value=1,
        max_value=INT_MAX,
        help_text="Height in pixels; null to read it from `info.json`.",
    )

    def validate(self, data):
        if (data.get("width") is None) != (data.get("height") is None):
            raise serializers.ValidationError(
                {"width": ["Send both width and height, or neither (null) to read them from the IIIF server."]}
            )
        return data


class ImageCheckSerializer(serializers.Serializer):
    # The images' own enum in the schema; only `checked` can be asked.
    status = serializers.ChoiceField(
        choices=ImageStatus.choices, help_text="`checked`: read the image's `info.json` again and check its size."
    )

    def validate_status(self, value):
        if value != ImageStatus.Checked:
            raise serializers.ValidationError(
                "Only `checked` can be asked: the image is then checked against its server."
            )
        return value
