"""
The objects whose file a client uploads in parts, by object type.

The multipart operations (`CreateMultipartUpload` and the three that follow it) name the object by
`object_type` (`model_version`, `data_file`) and `object_id`. The app that owns each type registers
a resolver for it, so that this module never imports the apps built on top of it. A resolver takes
the user and the object's ID, checks that the user may write the object's file and that the object
still awaits it (raising the API's 404, 403 or 409 otherwise), and answers an `UploadTarget`: where
the file goes in the storage and what to do once the upload completed.
"""

from collections.abc import Callable
from dataclasses import dataclass

from rest_framework.exceptions import ValidationError


@dataclass(frozen=True)
class UploadTarget:
    key: str
    content_type: str | None = None
    # Run after the parts were joined, for example to check the file and mark the object available.
    on_complete: Callable[[], object] | None = None


_resolvers: dict[str, Callable[..., UploadTarget]] = {}


def register_upload_target(object_type, resolver):
    """`resolver(*, user, object_id)` answers the UploadTarget of one object of that type."""
    _resolvers[object_type] = resolver


def upload_object_types():
    return sorted(_resolvers)


def resolve_upload_target(object_type, *, user, object_id):
    resolver = _resolvers.get(object_type)
    if resolver is None:
        raise ValidationError(
            {"object_type": [f"'{object_type}' cannot be uploaded in parts: use one of {upload_object_types()}."]}
        )
    return resolver(user=user, object_id=object_id)
