"""
Reads of workers, their versions and configurations, by the worker's rights (the API and the
console go through these, so both see and refuse the same).
"""

from django.db.models import Exists, OuterRef, Subquery
from django.db.models.functions import Coalesce

from users.models import Role
from users.rights import check_level, filter_rights
from workers.models import Worker, WorkerConfiguration, WorkerType, WorkerVersion


def check_worker_level(level, required, *, what, action):
    """`users.rights.check_level` for a worker, or for an object whose rights are its worker's."""
    check_level(level, required, what=what, holder="the worker", action=action)


def readable_workers(user):
    """Workers the user can see (own and group rights, public workers), each with its `max_level`."""
    return filter_rights(user, Worker.objects.select_related("type"), level=Role.GUEST)


def get_worker(user, pk, required, action):
    """A worker by ID with the user's `max_level`: 404 when hidden from them, 403 below `required`."""
    worker = filter_rights(user, Worker.objects.select_related("type"), level=0).filter(pk=pk).first()
    check_worker_level(getattr(worker, "max_level", 0), required, what=f"Worker {pk}", action=action)
    return worker


def worker_level(user):
    """The user's level on the worker of each row (a version or a configuration)."""
    levels = filter_rights(user, Worker.objects.filter(pk=OuterRef("worker_id")), level=0).values("max_level")[:1]
    return Coalesce(Subquery(levels), 0)


def get_worker_version(user, pk, required, action):
    """A version by ID with its worker's level as `worker_level`, checked like `get_worker`."""
    version = (
        WorkerVersion.objects.select_related("worker__type")
        .annotate(worker_level=worker_level(user))
        .filter(pk=pk)
        .first()
    )
    check_worker_level(getattr(version, "worker_level", 0), required, what=f"Worker version {pk}", action=action)
    return version


def get_worker_configuration(user, pk, required, action):
    """A configuration by ID with its worker's level as `worker_level`, checked like `get_worker`."""
    configuration = WorkerConfiguration.objects.annotate(worker_level=worker_level(user)).filter(pk=pk).first()
    level = getattr(configuration, "worker_level", 0)
    check_worker_level(level, required, what=f"Worker configuration {pk}", action=action)
    return configuration


def readable_worker_types(user):
    """The types of the workers the user can see, by slug."""
    readable = filter_rights(user, Worker.objects.filter(type_id=OuterRef("pk")), Role.GUEST)
    return WorkerType.objects.filter(Exists(readable)).order_by("slug", "id")
