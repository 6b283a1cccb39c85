"""Issue 5's loop in two browsers: the cadre's phone and the secretary's review pages."""

from __future__ import annotations

import uuid

from playwright.sync_api import Browser, BrowserContext, Page

from tests.browser.conftest import context_options
from tests.browser.phone import (
    capture,
    go_offline,
    open_capture,
    open_entries,
    save,
    sign_in,
    wait_listed,
)
from tests.browser.site import Site, wait_for


def _secretary(browser: Browser, site: Site) -> tuple[BrowserContext, Page]:
    context = browser.new_context(**context_options(site, worker=False))
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.goto("/login")
    page.fill("#login", "bithu.x")
    page.fill("#password", "mat-khau-thu-nghiem")
    page.click("main button[type=submit]")
    page.wait_for_url("**/")
    return context, page


def test_log_offline_return_fix_resend_confirm(
    site: Site, browser: Browser, context: BrowserContext, page: Page
) -> None:
    summary = f"loop-{uuid.uuid4().hex[:8]}"
    reason = "Ghi rõ số hộ đã thăm"
    sign_in(page)
    open_capture(page)
    go_offline(page)
    capture(page, summary, site.ids["kind"])
    context.set_offline(False)
    activity = wait_for(lambda: (rows := site.activities(summary)) and rows[0])

    office, desk = _secretary(browser, site)
    try:
        desk.goto(f"/review/{activity.id}")
        desk.fill("textarea[name=reason_text]", reason)
        desk.click("form[action$='/return'] button[type=submit]")
        desk.wait_for_selector(".flash-info")
        assert wait_for(lambda: site.activities(summary)[0].status == "returned")

        open_entries(page)
        page.click("#sync-now")
        [returned] = wait_listed(page, 1, "returned")
        assert reason in returned["text"]

        go_offline(page)
        page.click(f"li[data-id='{activity.id}'] a.button")
        page.wait_for_selector("#capture-form[data-ready=yes]", state="attached")
        page.fill("#households_reached", "9")
        save(page)
        context.set_offline(False)
        fixed = wait_for(lambda: (row := site.activities(summary)[0]).revision == 2 and row)
        assert (fixed.status, fixed.households_reached) == ("submitted", 9)

        desk.goto(f"/review/{activity.id}")
        desk.click("form[action$='/confirm'] button[type=submit]")
        desk.wait_for_selector(".flash-info")
        assert wait_for(lambda: site.activities(summary)[0].status == "confirmed")
        history = desk.inner_text(".history")
        assert reason in history

        open_entries(page)
        page.click("#sync-now")
        wait_listed(page, 1, "confirmed")
    finally:
        office.close()
