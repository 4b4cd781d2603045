"""Factories of worker objects; `grant` (from the users factories) gives a right on one."""

import factory
from django.db.models import Max

from users.tests.factories import grant
from workers.models import (
    Model,
    ModelVersion,
    Worker,
    WorkerConfiguration,
    WorkerType,
    WorkerVersion,
    WorkerVersionState,
)


class WorkerTypeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = WorkerType
        django_get_or_create = ("slug",)

    slug = factory.Sequence(lambda n: f"type-{n}")
    display_name = factory.LazyAttribute(lambda o: o.slug)


class WorkerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Worker

    name = factory.Sequence(lambda n: f"Worker {n}")
    slug = factory.Sequence(lambda n: f"worker-{n}")
    type = factory.SubFactory(WorkerTypeFactory)
    description = "A worker"


def next_version_number(worker):
    return (WorkerVersion.objects.filter(worker=worker).aggregate(last=Max("version"))["last"] or 0) + 1


class WorkerVersionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = WorkerVersion

    worker = factory.SubFactory(WorkerFactory)
    version = factory.LazyAttribute(lambda o: next_version_number(o.worker))
    state = WorkerVersionState.Available
    configuration = factory.LazyFunction(dict)


class WorkerConfigurationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = WorkerConfiguration

    worker = factory.SubFactory(WorkerFactory)
    name = factory.Sequence(lambda n: f"Configuration {n}")
    configuration = factory.Sequence(lambda n: {"n": n})


def assert_list_queries(client, url, queries, django_assert_num_queries, page_sizes=(2, 5)):
    """
    A list runs `queries` queries whatever its page size. A first request warms what is cached
    per process (content types) or written at most once a minute (the token's last use).
    """
    separator = "&" if "?" in url else "?"
    assert client.get(url).status_code == 200
    for size in page_sizes:
        with django_assert_num_queries(queries):
            response = client.get(f"{url}{separator}page_size={size}")
        assert response.status_code == 200, response.json()
        assert len(response.json()["results"]) == size


def make_model(name="Model", *, user=None, level=None, **kwargs):
    model = Model.objects.create(name=name, **kwargs)
    if user is not None:
        grant(model, level, user=user)
    return model


def make_version(model, **kwargs):
    return ModelVersion.objects.create(model=model, **kwargs)
