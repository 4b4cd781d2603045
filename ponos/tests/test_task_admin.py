"""
Tasks in the Django admin (seed 002): an administrator changes a task's state, agent and GPU, and
the task's artifacts (shown, read-only) cause no validation error. The form is submitted as a
browser would, with every value the change page renders. The token is neither shown nor editable.
"""

# The fixtures imported from task_fixtures are redefined as test arguments, as pytest intends.
# ruff: noqa: F811

import django_rq
import pytest
from django.test import Client

from arkindex.rq import DEFAULT_QUEUE
from ponos.models import GPU, Artifact, Task, TaskState
from ponos.tests.factories import make_task
from ponos.tests.task_fixtures import (  # noqa: F401 (fixtures)
    agent,
    media_root,
    process,
)
from tests.admin_forms import FormValues

pytestmark = pytest.mark.django_db


def form_data(html):
    parser = FormValues()
    parser.feed(html)
    data = {}
    for name, value in parser.values:
        data.setdefault(name, []).append(value)
    return data


@pytest.fixture
def admin_client(superuser):
    client = Client()
    client.force_login(superuser)
    return client


@pytest.fixture
def gpu(agent):
    return GPU.objects.create(id="GPU-0", agent=agent, index=0, name="Tesla T4")


@pytest.fixture
def task_with_artifacts(process):
    parent = make_task(process, "initialisation", state=TaskState.Completed)
    task = make_task(
        process,
        "worker",
        state=TaskState.Running,
        depth=1,
        parents=[parent],
        env={"ARKINDEX_PROCESS_ID": str(process.id)},
        extra_files={"a.txt": "hello"},
        shm_size="2g",
        requires_gpu=True,
    )
    for path in ("out/page-1.json", "out/page-2.json", "log.txt"):
        Artifact.objects.create(task=task, path=path, size=12, content_type="application/json")
    return task


def change_url(task):
    return f"/admin/ponos/task/{task.id}/change/"


def test_change_page_hides_the_token(admin_client, task_with_artifacts):
    task = task_with_artifacts
    response = admin_client.get(change_url(task))
    assert response.status_code == 200
    html = response.content.decode()
    assert task.token not in html
    assert 'name="token"' not in html
    # The artifacts are listed on the task, read-only.
    assert "out/page-1.json" in html
    assert "log.txt" in html
    # Nor in the list.
    response = admin_client.get("/admin/ponos/task/")
    assert response.status_code == 200
    assert task.token not in response.content.decode()
    response = admin_client.get(f"/admin/ponos/task/?q={task.slug}")
    assert response.status_code == 200


def test_change_state_agent_and_gpu(admin_client, process, task_with_artifacts, agent, gpu):
    task = task_with_artifacts
    token = task.token
    data = form_data(admin_client.get(change_url(task)).content.decode())
    assert data["state"] == ["running"]
    data.update({"state": ["pending"], "agent": [str(agent.id)], "gpu": [gpu.id], "_save": ["Save"]})

    response = admin_client.post(change_url(task), data)
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else response
    task.refresh_from_db()
    assert task.state == TaskState.Pending
    assert task.agent_id == agent.id
    assert task.gpu_id == gpu.id
    # Nothing else changed: not the token, not the artifacts, not the parents, not the stored values.
    assert task.token == token
    assert task.env == {"ARKINDEX_PROCESS_ID": str(process.id)}
    assert task.extra_files == {"a.txt": "hello"}
    assert task.shm_size == "2g"
    assert list(task.parents.values_list("slug", flat=True)) == ["initialisation"]
    assert sorted(task.artifacts.values_list("path", flat=True)) == ["log.txt", "out/page-1.json", "out/page-2.json"]


def test_change_back_to_no_agent(admin_client, task_with_artifacts, agent, gpu):
    task = task_with_artifacts
    Task.objects.filter(pk=task.pk).update(agent=agent, gpu=gpu)
    data = form_data(admin_client.get(change_url(task)).content.decode())
    assert data["agent"] == [str(agent.id)]
    data.update({"state": ["error"], "agent": [""], "gpu": [""], "_save": ["Save"]})
    response = admin_client.post(change_url(task), data)
    assert response.status_code == 302
    task.refresh_from_db()
    assert (task.state, task.agent_id, task.gpu_id) == (TaskState.Error, None, None)


def test_change_state_lets_the_process_move_on(
    admin_client, process, task_with_artifacts, django_capture_on_commit_callbacks
):
    """A task set to completed by hand lets the scheduler start its children and end the process."""
    task = task_with_artifacts
    data = form_data(admin_client.get(change_url(task)).content.decode())
    data.update({"state": ["completed"], "_save": ["Save"]})
    with django_capture_on_commit_callbacks(execute=True):
        assert admin_client.post(change_url(task), data).status_code == 302
    jobs = django_rq.get_queue(DEFAULT_QUEUE).get_jobs()
    assert [(job.func_name, job.args) for job in jobs] == [("ponos.scheduler.schedule_process", (str(process.id),))]

    # Saving again without a change of state schedules nothing.
    data = form_data(admin_client.get(change_url(task)).content.decode())
    data["_save"] = ["Save"]
    with django_capture_on_commit_callbacks(execute=True):
        assert admin_client.post(change_url(task), data).status_code == 302
    assert len(django_rq.get_queue(DEFAULT_QUEUE).get_jobs()) == 1


def test_busy_gpu_is_a_validation_error(admin_client, process, task_with_artifacts, agent, gpu):
    """A GPU runs one task at a time: giving it to a second running task is refused, not a server error."""
    make_task(process, "other", state=TaskState.Running, agent=agent, gpu=gpu)
    task = task_with_artifacts
    data = form_data(admin_client.get(change_url(task)).content.decode())
    data.update({"agent": [str(agent.id)], "gpu": [gpu.id], "_save": ["Save"]})
    response = admin_client.post(change_url(task), data)
    assert response.status_code == 200
    assert response.context["adminform"].form.errors
    task.refresh_from_db()
    assert task.gpu_id is None


def test_token_cannot_be_posted(admin_client, task_with_artifacts):
    task = task_with_artifacts
    token = task.token
    data = form_data(admin_client.get(change_url(task)).content.decode())
    data.update({"token": ["chosen-by-hand"], "_save": ["Save"]})
    assert admin_client.post(change_url(task), data).status_code == 302
    task.refresh_from_db()
    assert task.token == token
