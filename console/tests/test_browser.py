"""
The console in a real headless Chromium (Debian's `chromium` and `chromium-driver`, which `.ci/run`
installs when missing), against a live server: signing in, the processes list, a process page that
follows its tasks until they complete, the activity statistics, an element's worker run details.
Screenshots of every page land in `build/screenshots/`.
"""

import shutil
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlparse

import pytest
from django.utils import timezone

from documents.models import Element, ElementPath
from ponos.models import Task, TaskState
from ponos.tests.factories import AgentFactory, make_task
from processes.models import ActivityState, ProcessMode, WorkerActivity, WorkerActivityState
from processes.tests.factories import ProcessFactory, RunnableWorkerVersionFactory, make_run
from workers.models import Model, ModelVersion, ModelVersionState

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "build" / "screenshots"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        not (CHROMIUM and CHROMEDRIVER),
        reason="Chromium is not installed: apt-get install chromium chromium-driver (.ci/run does)",
    ),
]


@pytest.fixture
def driver():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,900"):
        options.add_argument(argument)
    # The driver is the one on disk: Selenium downloads nothing.
    browser = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    browser.implicitly_wait(2)
    yield browser
    browser.quit()


def screenshot(driver, name):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    # The whole page, not only the window: its height is the document's.
    height = driver.execute_script("return document.documentElement.scrollHeight")
    width = driver.get_window_size()["width"]
    driver.set_window_size(width, max(height + 120, 600))
    driver.save_screenshot(str(SCREENSHOTS / f"{name}.png"))


def wait_for(driver, condition, timeout=15):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout).until(condition)


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
    driver.find_element(By.CSS_SELECTOR, "nav.top form button").click()
    wait_for(driver, lambda d: "/login/" in d.current_url)


def test_refusals_are_shown_on_the_page(driver, live_server, user, corpus):
    from selenium.webdriver.common.by import By

    process = ProcessFactory(corpus=corpus, creator=user, name="Empty process", mode=ProcessMode.Workers)
    driver.get(f"{live_server.url}/login/")
    driver.find_element(By.NAME, "username").send_keys(user.email)
    driver.find_element(By.NAME, "password").send_keys("secret-password")
    driver.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    wait_for(driver, lambda d: urlparse(d.current_url).path == "/processes/")
    driver.get(f"{live_server.url}/process/{process.id}")
    driver.find_element(By.XPATH, "//button[text()='Start']").click()
    errors = wait_for(driver, lambda d: d.find_elements(By.CSS_SELECTOR, ".messages .error"))
    assert errors and all(error.text for error in errors)
    screenshot(driver, "process-refused")
