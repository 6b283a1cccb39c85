"""Accounts: creating them, changing passwords, deactivating; each change is audited.

Rules live here so the command line and (later) the admin pages apply the same ones.
`actor_id` is the user making the change, None when it comes from the command line.
"""

from __future__ import annotations

import re
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import func, select

from webapp.audit import record
from webapp.extensions import db
from webapp.members.services import clean_phone
from webapp.models import ROLES, Member, Unit, User
from webapp.scope import is_within
from webapp.units.services import unit_label

PASSWORD_MIN = 8
PASSWORD_MAX = 200
LOCALES = ("vi", "en")
_USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")


class AccountError(ValueError):
    """A request that breaks an account rule; the message says which, for a person to read."""


def find_by_username(username: str) -> User | None:
    return db.session.scalars(
        select(User).where(func.lower(User.username) == username.strip().lower())
    ).first()


def get_by_username(username: str) -> User:
    user = find_by_username(username)
    if user is None:
        raise AccountError(_("There is no account “%(username)s”.", username=username))
    return user


def check_password_rules(password: str) -> None:
    if len(password) < PASSWORD_MIN:
        raise AccountError(
            _("The password must have at least %(min)d characters.", min=PASSWORD_MIN)
        )
    if len(password) > PASSWORD_MAX:
        raise AccountError(
            _("The password must have at most %(max)d characters.", max=PASSWORD_MAX)
        )


def create_user(
    *,
    username: str,
    role: str,
    scope_unit: Unit,
    password: str,
    member: Member | None = None,
    phone: str | None = None,
    full_name: str | None = None,
    locale: str | None = None,
    actor_id: int | None = None,
) -> User:
    """A new active account; raises `AccountError` naming the first rule it breaks."""
    username = username.strip().lower()
    if not _USERNAME_RE.match(username):
        raise AccountError(
            _(
                "A username has 2 to 64 characters: lower-case letters without marks, digits, "
                "“.”, “_” or “-”, starting with a letter or digit."
            )
        )
    if role not in ROLES:
        raise AccountError(
            _("Unknown role “%(role)s”; use one of: %(roles)s", role=role, roles=", ".join(ROLES))
        )
    if locale is not None and locale not in LOCALES:
        raise AccountError(_("Unknown language “%(locale)s”; use vi or en.", locale=locale))
    check_password_rules(password)
    if find_by_username(username) is not None:
        raise AccountError(_("The username “%(username)s” is taken.", username=username))
    phone = _checked_phone(phone)
    if member is not None:
        _check_member(member, role, scope_unit)
    name = " ".join((full_name or "").split()) or (member.full_name if member else username)
    user = User(
        username=username,
        role=role,
        scope_unit=scope_unit,
        member=member,
        phone=phone,
        full_name=name,
        locale=locale,
        active=True,
    )
    user.set_password(password)
    db.session.add(user)
    db.session.flush()
    record("user.create", user, actor_id=actor_id, unit_id=scope_unit.id, after=_snapshot(user))
    return user


def _checked_phone(phone: str | None) -> str | None:
    if not phone:
        return None
    cleaned, error = clean_phone(phone)
    if error:
        raise AccountError(error)
    taken = db.session.scalars(select(User.id).where(User.phone == cleaned)).first()
    if taken is not None:
        raise AccountError(
            _("The phone number %(phone)s already belongs to another account.", phone=cleaned)
        )
    return cleaned


def _check_member(member: Member, role: str, scope_unit: Unit) -> None:
    if role == "cadre" and not is_within(member.unit, scope_unit):
        raise AccountError(
            _(
                "%(name)s is a member of “%(unit)s”, outside the account's scope “%(scope)s”.",
                name=member.full_name,
                unit=unit_label(member.unit),
                scope=unit_label(scope_unit),
            )
        )
    other = db.session.scalars(select(User).where(User.member_id == member.id)).first()
    if other is not None:
        raise AccountError(
            _(
                "%(name)s already has the account “%(username)s”.",
                name=member.full_name,
                username=other.username,
            )
        )


def set_password(user: User, password: str, *, actor_id: int | None = None) -> None:
    """New password; sessions signed in with the old one stop working."""
    check_password_rules(password)
    before = {"session_epoch": user.session_epoch}
    user.set_password(password)
    db.session.flush()
    record(
        "user.set_password",
        user,
        actor_id=actor_id,
        unit_id=user.scope_unit_id,
        before=before,
        after={"session_epoch": user.session_epoch},
    )


def deactivate(user: User, *, actor_id: int | None = None) -> bool:
    """Stop the account and end its sessions; False if it was already inactive."""
    if not user.active:
        return False
    before = {"active": True, "session_epoch": user.session_epoch}
    user.active = False
    user.session_epoch = (user.session_epoch or 0) + 1
    db.session.flush()
    record(
        "user.deactivate",
        user,
        actor_id=actor_id,
        unit_id=user.scope_unit_id,
        before=before,
        after={"active": False, "session_epoch": user.session_epoch},
    )
    return True


def _snapshot(user: User) -> dict[str, Any]:
    return {
        "username": user.username,
        "role": user.role,
        "scope_unit_id": user.scope_unit_id,
        "member_id": user.member_id,
        "phone": user.phone,
        "full_name": user.full_name,
        "locale": user.locale,
        "active": user.active,
    }
