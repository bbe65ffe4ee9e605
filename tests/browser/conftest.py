"""Browser tests: Playwright driving Debian's Chromium, headless, offline.

``playwright install`` cannot download browsers here, so the tests use the
system Chromium (``apt-get install chromium``) at CHROMIUM_PATH. Where it or
Playwright is missing the tests are skipped with the reason, unless
REQUIRE_BROWSER=1 (set by .ci/run), which turns the skip into a failure.
Screenshots of every page, at laptop and tablet widths, go to test-artifacts/.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
#: Viewport widths the pages are photographed at: a laptop and a tablet.
WIDTHS = {"laptop": 1366, "tablet": 820}
PASSWORD = "correct horse battery staple"  # tests.factories.make_user


def _missing() -> str | None:
    """Return why the browser tests cannot run here, or None if they can."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright is not installed (pip install -r requirements-dev.txt)"
    if not os.access(CHROMIUM, os.X_OK):
        return f"no Chromium at {CHROMIUM} (apt-get install chromium)"
    return None


@pytest.fixture(scope="session")
def browser(live_server):
    """Return a headless Chromium for the whole session.

    It depends on live_server so that it closes, with its connections, before
    the server stops: a request thread outliving the server would touch a
    database connection no longer shared with it.
    """
    reason = _missing()
    if reason:
        if os.environ.get("REQUIRE_BROWSER") == "1":
            pytest.fail(f"REQUIRE_BROWSER=1 but the browser tests cannot run: {reason}")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the ORM calls
    # the tests make between browser steps are still plain synchronous code.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


@pytest.fixture
def groups(transactional_db):
    """Create the registry's user groups (a flushed test database lacks them)."""
    from django.apps import apps

    # The migration's function marks each app as having no models while it
    # works (on the migration's own app registry); here it works on the real
    # one, so put the marks back, or every later flush would skip making the
    # permissions (and tests after these would find none).
    saved = {config.label: config.models_module for config in apps.get_app_configs()}
    try:
        importlib.import_module("registry.migrations.0002_groups").create_groups(
            apps, None
        )
    finally:
        for config in apps.get_app_configs():
            config.models_module = saved[config.label]


class Screens:
    """Save a full-page screenshot of a page at each width in WIDTHS."""

    def __init__(self, test_name: str):
        self.prefix = test_name
        self.count = 0

    def __call__(self, page, name: str) -> None:
        self.count += 1
        for label, width in WIDTHS.items():
            page.set_viewport_size({"width": width, "height": 900})
            path = ARTIFACTS / f"{self.prefix}-{self.count:02d}-{name}-{label}.png"
            page.screenshot(path=str(path), full_page=True)
        page.set_viewport_size({"width": WIDTHS["laptop"], "height": 900})


@pytest.fixture
def screenshot(request):
    """Return a function saving screenshots of a page as test artifacts."""
    return Screens(request.node.name.removeprefix("test_"))


@pytest.fixture
def log_in(browser, live_server):
    """Return a function opening a page logged in as a user, in its own context.

    The contexts (one per user, like two people at two computers) are closed
    when the test ends.
    """
    contexts = []

    def open_page(username: str):
        context = browser.new_context(
            viewport={"width": WIDTHS["laptop"], "height": 900}
        )
        contexts.append(context)
        page = context.new_page()
        page.goto(f"{live_server.url}/accounts/login/")
        page.get_by_label("Username").fill(username)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url(f"{live_server.url}/")
        return page

    yield open_page
    for context in contexts:
        context.close()
