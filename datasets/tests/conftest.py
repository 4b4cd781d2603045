"""
Fixtures of the dataset tests: users at each level on the shared corpus (see `tests/fixtures.py`),
and a dataset made by the service.
"""

import pytest

from datasets import services
from users.models import Role
from users.tests.factories import grant


@pytest.fixture
def guest(make_user, corpus):
    guest = make_user("guest@example.com")
    grant(corpus, Role.GUEST, user=guest)
    return guest


@pytest.fixture
def corpus_admin(make_user, corpus):
    admin = make_user("admin@example.com")
    grant(corpus, Role.ADMIN, user=admin)
    return admin


@pytest.fixture
def make_dataset(corpus, user):
    def make(name="Dataset", set_names=("train", "dev", "test"), unique_elements=True, corpus=corpus, **kwargs):
        return services.dataset_create(
            corpus=corpus,
            creator=user,
            name=name,
            set_names=list(set_names),
            unique_elements=unique_elements,
            **kwargs,
        )

    return make


@pytest.fixture
def dataset(make_dataset):
    return make_dataset()


def add(dataset, set_name, element):
    """Put an element in a set through the service, as CreateDatasetElement does."""
    return services.dataset_element_create(dataset=dataset, set_name=set_name, element=element)


def members(dataset):
    """The dataset's content, as {(set name, element name)}."""
    return set(dataset.dataset_elements.values_list("set__name", "element__name"))
