"""Capturing entries online, and what the form does with bad input (issue 4, 5a and "Bad input")."""

from __future__ import annotations

import io
import uuid

import pytest
from PIL import Image
from playwright.sync_api import Page

from tests import hostile_images
from tests.browser.phone import (
    PhotoFile,
    capture,
    fill_entry,
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
from webapp.photos.services import storage


def stored_bytes(site: Site, key: str) -> bytes:
    with site.app.app_context():
        return storage().get(key)


def assert_no_metadata(data: bytes) -> None:
    image = Image.open(io.BytesIO(data))
    assert not image.getexif(), "EXIF survived"
    for key in ("exif", "xmp", "XML:com.adobe.xmp", "comment", "icc_profile"):
        assert key not in image.info, f"{key} survived"
    assert hostile_images.SERIAL.encode() not in data
    assert b"GPS" not in data


def test_a_online_capture_with_two_photos_reaches_the_server_once_without_exif(
    site: Site, page: Page
) -> None:
    summary = f"a-{uuid.uuid4().hex[:8]} Thăm hỏi gia đình ông Ma Văn Sáng"
    photos = (
        PhotoFile("gps.jpg", hostile_images.gps_serial_jpeg()),
        PhotoFile("sideways.jpg", hostile_images.oriented_jpeg(6)),
    )
    sign_in(page)
    open_capture(page)
    said = capture(page, summary, site.ids["kind"], photos)
    assert said == translated(site, "vi", "Saved on this phone")

    def arrived():
        rows = site.activities(summary)
        return rows if rows and len(rows[0].photos) == 2 else None

    [activity] = wait_for(arrived)
    assert activity.photos_expected == 2
    assert activity.people_reached == 5 and activity.households_reached == 2
    assert [p.member_id for p in activity.participations] == [site.ids["member_an"]]
    assert activity.division_code == "02266"  # the cell's commune, defaulted
    # Both display as 160×120 with red top left: the phone turned the orientation-6 photo
    # upright before re-encoding it without its EXIF (which carried the orientation).
    for photo in activity.photos:
        assert (photo.width, photo.height) == (160, 120)
        display = stored_bytes(site, photo.display_key)
        assert_no_metadata(display)
        assert_no_metadata(stored_bytes(site, photo.thumb_key))
        red, green, blue = Image.open(io.BytesIO(display)).convert("RGB").getpixel((20, 20))
        assert red > 200 and green < 60 and blue < 60

    open_entries(page)
    [entry] = wait_listed(page, 1, "sent")
    assert entry["id"] == str(activity.id)
    assert summary in entry["text"]


@pytest.mark.no_service_worker
def test_required_fields_are_named_in_the_users_language_and_nothing_is_saved(
    site: Site, page: Page
) -> None:
    sign_in(page)
    open_capture(page)
    page.fill("#occurred_on", "")
    save(page, expect="invalid")
    summary = page.locator("#error-summary")
    assert summary.is_visible()
    assert page.evaluate("document.activeElement.id") == "error-summary"
    text = summary.inner_text()
    for message in (
        "Choose the kind of activity.",
        "Enter the date of the activity.",
        "Write a short summary.",
    ):
        assert translated(site, "vi", message) in text
        field_error = page.locator(
            ".field-error:not([hidden])", has_text=translated(site, "vi", message)
        )
        assert field_error.count() == 1
    assert page.get_attribute("#kind_id", "aria-invalid") == "true"
    open_entries(page)
    assert listed(page) == []


@pytest.mark.no_service_worker
def test_a_photo_the_browser_cannot_decode_is_skipped_and_named(site: Site, page: Page) -> None:
    summary = f"skip-{uuid.uuid4().hex[:8]}"
    photos = (
        PhotoFile("good.jpg", hostile_images.oriented_jpeg(1)),
        PhotoFile("broken.jpg", b"this is not a photo at all" * 100),
    )
    sign_in(page)
    open_capture(page)
    said = capture(page, summary, site.ids["kind"], photos)
    assert said == translated(
        site, "vi", "Saved on this phone, without these photos: %(names)s", names="broken.jpg"
    )
    [activity] = wait_for(lambda: [a for a in site.activities(summary) if len(a.photos) == 1])
    assert activity.photos_expected == 1


# Chromium's CDP quota override (Storage.overrideQuotaForOrigin) does not reach IndexedDB in
# this build, so the test makes the browser's own failure happen: the transaction that stores
# the photo aborts at commit with a QuotaExceededError, as it does on a full phone.
SIMULATE_FULL_DISK = """
(() => {
  const put = IDBObjectStore.prototype.put;
  IDBObjectStore.prototype.put = function (...args) {
    const request = put.apply(this, args);
    if (self.__diskFull && this.name === 'photos') {
      const tx = this.transaction;
      const error = new DOMException('The quota has been exceeded.', 'QuotaExceededError');
      request.addEventListener('success', () => {
        Object.defineProperty(tx, 'error', { get: () => error });
        tx.abort();
      });
    }
    return request;
  };
})();
"""


def test_storage_full_says_so_and_keeps_what_was_saved(site: Site, page: Page) -> None:
    first = f"quota-kept-{uuid.uuid4().hex[:8]}"
    page.add_init_script(SIMULATE_FULL_DISK)
    sign_in(page)
    open_capture(page)
    go_offline(page)  # keep the first entry on the phone only
    capture(page, first, site.ids["kind"])
    page.evaluate("self.__diskFull = true")
    photo = PhotoFile("big.jpg", hostile_images.oriented_jpeg(1))
    fill_entry(page, "quota-refused", site.ids["kind"], (photo,))
    said = save(page, expect="error")
    assert said == translated(
        site,
        "vi",
        "The phone's storage is full, so this entry was not saved. Entries saved before are "
        "safe. Free some space (or send the waiting entries), then tap Save again.",
    )
    assert page.input_value("#summary") == "quota-refused"  # what was typed is still there
    page.evaluate("self.__diskFull = false")
    open_entries(page)
    [entry] = listed(page)  # the earlier entry, and nothing half-written from the refused one
    assert first in entry["text"] and entry["state"] == "local"


def test_the_form_names_the_day_grows_with_the_text_and_marks_its_tab_when_editing(
    site: Site, page: Page
) -> None:
    """Issue 12, item 4: the date written the Vietnamese way beside the browser's own date
    field, summary boxes that show the whole text, and "New entry" not highlighted while the
    page says "Edit entry"."""
    summary = f"form-{uuid.uuid4().hex[:8]} " + "Thăm hộ gia đình chính sách. " * 30
    sign_in(page)
    open_capture(page)
    tab = page.locator('.appnav a[href="/capture"]')
    assert tab.get_attribute("aria-current") == "page"

    page.fill("#occurred_on", "2026-07-26")
    assert page.inner_text("#occurred_on-text") == "Chủ Nhật, 26/07/2026"

    page.select_option("#kind_id", str(site.ids["kind"]))
    page.fill("#summary", summary)
    box = page.locator("#summary")
    sizes = box.evaluate("(el) => [el.scrollHeight, el.clientHeight]")
    assert sizes[0] <= sizes[1] + 1, f"the summary box cuts the text: {sizes}"
    assert sizes[1] > 150  # grew from its three lines

    go_offline(page)
    save(page)
    open_entries(page)
    [entry] = wait_listed(page, 1, "local")
    page.click(f"li[data-id='{entry['id']}'] a.button")
    page.wait_for_selector("#capture-form[data-ready=yes]", state="attached")
    assert page.inner_text("h1") == translated(site, "vi", "Edit entry")
    assert page.locator('.appnav a[href="/capture"]').get_attribute("aria-current") is None
    assert page.inner_text("#occurred_on-text") == "Chủ Nhật, 26/07/2026"
    sizes = page.locator("#summary").evaluate("(el) => [el.scrollHeight, el.clientHeight]")
    assert sizes[0] <= sizes[1] + 1, f"the summary box cuts the text: {sizes}"
    save(page)
    assert page.inner_text("h1") == translated(site, "vi", "New entry")
    assert page.locator('.appnav a[href="/capture"]').get_attribute("aria-current") == "page"
