"""Factories of farms, agents and tasks, in the states a test needs."""

import factory
from django.utils import timezone

from ponos.models import Agent, Farm, Task, TaskState


class FarmFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Farm
        django_get_or_create = ("name",)

    name = "default"


class AgentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Agent

    farm = factory.SubFactory(FarmFactory)
    hostname = factory.Sequence(lambda n: f"host-{n}")
    pid = 42
    last_ping = factory.LazyFunction(timezone.now)


class TaskFactory(factory.django.DjangoModelFactory):
    """A task of `process` (the caller's); `parents` are set after it is saved."""

    class Meta:
        model = Task
        skip_postgeneration_save = True

    slug = factory.Sequence(lambda n: f"task-{n}")
    state = TaskState.Unscheduled

    @factory.post_generation
    def parents(task, create, parents, **kwargs):
        if parents:
            task.parents.set(parents)


def make_task(process, slug=None, state=TaskState.Unscheduled, *, parents=(), **kwargs):
    if slug is not None:
        kwargs["slug"] = slug
    return TaskFactory(process=process, state=state, parents=parents, **kwargs)
