"""
The storage's HTTP side: multipart uploads for any registered object type, and, when files live in
a local folder, the endpoint that the signed URLs of `arkindex.storage` point at.

The multipart operations follow S3's protocol as the client's `arkindex.multipart.MultipartUpload`
drives it: start an upload, ask a URL per part, PUT each part there (its response's ETag names the
part), then complete with the list of parts, or abort. Which objects may be uploaded, and who may
upload them, is decided by the resolvers of `arkindex.uploads`.

The local storage endpoint is a plain Django view, outside the API's authentication and schema:
the token in its query string, signed by this server, is its only credential, exactly as a
presigned S3 URL is. Errors are JSON.
"""

import base64
import binascii

from django.http import FileResponse, HttpResponse, JsonResponse
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.utils import extend_schema
from rest_framework import permissions, serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from arkindex import storage
from arkindex.uploads import resolve_upload_target, upload_object_types

MAX_PARTS = 10000


def validate_md5_base64(value):
    try:
        decoded = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        decoded = b""
    if len(decoded) != 16:
        raise serializers.ValidationError("Send the part's MD5 digest encoded in base64, as in a Content-MD5 header.")
    return value


class MultipartObjectSerializer(serializers.Serializer):
    object_type = serializers.ChoiceField(choices=[], help_text="The kind of object whose file is uploaded.")
    object_id = serializers.UUIDField()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Types are registered by the apps when they load, after this module was imported.
        self.fields["object_type"].choices = upload_object_types()


class ChecksumAlgorithmMixin(serializers.Serializer):
    checksum_algorithm = serializers.CharField(
        allow_null=True, required=False, help_text="Not supported: send null. Parts are checked with their MD5."
    )

    def validate_checksum_algorithm(self, value):
        if value is not None:
            raise serializers.ValidationError("Additional checksums are not supported: send null.")
        return value


class MultipartUploadSerializer(MultipartObjectSerializer, ChecksumAlgorithmMixin):
    pass


class MultipartUploadIdSerializer(serializers.Serializer):
    upload_id = serializers.CharField(read_only=True)


class MultipartAbortSerializer(MultipartObjectSerializer):
    upload_id = serializers.CharField(max_length=1024)


class MultipartPartSerializer(MultipartAbortSerializer, ChecksumAlgorithmMixin):
    part_number = serializers.IntegerField(min_value=1, max_value=MAX_PARTS)
    checksum = serializers.CharField(allow_null=True, required=False, help_text="Not supported: send null.")
    md5_hash = serializers.CharField(validators=[validate_md5_base64], help_text="Base64 MD5 digest of the part.")

    def validate_checksum(self, value):
        if value is not None:
            raise serializers.ValidationError("Checksums are not supported: send null and an MD5 in md5_hash.")
        return value


class MultipartPartUrlSerializer(serializers.Serializer):
    url = serializers.CharField(read_only=True, help_text="Where to PUT the part, with its Content-MD5 header.")


class CompletedPartSerializer(serializers.Serializer):
    part_number = serializers.IntegerField(min_value=1, max_value=MAX_PARTS)
    etag = serializers.CharField(max_length=200, help_text="The ETag header answered to the part's PUT.")
    checksum = serializers.CharField(allow_null=True, required=False)
    md5_hash = serializers.CharField(allow_null=True, required=False)


class MultipartCompleteSerializer(MultipartAbortSerializer, ChecksumAlgorithmMixin):
    parts = CompletedPartSerializer(many=True, allow_empty=False)

    def validate_parts(self, parts):
        numbers = [part["part_number"] for part in parts]
        if numbers != sorted(set(numbers)):
            raise serializers.ValidationError("List each part once, in ascending order of part number.")
        return parts


def storage_error(field, error):
    return ValidationError({field: [str(error)]})


class MultipartView(APIView):
    permission_classes = (permissions.IsAuthenticated,)
    serializer_class = None

    def validated(self, request):
        serializer = self.serializer_class(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        target = resolve_upload_target(data["object_type"], user=request.user, object_id=data["object_id"])
        return data, target


@extend_schema(tags=["storage"])
class CreateMultipartUpload(MultipartView):
    """
    Start uploading the file of an object in parts. Needs write access to the object, which must
    still await its file. Then ask a URL for each part with `CreateMultipartUploadPart`.
    """

    serializer_class = MultipartUploadSerializer

    @extend_schema(
        operation_id="CreateMultipartUpload",
        request=MultipartUploadSerializer,
        responses={201: MultipartUploadIdSerializer},
    )
    def post(self, request):
        _, target = self.validated(request)
        upload_id = storage.create_multipart(target.key, content_type=target.content_type)
        return Response({"upload_id": upload_id}, status=status.HTTP_201_CREATED)


@extend_schema(tags=["storage"])
class CreateMultipartUploadPart(MultipartView):
    """
    A URL where one part of an upload is sent with `PUT`, its `Content-MD5` header set to
    `md5_hash`. The `ETag` header of that PUT's response names the part in `CompleteMultipartUpload`.
    """

    serializer_class = MultipartPartSerializer

    @extend_schema(
        operation_id="CreateMultipartUploadPart",
        request=MultipartPartSerializer,
        responses={201: MultipartPartUrlSerializer},
    )
    def post(self, request):
        data, target = self.validated(request)
        try:
            url = storage.multipart_part_url(target.key, data["upload_id"], data["part_number"], md5=data["md5_hash"])
        except storage.UploadNotFound as e:
            raise storage_error("upload_id", e) from e
        return Response({"url": url}, status=status.HTTP_201_CREATED)


@extend_schema(tags=["storage"])
class CompleteMultipartUpload(MultipartView):
    """
    Join the uploaded parts into the object's file, then let the object check it (a model version
    becomes available). Parts are listed in ascending order with the ETags their uploads answered.
    """

    serializer_class = MultipartCompleteSerializer

    @extend_schema(operation_id="CompleteMultipartUpload", request=MultipartCompleteSerializer, responses={204: None})
    def post(self, request):
        data, target = self.validated(request)
        parts = [(part["part_number"], part["etag"]) for part in data["parts"]]
        try:
            storage.complete_multipart(target.key, data["upload_id"], parts)
        except storage.UploadNotFound as e:
            raise storage_error("upload_id", e) from e
        except storage.InvalidPart as e:
            raise storage_error("parts", e) from e
        if target.on_complete is not None:
            target.on_complete()
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(tags=["storage"])
class AbortMultipartUpload(MultipartView):
    """Give up an upload: the parts sent so far are deleted."""

    serializer_class = MultipartAbortSerializer

    @extend_schema(operation_id="AbortMultipartUpload", request=MultipartAbortSerializer, responses={204: None})
    def post(self, request):
        data, target = self.validated(request)
        try:
            storage.abort_multipart(target.key, data["upload_id"])
        except storage.UploadNotFound as e:
            raise storage_error("upload_id", e) from e
        return Response(status=status.HTTP_204_NO_CONTENT)


def json_error(message, status_code):
    return JsonResponse({"detail": message}, status=status_code)


@method_decorator(csrf_exempt, name="dispatch")
class LocalStorageObject(View):
    """
    Reads and writes of one file of the local storage, through a URL signed by `arkindex.storage`:
    GET (or HEAD) streams the file, PUT replaces it, or one part of a multipart upload, with the
    request's body and answers its MD5 as `ETag`.
    """

    http_method_names = ["get", "head", "put"]

    def dispatch(self, request, *args, **kwargs):
        if not storage.is_local():
            return json_error("Files are not stored on this server: use the URLs the API gives.", 404)
        if request.method.lower() not in self.http_method_names:
            return self.http_method_not_allowed(request, *args, **kwargs)
        backend = storage.backend()
        try:
            payload = backend.unsign(request.GET.get("token", ""))
        except storage.SignatureError as e:
            return json_error(str(e), 403)
        method = "GET" if request.method == "HEAD" else request.method
        if payload.get("k") != kwargs["key"] or payload.get("m") != method:
            return json_error(f"This URL is not signed for {request.method} on this file: ask the API for one.", 403)
        return super().dispatch(request, payload=payload, backend=backend, **kwargs)

    def get(self, request, *, key, payload, backend):
        path = backend.path(key)
        if not path.is_file():
            return json_error("This file has not been uploaded.", 404)
        response = FileResponse(
            path.open("rb"), as_attachment=bool(payload.get("f")), filename=payload.get("f") or path.name
        )
        if payload.get("t"):
            response["Content-Type"] = payload["t"]
        return response

    def put(self, request, *, key, payload, backend):
        if payload.get("t") and request.content_type != payload["t"]:
            return json_error(f"This URL is signed for the Content-Type {payload['t']}: send that header.", 403)
        expected_md5 = payload.get("md5")
        if expected_md5 is not None and request.headers.get("Content-MD5") != expected_md5:
            return json_error("This URL is signed for another Content-MD5: send the MD5 given for this part.", 403)
        try:
            md5 = backend.write(
                key, request, upload_id=payload.get("u"), part_number=payload.get("n"), expected_md5=expected_md5
            )
        except storage.UploadNotFound as e:
            return json_error(str(e), 404)
        except storage.InvalidPart as e:
            return json_error(str(e), 400)
        response = HttpResponse(status=200)
        response["ETag"] = storage.md5_etag(md5)
        return response
