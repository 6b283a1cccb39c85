"""Signed-in sessions kept on the server: one row per browser or phone.

The session cookie is signed, not stored, so on its own it stays valid until it expires: a copy
taken from a phone would outlive the sign-out. Each sign-in therefore opens a `UserSession` row
and the cookie carries its random token; a request is signed in only while that row exists, the
account is active and the session was opened in the account's current epoch. Signing out
deletes the row; a password change or a deactivation moves the epoch and so ends every session of
the account at once.

Reading is one query per request (the user, their scope unit and the session row together);
writing happens at sign-in, at sign-out and, at most once an hour per session and after the
answer has gone out, to note that it is still in use (idle sessions end after
`PERMANENT_SESSION_LIFETIME`, like the cookie; `flask users prune-sessions` removes them).
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from flask import after_this_request, current_app, has_request_context, session
from flask_login import logout_user
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import joinedload
from werkzeug.wrappers import Response

from webapp.database import begin_write
from webapp.extensions import db
from webapp.models import User, UserSession, utcnow

# The Flask session key that holds the token.
TOKEN_KEY = "sid"  # noqa: S105  (a key name, not a secret)
TOUCH_EVERY = timedelta(hours=1)
_USER_AGENT_MAX = 200


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _idle_limit() -> datetime:
    lifetime: timedelta = current_app.config["PERMANENT_SESSION_LIFETIME"]
    return utcnow() - lifetime


def open_session(user: User, user_agent: str | None) -> str:
    """A new session for `user`, in the caller's write transaction; returns the token for the
    cookie (`remember`). The user's ended and idle sessions are removed on the way."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    db.session.execute(
        delete(UserSession).where(
            UserSession.user_id == user.id,
            (UserSession.last_seen_at < _idle_limit()) | (UserSession.epoch != user.session_epoch),
        )
    )
    db.session.add(
        UserSession(
            user_id=user.id,
            token_hash=_hash(token),
            epoch=user.session_epoch,
            created_at=now,
            last_seen_at=now,
            user_agent=(user_agent or "")[:_USER_AGENT_MAX] or None,
        )
    )
    return token


def remember(token: str) -> None:
    """Put the token in the (fresh) Flask session, beside Flask-Login's user id."""
    session[TOKEN_KEY] = token


def current_token() -> str | None:
    token = session.get(TOKEN_KEY)
    return token if isinstance(token, str) and token else None


def end_session(token: str | None) -> bool:
    """Sign-out: delete the session the token names; true if there was one. In the caller's
    write transaction."""
    if not token:
        return False
    result = db.session.execute(delete(UserSession).where(UserSession.token_hash == _hash(token)))
    return bool(result.rowcount)


def public_id(token: str | None) -> str | None:
    """A short name of the session the phone may keep and show back (`DELETE
    /api/v1/session?session_id=`): the start of the token's hash, not the token."""
    return _hash(token)[:16] if token else None


def end_current() -> None:
    """Sign-out, the server's part: the session this request's cookie names ends, in a write
    transaction the caller commits; then `forget_in_cookie()`."""
    token = current_token()
    if token:
        begin_write()
        end_session(token)


def forget_in_cookie() -> None:
    """The cookie forgets the user and the session token; the chosen language stays."""
    locale = session.get("locale")
    logout_user()
    session.clear()
    if locale:
        session["locale"] = locale


def end_other_sessions(user: User, keep_token: str | None) -> int:
    """Sign out everywhere else: every session of the user but this one; how many ended."""
    condition = UserSession.user_id == user.id
    if keep_token:
        condition = condition & (UserSession.token_hash != _hash(keep_token))
    result = db.session.execute(delete(UserSession).where(condition))
    return int(result.rowcount or 0)


def count_sessions(user: User) -> int:
    """Browsers and phones where the user is signed in now (idle ones not counted)."""
    return int(
        db.session.scalar(
            select(func.count())
            .select_from(UserSession)
            .where(
                UserSession.user_id == user.id,
                UserSession.epoch == user.session_epoch,
                UserSession.last_seen_at >= _idle_limit(),
            )
        )
        or 0
    )


def load_user(user_token: str, token: str | None) -> User | None:
    """The signed-in user for Flask-Login's id ('user id:session epoch') and the session
    token, or None: any mismatch means signed out."""
    user_id, _, epoch = user_token.partition(":")
    if not token or not user_id.isdigit() or not epoch.isdigit():
        return None
    row = db.session.execute(
        select(User, UserSession.id, UserSession.last_seen_at)
        .join(UserSession, UserSession.user_id == User.id)
        .where(
            User.id == int(user_id),
            UserSession.token_hash == _hash(token),
            UserSession.epoch == User.session_epoch,
        )
        # The scope unit comes along: nearly every request asks the scope module about it.
        .options(joinedload(User.scope_unit))
    ).first()
    if row is None:
        return None
    user, session_id, last_seen = row
    if not user.active or user.session_epoch != int(epoch):
        return None
    now = utcnow()
    if last_seen.tzinfo is None:  # SQLite hands back naive UTC
        last_seen = last_seen.replace(tzinfo=now.tzinfo)
    if last_seen < _idle_limit():
        return None
    if now - last_seen > TOUCH_EVERY:
        _touch_after_answering(session_id, now)
    return user


def _touch_after_answering(session_id: int, now: datetime) -> None:
    """Note that the session is in use, once the answer has gone out, on a connection of its
    own: the request's own transaction stays read-only, it does not wait on another request's
    write (SQLite), and a failure here costs nothing but a later note."""
    if not has_request_context():
        return
    engine = db.engine
    logger = current_app.logger

    def touch() -> None:
        try:
            with engine.begin() as connection:
                connection.execute(
                    update(UserSession)
                    .where(UserSession.id == session_id, UserSession.last_seen_at < now)
                    .values(last_seen_at=now)
                )
        except SQLAlchemyError as error:
            logger.warning("session %s: last use not noted: %s", session_id, error)

    @after_this_request
    def _later(response: Response) -> Response:
        response.call_on_close(touch)
        return response


def prune(idle: timedelta) -> int:
    """Remove sessions unused for `idle`, or opened before their account's epoch moved (for
    `flask users prune-sessions`); in the caller's write transaction. How many went."""
    stale_epoch = select(User.id).where(
        User.id == UserSession.user_id, User.session_epoch != UserSession.epoch
    )
    result = db.session.execute(
        delete(UserSession).where(
            (UserSession.last_seen_at < utcnow() - idle) | stale_epoch.exists()
        )
    )
    return int(result.rowcount or 0)
