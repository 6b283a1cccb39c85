"""The app shell: which files the service worker precaches, and the version that names them.

There is no build step, so the version is a hash of the shell's own contents, computed once per
process (per request in debug mode, so an edited file shows up without a restart). Shell assets
are served under `/app/<version>/...`: a page and the modules it imports always come from the
same version, even while an old service worker is still serving an old cache.
"""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path

from flask import current_app, url_for

ROOT = Path(__file__).resolve().parent.parent.parent
STATIC = ROOT / "static"

# Static files the shell needs offline, relative to static/ (globs expanded in sorted order).
ASSET_GLOBS = (
    "css/app.css",
    "css/field.css",
    "js/*.js",
    "vendor/idb/index.js",
    "img/icon.svg",
)
# Not needed offline: the administration's scripts. (The manifest's icons are fetched by the
# browser at install, from /static/icons/, and kept by the phone's launcher.)
ASSET_EXCLUDED = ("js/admin-tree.js",)
# Folders /app/<version>/ may serve from: the shell's own, nothing else under static/.
ASSET_DIRS = ("css", "js", "vendor", "icons", "img")
# Pages that render without per-user data and must open offline; network first.
SHELL_PAGES = ("/capture", "/entries")
OFFLINE_PAGE = "/offline"
# The sign-in page, shown from the shell after a sign-out made with no signal.
SIGN_IN_PAGE = "/login"
# Everything else whose change must reach phones as a new version.
_VERSION_INPUTS = (
    "static/sw.js",
    "webapp/field/routes.py",  # the manifest
    "webapp/templates/base.html",
    "webapp/field/templates/field/*.html",
    "webapp/auth/templates/auth/login.html",
    "webapp/templates/macros.html",
    "webapp/field/messages.py",
    "translations/*/LC_MESSAGES/messages.mo",
)


def asset_paths() -> list[str]:
    found: list[str] = []
    for pattern in ASSET_GLOBS:
        found.extend(sorted(p.relative_to(STATIC).as_posix() for p in STATIC.glob(pattern)))
    return [path for path in found if path not in ASSET_EXCLUDED]


@cache
def _hash_of_files(root: str) -> str:
    base = Path(root)
    digest = hashlib.sha256()
    files = [STATIC / p for p in asset_paths()]
    for pattern in _VERSION_INPUTS:
        files.extend(sorted(base.glob(pattern)))
    for path in files:
        digest.update(path.relative_to(base).as_posix().encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def shell_version() -> str:
    """SHELL_VERSION from the config if a deployment pins one, else the contents' hash."""
    pinned = current_app.config.get("SHELL_VERSION")
    if pinned:
        return str(pinned)
    if current_app.debug:
        _hash_of_files.cache_clear()
    return _hash_of_files(str(ROOT))


def asset_url(path: str) -> str:
    return url_for("field.asset", version=shell_version(), filename=path)


def precache_urls() -> list[str]:
    """What the service worker stores at install, all same-origin paths."""
    return [
        *SHELL_PAGES,
        OFFLINE_PAGE,
        SIGN_IN_PAGE,
        url_for("field.manifest"),
        *(asset_url(path) for path in asset_paths()),
    ]
