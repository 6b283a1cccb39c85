"""Phone-sized screenshots of the field app for the README (360 × 740 CSS px).

    .venv/bin/python -m tests.browser.screenshots [--out docs] [--translations DIR]

Runs the same test site as the browser tests, logs a few realistic entries (one in each state)
and saves docs/capture-360.png, docs/entries-360.png, docs/capture-edit-360.png (a returned
entry being fixed) and docs/signin-offline-360.png (signed out with no signal); --desktop also
saves 1280 px wide
copies next to them for a look (not committed). `--translations` points Flask-Babel at another
catalog directory, for screenshots taken before the shipped catalog is complete.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from datetime import date, timedelta
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

from tests import hostile_images
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, context_options
from tests.browser.phone import (
    PhotoFile,
    fill_entry,
    open_capture,
    open_entries,
    save,
    sign_in,
    sign_out_keeping_a_copy,
    wait_listed,
)
from tests.browser.site import Site, build_site, wait_for
from webapp.models import Activity, ActivityKind


def days_ago(n: int) -> str:
    return (date.today() - timedelta(days=n)).isoformat()


def log(page: Page, summary: str, kind_id: int, day: str, photos: int = 0) -> None:
    files = tuple(
        PhotoFile(f"IMG_2026{n}.jpg", hostile_images.oriented_jpeg(n + 1)) for n in range(photos)
    )
    fill_entry(page, summary, kind_id, files)
    page.fill("#occurred_on", day)
    page.fill("#village", "Nà Va")
    save(page)


def review(site: Site, summary: str, status: str, note: str | None = None) -> None:
    [row] = site.activities(summary)
    with site.writing() as session:
        activity = session.get(Activity, row.id)
        activity.status, activity.review_note = status, note
        activity.reviewed_by_id = site.ids["secretary_x"]


def stage_entries(site: Site, page: Page) -> None:
    kind, doomed = site.ids["kind"], site.ids["doomed_kind"]
    open_capture(page)
    log(page, "Thăm hỏi, động viên gia đình ông Ma Văn Sáng", kind, days_ago(31), photos=2)
    log(page, "Họp tổ dân vận thôn, phổ biến chính sách hỗ trợ làm nhà", kind, days_ago(7))
    log(page, "Vận động các hộ dọn vệ sinh đường thôn", kind, days_ago(3), photos=1)
    wait_for(lambda: len(site.activities("Vận động các hộ")) == 1)
    wait_for(
        lambda: len(site.activities("Thăm hỏi")) == 1 and site.activities("Thăm hỏi")[0].photos
    )
    review(site, "Thăm hỏi", "confirmed")
    review(site, "Họp tổ", "returned", "Bổ sung số hộ tham dự và ảnh buổi họp")

    page.context.set_offline(True)
    log(page, "Tuyên truyền phòng chống rác thải nhựa", doomed, days_ago(1))
    with site.writing() as session:
        session.get(ActivityKind, doomed).active = False
    page.context.set_offline(False)
    open_entries(page)
    page.click("#sync-now")
    wait_listed(page, 1, "needs_attention")
    wait_listed(page, 1, "returned")
    wait_listed(page, 1, "confirmed")

    page.context.set_offline(True)
    open_capture(page)
    log(page, "Thăm gia đình chính sách bà Hoàng Thị Đào", kind, days_ago(0), photos=1)
    with site.writing() as session:
        session.get(ActivityKind, doomed).active = True


def fill_for_show(page: Page, site: Site) -> None:
    open_capture(page)
    page.select_option("#kind_id", str(site.ids["kind"]))
    page.select_option("#program_id", str(site.ids["program"]))
    page.fill("#participant-search", "nguyen van")
    page.evaluate("window.scrollTo(0, 0)")


def show_editing(page: Page) -> None:
    """A returned entry opened to be fixed: its reason, the day written out, a long summary."""
    open_entries(page)
    page.locator("li.entry[data-state=returned] a.button").click()
    page.wait_for_selector("#capture-form[data-ready=yes]", state="attached")
    page.fill(
        "#summary",
        "Họp tổ dân vận thôn Nà Va, phổ biến chính sách hỗ trợ làm nhà cho hộ nghèo; "
        "23 hộ tham dự, 4 hộ đăng ký làm nhà trước mùa mưa, tổ phân công người giúp "
        "vận chuyển vật liệu.",
    )


def show_signed_out_offline(page: Page) -> None:
    """Signed out with no signal: the sign-in page from the phone's copy of the app."""
    page.context.set_offline(True)
    open_capture(page)
    sign_out_keeping_a_copy(page)
    page.locator("#signin-notice").wait_for(state="visible")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs"))
    parser.add_argument("--translations", type=Path, default=None)
    parser.add_argument("--desktop", action="store_true")
    args = parser.parse_args()
    config = {}
    if args.translations:
        config["BABEL_TRANSLATION_DIRECTORIES"] = str(args.translations.resolve())
    args.out.mkdir(parents=True, exist_ok=True)
    with (
        tempfile.TemporaryDirectory() as tmp,
        build_site(Path(tmp), **config) as site,
        sync_playwright() as driver,
    ):
        # The date field is drawn in the browser's own language: Vietnamese, as on the phone.
        browser = driver.chromium.launch(
            executable_path=CHROMIUM,
            args=[*CHROMIUM_ARGS, "--lang=vi"],
            env={**os.environ, "LANG": "vi_VN.UTF-8", "LANGUAGE": "vi"},
        )
        context = browser.new_context(**context_options(site))
        page = context.new_page()
        sign_in(page)
        stage_entries(site, page)
        open_entries(page)
        # The list itself, one entry in each state (the sync bar shows on the capture shot).
        page.evaluate("document.querySelector('main h1').scrollIntoView()")
        page.screenshot(path=str(args.out / "entries-360.png"))
        fill_for_show(page, site)
        page.screenshot(path=str(args.out / "capture-360.png"))
        if args.desktop:
            page.set_viewport_size({"width": 1280, "height": 900})
            page.screenshot(path=str(args.out / "capture-desktop.png"), full_page=True)
            open_entries(page)
            page.screenshot(path=str(args.out / "entries-desktop.png"), full_page=True)
            page.set_viewport_size({"width": 360, "height": 740})
            page.screenshot(path=str(args.out / "entries-360-full.png"), full_page=True)
            open_capture(page)
            page.screenshot(path=str(args.out / "capture-360-full.png"), full_page=True)
        show_editing(page)
        page.screenshot(path=str(args.out / "capture-edit-360.png"), full_page=True)
        show_signed_out_offline(page)
        page.screenshot(path=str(args.out / "signin-offline-360.png"))
        browser.close()


if __name__ == "__main__":
    main()
