"""
A process run from the console, in a real headless Chromium, end to end: a person signs in, creates
a process on a corpus, adds one worker version twice with two model versions, starts it; real agents
run the stock `arkindex-base-worker` worker of `test_e2e_process_run`; the status page follows the
tasks until the process completes; the activity statistics, an element's results and their worker
run's details are read; a dry run counts the results of one model version, then they are deleted.
"""

import pytest

from console.tests.browser import add_worker_run, choose, log_in, needs_chromium, screenshot, wait_for
from documents.models import Element
from processes.models import Process, ProcessState, WorkerActivity
from tests.test_e2e_process_run import WORKER, labeller_version, model_version, pages_corpus

pytestmark = [pytest.mark.e2e, pytest.mark.browser, needs_chromium, pytest.mark.usefixtures("transactional_db")]

PAGES = 12
PROCESS_TIMEOUT = 600


@pytest.fixture
def corpus(user):
    return pages_corpus(user, "Registers", PAGES)


@pytest.fixture
def worker_script(tmp_path):
    path = tmp_path / "labeller.py"
    path.write_text(WORKER)
    return path


def test_run_a_process_from_the_console(
    ponos, driver, live_server, user, corpus, worker_python, worker_script, run_in_clients_env
):
    from selenium.webdriver.common.by import By

    version = labeller_version(user, worker_python, worker_script)
    alpha = model_version(user, "Alpha", "alpha")
    beta = model_version(user, "Beta", "beta")

    log_in(driver, live_server, user)
    driver.find_element(By.LINK_TEXT, "New process").click()
    form = driver.find_element(By.CSS_SELECTOR, "#new-process form")
    choose(driver, "corpus", "Registers", within=form)
    form.find_element(By.NAME, "name").send_keys("Labelling")
    form.find_element(By.NAME, "element_type").send_keys("page")
    form.find_element(By.NAME, "name_contains").send_keys("Page")
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait_for(driver, lambda d: "/process/" in d.current_url)
    process = Process.objects.get(name="Labelling")
    assert process.corpus_id == corpus.id and process.element_type.slug == "page"

    for model in ("Alpha", "Beta"):
        add_worker_run(driver, "Labeller", model)
        wait_for(driver, lambda d, model=model: process.worker_runs.filter(model_version__model__name=model).exists())
    wait_for(driver, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#worker-runs tbody tr")) == 2)
    screenshot(driver, "e2e-process-configured")
    runs = {run.model_version_id: run for run in process.worker_runs.all()}
    assert set(runs) == {alpha.id, beta.id} and {run.version_id for run in runs.values()} == {version.id}

    driver.find_element(By.XPATH, "//button[text()='Start']").click()
    wait_for(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "[data-live]"))
    assert not driver.find_elements(By.ID, "add-worker-run"), "the configuration is read-only once started"
    # The page is not reloaded from here on: its live part follows the tasks.
    wait_for(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "[data-task]"), timeout=30)
    screenshot(driver, "e2e-process-running")
    wait_for(driver, lambda d: d.find_element(By.ID, "process-state").text in ("completed", "failed"), PROCESS_TIMEOUT)
    assert driver.find_element(By.ID, "process-state").text == "completed"
    process.refresh_from_db()
    assert process.state == ProcessState.Completed
    assert not driver.find_elements(By.CSS_SELECTOR, "[data-live]")

    activities = driver.find_element(By.ID, "activities")
    rows = activities.find_elements(By.CSS_SELECTOR, "tbody tr")
    assert len(rows) == 2 and all("100%" in row.text for row in rows)
    assert WorkerActivity.objects.filter(process=process, state="processed").count() == 2 * PAGES
    screenshot(driver, "e2e-process-completed")

    page = Element.objects.get(corpus=corpus, name="Page 003")
    driver.get(f"{live_server.url}/element/{page.id}")
    transcriptions = driver.find_element(By.ID, "transcriptions").text
    assert "alpha: Page 003" in transcriptions and "beta: Page 003" in transcriptions
    screenshot(driver, "e2e-element")
    driver.find_element(By.CSS_SELECTOR, f"#transcriptions a[href='/worker-run/{runs[alpha.id].id}']").click()
    details = wait_for(driver, lambda d: d.find_element(By.ID, "worker-run")).text
    assert "Alpha" in details and "Labeller" in details and "Labelling" in details
    screenshot(driver, "e2e-worker-run")

    driver.find_element(By.LINK_TEXT, "Delete results").click()
    choose(driver, "corpus", "Registers")
    form = wait_for(driver, lambda d: d.find_element(By.ID, "delete-results"))
    choose(driver, "model_version_id", "Alpha", within=form)
    commit = form.find_element(By.CSS_SELECTOR, "[data-role=commit]")
    assert not commit.is_enabled(), "nothing is deleted before a dry run"
    form.find_element(By.CSS_SELECTOR, "[data-role=dry-run]").click()
    counts = wait_for(driver, lambda d: d.find_element(By.ID, "dry-run-counts").is_displayed() and d)
    counts = {
        cell.get_attribute("data-field"): cell.text for cell in driver.find_elements(By.CSS_SELECTOR, "[data-field]")
    }
    assert counts["transcriptions"] == str(PAGES) and counts["classifications"] == str(PAGES)
    assert counts["elements"] == "0"
    assert runs[alpha.id].transcriptions.count() == PAGES, "a dry run deletes nothing"
    screenshot(driver, "e2e-delete-dry-run")

    wait_for(driver, lambda d: commit.is_enabled())
    commit.click()
    driver.switch_to.alert.accept()
    message = wait_for(driver, lambda d: d.find_element(By.CSS_SELECTOR, "#delete-results .form-success").text)
    assert "scheduled" in message
    wait_for(
        driver,
        lambda d: not runs[alpha.id].transcriptions.exists() and not runs[alpha.id].classifications.exists(),
        timeout=60,
    )
    assert runs[beta.id].transcriptions.count() == PAGES and runs[beta.id].classifications.count() == PAGES
    screenshot(driver, "e2e-deleted")
