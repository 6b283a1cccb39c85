"""Flask's signed-cookie session, minus a `Vary: Cookie` where the answer cannot depend on it.

Flask adds `Vary: Cookie` to every response whose request looked at the session, and
Flask-Login looks after every request. The app shell's versioned files and the static files are
the same for everyone, but with that header a browser keeps them only for the exact cookie it
sent, and the cookie changes at sign-in and whenever the session is refreshed: phones would
download the shell again and again.
"""

from __future__ import annotations

from flask import Flask, request
from flask.sessions import SecureCookieSessionInterface, SessionMixin
from werkzeug.wrappers import Response

# Endpoints whose answers never depend on who asks.
SHARED_ENDPOINTS = frozenset({"static", "field.asset"})


class CookieSessionInterface(SecureCookieSessionInterface):
    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        super().save_session(app, session, response)
        if request.endpoint in SHARED_ENDPOINTS:
            kept = [value for value in response.vary if value.lower() != "cookie"]
            if kept:
                response.headers["Vary"] = ", ".join(kept)
            else:
                response.headers.pop("Vary", None)
