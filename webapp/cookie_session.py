"""Flask's signed-cookie session, minus the cookie where an answer is the same for everyone.

The app shell's versioned files and the static files are public and kept by browsers for a year.
Flask would otherwise (a) refresh the session cookie on them (`Set-Cookie` on a response marked
`public` could hand one person's session to others through a shared cache, and costs bytes on
2G), and (b) add `Vary: Cookie` to them, because Flask-Login looks at the session after every
request: a browser then keeps them only for the exact cookie it sent, and the cookie changes at
sign-in and at every refresh, so phones would download the shell again and again.
"""

from __future__ import annotations

from flask import Flask, request
from flask.sessions import SecureCookieSessionInterface, SessionMixin
from werkzeug.wrappers import Response

# Endpoints whose answers never depend on who asks.
SHARED_ENDPOINTS = frozenset({"static", "field.asset"})


def _shared() -> bool:
    return request.endpoint in SHARED_ENDPOINTS


class CookieSessionInterface(SecureCookieSessionInterface):
    def should_set_cookie(self, app: Flask, session: SessionMixin) -> bool:
        return not _shared() and super().should_set_cookie(app, session)

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        super().save_session(app, session, response)
        if _shared():
            kept = [value for value in response.vary if value.lower() != "cookie"]
            if kept:
                response.headers["Vary"] = ", ".join(kept)
            else:
                response.headers.pop("Vary", None)
