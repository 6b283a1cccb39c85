"""WCAG 2.2 AA with axe-core, in both languages; one hand at 360 px (issue 4, 5f; DESIGN.md §9)."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from playwright.sync_api import Page

from tests import hostile_images
from tests.browser.axe import serious_violations
from tests.browser.phone import (
    PhotoFile,
    capture,
    open_capture,
    open_entries,
    save,
    sign_in,
    translated,
    wait_listed,
)
from tests.browser.site import Site

# These look at the pages online; the offline machinery has its own tests.
pytestmark = pytest.mark.no_service_worker

MIN_TARGET = 44


SMALL_TARGETS_JS = (Path(__file__).parent / "small_targets.js").read_text()


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_f_axe_finds_no_serious_or_critical_violations(site: Site, page: Page, lang: str) -> None:
    sign_in(page, "canbo.en")
    switch = page.locator(f"header button[name=lang][value={lang}]")
    if switch.count():  # through the language switch, as a user would
        switch.click()
        page.wait_for_selector(f"html[lang={lang}]")
    open_capture(page)
    assert page.get_attribute("html", "lang") == lang
    assert page.inner_text("h1") == translated(site, lang, "New entry")
    # The form as a thumb meets it after a hasty Save: a photo chosen, the errors listed.
    page.set_input_files(
        "#photo-gallery", [PhotoFile("f.jpg", hostile_images.oriented_jpeg(2)).as_upload()]
    )
    page.wait_for_selector("#photo-list li")
    save(page, expect="invalid")
    assert serious_violations(page) == []

    capture(page, f"f-{lang}-{uuid.uuid4().hex[:6]}", site.ids["kind"])
    open_entries(page)
    wait_listed(page, 1)
    assert serious_violations(page) == []


@pytest.mark.parametrize("path", ["/capture", "/entries"])
def test_one_hand_at_360_px_no_sideways_scrolling_and_44_px_targets(
    site: Site, page: Page, path: str, tmp_path: Path
) -> None:
    sign_in(page)
    if path == "/entries":
        open_capture(page)
        capture(page, f"layout-{uuid.uuid4().hex[:6]}", site.ids["kind"])
        open_entries(page)
        wait_listed(page, 1)
    else:
        open_capture(page)
        page.fill("#participant-search", "nguyen van")
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    assert page.evaluate(SMALL_TARGETS_JS) == []
    page.screenshot(path=str(tmp_path / "phone.png"), full_page=True)


def test_search_ignores_diacritics(site: Site, page: Page) -> None:
    sign_in(page)
    open_capture(page)
    page.fill("#participant-search", "nguyen van")
    shown = page.eval_on_selector_all(
        "#participant-list li:not([hidden]) label", "labels => labels.map(l => l.innerText)"
    )
    names = sorted(name.split("\n")[0].split(" (")[0] for name in shown)
    assert names == ["Nguyễn Văn An", "Nguyễn Văn Bảo"]
    page.fill("#participant-search", "DUC")
    shown = page.eval_on_selector_all(
        "#participant-list li:not([hidden]) label", "labels => labels.map(l => l.innerText)"
    )
    assert any(name.startswith("Lý Văn Đức") for name in shown)
