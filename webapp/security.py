"""Response headers (strict CSP, no inline scripts) and safe redirects."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

CSP = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "connect-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "manifest-src 'self'",
        "worker-src 'self'",
    )
)


def safe_next(target: str | None, default_endpoint: str = "main.home") -> str:
    """Follow a `next` parameter only to a path on this site."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc:
            return target
    return url_for(default_endpoint)


def _set_headers(response: Response) -> Response:
    if (
        response.mimetype == "text/html"
        and "Cache-Control" not in response.headers
        and current_user.is_authenticated
    ):
        # A signed-in person's pages stay off the disk and out of the back-forward cache: after
        # signing out (on a shared phone) nobody pages back into them.
        response.headers["Cache-Control"] = "no-store"
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault(
        "Permissions-Policy", "camera=(self), geolocation=(self), microphone=()"
    )
    return response


def register_security_headers(app: Flask) -> None:
    app.after_request(_set_headers)
