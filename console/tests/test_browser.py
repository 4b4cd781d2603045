"""
The console in a real headless Chromium (Debian's `chromium` and `chromium-driver`, which `.ci/run`
installs when missing), against a live server: signing in, the processes list, a process page that
follows its tasks until they complete, the activity statistics, an element's worker run details.
Screenshots of every page land in `build/screenshots/`.
"""

from datetime import timedelta
from urllib.parse import urlparse

import pytest
from django.utils import timezone

from console.tests.browser import add_worker_run, choose, log_in, needs_chromium, screenshot, wait_for
from datasets.models import DatasetElement
from datasets.services import dataset_create
from documents.models import Element, ElementPath
from ponos.models import Task, TaskState
from ponos.tests.factories import AgentFactory, make_task
from processes.models import ActivityState, ProcessMode, WorkerActivity, WorkerActivityState, WorkerRun
from processes.tests.factories import ProcessFactory, RunnableWorkerVersionFactory, make_run
from users.models import Right, Role
from users.tests.factories import grant
from workers.models import FeatureUsage, Model, ModelVersion, ModelVersionState, Worker, WorkerConfiguration
from workers.tests.factories import WorkerFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), needs_chromium]


def shown(driver, selector):
    """The text of an element once it has some (an API message put there by the page's script)."""
    from selenium.webdriver.common.by import By

    return wait_for(driver, lambda d: d.find_element(By.CSS_SELECTOR, selector).text)


@pytest.fixture
def watched(corpus, user, make_element):
    """A running process on the corpus: two worker runs of one version with two model versions, tasks, activities."""
    page = make_element("page", "Page 1")
    version = RunnableWorkerVersionFactory(worker__name="Recogniser")
    model = Model.objects.create(name="Handwriting", creator=user)
    versions = [
        ModelVersion.objects.create(model=model, tag=tag, state=ModelVersionState.Available) for tag in ("v1", "v2")
    ]
    process = ProcessFactory(
        corpus=corpus, creator=user, name="Transcribe the registers", activity_state=ActivityState.Ready
    )
    runs = [make_run(process, version, model_version=model_version) for model_version in versions]
    started = timezone.now() - timedelta(minutes=3)
    process.started = started
    process.save()
    agent = AgentFactory(hostname="gpu-node-1")
    make_task(process, "initialisation", TaskState.Completed, depth=0, agent=agent, started=started, finished=started)
    for n, run in enumerate(runs):
        make_task(
            process, f"recogniser-v{n + 1}", TaskState.Running, depth=1, agent=agent, worker_run=run, started=started
        )
    lines = []
    for n in range(6):
        line = Element.objects.create(corpus=corpus, type=page.type, name=f"Line {n}", worker_run=runs[0])
        ElementPath.objects.create(element=line, path=[page.id], ordering=n)
        lines.append(line)
    for run in runs:
        for n, line in enumerate(lines):
            state = WorkerActivityState.Processed if n < 3 else WorkerActivityState.Queued
            WorkerActivity.objects.create(
                process=process, worker_run=run, element=line, state=state, started=started if n < 3 else None
            )
    return {"process": process, "page": page, "line": lines[0], "runs": runs}


def test_watch_a_process_to_completion(driver, live_server, user, watched):
    from selenium.webdriver.common.by import By

    process = watched["process"]
    driver.get(f"{live_server.url}/processes/")
    assert "/login/" in driver.current_url
    screenshot(driver, "login")
    driver.find_element(By.NAME, "username").send_keys(user.email)
    driver.find_element(By.NAME, "password").send_keys("secret-password")
    driver.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    wait_for(driver, lambda d: urlparse(d.current_url).path == "/processes/")
    assert "Transcribe the registers" in driver.page_source
    screenshot(driver, "processes")

    driver.find_element(By.LINK_TEXT, "Transcribe the registers").click()
    wait_for(driver, lambda d: f"/process/{process.id}" in d.current_url)
    assert driver.find_element(By.ID, "process-state").text == "running"
    assert len(driver.find_elements(By.CSS_SELECTOR, "[data-task]")) == 3
    activity_rows = driver.find_elements(By.CSS_SELECTOR, "#activities tbody tr")
    assert len(activity_rows) == 2 and "50%" in activity_rows[0].text
    assert len(driver.find_elements(By.CSS_SELECTOR, "#worker-runs tbody tr")) == 2
    screenshot(driver, "process-running")

    # The agent's side: the tasks end and the activities are processed; the page follows by itself.
    WorkerActivity.objects.filter(process=process).update(state=WorkerActivityState.Processed)
    Task.objects.filter(process=process).update(state=TaskState.Completed, finished=timezone.now())
    process.finished = timezone.now()
    process.save()
    wait_for(driver, lambda d: d.find_element(By.ID, "process-state").text == "completed")
    assert "100%" in driver.find_element(By.ID, "activities").text
    assert not driver.find_elements(By.CSS_SELECTOR, "[data-live]")
    screenshot(driver, "process-completed")

    driver.get(f"{live_server.url}/element/{watched['line'].id}")
    driver.find_element(By.CSS_SELECTOR, "#worker-run-details summary").click()
    details = driver.find_element(By.ID, "worker-run-details").text
    assert "Handwriting" in details and "Transcribe the registers" in details
    screenshot(driver, "element")

    driver.get(f"{live_server.url}/element/{watched['page'].id}")
    assert len(driver.find_elements(By.CSS_SELECTOR, "#children tbody tr")) == 6
    screenshot(driver, "element-children")

    driver.set_window_size(390, 800)
    driver.get(f"{live_server.url}/processes/")
    screenshot(driver, "processes-narrow")

    driver.set_window_size(1280, 900)
    driver.find_element(By.CSS_SELECTOR, "#user-menu summary").click()
    driver.find_element(By.XPATH, "//button[text()='Log out']").click()
    wait_for(driver, lambda d: "/login/" in d.current_url)


def test_refusals_are_shown_on_the_page(driver, live_server, user, corpus):
    from selenium.webdriver.common.by import By

    process = ProcessFactory(corpus=corpus, creator=user, name="Empty process", mode=ProcessMode.Workers)
    log_in(driver, live_server, user)
    driver.get(f"{live_server.url}/process/{process.id}")
    driver.find_element(By.XPATH, "//button[text()='Start']").click()
    errors = wait_for(driver, lambda d: d.find_elements(By.CSS_SELECTOR, ".messages .error"))
    assert errors and all(error.text for error in errors)
    screenshot(driver, "process-refused")


def test_create_a_user_worker_run(driver, live_server, user):
    """Seed 000: from the menu under one's email, create a local worker, a blank version, then the run."""
    from selenium.webdriver.common.by import By

    other = WorkerFactory(name="Layout analyser", type__slug="layout")
    grant(other, Role.GUEST, user=user)
    log_in(driver, live_server, user)
    driver.find_element(By.CSS_SELECTOR, "#user-menu summary").click()
    driver.find_element(By.LINK_TEXT, "Worker runs").click()
    wait_for(driver, lambda d: urlparse(d.current_url).path == "/worker-runs/")
    assert "No worker run yet" in driver.page_source

    form = driver.find_element(By.CSS_SELECTOR, "#create-worker form")
    driver.find_element(By.CSS_SELECTOR, "#create-worker summary").click()
    form.find_element(By.NAME, "name").send_keys("My scripts")
    form.find_element(By.NAME, "slug").send_keys("not a slug!")
    form.find_element(By.NAME, "type").send_keys("scripts")
    # The browser's own check is lifted so that the API's refusal shows next to the field.
    driver.execute_script("arguments[0].noValidate = true", form)
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    error = shown(driver, '#create-worker [data-for="slug"]')
    assert error == "Not a slug: letters, digits, dashes and underscores, at most 100 characters."
    slug = form.find_element(By.NAME, "slug")
    slug.clear()
    slug.send_keys("my-scripts")
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait_for(driver, lambda d: "worker=" in d.current_url)
    worker = Worker.objects.get(slug="my-scripts")
    assert worker.repository_url is None
    assert "No version yet" in driver.find_element(By.ID, "chosen-worker").text

    # Filters: by type, then by name.
    driver.get(f"{live_server.url}/worker-runs/?type=layout")
    assert [item.text for item in driver.find_elements(By.CSS_SELECTOR, "#worker-picker li a")] == ["Layout analyser"]
    search = driver.find_element(By.NAME, "name")
    search.clear()
    search.send_keys("scripts")
    driver.find_element(By.NAME, "type").send_keys("Any")
    driver.find_element(By.XPATH, "//form[@class='filters']//button").click()
    wait_for(driver, lambda d: "name=scripts" in d.current_url)
    driver.find_element(By.LINK_TEXT, "My scripts").click()
    wait_for(driver, lambda d: f"worker={worker.id}" in d.current_url)

    driver.find_element(By.ID, "create-version").click()
    add = wait_for(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#create-user-run button.add"))
    add[0].click()
    message = wait_for(driver, lambda d: d.find_element(By.CSS_SELECTOR, "#create-user-run .form-success").text)
    run = WorkerRun.objects.get(version__worker=worker)
    assert str(run.id) in message
    assert str(run.id) in driver.find_element(By.ID, "user-worker-runs").text
    assert "has a run" in driver.find_element(By.ID, "chosen-worker").text
    screenshot(driver, "worker-runs")

    driver.find_element(By.LINK_TEXT, run.summary).click()
    wait_for(driver, lambda d: f"/worker-run/{run.id}" in d.current_url)
    assert "personal" in driver.find_element(By.ID, "worker-run").text
    screenshot(driver, "worker-run")


def test_configure_a_process_before_starting_it(driver, live_server, user, corpus):
    """Add worker versions, pick model versions, create a configuration from its defaults; the API's refusals show."""
    from selenium.webdriver.common.by import By

    version = RunnableWorkerVersionFactory(
        worker__name="Recogniser",
        model_usage=FeatureUsage.Required,
        configuration={
            "docker": {"command": "worker-recogniser"},
            "user_configuration": {
                "threshold": {"title": "Threshold", "type": "float", "default": 0.5},
                "language": {"title": "Language", "type": "enum", "choices": ["fr", "en"], "default": "fr"},
            },
        },
    )
    grant(version.worker, Role.ADMIN, user=user)
    model = Model.objects.create(name="Handwriting", creator=user)
    grant(model, Role.ADMIN, user=user)
    for tag in ("v1", "v2"):
        ModelVersion.objects.create(model=model, tag=tag, state=ModelVersionState.Available)
    process = ProcessFactory(corpus=corpus, creator=user, name="To configure")
    log_in(driver, live_server, user)
    driver.get(f"{live_server.url}/process/{process.id}")
    assert "No worker run" in driver.page_source

    form = driver.find_element(By.ID, "add-worker-run")
    choose(driver, "worker_version_id", "Recogniser", within=form)
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    error = shown(driver, '#add-worker-run [data-for="model_version_id"]')
    assert error == "This worker version requires a model version."
    screenshot(driver, "process-configuration-refused")

    for tag in ("v1", "v2"):
        add_worker_run(driver, "Recogniser", tag)
        wait_for(driver, lambda d, tag=tag: process.worker_runs.filter(model_version__tag=tag).exists())
        rows = 1 if tag == "v1" else 2
        wait_for(driver, lambda d, rows=rows: len(d.find_elements(By.CSS_SELECTOR, "#worker-runs tbody tr")) == rows)

    # The same run again is refused with the API's message.
    add_worker_run(driver, "Recogniser", "v1")
    assert "already" in shown(driver, "#add-worker-run .form-errors")

    # A configuration: the form starts from the defaults, which the API refuses as they are.
    driver.find_element(By.CSS_SELECTOR, f"#new-configuration-{version.id} summary").click()
    panel = driver.find_element(By.ID, f"new-configuration-{version.id}")
    threshold = panel.find_element(By.NAME, "configuration[threshold]")
    assert threshold.get_attribute("value") == "0.5"
    panel.find_element(By.NAME, "name").send_keys("Strict")
    panel.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    error = shown(driver, f'#new-configuration-{version.id} [data-for="configuration"]')
    assert "defaults" in error
    # A value of the wrong type: the API names the key, the page puts its message under that field.
    driver.execute_script("arguments[0].type = 'text'; arguments[0].value = 'high'", threshold)
    panel.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    assert shown(driver, f'#new-configuration-{version.id} [data-for="configuration[threshold]"]')
    driver.execute_script("arguments[0].type = 'number'", threshold)
    threshold.clear()
    threshold.send_keys("0.9")
    panel.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait_for(driver, lambda d: WorkerConfiguration.objects.filter(name="Strict").exists())
    configuration = WorkerConfiguration.objects.get(name="Strict")
    assert configuration.configuration == {"threshold": 0.9, "language": "fr"}

    # The first run now uses it.
    first = process.worker_runs.get(model_version__tag="v1")
    row = wait_for(driver, lambda d: d.find_element(By.ID, f"edit-{first.id}"))
    choose(driver, "configuration_id", "Strict", within=row)
    row.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait_for(driver, lambda d: WorkerRun.objects.filter(pk=first.pk, configuration=configuration).exists())
    wait_for(driver, lambda d: d.find_element(By.ID, "worker-runs"))
    screenshot(driver, "process-configuration")


def test_catalogue_pages(driver, live_server, user, superuser, corpus, make_element):
    """Workers, versions, configurations (archived ones un-archived by an instance admin), models, datasets."""
    from selenium.webdriver.common.by import By

    version = RunnableWorkerVersionFactory(
        worker__name="Recogniser",
        configuration={"user_configuration": {"threshold": {"title": "Threshold", "type": "float", "default": 0.5}}},
    )
    worker = version.worker
    grant(worker, Role.ADMIN, user=user)
    WorkerConfiguration.objects.create(worker=worker, name="Loose", configuration={"threshold": 0.1})
    archived = WorkerConfiguration.objects.create(
        worker=worker, name="Old", configuration={"threshold": 0.3}, archived=True
    )
    model = Model.objects.create(name="Handwriting", creator=user, description="Reads 19th century hands")
    grant(model, Role.ADMIN, user=user)
    ModelVersion.objects.create(model=model, tag="v1", state=ModelVersionState.Available, size=12_345_678)
    dataset = dataset_create(corpus=corpus, creator=user, name="Registers", set_names=["train", "dev", "test"])
    train = dataset.sets.get(name="train")
    for n in range(3):
        DatasetElement.objects.create(
            dataset=dataset, set=train, element=make_element("page", f"Folio {n}"), unique_elements=True
        )

    log_in(driver, live_server, user)
    driver.find_element(By.LINK_TEXT, "Workers").click()
    driver.find_element(By.LINK_TEXT, "Recogniser").click()
    assert "Version 1" in driver.find_element(By.ID, "versions").text
    screenshot(driver, "worker")
    driver.find_element(By.LINK_TEXT, "Version 1").click()
    assert "Threshold" in driver.find_element(By.ID, "fields").text
    screenshot(driver, "worker-version")
    driver.get(f"{live_server.url}/worker/{worker.id}?tab=archived")
    assert "Old" in driver.find_element(By.ID, "configurations").text
    assert not driver.find_elements(By.XPATH, "//button[text()='Un-archive']")
    screenshot(driver, "worker-archived")

    driver.find_element(By.LINK_TEXT, "Models").click()
    driver.find_element(By.LINK_TEXT, "Handwriting").click()
    assert "v1" in driver.find_element(By.ID, "model-versions").text
    screenshot(driver, "model")
    driver.find_element(By.LINK_TEXT, "Datasets").click()
    screenshot(driver, "datasets")
    driver.find_element(By.LINK_TEXT, "Registers").click()
    driver.find_element(By.LINK_TEXT, "train").click()
    assert len(driver.find_elements(By.CSS_SELECTOR, "#dataset-elements tbody tr")) == 3
    screenshot(driver, "dataset")

    # A narrow screen: the tables scroll sideways, the less useful columns go.
    driver.set_window_size(390, 800)
    screenshot(driver, "dataset-narrow")
    driver.get(f"{live_server.url}/worker-runs/")
    screenshot(driver, "worker-runs-narrow")
    Right.objects.filter(user=user, object_id=corpus.id).update(level=Role.ADMIN)
    driver.get(f"{live_server.url}/delete-results/?corpus={corpus.id}")
    assert driver.find_elements(By.ID, "delete-results")
    screenshot(driver, "delete-results-narrow")
    driver.set_window_size(1280, 900)

    driver.delete_all_cookies()
    superuser.set_password("admin-password")
    superuser.save()
    log_in(driver, live_server, superuser, password="admin-password")
    driver.get(f"{live_server.url}/worker/{worker.id}?tab=archived")
    driver.find_element(By.XPATH, "//button[text()='Un-archive']").click()
    wait_for(driver, lambda d: not WorkerConfiguration.objects.get(pk=archived.pk).archived)
    wait_for(driver, lambda d: "No archived configuration" in d.page_source)
