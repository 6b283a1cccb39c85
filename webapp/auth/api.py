"""The session as the field app sees it: who is signed in, a fresh CSRF token, signing out."""

from __future__ import annotations

from typing import Any

from flask_login import current_user, login_required
from flask_smorest import Blueprint
from flask_wtf.csrf import generate_csrf
from marshmallow import EXCLUDE, Schema, fields
from marshmallow.validate import Length

from webapp.api_errors import ErrorOut
from webapp.auth import sessions
from webapp.extensions import db

bp = Blueprint(
    "session_api",
    __name__,
    url_prefix="/api/v1",
    description="The signed-in session (cookie) and the CSRF token unsafe requests carry.",
)

NO_STORE = {"Cache-Control": "no-store"}


class SessionUserOut(Schema):
    id = fields.Integer(required=True)
    username = fields.String(required=True)
    full_name = fields.String(required=True)
    role = fields.String(required=True)
    locale = fields.String(allow_none=True)
    scope_unit_id = fields.Integer(required=True)
    member_id = fields.Integer(allow_none=True)


class SessionOut(Schema):
    user = fields.Nested(SessionUserOut, required=True)
    csrf_token = fields.String(required=True)
    # Names this session (not the token): a phone finishing a sign-out made offline ends this
    # one and no later one, even of the same person.
    session_id = fields.String(required=True)


class CsrfOut(Schema):
    csrf_token = fields.String(required=True)


class EndSessionArgs(Schema):
    class Meta:
        unknown = EXCLUDE

    user_id = fields.Integer(load_default=None, allow_none=True)
    session_id = fields.String(load_default=None, allow_none=True, validate=Length(max=64))


@bp.get("/session")
@bp.response(200, SessionOut)
@bp.alt_response(401, schema=ErrorOut)
@login_required
def session_info() -> Any:
    """Who is signed in, and a fresh CSRF token for the next unsafe request."""
    body = {
        "user": current_user,
        "csrf_token": generate_csrf(),
        "session_id": sessions.public_id(sessions.current_token()),
    }
    return body, 200, NO_STORE


@bp.delete("/session")
@bp.arguments(EndSessionArgs, location="query", error_status_code=422)
@bp.response(204)
@bp.alt_response(400, schema=ErrorOut)
@bp.alt_response(422, schema=ErrorOut)
def end_session(args: dict[str, Any]) -> Any:
    """Sign out here: the session ends on the server, so a copy of its cookie stops working
    too. With `session_id` (or `user_id`), only if the cookie's session is that one (of that
    user): a phone finishing a sign-out made offline must not end a session opened since, by
    someone else or by the same person. Safe to repeat."""
    named, who = args["session_id"], args["user_id"]
    other_session = named is not None and named != sessions.public_id(sessions.current_token())
    other_user = who is not None and current_user.is_authenticated and current_user.id != who
    if other_session or other_user:
        return None, 204, NO_STORE
    sessions.end_current()
    db.session.commit()
    sessions.forget_in_cookie()
    return None, 204, NO_STORE


@bp.get("/csrf-token")
@bp.response(200, CsrfOut)
def csrf_token() -> Any:
    """A fresh CSRF token, signed in or not: the sign-in page the phone keeps for offline use
    renews its form with it."""
    return {"csrf_token": generate_csrf()}, 200, NO_STORE
