"""`GET /healthz`: can this process serve? Its database and its photo store, each checked.

For the load balancer and monitoring: 200 when both answer, 503 (with what failed) when not.
No sign-in, no session, nothing cached; the reasons are short and carry no secrets.
"""

from __future__ import annotations

import time

from flask import Blueprint, current_app, jsonify
from flask.typing import ResponseReturnValue
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from webapp.extensions import db
from webapp.photos.storage import StorageUnavailable, storage_from_config

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> ResponseReturnValue:
    checks: dict[str, dict[str, object]] = {}
    started = time.perf_counter()
    try:
        db.session.execute(text("SELECT 1"))
        checks["database"] = {"ok": True}
    except SQLAlchemyError as error:
        current_app.logger.error("health: database: %s", error)
        checks["database"] = {"ok": False, "error": type(error).__name__}
    finally:
        db.session.rollback()
    checks["database"]["ms"] = round((time.perf_counter() - started) * 1000, 1)
    started = time.perf_counter()
    try:
        storage_from_config(current_app.config).check()
        checks["storage"] = {"ok": True}
    except StorageUnavailable as error:
        current_app.logger.error("health: storage: %s", error)
        checks["storage"] = {"ok": False, "error": "unavailable"}
    checks["storage"]["ms"] = round((time.perf_counter() - started) * 1000, 1)
    healthy = all(check["ok"] for check in checks.values())
    response = jsonify({"status": "ok" if healthy else "unavailable", "checks": checks})
    response.status_code = 200 if healthy else 503
    response.headers["Cache-Control"] = "no-store"
    return response
