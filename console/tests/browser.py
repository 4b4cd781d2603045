"""
Driving the console in a real headless Chromium (Debian's `chromium` and `chromium-driver`, which
`.ci/run` installs when missing): the driver fixture, signing in, waiting, and full-page screenshots
saved in `build/screenshots/` to be looked at.
"""

import shutil
from pathlib import Path
from urllib.parse import urlparse

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "build" / "screenshots"

needs_chromium = pytest.mark.skipif(
    not (CHROMIUM and CHROMEDRIVER),
    reason="Chromium is not installed: apt-get install chromium chromium-driver (.ci/run does)",
)


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
    width = driver.get_window_size()["width"]
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(width, max(height + 120, 600))
    driver.execute_script("window.scrollTo(0, 0)")
    driver.save_screenshot(str(SCREENSHOTS / f"{name}.png"))
    driver.set_window_size(width, 900)


def wait_for(driver, condition, timeout=15):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout).until(condition)


def log_in(driver, live_server, user, password="secret-password", then="/processes/"):
    from selenium.webdriver.common.by import By

    driver.get(f"{live_server.url}/login/?next={then}")
    driver.find_element(By.NAME, "username").send_keys(user.email)
    driver.find_element(By.NAME, "password").send_keys(password)
    driver.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    wait_for(driver, lambda d: urlparse(d.current_url).path == then)


def choose(driver, name, text, within=None):
    """Pick the option of the select `name` whose text contains `text`."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    root = within or driver
    select = Select(root.find_element(By.NAME, name))
    option = next(option for option in select.options if text in option.text)
    select.select_by_visible_text(option.text)


def add_worker_run(driver, version_text, model_text):
    """Add a worker run with the process page's form: the version and model version whose option texts contain these."""
    from selenium.webdriver.common.by import By

    form = driver.find_element(By.ID, "add-worker-run")
    choose(driver, "worker_version_id", version_text, within=form)
    choose(driver, "model_version_id", model_text, within=form)
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
