"""The outbox against a server that fails, refuses, returns entries and forgets sessions
(issue 4, 5c and 5d; item 3's 401 and sign-out rules; item 4's returned entries)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from playwright.sync_api import BrowserContext, Page

from tests import hostile_images
from tests.browser.phone import (
    PhotoFile,
    capture,
    go_offline,
    listed,
    open_capture,
    open_entries,
    save,
    sign_in,
    translated,
    wait_listed,
)
from tests.browser.site import Site, wait_for
from tests.factories import PASSWORD
from webapp.models import Activity, ActivityKind, User


def one_row(site: Site, summary: str, photos: int = 0) -> Activity | None:
    rows = site.activities(summary)
    assert len(rows) <= 1, f"{summary!r} arrived {len(rows)} times"
    return rows[0] if rows and len(rows[0].photos) == photos else None


def test_c_server_errors_are_retried_with_nothing_lost_or_doubled(site: Site, page: Page) -> None:
    summary = f"c-{uuid.uuid4().hex[:8]}"
    sign_in(page)
    open_capture(page)
    pushes_before = len(site.controlled.requests("POST", "/api/v1/sync/push"))
    site.controlled.fail("POST", "/api/v1/sync/push", times=2, status=500)
    try:
        capture(
            page, summary, site.ids["kind"], (PhotoFile("c.jpg", hostile_images.oriented_jpeg(3)),)
        )
        activity = wait_for(lambda: one_row(site, summary, photos=1))
    finally:
        site.controlled.stop_failing()
    pushes = site.controlled.requests("POST", "/api/v1/sync/push")[pushes_before:]
    assert len(pushes) >= 3  # two refused, then the one that stored it
    assert activity.revision == 1
    open_entries(page)
    [entry] = wait_listed(page, 1, "sent")
    assert entry["id"] == str(activity.id)


def test_d_a_rejected_entry_shows_the_servers_reason_while_the_others_sync(
    site: Site, context: BrowserContext, page: Page
) -> None:
    tag = f"d-{uuid.uuid4().hex[:8]}"
    sign_in(page)
    open_capture(page)
    go_offline(page)
    capture(page, f"{tag} first", site.ids["kind"])
    capture(page, f"{tag} refused", site.ids["doomed_kind"])
    capture(page, f"{tag} third", site.ids["kind"])
    with site.writing() as session:  # retired while the phone was out of reach
        session.get(ActivityKind, site.ids["doomed_kind"]).active = False
    try:
        context.set_offline(False)
        wait_for(lambda: len(site.activities(tag)) == 2)
        open_entries(page)
        wait_listed(page, 1, "needs_attention")
        wait_listed(page, 2, "sent")
        sent = [e["text"] for e in listed(page) if e["state"] == "sent"]
        assert len(sent) == 2
        assert all(any(f"{tag} {which}" in text for text in sent) for which in ("first", "third"))
        [refused] = [e for e in listed(page) if e["state"] == "needs_attention"]
        reason = translated(site, "vi", "Unknown or inactive activity kind.")
        assert reason in refused["text"]
        assert translated(site, "vi", "Needs attention") in refused["text"]

        # Fix it: the retired kind is no longer offered, so choose another and send again.
        page.click(f"li[data-id='{refused['id']}'] a.button")
        page.wait_for_selector("#capture-form[data-ready=yes]", state="attached")
        assert reason in page.inner_text("#edit-reason")
        assert page.input_value("#kind_id") == ""
        page.select_option("#kind_id", str(site.ids["spare_kind"]))
        save(page)
        fixed = wait_for(lambda: one_row(site, f"{tag} refused"))
        assert str(fixed.id) == refused["id"] and fixed.kind_id == site.ids["spare_kind"]
    finally:
        with site.writing() as session:
            session.get(ActivityKind, site.ids["doomed_kind"]).active = True


def test_a_returned_entry_is_fixed_offline_and_resent_on_its_revision(
    site: Site, context: BrowserContext, page: Page
) -> None:
    summary = f"returned-{uuid.uuid4().hex[:8]}"
    note = "Bổ sung số hộ được thăm"
    sign_in(page)
    open_capture(page)
    capture(page, summary, site.ids["kind"])
    activity = wait_for(lambda: one_row(site, summary))
    with site.writing() as session:  # the secretary returns it with a reason
        row = session.get(Activity, activity.id)
        row.status, row.review_note = "returned", note
        row.reviewed_by_id, row.reviewed_at = site.ids["secretary_x"], datetime.now(UTC)

    open_entries(page)
    page.click("#sync-now")
    [returned] = wait_listed(page, 1, "returned")
    assert note in returned["text"]

    go_offline(page)
    page.click(f"li[data-id='{activity.id}'] a.button")
    page.wait_for_selector("#capture-form[data-ready=yes]", state="attached")
    assert note in page.inner_text("#edit-reason")
    assert page.locator('.appnav a[href="/capture"]').get_attribute("aria-current") is None
    page.fill("#households_reached", "7")
    said = save(page)
    assert said == translated(site, "vi", "Changes saved on this phone; they will be sent again.")
    open_entries(page)
    wait_listed(page, 1, "local")

    context.set_offline(False)
    wait_for(lambda: (row := one_row(site, summary)) and row.revision == 2 and row)
    [row] = site.activities(summary)
    assert (row.status, row.households_reached, row.id) == ("submitted", 7, activity.id)
    # The reason stays in the entry's history, not on the corrected entry.
    assert row.review_note is None
    open_entries(page)
    page.click("#sync-now")
    [resent] = wait_listed(page, 1, "sent")
    assert note not in resent["text"]
    wait_listed(page, 1, "sent")


def test_an_expired_sign_in_keeps_everything_and_asks_to_sign_in_again(
    site: Site, page: Page
) -> None:
    summary = f"401-{uuid.uuid4().hex[:8]}"
    sign_in(page, "canbo.dao")
    open_capture(page)
    # The server ends every session of this account (as a password change does): from now
    # on each request of the phone is answered 401, whatever cookie is in flight.
    with site.writing() as session:
        session.get(User, site.ids["cadre_expiring"]).session_epoch += 1
    capture(page, summary, site.ids["kind"])
    banner = page.locator("#auth-banner")
    banner.wait_for(state="visible")
    message = "Your sign-in has expired. Entries stay on this phone; sign in again to send them."
    assert translated(site, "vi", message) in banner.inner_text()
    assert site.activities(summary) == []
    open_entries(page)
    [kept] = wait_listed(page, 1, "local")
    assert summary in kept["text"]

    page.locator("#auth-banner").get_by_role("link").click()
    page.fill("#login", "canbo.dao")
    page.fill("#password", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url("**/entries")
    wait_for(lambda: one_row(site, summary))
    wait_listed(page, 1, "sent")
    assert page.locator("#auth-banner").is_hidden()


def test_photos_are_retried_one_by_one_and_a_409_needs_attention(site: Site, page: Page) -> None:
    tag = f"photos-{uuid.uuid4().hex[:8]}"
    sign_in(page)
    open_capture(page)
    site.controlled.fail("PUT", "/api/v1/photos/", times=1, status=503)
    try:
        photos = tuple(PhotoFile(f"{n}.jpg", hostile_images.oriented_jpeg(n)) for n in (1, 2))
        capture(page, f"{tag} retried", site.ids["kind"], photos)
        wait_for(lambda: one_row(site, f"{tag} retried", photos=2))  # the refused one resent

        # Every answer for this photo is 409 (a different photo holds its id on the server): the
        # answer a page never read because it navigated away must not decide the test.
        site.controlled.fail("PUT", "/api/v1/photos/", times=10**6, status=409)
        capture(page, f"{tag} clash", site.ids["kind"], (PhotoFile("3.jpg", photos[0].data),))
        open_entries(page)
        [clash] = [
            e for e in wait_listed(page, 1, "needs_attention") if f"{tag} clash" in e["text"]
        ]
        assert "injected by the test" in clash["text"]  # the server's own words
        assert translated(site, "vi", "Needs attention") in clash["text"]
    finally:
        site.controlled.stop_failing()
    row = one_row(site, f"{tag} clash")
    assert row is not None and row.photos_expected == 1  # the entry itself arrived
