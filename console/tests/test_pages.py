"""The console's pages through Django's test client: rights, refusals, filters and query counts."""

import io

import pytest
from django.test import Client
from django.urls import reverse

from arkindex import storage
from console.tests.conftest import text
from documents.models import Classification, MetaData, MLClass, Transcription
from ponos.models import Artifact, TaskState
from ponos.tests.factories import AgentFactory, make_task
from processes.models import ActivityState, ProcessMode
from processes.tests.factories import ProcessFactory, make_run
from users.models import Role
from users.tests.factories import grant

pytestmark = pytest.mark.django_db


def make_processes(corpus, user, count):
    return [ProcessFactory(corpus=corpus, creator=user, name=f"Process {n}") for n in range(count)]


# Signing in


def test_pages_need_a_session(client, corpus):
    for url in ("/", "/processes/", "/agents/"):
        response = client.get(url, follow=True)
        assert response.redirect_chain[-1][0].startswith("/login/")


def test_login_then_logout(client, user):
    page = client.get("/login/")
    assert page.status_code == 200 and "Log in" in text(page)
    refused = client.post("/login/", {"username": user.email, "password": "wrong"})
    assert refused.status_code == 200 and "correct email and password" in text(refused)
    response = client.post("/login/", {"username": user.email, "password": "secret-password"})
    assert response.status_code == 302 and response.url == "/processes/"
    assert client.get("/processes/").status_code == 200
    client.post("/logout/")
    assert client.get("/processes/").status_code == 302


def test_password_change(browser, user):
    response = browser.post(
        "/password/",
        {"old_password": "wrong", "new_password1": "a new long passphrase", "new_password2": "a new long passphrase"},
    )
    assert response.status_code == 200 and "incorrectly" in text(response)
    response = browser.post(
        "/password/",
        {
            "old_password": "secret-password",
            "new_password1": "a new long passphrase",
            "new_password2": "a new long passphrase",
        },
    )
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password("a new long passphrase")


def test_forms_need_their_csrf_token(user, corpus):
    process = ProcessFactory(corpus=corpus, creator=user)
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    assert client.post(f"/process/{process.id}/stop").status_code == 403


# Processes


def test_processes_list(browser, corpus, user, other_user):
    make_processes(corpus, user, 2)
    ProcessFactory(corpus=corpus, creator=other_user, name="Someone else's")
    ProcessFactory(mode=ProcessMode.Local, creator=other_user, name="Private local")
    response = browser.get("/processes/")
    body = text(response)
    assert "Process 0" in body and "Process 1" in body and "Someone else&#x27;s" in body
    assert "Private local" not in body
    mine = text(browser.get("/processes/?created_by_me=true"))
    assert "Process 0" in mine and "Someone else" not in mine


def test_processes_filters_refuse_bad_values(browser, corpus, user):
    make_processes(corpus, user, 1)
    body = text(browser.get("/processes/?mode=nope"))
    assert "mode: Select a valid choice. nope is not one of the available choices." in body
    assert "Process 0" not in body and "No process matches these filters" in body


def test_processes_empty_state(browser):
    assert "No process yet" in text(browser.get("/processes/"))


def test_processes_pagination(browser, corpus, user):
    make_processes(corpus, user, 25)
    first = text(browser.get("/processes/?mode=workers"))
    assert "Page 1 of 2 · 25 processes" in first and "mode=workers&amp;page=2" in first
    second = text(browser.get("/processes/?mode=workers&page=2"))
    assert "Page 2 of 2" in second


@pytest.mark.parametrize("count", [3, 30])
def test_processes_list_queries_are_flat(browser, corpus, user, count, django_assert_num_queries):
    make_processes(corpus, user, count)
    browser.get("/processes/")
    # The session, the user, the count, the page, the corpora of the filter.
    with django_assert_num_queries(5):
        assert browser.get("/processes/").status_code == 200


def build_process(corpus, user, runs, tasks):
    process = ProcessFactory(corpus=corpus, creator=user, name="Watched", activity_state=ActivityState.Ready)
    worker_runs = [make_run(process) for _ in range(runs)]
    agent = AgentFactory()
    for n in range(tasks):
        task = make_task(process, f"task-{n}", TaskState.Running, depth=n % 3, agent=agent, worker_run=worker_runs[0])
        Artifact.objects.create(task=task, path=f"results {n}.json", size=2048, content_type="application/json")
    process.started = process.created
    process.save()
    return process


@pytest.mark.parametrize("runs,tasks", [(1, 2), (6, 20)])
def test_process_page_queries_are_flat(browser, corpus, user, runs, tasks, django_assert_num_queries):
    process = build_process(corpus, user, runs, tasks)
    browser.get(f"/process/{process.id}")
    # Session, user, the process, its tasks, their artifacts, its worker runs, their activity statistics.
    with django_assert_num_queries(7):
        response = browser.get(f"/process/{process.id}")
    assert response.status_code == 200
    assert text(response).count('data-task="') == tasks
    assert text(response).count("/artifact/results%20") == tasks
    assert text(response).count("<tr>") >= runs


def test_process_live_part(browser, corpus, user):
    process = build_process(corpus, user, 1, 2)
    part = text(browser.get(f"/process/{process.id}?part=live"))
    assert part.startswith('<section id="process-live" data-live=')
    assert "<nav" not in part


def test_process_of_another_corpus_is_not_found(browser, make_user):
    from documents.tests.factories import CorpusFactory

    stranger = make_user()
    hidden = ProcessFactory(corpus=CorpusFactory(), creator=stranger)
    assert browser.get(f"/process/{hidden.id}").status_code == 404
    assert browser.post(f"/process/{hidden.id}/stop").status_code == 404


def test_actions_show_the_services_refusals(browser, corpus, user):
    process = ProcessFactory(corpus=corpus, creator=user, name="Not started")
    response = browser.post(f"/process/{process.id}/stop", follow=True)
    assert "This process has not started" in text(response) or "not been started" in text(response)
    response = browser.post(f"/process/{process.id}/start", follow=True)
    assert 'class="error"' in text(response)
    assert browser.post(f"/process/{process.id}/dance").status_code == 404


def test_guests_see_no_actions_and_cannot_act(client, corpus, make_user, user):
    guest = make_user()
    grant(corpus, Role.GUEST, user=guest)
    process = build_process(corpus, user, 1, 1)
    client.force_login(guest)
    body = text(client.get(f"/process/{process.id}"))
    assert "Stop</button>" not in body
    assert client.post(f"/process/{process.id}/stop").status_code == 403


def test_emails_link_to_the_process_page(browser, corpus, user, settings):
    from ponos.emails import process_url

    process = ProcessFactory(corpus=corpus, creator=user)
    path = process_url(process).removeprefix(settings.FRONTEND_URL)
    assert browser.get(path).status_code == 200


# Elements


def element_with_results(make_element, runs, size):
    page = make_element("page", "Page 1")
    for n in range(size):
        make_element("line", f"Line {n}", parent=page)
    ml_class = MLClass.objects.create(corpus=page.corpus, name="cat")
    Classification.objects.create(element=page, ml_class=ml_class, confidence=0.5)
    for n in range(size):
        Transcription.objects.create(element=page, text=f"text {n}")
        MetaData.objects.create(element=page, type="text", name=f"field {n}", value="v")
    return page


@pytest.mark.parametrize("size", [2, 20])
def test_element_page_queries_are_flat(browser, make_element, size, django_assert_num_queries):
    page = element_with_results(make_element, None, size)
    browser.get(f"/element/{page.id}")
    # Session, user, the element, its children, their worker runs, transcriptions, classifications, metadata.
    with django_assert_num_queries(8):
        response = browser.get(f"/element/{page.id}")
    body = text(response)
    assert body.count("Line ") == size and "cat" in body


def test_element_children_filter(browser, make_element):
    page = element_with_results(make_element, None, 2)
    body = text(browser.get(f"/element/{page.id}?worker_run=not-an-id"))
    assert "&#x27;not-an-id&#x27; is not a worker run ID" in body
    assert "Line 0" in text(browser.get(f"/element/{page.id}?worker_run=none"))


def test_hidden_element_is_not_found(client, make_element, make_user):
    page = make_element("page")
    client.force_login(make_user())
    assert client.get(f"/element/{page.id}").status_code == 404


# Agents


def test_agents_for_instance_admins_only(browser, superuser, client):
    AgentFactory(hostname="zeta"), AgentFactory(hostname="alpha")
    assert browser.get("/agents/").status_code == 403
    client.force_login(superuser)
    body = text(client.get("/agents/"))
    assert body.index("alpha") < body.index("zeta")


def test_navigation_bar(browser, superuser, client):
    assert "Agents</a>" not in text(browser.get(reverse("console:processes")))
    client.force_login(superuser)
    assert "Agents</a>" in text(client.get(reverse("console:processes")))


def test_restart_task_checks_the_task(browser, corpus, user):
    process = build_process(corpus, user, 1, 1)
    assert browser.post(f"/process/{process.id}/restart-task", {"task": "not-a-uuid"}).status_code == 404
    task = process.tasks.get()
    response = browser.post(f"/process/{process.id}/restart-task", {"task": str(task.id)}, follow=True)
    assert "only an ended task can be restarted" in text(response)
    task.state = TaskState.Failed
    task.save()
    response = browser.post(f"/process/{process.id}/restart-task", {"task": str(task.id)}, follow=True)
    assert f"Task {task.slug} runs again." in text(response)


def test_artifact_links_download_with_the_session(browser, corpus, user):
    process = build_process(corpus, user, 1, 1)
    artifact = process.tasks.get().artifacts.get()
    storage.backend().write(artifact.storage_key, io.BytesIO(b"{}"))
    response = browser.get(f"/api/v1/task/{artifact.task_id}/artifact/results%200.json")
    assert response.status_code == 302
