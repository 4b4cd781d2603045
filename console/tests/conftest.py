import re

import pytest
from django.test import Client


@pytest.fixture
def browser(user):
    """Django's test client, signed in as `user` with a session, as a person using the console."""
    client = Client()
    client.force_login(user)
    return client


def text(response):
    """A page's HTML with its whitespace collapsed, to look for phrases in it."""
    return re.sub(r"\s+", " ", response.content.decode())
