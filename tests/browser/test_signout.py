"""Signing out on a shared phone, with or without a signal (issue 12, items 1 and 2): the dialog
shows only the buttons that apply, the phone forgets the user at once, and the server ends the
session at the next connection, so a copy of the cookie stops working too."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from typing import Any

from playwright.sync_api import BrowserContext, Page

from tests import hostile_images
from tests.browser.axe import serious_violations
from tests.browser.phone import (
    PhotoFile,
    capture,
    log_sent_then_unsent,
    open_capture,
    open_entries,
    save,
    sign_in_with_form,
    sign_out_keeping_a_copy,
    translated,
    wait_listed,
)
from tests.browser.site import Site, wait_for
from webapp.models import Activity

PHONE_STATE_JS = """
async () => {
  const db = await new Promise((resolve, reject) => {
    const request = indexedDB.open('nhatky-coso');
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
  const ask = (store, how, key) => new Promise((resolve, reject) => {
    const request = db.transaction(store).objectStore(store)[how](key);
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
  const state = {
    session: await ask('meta', 'get', 'session'),
    pending: await ask('meta', 'get', 'signout_pending'),
    entries: (await ask('entries', 'getAll')).map((e) => ({ summary: e.summary })),
    references: await ask('reference', 'getAllKeys'),
  };
  db.close();
  return state;
}
"""


def phone_state(page: Page) -> dict[str, Any]:
    return page.evaluate(PHONE_STATE_JS)


def session_cookie(context: BrowserContext) -> str:
    [cookie] = [c for c in context.cookies() if c["name"] == "nhatky_session"]
    return cookie["value"]


def server_says(site: Site, cookie: str) -> int:
    """GET /api/v1/session with a copy of the phone's cookie, from elsewhere."""
    client = site.app.test_client()
    client.set_cookie("nhatky_session", cookie)
    return client.get("/api/v1/session").status_code


def test_the_sign_out_dialog_offers_sign_out_only_after_a_download(
    site: Site, page: Page, tmp_path: Path
) -> None:
    summary = f"guard-{uuid.uuid4().hex[:8]}"
    sign_in_with_form(page, "canbo.hoa")
    open_capture(page)
    site.controlled.fail("POST", "/api/v1/sync/push", times=10**6, status=503)
    try:
        photo = PhotoFile("keep.jpg", hostile_images.oriented_jpeg(1))
        capture(page, summary, site.ids["kind"], (photo,))
        page.click("form[data-signout] button")
        dialog = page.locator("#signout-dialog")
        dialog.wait_for(state="visible")
        assert page.locator("#signout-export").is_visible()
        assert page.locator("#signout-cancel").is_visible()
        assert page.locator("#signout-anyway").is_hidden()  # not before a copy is safe
        page.click("#signout-cancel")
        dialog.wait_for(state="hidden")
        assert page.url.endswith("/capture")  # still signed in

        page.click("form[data-signout] button")
        dialog.wait_for(state="visible")
        assert page.locator("#signout-anyway").is_hidden()
        with page.expect_download() as download_info:
            page.click("#signout-export")
        exported = json.loads(Path(download_info.value.path()).read_text())
        [entry] = exported["entries"]
        assert entry["summary"] == summary and entry["state"] in ("local", "sending")
        assert entry["photos"][0]["data_url"].startswith("data:image/jpeg;base64,")
        page.locator("#signout-anyway").wait_for(state="visible")
        page.click("#signout-anyway")
        page.wait_for_url("**/login?signed_out=1")
        notice = page.locator("#signin-notice")
        notice.wait_for(state="visible")
        assert notice.inner_text() == translated(site, "vi", "You have signed out.")
    finally:
        site.controlled.stop_failing()
    assert site.activities(summary) == []


def test_download_unsent_shows_only_while_something_is_unsent(
    site: Site, context: BrowserContext, page: Page
) -> None:
    tag = f"export-{uuid.uuid4().hex[:8]}"
    sign_in_with_form(page, "canbo.hoa")
    log_sent_then_unsent(page, site, tag)
    open_entries(page)
    wait_listed(page, 1, "local")
    page.locator("#export-unsent").wait_for(state="visible")
    context.set_offline(False)
    page.click("#sync-now")
    wait_listed(page, 2, "sent")
    page.wait_for_selector("#sync-status[data-state=done]", state="attached")
    assert page.locator("#export-unsent").is_hidden()


def test_sign_out_offline_forgets_the_user_at_once_and_ends_the_session_at_the_next_connection(
    site: Site, context: BrowserContext, page: Page
) -> None:
    tag = f"shared-{uuid.uuid4().hex[:8]}"
    sign_in_with_form(page, "canbo.chung")
    log_sent_then_unsent(page, site, tag)
    cookie = session_cookie(context)
    sign_out_keeping_a_copy(page)  # with no signal; one entry is unsent
    # The sign-in page, from the phone's copy of the app.
    assert page.inner_text("h1") == translated(site, "vi", "Sign in")
    offline_note = translated(
        site,
        "vi",
        "No connection: sign in when the phone is back online. Entries waiting on this "
        "phone stay on it.",
    )
    assert page.inner_text("#signin-notice") == offline_note
    assert page.locator("form[data-signout]").count() == 0  # nobody is shown as signed in
    state = phone_state(page)
    assert state["session"] is None
    assert state["pending"]["user_id"] == site.ids["cadre_shared"]
    # Forgotten: the lists and what the server already holds; kept: what it does not.
    assert [e["summary"] for e in state["entries"]] == [f"{tag} kept"]
    assert not [key for key in state["references"] if key.endswith(f":{site.ids['cadre_shared']}")]
    # Any page opened before the phone is back online is the sign-in page.
    page.goto("/capture")
    assert page.inner_text("h1") == translated(site, "vi", "Sign in")
    assert server_says(site, cookie) == 200  # the server has not heard of it yet

    context.set_offline(False)
    page.goto("/")
    page.wait_for_url(re.compile(r"/login"))  # the old session is over before any page loads
    wait_for(lambda: server_says(site, cookie) == 401)  # a copy of the cookie is useless too
    assert phone_state(page)["pending"] is None
    assert serious_violations(page) == []  # the sign-in page (axe needs the network)

    # The next cadre on this phone sees nothing of the previous one's.
    sign_in_with_form(page, "canbo.hoa")
    open_entries(page)
    assert f"{tag}" not in page.inner_text("#entries")
    page.click("form[data-signout] button")
    page.wait_for_url("**/login?signed_out=1")

    # The first cadre comes back: the entry kept on the phone goes out, once.
    sign_in_with_form(page, "canbo.chung")
    open_entries(page)
    wait_for(lambda: site.activities(f"{tag} kept"))
    [kept] = wait_listed(page, 1, "sent")
    assert f"{tag} kept" in kept["text"]
    assert len(site.activities(f"{tag} kept")) == 1
    assert len(site.activities(f"{tag} sent")) == 1


def test_a_returned_entry_comes_back_after_signing_out_and_in_and_is_fixed(
    site: Site, page: Page
) -> None:
    summary = f"back-{uuid.uuid4().hex[:8]}"
    note = "Ghi rõ số hộ được thăm"
    sign_in_with_form(page, "canbo.chung")
    open_capture(page)
    capture(page, summary, site.ids["kind"])
    [row] = wait_for(lambda: site.activities(summary))
    with site.writing() as session:
        returned = session.get(Activity, row.id)
        returned.status, returned.review_note = "returned", note
    page.click("form[data-signout] button")  # nothing unsent: no dialog
    page.wait_for_url("**/login?signed_out=1")
    assert [e["summary"] for e in phone_state(page)["entries"]] == []  # forgotten

    sign_in_with_form(page, "canbo.chung")
    open_entries(page)
    page.click("#sync-now")
    [back] = wait_listed(page, 1, "returned")
    assert note in back["text"] and summary in back["text"]
    page.click(f"li[data-id='{row.id}'] a.button")
    page.wait_for_selector("#capture-form[data-ready=yes]", state="attached")
    assert page.input_value("#summary") == summary
    page.fill("#households_reached", "9")
    save(page)
    fixed = wait_for(lambda: [a for a in site.activities(summary) if a.revision == 2])
    assert (fixed[0].status, fixed[0].households_reached) == ("submitted", 9)


def test_a_server_page_signs_out_whoever_the_server_says_even_if_the_phone_thinks_otherwise(
    site: Site, context: BrowserContext, page: Page
) -> None:
    sign_in_with_form(page, "canbo.hoa")
    # The phone's idea of who is signed in is stale (another person used it before).
    page.evaluate(
        """async (userId) => {
          const request = indexedDB.open('nhatky-coso');
          const db = await new Promise((resolve) => {
            request.onsuccess = () => resolve(request.result);
          });
          const tx = db.transaction('meta', 'readwrite');
          tx.objectStore('meta').put({ id: userId, full_name: 'Người khác' }, 'session');
          await new Promise((resolve) => { tx.oncomplete = resolve; });
          db.close();
        }""",
        site.ids["cadre_shared"],
    )
    cookie = session_cookie(context)
    page.click("form[data-signout] button")
    page.wait_for_url("**/login?signed_out=1")
    assert server_says(site, cookie) == 401  # hoa's own session ended
    assert phone_state(page)["pending"] is None


def test_a_sync_answer_that_arrives_after_signing_out_is_not_written_back(
    site: Site, context: BrowserContext, page: Page
) -> None:
    """The sync engine had asked who is signed in; the answer comes after the sign-out."""
    sign_in_with_form(page, "canbo.chung")
    open_entries(page)
    page.wait_for_selector("#sync-status[data-state=done]", state="attached")
    release = site.controlled.hold("GET", "/api/v1/session")
    try:
        page.click("#sync-now")  # its first request now waits for its answer
        other = context.new_page()
        other.goto("/")
        other.click("form[data-signout] button")
        other.wait_for_url("**/login?signed_out=1")
    finally:
        release.set()
    page.wait_for_function(
        "() => !['syncing', 'idle'].includes(document.getElementById('sync-status').dataset.state)"
    )
    state = phone_state(other)
    assert state["session"] is None
    assert not [key for key in state["references"] if key.endswith(f":{site.ids['cadre_shared']}")]
