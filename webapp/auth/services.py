"""Authentication rules: signing in, password rules, a person changing their own password.

Shared by the sign-in page, the account pages and the command line. Nothing here imports the
account administration (webapp.users), which builds on this module.
"""

from __future__ import annotations

import functools

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import func, or_, select, update
from werkzeug.security import check_password_hash, generate_password_hash

from webapp.audit import record
from webapp.database import begin_write
from webapp.extensions import db
from webapp.models import User, utcnow
from webapp.text import unstorable

PASSWORD_MIN = 8
PASSWORD_MAX = 200


class AccountError(ValueError):
    """A request that breaks an account rule; the message says which, for a person to read.
    `field` names the input at fault when a form should show it there."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


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


def check_password_rules(password: str, username: str | None = None) -> None:
    if len(password) < PASSWORD_MIN:
        raise AccountError(
            _("The password must have at least %(min)d characters.", min=PASSWORD_MIN)
        )
    if len(password) > PASSWORD_MAX:
        raise AccountError(
            _("The password must have at most %(max)d characters.", max=PASSWORD_MAX)
        )
    if username and password.strip().lower() == username.strip().lower():
        raise AccountError(_("The password must not be the same as the username."))


def change_own_password(user: User, current: str, new: str) -> None:
    """The person changes their own password (also the way out of a temporary one).

    The session epoch moves, so every other session of the account ends; the caller signs the
    current session in again.
    """
    if not user.check_password(current):
        raise AccountError(_("The current password is not right."), field="current")
    check_password_rules(new, user.username)
    if new == current:
        raise AccountError(_("Choose a password different from the current one."))
    before = {
        "must_change_password": user.must_change_password,
        "session_epoch": user.session_epoch,
    }
    user.set_password(new)
    user.must_change_password = False
    db.session.flush()
    record(
        "user.change_password",
        user,
        actor_id=user.id,
        unit_id=user.scope_unit_id,
        before=before,
        after={"must_change_password": False, "session_epoch": user.session_epoch},
    )
