"""What a cadre does on the phone, as Playwright steps that wait for explicit UI states."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from flask_babel import force_locale
from flask_babel import gettext as _
from playwright.sync_api import Page

from tests.browser.site import Site, wait_for
from tests.factories import PASSWORD


@dataclass(frozen=True)
class PhotoFile:
    name: str
    data: bytes
    mime: str = "image/jpeg"

    def as_upload(self) -> dict[str, Any]:
        return {"name": self.name, "mimeType": self.mime, "buffer": self.data}


# Session cookies per login, so most tests skip the sign-in form (which test_auth.py covers).
_cookies: dict[str, list[Any]] = {}


def sign_in(page: Page, login: str = "canbo", then: str | None = None) -> None:
    """Signed in and on the home page (or `then`), where the service worker gets installed."""
    if login in _cookies:
        page.context.add_cookies(_cookies[login])
        page.goto(then or "/")
        return
    page.goto("/login" + (f"?next={then}" if then else ""))
    page.fill("#login", login)
    page.fill("#password", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url(re.compile(re.escape(then) + "$" if then else r"/$"))
    _cookies[login] = page.context.cookies()


def sign_in_with_form(page: Page, login: str) -> None:
    """Through the sign-in page, as a person does; no cookies kept for later tests (for
    accounts whose sessions a test ends)."""
    page.goto("/login")
    page.fill("#login", login)
    page.fill("#password", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url(re.compile(r"/$"))


def first_visit(page: Page, login: str) -> None:
    """A phone's first visit: sign in, open the capture page, wait until the shell is on the
    phone and the first sync is done."""
    sign_in_with_form(page, login)
    open_capture(page)
    wait_for_worker(page)
    page.wait_for_selector("#sync-status[data-state=done]", state="attached")


def sign_out_keeping_a_copy(page: Page) -> None:
    """Sign out while entries are unsent: download the copy, then "sign out anyway"."""
    page.click("form[data-signout] button")
    page.locator("#signout-dialog").wait_for(state="visible")
    with page.expect_download():
        page.click("#signout-export")
    page.click("#signout-anyway")
    page.wait_for_url("**/login?signed_out=1")


def log_sent_then_unsent(page: Page, site: Site, tag: str) -> None:
    """One entry that reaches the server ("<tag> sent"), then one kept offline ("<tag> kept")."""
    open_capture(page)
    capture(page, f"{tag} sent", site.ids["kind"])
    wait_for(lambda: site.activities(f"{tag} sent"))
    open_entries(page)
    wait_listed(page, 1, "sent")
    page.wait_for_selector("#sync-status[data-state=done]", state="attached")
    go_offline(page)
    open_capture(page)
    capture(page, f"{tag} kept", site.ids["kind"])


def wait_for_worker(page: Page) -> None:
    """The service worker is active, has precached the shell and controls this page."""
    # Functions, not expressions: Playwright polls an expression with eval(), which the
    # app's CSP (no 'unsafe-eval') blocks.
    page.wait_for_function("() => navigator.serviceWorker.controller !== null")


def go_offline(page: Page) -> None:
    """Lose the signal, once the shell is on the phone (pages must open from the cache)."""
    wait_for_worker(page)
    page.context.set_offline(True)


def open_capture(page: Page, query: str = "") -> None:
    page.goto("/capture" + query)
    page.wait_for_selector("#capture-form[data-ready=yes]", state="attached")


def open_entries(page: Page) -> None:
    page.goto("/entries")
    page.wait_for_selector("#entries[data-ready=yes]", state="attached")


def fill_entry(page: Page, summary: str, kind_id: int, photos: tuple[PhotoFile, ...] = ()) -> None:
    page.select_option("#kind_id", str(kind_id))
    page.fill("#summary", summary)
    page.fill("#people_reached", "5")
    page.fill("#households_reached", "2")
    if photos:
        page.set_input_files("#photo-gallery", [p.as_upload() for p in photos])


def save(page: Page, expect: str = "saved") -> str:
    page.click("#save-button")
    page.wait_for_selector(f"#save-status[data-state={expect}]", state="attached")
    return page.text_content("#save-status") or ""


def capture(page: Page, summary: str, kind_id: int, photos: tuple[PhotoFile, ...] = ()) -> str:
    fill_entry(page, summary, kind_id, photos)
    return save(page)


def listed(page: Page) -> list[dict[str, str]]:
    """The entries on "my entries": id, state and visible text."""
    return page.eval_on_selector_all(
        "#entries li.entry",
        "items => items.map(li => ({id: li.dataset.id, state: li.dataset.state,"
        " text: li.innerText}))",
    )


def wait_listed(page: Page, count: int, state: str | None = None) -> list[dict[str, str]]:
    selector = "#entries li.entry" + (f"[data-state={state}]" if state else "")
    page.wait_for_function(
        "([selector, count]) => document.querySelectorAll(selector).length === count",
        arg=[selector, count],
    )
    return listed(page)


def translated(site: Site, lang: str, message: str, **variables: Any) -> str:
    """What the app says for `message` in `lang` (whatever the catalog holds today)."""
    with site.app.test_request_context("/"), force_locale(lang):
        return _(message, **variables)
