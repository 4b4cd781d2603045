"""The admin pages of worker objects, and the archive and un-archive actions on configurations."""

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from workers.models import WorkerConfiguration
from workers.tests.factories import (
    WorkerConfigurationFactory,
    WorkerFactory,
    WorkerTypeFactory,
    WorkerVersionFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_site_client(superuser):
    client = Client()
    client.force_login(superuser)
    return client


@pytest.fixture
def staff_client(make_user):
    """Staff allowed to change configurations, but not an instance administrator."""
    staff = make_user("staff@example.com", is_staff=True)
    staff.user_permissions.add(
        *Permission.objects.filter(codename__in=("view_workerconfiguration", "change_workerconfiguration"))
    )
    client = Client()
    client.force_login(staff)
    return client


@pytest.mark.parametrize(
    "url",
    [
        "/admin/workers/workertype/?q=class",
        "/admin/workers/worker/?q=demo",
        "/admin/workers/worker/?type__id__exact={type}",
        "/admin/workers/workerversion/?state__exact=available&q=demo",
        "/admin/workers/workerconfiguration/?archived__exact=1",
        "/admin/workers/worker/{worker}/change/",
        "/admin/workers/workerversion/{version}/change/",
        "/admin/workers/workerconfiguration/{configuration}/change/",
        "/admin/workers/workerconfiguration/add/",
    ],
)
def test_admin_pages(admin_site_client, url):
    worker_type = WorkerTypeFactory(slug="classifier")
    worker = WorkerFactory(name="Demo", type=worker_type, repository_url="https://git.example.com/demo")
    version = WorkerVersionFactory(worker=worker)
    configuration = WorkerConfigurationFactory(worker=worker, archived=True)
    response = admin_site_client.get(
        url.format(type=worker_type.id, worker=worker.id, version=version.id, configuration=configuration.id)
    )
    assert response.status_code == 200


def test_admin_search_and_filter(admin_site_client):
    WorkerFactory(name="Demo classifier", type=WorkerTypeFactory(slug="classifier"))
    WorkerFactory(name="Other", repository_url="https://git.example.com/demo")
    WorkerFactory(name="Unrelated")
    response = admin_site_client.get("/admin/workers/worker/?q=demo")
    assert [worker.name for worker in response.context["cl"].result_list] == ["Demo classifier", "Other"]


def run_action(client, action, configurations):
    return client.post(
        "/admin/workers/workerconfiguration/",
        {"action": action, "_selected_action": [str(c.id) for c in configurations]},
        follow=True,
    )


def test_archive_action(admin_site_client):
    configurations = [WorkerConfigurationFactory(), WorkerConfigurationFactory(archived=True)]
    response = run_action(admin_site_client, "archive", configurations)
    assert response.status_code == 200
    assert "1 configuration(s) archived." in response.content.decode()
    assert WorkerConfiguration.objects.filter(archived=True).count() == 2


def test_unarchive_action(admin_site_client):
    configurations = [WorkerConfigurationFactory(archived=True), WorkerConfigurationFactory(archived=True)]
    response = run_action(admin_site_client, "unarchive", configurations)
    assert "2 configuration(s) un-archived." in response.content.decode()
    assert not WorkerConfiguration.objects.filter(archived=True).exists()


def test_unarchive_action_refused_to_staff(staff_client):
    configuration = WorkerConfigurationFactory(archived=True)
    response = run_action(staff_client, "unarchive", [configuration])
    assert "Only instance administrators can un-archive a configuration." in response.content.decode()
    configuration.refresh_from_db()
    assert configuration.archived


def test_staff_cannot_unarchive_from_the_form(staff_client):
    configuration = WorkerConfigurationFactory(archived=True, name="Old")
    response = staff_client.post(
        f"/admin/workers/workerconfiguration/{configuration.id}/change/",
        {"name": "New", "worker": str(configuration.worker_id), "archived": ""},
    )
    assert response.status_code == 302
    configuration.refresh_from_db()
    assert (configuration.name, configuration.archived) == ("New", True)
