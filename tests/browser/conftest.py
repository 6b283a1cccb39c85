"""Browser tests: the real app on a real HTTP server, driven by headless Chromium.

One app and one SQLite file serve the whole session (tests tell their data apart by unique
summaries); each test gets a fresh browser context, so its own empty IndexedDB, caches and
service worker. Debian's Chromium is used (Playwright cannot download its own browser here);
without it the tests are skipped, except under CI=true where that is a failure.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright

from tests.browser.site import Site, build_site

CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
IN_CI = os.environ.get("CI", "").lower() == "true"
PHONE = {"width": 360, "height": 740}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "no_service_worker: the page runs without its service worker (tests that only look at"
        " the pages online skip installing and precaching the shell, which takes a while)",
    )


def context_options(site: Site, lang: str = "vi", worker: bool = True) -> dict[str, object]:
    return {
        "base_url": site.url,
        "viewport": PHONE,
        "device_scale_factor": 1,
        "is_mobile": True,
        "has_touch": True,
        "locale": "vi-VN" if lang == "vi" else "en-GB",
        "timezone_id": "Asia/Ho_Chi_Minh",
        "service_workers": "allow" if worker else "block",
        "accept_downloads": True,
    }


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    with build_site(tmp_path_factory.mktemp("browser")) as running:
        yield running


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    if not Path(CHROMIUM).exists():
        message = f"Chromium not found at {CHROMIUM} (apt-get install chromium)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@pytest.fixture
def context(
    browser: Browser, site: Site, request: pytest.FixtureRequest
) -> Iterator[BrowserContext]:
    worker = request.node.get_closest_marker("no_service_worker") is None
    context = browser.new_context(**context_options(site, worker=worker))
    context.set_default_timeout(15_000)
    yield context
    context.close()


@pytest.fixture
def page(context: BrowserContext) -> Iterator[Page]:
    """A page that fails the test on any uncaught JavaScript error."""
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    assert errors == [], f"uncaught errors in the page: {errors}"
