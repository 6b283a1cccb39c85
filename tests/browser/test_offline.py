"""No signal for a while, then a connection: nothing lost, nothing doubled (issue 4, 5b and 5e)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import BrowserContext, Page, Playwright

from tests import hostile_images
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, context_options
from tests.browser.phone import (
    PhotoFile,
    capture,
    go_offline,
    open_capture,
    open_entries,
    sign_in,
    translated,
    wait_for_worker,
    wait_listed,
)
from tests.browser.site import Site, wait_for


@contextmanager
def phone_browser(
    playwright: Playwright, site: Site, profile: Path, offline: bool = False
) -> Iterator[BrowserContext]:
    """A browser with a profile on disk: closing it is closing Chrome on the phone."""
    context = playwright.chromium.launch_persistent_context(
        str(profile),
        executable_path=CHROMIUM,
        args=CHROMIUM_ARGS,
        offline=offline,  # from the first moment, so Background Sync cannot jump the gun
        **context_options(site),
    )
    context.set_default_timeout(15_000)
    try:
        yield context
    finally:
        context.close()


def watched(page: Page, errors: list[str]) -> Page:
    page.on("pageerror", lambda error: errors.append(str(error)))
    return page


def arrived_once(site: Site, tag: str, count: int, photos_each: int):
    """All `count` entries are on the server, one row each, with all their photos."""
    rows = site.activities(tag)
    summaries = [row.summary for row in rows]
    assert len(summaries) == len(set(summaries)), f"an entry arrived twice: {summaries}"
    complete = [row for row in rows if len(row.photos) == photos_each]
    return rows if len(complete) == count else None


def test_b_offline_capture_survives_closing_the_browser_and_arrives_once(
    site: Site, playwright: Playwright, tmp_path: Path
) -> None:
    tag = f"b-{uuid.uuid4().hex[:8]}"
    errors: list[str] = []
    profile = tmp_path / "profile"
    with phone_browser(playwright, site, profile) as browser:
        page = watched(browser.new_page(), errors)
        sign_in(page)
        open_capture(page)  # the first signed-in visit: shell precached, lists on the phone
        wait_for_worker(page)

        browser.set_offline(True)
        quiet_from = site.controlled.mark()
        page.reload()
        open_capture(page)  # the app shell loads with no network
        page.goto("/")  # a page that needs the server: the offline page instead of an error
        assert page.inner_text("h1") == translated(site, "vi", "No connection")
        open_capture(page)
        for number in range(3):
            photo = PhotoFile(f"visit-{number}.jpg", hostile_images.oriented_jpeg(number + 1))
            said = capture(page, f"{tag} entry {number}", site.ids["kind"], (photo,))
            assert said == translated(site, "vi", "Saved on this phone")
        page.close()

        page = watched(browser.new_page(), errors)
        open_entries(page)
        assert {e["state"] for e in wait_listed(page, 3)} == {"local"}

    # Chrome is closed; nothing reached the server while the phone was offline.
    assert site.controlled.since(quiet_from) == []
    assert site.activities(tag) == []

    with phone_browser(playwright, site, profile, offline=True) as browser:
        page = watched(browser.new_page(), errors)
        open_capture(page)  # cold start, no network
        open_entries(page)
        # All three are there. Chrome may already have sent them through Background Sync as
        # it started (its service worker can run before the test's offline switch reaches
        # it, like a phone that finds a signal on start): "local" or "sent", never gone.
        listed_again = wait_listed(page, 3)
        assert all(tag in e["text"] and e["state"] in ("local", "sent") for e in listed_again)

        browser.set_offline(False)
        rows = wait_for(lambda: arrived_once(site, tag, 3, photos_each=1))
        assert sorted(str(row.id) for row in rows) == sorted(e["id"] for e in listed_again)
        assert all(row.photos_expected == 1 for row in rows)
        wait_listed(page, 3, "sent")
    assert errors == []


def test_e_a_new_version_deployed_while_entries_wait_loses_nothing(
    site: Site, context: BrowserContext, page: Page
) -> None:
    tag = f"e-{uuid.uuid4().hex[:8]}"
    sign_in(page)
    open_capture(page)
    old_version = page.get_attribute("meta[name=shell-version]", "content")

    go_offline(page)
    for number in range(2):
        capture(page, f"{tag} entry {number}", site.ids["kind"])

    # Deploy: a new process with a new shell, while the server cannot take entries yet.
    site.controlled.fail("POST", "/api/v1/sync/push", times=10**6, status=503)
    site.controlled.deploy(site.new_app(SHELL_VERSION="deploy-2"))
    try:
        context.set_offline(False)
        banner = page.locator("#update-banner")
        banner.wait_for(state="visible")
        assert translated(site, "vi", "A new version is available.") in banner.inner_text()

        page.click("#update-button")  # the new worker takes over and the page reloads once
        page.wait_for_function(
            "() => document.querySelector('meta[name=shell-version]')?.content === 'deploy-2'"
        )
        page.wait_for_selector("#capture-form[data-ready=yes]", state="attached")
        assert page.evaluate("caches.keys()") == ["shell-deploy-2"]
        assert old_version != "deploy-2"

        open_entries(page)
        waiting = wait_listed(page, 2)
        assert {e["state"] for e in waiting} <= {"local", "sending"}
        assert site.activities(tag) == []

        site.controlled.stop_failing()
        page.click("#sync-now")
        wait_for(lambda: arrived_once(site, tag, 2, photos_each=0))
        wait_listed(page, 2, "sent")
    finally:
        site.controlled.stop_failing()
        site.controlled.deploy(site.app)
