from django.urls import path

from arkindex.api.storage_views import (
    AbortMultipartUpload,
    CompleteMultipartUpload,
    CreateMultipartUpload,
    CreateMultipartUploadPart,
    LocalStorageObject,
)

urlpatterns = [
    path("multipart/", CreateMultipartUpload.as_view(), name="multipart-create"),
    path("multipart/part/", CreateMultipartUploadPart.as_view(), name="multipart-part"),
    path("multipart/complete/", CompleteMultipartUpload.as_view(), name="multipart-complete"),
    path("multipart/abort/", AbortMultipartUpload.as_view(), name="multipart-abort"),
    path("storage/<path:key>", LocalStorageObject.as_view(), name="storage-object"),
]
