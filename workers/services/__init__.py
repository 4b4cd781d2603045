"""
Every change to workers, worker versions and worker configurations.

Functions take keyword arguments and the objects the view already fetched (with the access level
checked); they raise Django's `ValidationError` (400), `PermissionDenied` (403) or the API's
`Conflict` (409), which the API's exception handler renders.

Version numbers are allocated under a row lock on the worker, so that two versions created at the
same moment never get the same number; the unique constraints stay as a last guard.
"""

from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.dispatch import Signal
from django.utils import timezone

from arkindex.api.exceptions import Conflict
from users.models import Right, Role
from workers import configuration as config
from workers.models import (
    WORKER_VERSION_TRANSITIONS,
    FeatureUsage,
    Worker,
    WorkerConfiguration,
    WorkerType,
    WorkerVersion,
    WorkerVersionState,
)


def worker_type_get_or_create(*, slug):
    """A worker type is free text: the first worker that names one creates it."""
    slug = slug.strip()
    worker_type, _ = WorkerType.objects.get_or_create(slug=slug, defaults={"display_name": slug})
    return worker_type


def grant_right(*, obj, user, level):
    Right.objects.update_or_create(
        content_type=ContentType.objects.get_for_model(obj),
        object_id=obj.pk,
        user=user,
        defaults={"level": level},
    )


@transaction.atomic
def worker_create(*, user, name, slug, type, description="", repository_url=None):
    """
    Create a worker and give its creator the admin right on it. Returns `(worker, created)`.

    A worker of a repository is identified by (repository URL, slug): asking again for an existing
    one returns it unchanged, as `arkindex worker import` creates its worker on every run and then
    updates what differs. A local worker (no repository) is always a new one.
    """
    if repository_url:
        existing = Worker.objects.select_related("type").filter(repository_url=repository_url, slug=slug).first()
        if existing is not None:
            return existing, False
    worker = Worker(
        name=name,
        slug=slug,
        type=worker_type_get_or_create(slug=type),
        description=description or "",
        repository_url=repository_url or None,
        creator=user,
    )
    try:
        with transaction.atomic():
            worker.save()
    except IntegrityError:
        # Created by a concurrent request between the lookup and the insert.
        return Worker.objects.select_related("type").get(repository_url=repository_url, slug=slug), False
    grant_right(obj=worker, user=user, level=Role.ADMIN)
    return worker, True


def worker_update(*, worker, name=None, type=None, description=None):
    update_fields = []
    if name is not None and name != worker.name:
        worker.name = name
        update_fields.append("name")
    if type is not None and type.strip() != worker.type.slug:
        worker.type = worker_type_get_or_create(slug=type)
        update_fields.append("type")
    if description is not None and description != worker.description:
        worker.description = description
        update_fields.append("description")
    if update_fields:
        worker.save(update_fields=[*update_fields, "updated"])
    return worker


def _conflict_on_revision(worker, revision_url):
    existing = WorkerVersion.objects.filter(worker=worker, revision_url=revision_url).values_list("id", flat=True)
    existing_id = next(iter(existing), None)
    if existing_id is not None:
        raise Conflict(
            f"A version of this worker already exists for the revision {revision_url}: "
            "use it, or import another revision.",
            code="unique",
            existing_id=existing_id,
        )


@transaction.atomic
def worker_version_create(
    *,
    worker,
    configuration=None,
    docker_image_iid=None,
    revision_url=None,
    tag=None,
    branch=None,
    state=None,
    gpu_usage=FeatureUsage.Disabled,
    model_usage=FeatureUsage.Disabled,
):
    """
    Add a version to a worker, numbered after the worker's last one.

    A version is `available` as soon as it exists unless a state is given: a version without a
    Docker image is what a person needs to sign results made outside a process (a user worker
    run), and one with an image can run at once, since the image is built elsewhere. Whoever builds
    images asynchronously may pass `created` and update the state later.
    """
    # The lock serialises version creation per worker: numbers are read and written under it.
    Worker.objects.select_for_update().filter(pk=worker.pk).values_list("pk", flat=True).get()
    if revision_url:
        _conflict_on_revision(worker, revision_url)
    last = WorkerVersion.objects.filter(worker=worker).aggregate(last=Max("version"))["last"] or 0
    version = WorkerVersion(
        worker=worker,
        version=last + 1,
        configuration=configuration or {},
        docker_image_iid=docker_image_iid or None,
        revision_url=revision_url or None,
        tag=tag or None,
        branch=branch or None,
        state=state or WorkerVersionState.Available,
        gpu_usage=gpu_usage or FeatureUsage.Disabled,
        model_usage=model_usage or FeatureUsage.Disabled,
    )
    version.save()
    version.worker = worker
    return version


def worker_version_import(*, worker, definition_text, revision_url=None, docker_image_iid=None, branch=None, tag=None):
    """
    Add a version described by a worker definition YAML (the file `arkindex worker import` sends).
    The definition is validated with the rules the CLI applies; it must describe this worker.
    """
    try:
        definition = config.parse_worker_definition(definition_text)
    except config.DefinitionError as e:
        raise ValidationError({"yaml": e.errors}) from None
    if definition["slug"] != worker.slug:
        raise ValidationError(
            {
                "yaml": [
                    f"This definition describes the worker {definition['slug']!r}, but this worker's slug is "
                    f"{worker.slug!r}: import it on the worker with that slug."
                ]
            }
        )
    return worker_version_create(
        worker=worker,
        configuration=config.version_configuration_from_definition(definition),
        docker_image_iid=docker_image_iid,
        revision_url=revision_url,
        tag=tag,
        branch=branch,
        gpu_usage=definition.get("gpu_usage") or FeatureUsage.Disabled,
        model_usage=definition.get("model_usage") or FeatureUsage.Disabled,
    )


UPDATABLE_VERSION_FIELDS = ("tag", "branch", "state", "docker_image_iid", "gpu_usage", "model_usage")


def worker_version_update(*, version, **fields):
    """
    Update what may change on a version. Its Docker image is fixed once the version is available
    with one: results keep pointing at the version, so what it ran must not change under them.
    """
    unknown = set(fields) - set(UPDATABLE_VERSION_FIELDS)
    if unknown:
        raise ValueError(f"Not updatable: {', '.join(sorted(unknown))}")
    if (
        "docker_image_iid" in fields
        and (fields["docker_image_iid"] or None) != version.docker_image_iid
        and version.docker_image_iid
        and version.state == WorkerVersionState.Available
    ):
        raise ValidationError(
            {
                "docker_image_iid": [
                    "The Docker image of an available version cannot change: create a new version for this image."
                ]
            }
        )
    state = fields.pop("state", version.state)
    WORKER_VERSION_TRANSITIONS.check(version.state, state)
    values = {}
    for name, value in fields.items():
        if name in ("tag", "branch", "docker_image_iid"):
            value = value or None
        if getattr(version, name) != value:
            values[name] = value
    if state != version.state:
        # The state moves with a compare-and-set, the other fields with it: a concurrent move wins once.
        if not WORKER_VERSION_TRANSITIONS.apply(version, state, updated=timezone.now(), **values):
            raise Conflict(
                f"Worker version {version.id} changed state meanwhile: read it again.", code="state_transition"
            )
    elif values:
        for name, value in values.items():
            setattr(version, name, value)
        version.save(update_fields=[*values, "updated"])
    return version


def latest_available_version(worker):
    return (
        WorkerVersion.objects.filter(worker=worker, state=WorkerVersionState.Available)
        .order_by("-version", "-created")
        .first()
    )


@transaction.atomic
def worker_configuration_create(*, worker, name, values, version=None):
    """
    Save a named set of values for a worker's configuration fields.

    The values are checked against the fields of `version` (by default the worker's latest
    available version). They are refused when they change nothing to the version's defaults (a run
    without configuration gets those already) or when the worker already has a configuration with
    the same values, whatever their order.
    """
    if version is None:
        version = latest_available_version(worker)
        if version is None:
            raise ValidationError(
                {
                    "worker_version": [
                        "This worker has no available version whose fields could check the values: "
                        "create a version first, or name one in worker_version."
                    ]
                }
            )
    elif version.worker_id != worker.pk:
        raise ValidationError({"worker_version": ["This version belongs to another worker: pick one of this worker."]})

    errors = config.validate_values(version.configuration, values)
    if errors:
        messages = [f"{key}: {message}" for key, key_messages in errors.items() for message in key_messages]
        raise ValidationError({"configuration": messages})
    if config.equals_defaults(version.configuration, values):
        raise ValidationError(
            {
                "configuration": [
                    "These values are the worker version's defaults, which a run without configuration already "
                    "uses: change at least one value."
                ]
            }
        )
    if WorkerConfiguration.objects.filter(worker=worker, name=name).exists():
        raise ValidationError({"name": ["This worker already has a configuration with this name: choose another."]})
    # Compared by what a run would receive: `{"a": 1}` and `{"a": 1, "b": <b's default>}` are one configuration.
    effective = config.effective_values(version.configuration, values)
    duplicate = next(
        (
            (existing.name, existing.id)
            for existing in WorkerConfiguration.objects.filter(worker=worker).only("name", "configuration")
            if config.effective_values(version.configuration, existing.configuration) == effective
        ),
        None,
    )
    if duplicate is not None:
        raise ValidationError(
            {
                "configuration": [
                    f"This worker already has a configuration with these values: {duplicate[0]!r} ({duplicate[1]}). "
                    "Use it instead."
                ]
            }
        )
    worker_configuration = WorkerConfiguration(worker=worker, name=name, configuration=values)
    try:
        with transaction.atomic():
            worker_configuration.save()
    except IntegrityError:
        raise ValidationError(
            {"configuration": ["An identical configuration, or one with this name, was just created for this worker."]}
        ) from None
    return worker_configuration


def worker_configuration_update(*, worker_configuration, user, name=None, archived=None):
    """
    Rename, archive or un-archive a configuration. An archived configuration cannot be used in a
    process any more; bringing one back is for instance administrators only.
    """
    update_fields = []
    if archived is not None and archived != worker_configuration.archived:
        if not archived and not user.is_admin:
            raise PermissionDenied("Only instance administrators can un-archive a configuration.")
        worker_configuration.archived = archived
        update_fields.append("archived")
    if name is not None and name != worker_configuration.name:
        taken = (
            WorkerConfiguration.objects.filter(worker_id=worker_configuration.worker_id, name=name)
            .exclude(pk=worker_configuration.pk)
            .exists()
        )
        if taken:
            raise ValidationError({"name": ["This worker already has a configuration with this name: choose another."]})
        worker_configuration.name = name
        update_fields.append("name")
    if update_fields:
        worker_configuration.save(update_fields=[*update_fields, "updated"])
    return worker_configuration


# Sent in the transaction deleting a worker configuration, with `configuration`: the apps whose
# objects refer to it (worker runs) detach them, or raise a Conflict saying why it must stay.
configuration_deleting = Signal()


def worker_configuration_destroy(*, worker_configuration):
    """Delete a configuration, once every app that refers to it let it go (`configuration_deleting`)."""
    with transaction.atomic():
        WorkerConfiguration.objects.select_for_update().filter(pk=worker_configuration.pk).first()
        configuration_deleting.send(sender=WorkerConfiguration, configuration=worker_configuration)
        worker_configuration.delete()


def worker_configurations_set_archived(*, queryset, archived):
    """Archive or un-archive many configurations at once (the admin's actions). Returns the count."""
    return queryset.exclude(archived=archived).update(archived=archived)
