"""axe-core on the page under test (WCAG 2.2 AA and best practice), from the vendored copy."""

from __future__ import annotations

from playwright.sync_api import Page

# The vendored file, loaded from the app's own origin: add_script_tag(path=...) would inline
# it, which the app's CSP (script-src 'self') rightly blocks, and the test must not weaken CSP.
AXE_URL = "/static/vendor/axe-core/axe.min.js"


def serious_violations(page: Page) -> list[str]:
    page.add_script_tag(url=AXE_URL)
    result = page.evaluate(
        "axe.run(document, {runOnly: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa',"
        " 'best-practice']})"
    )
    return [
        f"{v['id']} ({v['impact']}): {v['help']} — "
        + "; ".join(", ".join(node["target"]) for node in v["nodes"])
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]
