"""
Factories of documents objects: corpora with their members' rights, element types, images, and
elements made through `documents.services.element_create` so that their paths are the product's own.
"""

import factory

from documents import services
from documents.models import Corpus, ElementType, Image, ImageServer
from users.models import Role
from users.tests.factories import grant


class CorpusFactory(factory.django.DjangoModelFactory):
    """`CorpusFactory(contributor=user)`, or `members={user: Role.ADMIN, other: Role.GUEST}`."""

    class Meta:
        model = Corpus
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Corpus {n}")

    @factory.post_generation
    def contributor(corpus, create, user, **kwargs):
        if user is not None:
            grant(corpus, Role.CONTRIBUTOR, user=user)

    @factory.post_generation
    def members(corpus, create, members, **kwargs):
        for user, level in (members or {}).items():
            grant(corpus, level, user=user)


class ElementTypeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ElementType

    corpus = factory.SubFactory(CorpusFactory)
    slug = factory.Sequence(lambda n: f"type-{n}")
    display_name = factory.LazyAttribute(lambda o: o.slug.replace("-", " ").capitalize())


class ElementFactory(factory.Factory):
    """An element at the top level, or the last child of `parent`: through the service, with its paths."""

    class Meta:
        model = services.element_create

    corpus = factory.SubFactory(CorpusFactory)
    type = factory.SubFactory(ElementTypeFactory, corpus=factory.SelfAttribute("..corpus"))
    name = factory.Sequence(lambda n: f"Element {n}")

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        return model_class(*args, **kwargs)

    _build = _create


class ImageServerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ImageServer
        django_get_or_create = ("url",)

    url = "https://iiif.example.com/iiif/2"
    display_name = "Example IIIF"


class ImageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Image

    server = factory.SubFactory(ImageServerFactory)
    path = factory.Sequence(lambda n: f"folder%2Fpage{n}.jpg")
    width = 1000
    height = 2000
    status = "checked"
