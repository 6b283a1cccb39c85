from __future__ import annotations

from flask import Flask, Response, current_app, render_template, request
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_limiter.errors import RateLimitExceeded
from flask_wtf.csrf import CSRFError
from limits import parse
from werkzeug.exceptions import HTTPException, InternalServerError

from webapp.api_errors import json_error
from webapp.extensions import db
from webapp.photos.storage import StorageUnavailable


def wants_json() -> bool:
    if request.path.startswith("/api/"):
        return True
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return (
        best == "application/json"
        and request.accept_mimetypes[best] > request.accept_mimetypes["text/html"]
    )


def _messages() -> dict[int, tuple[str, str]]:
    """Title and advice per status, translated at request time."""
    return {
        400: (_("Bad request"), _("Check what you entered and try again.")),
        401: (_("Sign-in required"), _("Sign in to continue.")),
        403: (_("Access denied"), _("Your account may not see or change this.")),
        404: (_("Page not found"), _("The address may be wrong, or this item no longer exists.")),
        405: (_("Method not allowed"), _("Go back to the previous page and try again.")),
        409: (_("Conflict"), _("Someone changed this at the same time. Reload and try again.")),
        413: (_("Upload too large"), _("Send less data or a smaller photo.")),
        415: (_("Unsupported file type"), _("Send a JPEG, PNG or WebP photo.")),
        422: (_("Some values are not valid"), _("Check what you entered and try again.")),
        429: (
            _("Too many attempts"),
            _("You have tried too many times. Wait a few minutes and try again."),
        ),
        500: (
            _("Server error"),
            _("Something went wrong on our side. Try again in a few minutes."),
        ),
        503: (
            _("Temporarily unavailable"),
            _("The server cannot store or show photos right now. Try again in a few minutes."),
        ),
    }


def _render(status: int, detail: str | None = None) -> tuple[Response | str, int]:
    title, advice = _messages().get(
        status, (_("Something went wrong"), _("Go back to the previous page and try again."))
    )
    if wants_json():
        return json_error(status, detail or advice, title=title)
    return render_template(
        "errors/error.html", status=status, title=title, advice=detail or advice
    ), status


def _http_error(error: HTTPException) -> ResponseReturnValue:
    body, status = _render(error.code or 500)
    # Keep the headers the error itself carries (a 405's Allow, a 401's WWW-Authenticate).
    headers = {k: v for k, v in error.get_headers() if k.lower() != "content-type"}
    return body, status, headers


def _csrf_error(_error: CSRFError) -> ResponseReturnValue:
    return _render(
        400, _("Your session has expired or the form was not valid. Reload the page and try again.")
    )


def _rate_limited(_error: RateLimitExceeded) -> ResponseReturnValue:
    if request.endpoint == "auth.login":
        minutes = max(
            1, round(parse(current_app.config["LOGIN_LIMIT_PER_ACCOUNT"]).get_expiry() / 60)
        )
        return _render(
            429,
            _("Too many failed sign-ins. Wait %(n)d minutes and try again.", n=minutes),
        )
    return _render(429)


# Seconds a client should wait before it tries again when the photo store is down.
RETRY_AFTER_SECONDS = 30


def _storage_unavailable(error: StorageUnavailable) -> ResponseReturnValue:
    """The photo store is down: nothing was recorded (the request rolls back); the phone
    keeps the photo and sends it again later."""
    db.session.rollback()
    current_app.logger.warning("photo storage unavailable: %s", error)
    body, status = _render(503)
    return body, status, {"Retry-After": str(RETRY_AFTER_SECONDS)}


def _server_error(_error: InternalServerError) -> ResponseReturnValue:
    db.session.rollback()
    return _render(500)


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(CSRFError, _csrf_error)
    app.register_error_handler(RateLimitExceeded, _rate_limited)
    app.register_error_handler(StorageUnavailable, _storage_unavailable)
    app.register_error_handler(InternalServerError, _server_error)
    app.register_error_handler(HTTPException, _http_error)
