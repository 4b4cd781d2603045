"""
Artifacts: the files a task leaves for its children and for the people following its process.

Each artifact lives in the file storage at `ponos/artifacts/<task id>/<path>`, where `path` is
relative to the task's own folder. The bytes never go through the API: a task declares an artifact
with CreateArtifact and PUTs the file to the `s3_put_url` it answers, and the agent saves the files
the task left in its folder with `store_artifact` once the command ends. Reads redirect to a
download URL of the storage.
"""

import os
import posixpath

from django.core.files.base import File
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from rest_framework.exceptions import ValidationError

from arkindex import storage
from ponos.models import Artifact

PATH_MAX_LENGTH = Artifact._meta.get_field("path").max_length


def artifact_path_error(path):
    """Why `path` cannot name an artifact, or None when it can."""
    if not path:
        return "The path of an artifact cannot be empty."
    if len(path) > PATH_MAX_LENGTH:
        return f"The path of an artifact is at most {PATH_MAX_LENGTH} characters long."
    if "\\" in path or "\x00" in path:
        return "Use `/` to separate folders; backslashes and null characters are not allowed in paths."
    if path.startswith("/"):
        return "The path must be relative to the task's folder, not absolute: remove the leading `/`."
    parts = path.split("/")
    if ".." in parts:
        return "The path cannot contain `..`: artifacts stay inside the task's folder."
    if any(part in ("", ".") for part in parts) or posixpath.normpath(path) != path:
        return "The path must be normalised: no empty folder names, no `.` and no trailing `/`."
    return None


def check_artifact_path(path):
    error = artifact_path_error(path)
    if error:
        raise ValidationError({"path": [error]})
    return path


def create_artifact(*, task, path, content_type, size):
    """
    Declare an artifact the task then uploads to `storage.upload_url(artifact.storage_key)`.
    A path is declared once per task: a second declaration is a 400.
    """
    check_artifact_path(path)
    duplicate = ValidationError(
        {"path": [f"This task already has an artifact at `{path}`: artifacts cannot be replaced through the API."]}
    )
    if Artifact.objects.filter(task=task, path=path).exists():
        raise duplicate
    try:
        with transaction.atomic():
            return Artifact.objects.create(task=task, path=path, content_type=content_type, size=size)
    except IntegrityError:
        # Declared by a concurrent request between the check and the insert.
        raise duplicate from None


def store_artifact(task, path, file_path, content_type="application/octet-stream"):
    """
    Save the local file at `file_path` as the artifact `path` of `task`, replacing an artifact
    already declared at that path (the task may have declared and uploaded it itself already).
    Called by the agent for each file the task left in its folder.
    """
    check_artifact_path(path)
    size = os.path.getsize(file_path)
    key = f"ponos/artifacts/{task.id}/{path}"
    with open(file_path, "rb") as source:
        if storage.is_local():
            storage.backend().write(key, source)
        else:
            if not getattr(default_storage, "file_overwrite", False) and default_storage.exists(key):
                default_storage.delete(key)
            default_storage.save(key, File(source))
    artifact, _ = Artifact.objects.update_or_create(
        task=task, path=path, defaults={"size": size, "content_type": content_type}
    )
    return artifact
