"""API clients that call as a user (a `Token`) or as a task (its `Ponos` token)."""

from rest_framework.test import APIClient

from users.tests.factories import TokenFactory


def token_client(user):
    token = TokenFactory(user=user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    client.user = user
    return client


def task_client(task):
    """A client calling as `task`, with its own token (valid while the task runs or stops)."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Ponos {task.token}")
    client.task = task
    return client
