"""
Rules of models and model versions.

Rights are held on the model (users.Right): a guest reads the model and uses its available
versions, a contributor adds versions and uploads their archives, an admin manages the model and
deletes versions. The creator of a model is its first admin; instance administrators hold every
right. Public models are readable by everyone.

A version is created empty (`created`), its archive is uploaded to the storage, either with one
PUT to `s3_put_url` or in parts with the multipart operations, then it becomes `available` once
the archive is found in the storage with the announced size and MD5, or `error`. Its archive never
changes afterwards: another archive is another version.
"""

import re

from django.contrib.contenttypes.models import ContentType
from django.db import IntegrityError, transaction
from rest_framework.exceptions import PermissionDenied, ValidationError

from arkindex import storage
from arkindex.api.exceptions import Conflict
from arkindex.cleanup import UUID, ObjectFilesSweeper
from arkindex.cleanup import register as register_sweeper
from arkindex.uploads import UploadTarget, register_upload_target
from users.callers import task_scope_of
from users.models import Right, Role
from users.rights import check_level, filter_rights, get_max_level
from workers.models import MODEL_VERSION_TRANSITIONS, Model, ModelVersion, ModelVersionState

ARCHIVE_CONTENT_TYPE = "application/zstd"
ARCHIVE_FIELDS = ("size", "hash", "archive_hash")
DUPLICATE_TAG = "A version for this model with this tag already exists."


def level_rights(level):
    """The rights a level gives, as the API lists them."""
    return [
        name
        for name, minimum in (("read", Role.GUEST), ("write", Role.CONTRIBUTOR), ("admin", Role.ADMIN))
        if (level or 0) >= minimum
    ]


def readable_models(user):
    """Models the user can read, each annotated with the user's `max_level`."""
    return filter_rights(user, Model.objects.all(), Role.GUEST)


def get_model(*, user, model_id, level=Role.GUEST, action="do this"):
    """
    A model by ID, annotated with the user's `max_level`. 404 when the user cannot read it, 403 when
    they can but hold less than `level`.
    """
    model = readable_models(user).filter(pk=model_id).first()
    check_level(getattr(model, "max_level", 0), level, what=f"Model {model_id}", holder="the model", action=action)
    return model


def visible_versions(model):
    """Guests see the versions they can use; contributors also see those still being uploaded."""
    versions = model.versions.all()
    if model.max_level < Role.CONTRIBUTOR:
        versions = versions.filter(state=ModelVersionState.Available)
    return versions


def model_version_level(user, version):
    """
    The level of `user` on a model version: its model's, or 0 where the version is hidden from them.
    Guests of the model see its available versions only; a task, the version its worker run uses
    and the versions of models its creator may write to (see `Model.task_reach`).
    """
    level = get_max_level(user, version.model)
    if level < Role.CONTRIBUTOR:
        scope = task_scope_of(user)
        if scope is not None:
            readable = version.pk == scope.model_version_id
        else:
            readable = version.state == ModelVersionState.Available
        if not readable:
            return 0
    return level


def get_model_version(*, user, version_id, level=Role.GUEST, action="do this"):
    """A model version by ID with its model (annotated with `max_level`), checked like `get_model`."""
    version = ModelVersion.objects.select_related("model").filter(pk=version_id).first()
    max_level = model_version_level(user, version) if version is not None else 0
    check_level(max_level, level, what=f"Model version {version_id}", holder="the model", action=action)
    version.model.max_level = max_level
    return version


def _name_taken(*, user, name):
    """
    Refuse a name the user already sees on a model: a 400 with its ID when they may add versions to
    it, a 403 otherwise. A name only hidden models carry is free (nothing tells the user they exist).
    """
    existing = readable_models(user).filter(name=name).order_by("-max_level", "created").first()
    if existing is None:
        return
    if existing.max_level >= Role.CONTRIBUTOR:
        # The CLI reads the existing model's ID from this error to add its version to that model.
        raise ValidationError(
            {"id": str(existing.id), "name": [f"A model named '{name}' already exists: add versions to it."]}
        )
    raise PermissionDenied(
        f"A model named '{name}' already exists and you cannot add versions to it: "
        "ask one of its administrators for the contributor right, or choose another name."
    )


def _check_public(*, user, public):
    if public and not user.is_admin:
        raise PermissionDenied("Only instance administrators can make a model public or private.")


def model_create(*, user, name, description="", public=False):
    """A new model, whose creator becomes its admin."""
    _check_public(user=user, public=public)
    _name_taken(user=user, name=name)
    try:
        with transaction.atomic():
            model = Model.objects.create(name=name, description=description, public=public, creator=user)
            Right.objects.create(
                content_type=ContentType.objects.get_for_model(Model), object_id=model.id, user=user, level=Role.ADMIN
            )
    except IntegrityError:
        # Created by a concurrent request since the check above.
        _name_taken(user=user, name=name)
        raise
    model.max_level = Role.ADMIN.value
    return model


def model_update(*, model, user, data):
    if "public" in data and data["public"] != model.public:
        _check_public(user=user, public=True)
    if (
        "name" in data
        and data["name"] != model.name
        and readable_models(user).filter(name=data["name"]).exclude(pk=model.pk).exists()
    ):
        raise ValidationError({"name": [f"A model named '{data['name']}' already exists: choose another name."]})
    for field, value in data.items():
        setattr(model, field, value)
    try:
        with transaction.atomic():
            model.save(update_fields=[*data, "updated"])
    except IntegrityError:
        # The model's creator already has a model of that name.
        raise ValidationError(
            {"name": [f"A model named '{data['name']}' already exists: choose another name."]}
        ) from None
    return model


def _check_tag(*, model_id, tag, version_id=None):
    if not tag:
        return
    taken = ModelVersion.objects.filter(model_id=model_id, tag=tag)
    if version_id is not None:
        taken = taken.exclude(pk=version_id)
    if taken.exists():
        raise ValidationError({"non_field_errors": [DUPLICATE_TAG, "Choose another tag, or leave it out."]})


def _check_parent(*, user, parent_id, version_id=None):
    """The parent must be a version the user can read, and not the version itself nor one of its descendants."""
    if parent_id is None:
        return None
    parent = (
        ModelVersion.objects.filter(pk=parent_id, model__in=readable_models(user).values("pk"))
        .only("id", "parent_id")
        .first()
    )
    if parent is None:
        raise ValidationError({"parent": ["No model version with this ID exists, or you have no access to it."]})
    ancestor_id, seen = parent.id, set()
    while ancestor_id is not None and ancestor_id not in seen:
        if ancestor_id == version_id:
            raise ValidationError({"parent": ["A model version cannot descend from itself: choose another parent."]})
        seen.add(ancestor_id)
        ancestor_id = ModelVersion.objects.filter(pk=ancestor_id).values_list("parent_id", flat=True).first()
    return parent


def model_version_create(*, model, user, data):
    """A new version of a model, awaiting its archive. Needs the contributor right on the model."""
    if model.archived:
        raise ValidationError({"model": ["This model is archived: no version can be added to it."]})
    _check_tag(model_id=model.id, tag=data.get("tag"))
    parent = _check_parent(user=user, parent_id=data.get("parent"))
    try:
        with transaction.atomic():
            version = ModelVersion.objects.create(
                model=model,
                parent=parent,
                tag=data.get("tag"),
                description=data.get("description") or "",
                configuration=data.get("configuration") or {},
                size=data.get("size"),
                hash=data.get("hash"),
                archive_hash=data.get("archive_hash"),
                creator=user,
            )
    except IntegrityError:
        _check_tag(model_id=model.id, tag=data.get("tag"))
        raise
    version.model = model
    return version


def _archive_errors(version, size, archive_hash):
    """What is wrong with the uploaded archive (field → messages), and its actual size and MD5."""
    key = version.archive_path
    if not storage.exists(key):
        return (
            {
                "state": [
                    "The archive of this model version has not been uploaded: upload it to s3_put_url or with the "
                    "multipart upload operations, then mark the version available."
                ]
            },
            None,
            None,
        )
    errors = {}
    actual_size = storage.size(key)
    if size is not None and size != actual_size:
        errors["size"] = [
            f"The uploaded archive is {actual_size} bytes, not {size}: upload the archive again or send its size."
        ]
    actual_md5 = storage.content_md5(key)
    if archive_hash and actual_md5 and archive_hash != actual_md5:
        errors["archive_hash"] = [
            f"The uploaded archive's MD5 is {actual_md5}, not {archive_hash}: upload the archive again or send its MD5."
        ]
    return errors, actual_size, actual_md5


def model_version_update(*, version, user, data):
    """
    Change a version's description, tag, configuration, parent; while it is `created`, its archive's
    size and hashes; and its state from `created` to `available` (checking the uploaded archive) or
    `error`. Needs the contributor right on the model.
    """
    with transaction.atomic():
        current = ModelVersion.objects.select_for_update().get(pk=version.pk)
        errors = {}
        for field in ARCHIVE_FIELDS:
            if field in data and data[field] != getattr(current, field) and current.state != ModelVersionState.Created:
                errors[field] = [
                    f"The archive of a version in the {current.state} state cannot change: "
                    "create a new version for another archive."
                ]

        if "tag" in data and data["tag"] != current.tag:
            _check_tag(model_id=current.model_id, tag=data["tag"], version_id=current.id)
        if "parent" in data and data["parent"] != current.parent_id:
            data["parent"] = _check_parent(user=user, parent_id=data["parent"], version_id=current.id)
        elif "parent" in data:
            del data["parent"]

        new_state = data.pop("state", current.state)
        if new_state != current.state:
            # The row is locked: the machine's rule, in the 400 shape the CLI reads (`state`).
            if not MODEL_VERSION_TRANSITIONS.allows(current.state, new_state):
                errors["state"] = [
                    f"A version in the {current.state} state cannot become {new_state}: "
                    "only a version in the created state can become available or error."
                ]
            elif new_state == ModelVersionState.Available and not errors:
                archive_errors, actual_size, actual_md5 = _archive_errors(
                    current, data.get("size", current.size), data.get("archive_hash", current.archive_hash)
                )
                errors.update(archive_errors)
                data["size"] = actual_size
                data["archive_hash"] = data.get("archive_hash") or current.archive_hash or actual_md5
        if errors:
            raise ValidationError(errors)

        if "description" in data and data["description"] is None:
            data["description"] = ""
        if "configuration" in data and data["configuration"] is None:
            data["configuration"] = {}
        for field, value in data.items():
            setattr(current, field, value)
        current.state = new_state
        try:
            with transaction.atomic():
                current.save()
        except IntegrityError:
            _check_tag(model_id=current.model_id, tag=current.tag, version_id=current.id)
            raise
    current.model = version.model
    return current


def model_version_mark_available(*, version, user):
    return model_version_update(version=version, user=user, data={"state": ModelVersionState.Available})


def model_version_destroy(*, version):
    """Delete a version (409 while worker runs use it) and, once that is committed, its archive."""
    key = version.archive_path
    with transaction.atomic():
        version.delete()
        transaction.on_commit(lambda: storage.delete(key))


def model_version_upload_target(*, user, object_id):
    """Where a version's archive is uploaded in parts; once complete, the version becomes available."""
    version = get_model_version(user=user, version_id=object_id, level=Role.CONTRIBUTOR, action="upload archives")
    if version.state != ModelVersionState.Created:
        raise Conflict(
            f"This model version is {version.state}: its archive cannot be uploaded any more; create a new version."
        )
    return UploadTarget(
        key=version.archive_path,
        content_type=ARCHIVE_CONTENT_TYPE,
        on_complete=lambda: model_version_mark_available(version=version, user=user),
    )


register_upload_target("model_version", model_version_upload_target)


# Cleanup (`arkindex.cleanup`): archives of model versions that no longer exist.


@register_sweeper
class ModelArchiveSweeper(ObjectFilesSweeper):
    name = "Model archives"
    folders = ("models/",)
    key_pattern = re.compile(rf"^models/{UUID}/(?P<id>{UUID})\.tar\.zst$")
    model = ModelVersion
