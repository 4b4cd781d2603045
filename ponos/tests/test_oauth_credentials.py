"""ListOAuthCredentials: where the user's Git credentials are used and how their last import went."""

from datetime import timedelta

import pytest
from django.utils import timezone

from ponos.models import TaskState
from ponos.tests.factories import TaskFactory
from processes.models import ProcessMode
from processes.tests.factories import ProcessFactory
from users.models import Role
from users.tests.factories import grant
from workers.services.repositories import repository_create
from workers.tests.factories import assert_list_queries

URL = "/api/v1/user/oauth/credentials/"
SECRET = "glpat-very-secret-token"

pytestmark = pytest.mark.django_db


def with_credentials(user, url):
    return repository_create(user=user, url=url, credentials={"username": "ci-bot", "password": SECRET})


def finished_import(repository, user, state, minutes_ago):
    finished = timezone.now() - timedelta(minutes=minutes_ago)
    process = ProcessFactory(
        mode=ProcessMode.Repository, creator=user, repository=repository, started=finished, finished=finished
    )
    TaskFactory(process=process, slug="import", state=state)
    return process


def test_list_credentials(user, user_client, django_assert_num_queries):
    gitlab = with_credentials(user, "https://gitlab.teklia.com/workers/htr")
    github = with_credentials(user, "https://github.com/team/ocr")
    other = with_credentials(user, "https://git.example.org/a/b.git")
    repository_create(user=user, url="https://gitlab.com/public/repo", credentials=None)
    # GitHub: the newest import failed, an older one completed; a later stop says nothing.
    failed = finished_import(github, user, TaskState.Failed, 10)
    finished_import(github, user, TaskState.Completed, 20)
    finished_import(github, user, TaskState.Stopped, 1)
    done = finished_import(gitlab, user, TaskState.Completed, 5)

    response = user_client.get(URL)

    assert response.status_code == 200, response.json()
    data = response.json()
    assert data["count"] == 3
    assert data["results"] == [
        {
            "id": str(other.id),
            "repository_url": "https://git.example.org/a/b.git",
            "provider_name": "git.example.org",
            "provider_url": "https://git.example.org",
            "status": "created",
            "last_import_id": None,
            "last_import_finished": None,
        },
        {
            "id": str(github.id),
            "repository_url": "https://github.com/team/ocr",
            "provider_name": "GitHub",
            "provider_url": "https://github.com",
            "status": "error",
            "last_import_id": str(failed.id),
            "last_import_finished": failed.finished.isoformat().replace("+00:00", "Z"),
        },
        {
            "id": str(gitlab.id),
            "repository_url": "https://gitlab.teklia.com/workers/htr",
            "provider_name": "GitLab",
            "provider_url": "https://gitlab.teklia.com",
            "status": "done",
            "last_import_id": str(done.id),
            "last_import_finished": done.finished.isoformat().replace("+00:00", "Z"),
        },
    ]
    assert SECRET not in response.content.decode()
    assert "ci-bot" not in response.content.decode()
    for number in range(3):
        with_credentials(user, f"https://git.example.com/more/{number}")
    # Token, count, page (the last import read in the page's query).
    assert_list_queries(user_client, URL, 3, django_assert_num_queries)


def test_list_credentials_of_administered_repositories_only(user, user_client, make_user):
    owner = make_user("owner@example.com")
    administered = with_credentials(owner, "https://git.example.com/administered")
    contributed = with_credentials(owner, "https://git.example.com/contributed")
    with_credentials(owner, "https://git.example.com/unknown")
    grant(administered, Role.ADMIN, user=user)
    grant(contributed, Role.CONTRIBUTOR, user=user)

    response = user_client.get(URL)

    assert response.status_code == 200
    assert [c["id"] for c in response.json()["results"]] == [str(administered.id)]


def test_list_credentials_refused(anonymous_client, user, db):
    assert anonymous_client.get(URL).status_code == 401
    process = ProcessFactory(mode=ProcessMode.Repository, creator=user)
    task = TaskFactory(process=process, slug="t", state=TaskState.Running)
    anonymous_client.credentials(HTTP_AUTHORIZATION=f"Ponos {task.token}")
    response = anonymous_client.get(URL)
    assert response.status_code == 403
    assert response.json()["detail"].startswith("Task tokens cannot call ListOAuthCredentials")
