"""Fixtures for the real-browser tests: Debian's Chromium, guarded pages, a live demo server.

Whether they run is decided by ``KB_TEST_BROWSER``, the path of the Chromium
to drive (CI's SQLite pass sets ``/usr/bin/chromium`` after installing the
packages chromium and fonts-noto-cjk and running ``npm ci`` in this folder
for axe-core):

- set: the tests run; a browser that is missing or does not start, or a
  missing axe-core, fails them. Never a skip.
- not set, ``KB_TEST_DATABASE_URL`` set (CI's PostgreSQL pass): the tests
  are deselected. They always build their own SQLite instance, so a second
  pass would only repeat them.
- not set, ``CI`` set: the run stops at collection; CI must run them.
- not set, local run: they are skipped, with the reason and how to run them.

Every page a test opens is guarded: a request to any host but 127.0.0.1 is
blocked and recorded (``offsite_requests``), a 5xx answer fails the test,
and when the test fails a full-page screenshot of each of its pages is saved
in ``test-artifacts/``.
"""

from __future__ import annotations

import os
import re

import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import sync_playwright

from kb.extensions import db
from kb.services.demo import demo_accounts, load_demo

from .support import ARTIFACTS, build_app, served

BROWSER_ENV = "KB_TEST_BROWSER"
# As the machine notes give them: without the background-networking flags
# Chromium keeps trying to reach Google's hosts from this closed network.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
]
# Any URL not on 127.0.0.1 (the pattern is matched by Playwright itself, so
# requests to the test server do not make a round trip through Python).
OFFSITE_URL = re.compile(r"^(?!https?://127\.0\.0\.1(?::\d+)?(?:[/?#]|$))")
ANY_URL = re.compile(r"")
REPORTS = pytest.StashKey[dict]()

_HOW_TO_RUN = (
    f"set {BROWSER_ENV}=/usr/bin/chromium to run them (apt-get install chromium fonts-noto-cjk; "
    "npm ci in tests/browser)"
)


def pytest_collection_modifyitems(config, items):
    """Deselect, skip or refuse the browser tests when no browser is named (see above)."""
    if os.environ.get(BROWSER_ENV):
        return
    browser_tests = [item for item in items if item.get_closest_marker("browser")]
    if not browser_tests:
        return
    if os.environ.get("KB_TEST_DATABASE_URL"):
        config.hook.pytest_deselected(items=browser_tests)
        items[:] = [item for item in items if not item.get_closest_marker("browser")]
    elif os.environ.get("CI"):
        pytest.exit(f"CI must run the browser tests, but {BROWSER_ENV} is not set.", returncode=4)
    else:
        skip = pytest.mark.skip(reason=f"real-browser test: {_HOW_TO_RUN}")
        for item in browser_tests:
            item.add_marker(skip)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the item, so fixtures know whether the test failed."""
    report = yield
    item.stash.setdefault(REPORTS, {})[report.when] = report
    return report


def _failed(item) -> bool:
    reports = item.stash.get(REPORTS, {})
    return any(report.failed for report in reports.values())


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium (``KB_TEST_BROWSER``), headless, for the whole session."""
    executable = os.environ.get(BROWSER_ENV, "")
    if not (os.path.isfile(executable) and os.access(executable, os.X_OK)):
        pytest.fail(f"{BROWSER_ENV}={executable!r} is not an executable file; {_HOW_TO_RUN}.")
    with sync_playwright() as playwright:
        try:
            chromium = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        except PlaywrightError as error:
            pytest.fail(f"Chromium at {executable} did not start: {error}")
        yield chromium
        chromium.close()


@pytest.fixture
def offsite_requests() -> list[str]:
    """URLs the test's pages tried to load from hosts other than 127.0.0.1 (all blocked)."""
    return []


@pytest.fixture
def new_page(browser, request, offsite_requests):
    """Open a guarded page, each in its own browser context (its own cookies).

    ``new_page(bypass_csp=True)`` ignores kb's Content-Security-Policy, for
    tests that inject a script (axe-core) or that must see what the markup
    alone would do (the XSS tests).
    """
    contexts = []
    server_errors: list[str] = []

    def block(route) -> None:
        offsite_requests.append(route.request.url)
        route.abort("blockedbyclient")

    def block_socket(socket) -> None:
        offsite_requests.append(socket.url)
        socket.close()

    def record_server_error(response) -> None:
        if response.status >= 500:
            server_errors.append(f"{response.status} {response.request.method} {response.url}")

    def make(*, bypass_csp: bool = False):
        context = browser.new_context(
            bypass_csp=bypass_csp, service_workers="block", locale="en-GB",
            viewport={"width": 1280, "height": 900},
        )
        contexts.append(context)
        context.set_default_timeout(15_000)
        context.route(OFFSITE_URL, block)
        context.route_web_socket(ANY_URL, block_socket)
        page = context.new_page()
        page.on("response", record_server_error)
        return page

    yield make
    if _failed(request.node):
        _save_screenshots(request.node.nodeid, [p for c in contexts for p in c.pages])
    for context in contexts:
        context.close()
    if server_errors and not _failed(request.node):
        pytest.fail("the server answered with an error:\n" + "\n".join(server_errors))


def _save_screenshots(nodeid: str, pages) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    stem = re.sub(r"[^\w.-]+", "_", nodeid).strip("_")
    for number, page in enumerate(pages, start=1):
        path = ARTIFACTS / f"{stem}-{number}.png"
        try:
            page.screenshot(path=path, full_page=True, timeout=10_000)
        except PlaywrightError as error:  # a crashed page must not hide the test's own failure
            print(f"no screenshot of {page.url}: {error}")
        else:
            print(f"screenshot of {page.url}: {path}")


@pytest.fixture
def page(new_page):
    """A guarded page with kb's Content-Security-Policy in force."""
    return new_page()


@pytest.fixture(scope="session")
def demo_server(tmp_path_factory):
    """A live kb loaded with the demo network (11 cities, CJK case studies included)."""
    app = build_app(tmp_path_factory.mktemp("demo-instance"))
    with app.app_context():
        load_demo()
        db.session.commit()
    with served(app) as server:
        yield server


@pytest.fixture(scope="session")
def demo_logins() -> dict:
    """The demo accounts by role value: ``demo_logins["member"].email`` and ``.password``."""
    return {account.role.value: account for account in demo_accounts()}
