"""
IIIF images (see `documents.services.images`): register one by URL (CreateIIIFURL), read one
(RetrieveImage), check one against its IIIF server (PartialUpdateImage with `status: checked`).

Images belong to no corpus: any signed-in person or task may register, read and check them. A
check only reads the IIIF server, whose answer decides the status.
"""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import permissions, status
from rest_framework.exceptions import NotFound
from rest_framework.response import Response
from rest_framework.views import APIView

from documents.api.image_serializers import IIIFURLCreateSerializer, ImageCheckSerializer
from documents.api.serializers import ImageSerializer
from documents.models import Image
from documents.services import images

TAGS = ["images"]


def get_image(image_id):
    image = Image.objects.select_related("server").filter(pk=image_id).first()
    if image is None:
        raise NotFound(f"Image {image_id} not found.")
    return image


@extend_schema(tags=TAGS)
class IIIFURLCreate(APIView):
    permission_classes = (permissions.IsAuthenticated,)

    @extend_schema(
        operation_id="CreateIIIFURL",
        request=IIIFURLCreateSerializer,
        responses={
            201: ImageSerializer,
            400: OpenApiResponse(description="Not a IIIF image URL, or its `info.json` could not be read."),
            409: OpenApiResponse(description="The image exists; `existing_id` names it."),
        },
        description=(
            "Register an image served by a IIIF image server, by its base URL. The server is the known image "
            "server whose URL is the longest prefix of the image's, or a new one made of the URL without its "
            "last segment. Without width and height, the image's `info.json` is read and the image is `checked`; "
            "with them, nothing is read and the image stays `unchecked`. 409 with `existing_id` when the image "
            "is already registered."
        ),
    )
    def post(self, request):
        serializer = IIIFURLCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        image = images.iiif_image_create(**serializer.validated_data)
        return Response(ImageSerializer(image).data, status=status.HTTP_201_CREATED)


@extend_schema(tags=TAGS)
class ImageDetails(APIView):
    permission_classes = (permissions.IsAuthenticated,)

    @extend_schema(operation_id="RetrieveImage", responses={200: ImageSerializer}, description="An image.")
    def get(self, request, pk):
        return Response(ImageSerializer(get_image(pk)).data)

    @extend_schema(
        operation_id="PartialUpdateImage",
        request=ImageCheckSerializer,
        responses={
            200: ImageSerializer,
            400: OpenApiResponse(description="The check failed; the image is now in `error`, and the reason named."),
        },
        description=(
            "Check an image: its `info.json` is read from its IIIF server, and the image becomes `checked` with "
            "the size found there, or `error` when the server cannot describe it or gives another size than the "
            "one registered."
        ),
    )
    def patch(self, request, pk):
        image = get_image(pk)
        serializer = ImageCheckSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        image = images.iiif_image_check(image)
        return Response(ImageSerializer(image).data)
