"""The Prefect UI as a person opens it: headless Chromium (Debian's chromium and chromium-driver, installed
here when missing) finds the drift deployment and the drift report artifact on a real `prefect server start`.

Screenshots go to $ACKFLOW_TEST_OUTPUT (default: the test's tmp folder); their paths are printed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

from flows.drift import REPORT_ARTIFACT
from tasks.kube_tables import ensure_crd
from tests.integration.prefect_server import client, prefect_server, run, serving
from tests.integration.tables import Cluster, manifest, simple_spec, unique

pytestmark = pytest.mark.integration
CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
# No display, no outside network: nothing of Chromium's may try to reach one.
CHROMIUM_FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--window-size=1440,1000"]
PAGE_SECONDS = 60


@pytest.fixture(scope="session")
def chromium() -> tuple[Path, Path]:
    """Debian's chromium and chromium-driver, installed once when missing; never skipped."""
    if CHROMIUM.exists() and CHROMEDRIVER.exists():
        return CHROMIUM, CHROMEDRIVER
    apt = shutil.which("apt-get")
    if apt is None:
        pytest.fail("the browser test needs Debian's chromium and chromium-driver, and apt-get is not available "
                    "to install them: install both packages first")
    sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]
    install = [*sudo, apt, "install", "-y", "chromium", "chromium-driver"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    done = subprocess.run(install, capture_output=True, text=True, env=env, timeout=900)
    if done.returncode != 0:  # stale package lists: refresh them once
        subprocess.run([*sudo, apt, "update"], capture_output=True, text=True, env=env, timeout=600)
        done = subprocess.run(install, capture_output=True, text=True, env=env, timeout=900)
    if done.returncode != 0 or not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.fail(f"apt-get install chromium chromium-driver failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return CHROMIUM, CHROMEDRIVER


@pytest.fixture(scope="module")
def ui_server(tmp_path_factory, sandbox, target) -> tuple[str, str]:
    """A server with the served deployments and one completed drift run over a namespace of its own (so a
    drift report to show); yields the API URL and that namespace."""
    home = tmp_path_factory.mktemp("prefect-home-ui")
    ensure_crd.fn(target)
    cluster = Cluster(target)
    namespace = unique("ui")
    cluster.core.create_namespace({"metadata": {"name": namespace}})
    cluster.api.create_namespaced_custom_object("dynamodb.services.k8s.aws", "v1alpha1", namespace, "tables",
                                                manifest("orders", simple_spec(unique("orders")), namespace))
    with prefect_server(home) as url, serving(url, home, sandbox.environ()):
        run(url, "reconcile/reconcile", namespace=namespace)
        run(url, "drift/drift", namespace=namespace)
        yield url, namespace


@pytest.fixture
def browser(chromium, tmp_path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    binary, driver = chromium
    options = webdriver.ChromeOptions()
    options.binary_location = str(binary)
    for flag in [*CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'chromium-profile'}"]:
        options.add_argument(flag)
    chrome = webdriver.Chrome(service=Service(executable_path=str(driver)), options=options)
    chrome.set_page_load_timeout(PAGE_SECONDS)
    try:
        yield chrome
    finally:
        chrome.quit()


@pytest.fixture
def output(tmp_path) -> Path:
    folder = Path(os.environ.get("ACKFLOW_TEST_OUTPUT") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _ui(api_url: str) -> str:
    return api_url.removesuffix("/api")


def _shows(chrome, output: Path, css: str, text: str = ""):
    """Wait until an element matching `css` (and containing `text`) is shown; returns it. On a timeout, the
    page is kept as output/failed.png."""
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    def found(driver):
        return next((e for e in driver.find_elements(By.CSS_SELECTOR, css) if e.is_displayed() and text in e.text),
                    False)

    try:
        return WebDriverWait(chrome, PAGE_SECONDS, poll_frequency=0.5).until(found)
    except TimeoutException:
        raise AssertionError(f"no {css!r} showing {text!r} on {chrome.current_url}; see "
                             f"{_screenshot(chrome, output, 'failed')}") from None


def _screenshot(chrome, output: Path, name: str) -> Path:
    path = output / f"{name}.png"
    assert chrome.save_screenshot(str(path)), path
    print(f"screenshot: {path}")
    return path


def test_the_ui_lists_the_drift_deployment_and_its_schedule(ui_server, browser, output):
    url, _ = ui_server
    with client(url) as prefect:
        drift = prefect.read_deployment_by_name("drift/drift")
    browser.get(f"{_ui(url)}/deployments")
    link = _shows(browser, output, f"a[href$='/deployments/deployment/{drift.id}']", "drift")
    _screenshot(browser, output, "deployments")
    link.click()
    _shows(browser, output, "body", "Every 10 hours")
    _screenshot(browser, output, "drift-deployment")


def test_the_ui_shows_the_drift_report_artifact(ui_server, browser, output):
    url, namespace = ui_server
    with client(url) as prefect:
        [report] = prefect.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[REPORT_ARTIFACT])))
    browser.get(f"{_ui(url)}/artifacts")
    _shows(browser, output, f"a[href$='/artifacts/key/{REPORT_ARTIFACT}']", REPORT_ARTIFACT)
    _screenshot(browser, output, "artifacts")
    browser.get(f"{_ui(url)}/artifacts/artifact/{report.id}")
    row = _shows(browser, output, "table", namespace)  # the report's row for the Table resource
    assert "IN_SYNC" in row.text
    _screenshot(browser, output, "drift-report")
