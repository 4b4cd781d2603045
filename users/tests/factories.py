"""Factories of users, and `grant` to give a user or a group a right on any object that takes rights."""

import factory
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType

from users.models import Right, Token


def grant(obj, level, *, user=None, group=None):
    return Right.objects.create(
        content_type=ContentType.objects.get_for_model(obj), object_id=obj.pk, user=user, group=group, level=level
    )


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    password = "secret-password"

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        # Through the manager, so that the password is hashed as at sign-up.
        return model_class.objects.create_user(*args, **kwargs)


class TokenFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Token
        django_get_or_create = ("user", "name")

    user = factory.SubFactory(UserFactory)
    name = "tests"
