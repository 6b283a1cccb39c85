"""Logs a machine can read: one JSON object per line, and one line per request.

`LOG_FORMAT=json` (the default in production) sends the app's log records to standard error as
JSON (python-json-logger); `text` keeps Flask's usual lines. Every request is logged once, after
its answer, with its method, path, status, duration, the signed-in user and the request id that
nginx puts in `X-Request-ID` (so a line in nginx's access log and the app's line can be
matched). Bodies, query strings and cookies are never logged.
"""

from __future__ import annotations

import logging
import sys
import time

from flask import Flask, g, request, session
from flask_login import AnonymousUserMixin
from pythonjsonlogger.json import JsonFormatter
from werkzeug.wrappers import Response

REQUEST_LOGGER = "nhatky.request"
FIELDS = "%(asctime)s %(levelname)s %(name)s %(message)s"


def json_handler() -> logging.Handler:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        JsonFormatter(FIELDS, rename_fields={"asctime": "time", "levelname": "level"})
    )
    return handler


def register_logging(app: Flask) -> None:
    if app.config["LOG_FORMAT"] == "json":
        app.logger.handlers[:] = [json_handler()]
        app.logger.setLevel(app.config["LOG_LEVEL"])
        app.logger.propagate = False
        request_logger = logging.getLogger(REQUEST_LOGGER)
        request_logger.handlers[:] = [json_handler()]
        request_logger.setLevel(logging.INFO)
        request_logger.propagate = False
    if app.config["LOG_REQUESTS"]:
        app.before_request(_start_clock)
        app.after_request(_log_request)


def _start_clock() -> None:
    g.request_started = time.perf_counter()


def _log_request(response: Response) -> Response:
    started = g.get("request_started")
    elapsed = (time.perf_counter() - started) * 1000 if started is not None else None
    # Who, as the request's session says: asking Flask-Login (or the user object, expired by a
    # commit) here would cost a database query.
    loaded = g.get("_login_user")
    signed_in = loaded is not None and not isinstance(loaded, AnonymousUserMixin)
    user = session.get("_user_id") if signed_in else None
    logging.getLogger(REQUEST_LOGGER).info(
        "request",
        extra={
            "method": request.method,
            "path": request.path,
            "status": response.status_code,
            "ms": round(elapsed, 1) if elapsed is not None else None,
            "user": user.partition(":")[0] if isinstance(user, str) and user else None,
            "request_id": request.headers.get("X-Request-ID"),
            "remote": request.remote_addr,
        },
    )
    return response
