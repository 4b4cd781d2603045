"""
What OPTIONS answers: the operation's name and description, and the media types it renders and
parses. The fields of its bodies are in the OpenAPI schema: describing them here would build the
view's serializers for an object that an OPTIONS request never fetched.
"""

from rest_framework.metadata import BaseMetadata


class ArkindexMetadata(BaseMetadata):
    def determine_metadata(self, request, view):
        return {
            "name": view.get_view_name(),
            "description": view.get_view_description(),
            "renders": [renderer.media_type for renderer in view.renderer_classes],
            "parses": [parser.media_type for parser in view.parser_classes],
        }
