"""A phone's first visit (issue 12, items 3 and 4): the app shell arrives compressed and once,
and the page says "loading" rather than "signed out" or "no lists" while it fills in."""

from __future__ import annotations

import re
from collections import Counter

from playwright.sync_api import Page

from tests.browser.phone import first_visit, translated
from tests.browser.site import Site

# What the page said while it loaded: every state of the notice and of the "sign in again"
# banner, recorded from the very first paint (an init script runs before the page's own).
RECORD_NOTICES_JS = """
window.__said = [];
new MutationObserver(() => {
  for (const id of ['page-notice', 'auth-banner']) {
    const box = document.getElementById(id);
    if (!box || box.hidden) continue;
    const text = `${id}: ${box.textContent.trim()}`;
    if (window.__said.at(-1) !== text) window.__said.push(text);
  }
}).observe(document, { subtree: true, childList: true, attributes: true, characterData: true });
"""

WIRE_BUDGET = 120 * 1024  # bytes, the whole first visit: sign-in, capture page, shell, lists


def test_the_first_visit_is_compressed_fetches_each_file_once_and_says_loading(
    site: Site, page: Page
) -> None:
    page.add_init_script(script=RECORD_NOTICES_JS)
    mark = site.controlled.mark()
    first_visit(page, "canbo")

    transfers = site.controlled.transfers_since(mark)
    # Downloads, that is: the worker's module imports may be revalidated (304, no body).
    assets = Counter(
        t.path for t in transfers if t.status == 200 and t.path.startswith(("/app/", "/static/"))
    )
    twice = {path: n for path, n in assets.items() if n > 1}
    assert twice == {}, f"downloaded more than once: {twice}"
    for t in transfers:
        if t.status == 200 and re.search(r"\.(js|css)$|^/(capture|entries|login)$", t.path):
            assert t.encoding in ("br", "zstd", "gzip"), f"{t.path} sent uncompressed"
    total = sum(t.bytes for t in transfers)
    print(f"first visit: {len(transfers)} requests, {total / 1024:.1f} KiB")
    assert total <= WIRE_BUDGET, f"first visit: {total / 1024:.1f} KiB on the wire"

    said = page.evaluate("() => window.__said")
    for warning in (
        "Nobody is signed in on this phone. Sign in (this needs a connection) to log entries.",
        "The lists this form needs are not on this phone yet. Open this page once with a "
        "connection while signed in.",
        "Your sign-in has expired. Entries stay on this phone; sign in again to send them.",
    ):
        text = translated(site, "vi", warning)
        assert not [line for line in said if text in line], said
    assert f"page-notice: {translated(site, 'vi', 'Loading…')}" in said
    assert page.locator("#page-notice").is_hidden()
