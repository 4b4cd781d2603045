"""Factories of processes and worker runs; a run's version is a runnable one (an image and a command)."""

import factory

from processes.models import Process, ProcessMode, WorkerRun
from workers.tests.factories import WorkerFactory, WorkerVersionFactory


class ProcessFactory(factory.django.DjangoModelFactory):
    """A workers process; `corpus` and `creator` are the caller's, as every process has them."""

    class Meta:
        model = Process

    mode = ProcessMode.Workers


class RunnableWorkerVersionFactory(WorkerVersionFactory):
    """An available version of a new worker, with an image and a command, as StartProcess requires."""

    worker = factory.SubFactory(WorkerFactory)
    docker_image_iid = factory.LazyAttribute(lambda o: f"registry.example.com/{o.worker.slug}:1")
    configuration = factory.LazyAttribute(
        lambda o: {"docker": {"command": f"worker-{o.worker.slug}", "shm_size": "1g"}}
    )


class WorkerRunFactory(factory.django.DjangoModelFactory):
    """`WorkerRunFactory(process=p, parents=[a, b])`: parents are given as runs and stored as their ids."""

    class Meta:
        model = WorkerRun

    version = factory.SubFactory(RunnableWorkerVersionFactory)

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        if "parents" in kwargs:
            kwargs["parents"] = [getattr(parent, "id", parent) for parent in kwargs["parents"]]
        return super()._create(model_class, *args, **kwargs)


def make_run(process, version=None, parents=(), **kwargs):
    """A run of `version` (by default a new runnable one) in `process`, after `parents`."""
    if version is not None:
        kwargs["version"] = version
    return WorkerRunFactory(process=process, parents=parents, **kwargs)
