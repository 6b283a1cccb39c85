"""Authentication rules, shared by the sign-in page and (later) the API."""

from __future__ import annotations

import functools

from flask import current_app
from sqlalchemy import func, or_, select, update
from werkzeug.security import check_password_hash, generate_password_hash

from webapp.database import begin_write
from webapp.extensions import db
from webapp.models import User, utcnow
from webapp.text import unstorable


@functools.cache
def _dummy_hash(method: str) -> str:
    """Checked when no account matches, so a wrong username costs as much time as a wrong
    password and timing does not reveal which accounts exist."""
    return generate_password_hash("not-a-real-password", method=method)


def normalise_login(value: str) -> str:
    return value.strip().lower()


def normalise_phone(value: str) -> str:
    """'+84 912 345 678' and '0912.345.678' are the same number."""
    digits = "".join(ch for ch in value if ch.isdigit())
    if digits.startswith("84") and len(digits) >= 11:
        digits = "0" + digits[2:]
    return digits


def find_user(login: str) -> User | None:
    if unstorable(login):
        return None
    login = normalise_login(login)
    phone = normalise_phone(login)
    conditions = [func.lower(User.username) == login]
    if len(phone) >= 9:
        conditions.append(User.phone == phone)
    return db.session.scalars(select(User).where(or_(*conditions)).limit(1)).first()


def authenticate(login: str, password: str) -> User | None:
    """The active user with these credentials, or None — never saying which part was wrong."""
    user = find_user(login)
    if user is None:
        check_password_hash(_dummy_hash(current_app.config["PASSWORD_HASH_METHOD"]), password)
        return None
    if not user.check_password(password) or not user.active:
        return None
    return user


def record_sign_in(user: User) -> None:
    """Note the time of a successful sign-in; a write, so it takes the write lock first
    (SQLite: many phones signing in at once queue instead of failing)."""
    user_id = user.id
    begin_write()
    db.session.execute(update(User).where(User.id == user_id).values(last_login_at=utcnow()))
