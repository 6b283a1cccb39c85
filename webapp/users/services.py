"""Accounts: creating them, changing roles, scopes and passwords, deactivating; all audited.

The rules live here so the command line and the admin pages apply the same ones.
`actor` is the user making the change, None when it comes from the command line (an operator
with shell access is trusted). `may_manage` is the one place that says who may manage which
account; every change below asks it first.
"""

from __future__ import annotations

import re
import secrets
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from webapp.audit import record
from webapp.auth.limits import clear_sign_in_failures, sign_in_lock
from webapp.auth.services import (
    PASSWORD_MAX,
    PASSWORD_MIN,
    AccountError,
    check_password_rules,
)
from webapp.extensions import db
from webapp.members.services import clean_phone
from webapp.models import ROLE_RANK, ROLES, Member, Unit, User
from webapp.scope import is_within
from webapp.units.services import unit_label

# The password rules and their error live with authentication; pages and the CLI import them
# from here along with everything else about accounts.
__all__ = [
    "LOCALES",
    "PASSWORD_MAX",
    "PASSWORD_MIN",
    "ROLE_LABELS",
    "AccountError",
    "check_may_manage",
    "check_password_rules",
    "create_user",
    "deactivate",
    "find_by_username",
    "get_by_username",
    "may_manage",
    "reactivate",
    "reset_password",
    "role_label",
    "set_password",
    "temporary_password",
    "unlock",
    "update_access",
]

LOCALES = ("vi", "en")
_USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")

ROLE_LABELS = {
    "cadre": _l("Cadre, party member"),
    "secretary": _l("Cell secretary"),
    "staff": _l("Staff"),
    "admin": _l("Administrator"),
}

# Temporary passwords: lower-case letters and digits a person cannot misread
# (no 0/o, 1/l/i), in three groups of four: 31**12 ≈ 2**59 possibilities.
TEMPORARY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"


def role_label(role: str) -> str:
    return str(ROLE_LABELS.get(role, role))


def find_by_username(username: str) -> User | None:
    return db.session.scalars(
        select(User).where(func.lower(User.username) == username.strip().lower())
    ).first()


def get_by_username(username: str) -> User:
    user = find_by_username(username)
    if user is None:
        raise AccountError(_("There is no account “%(username)s”.", username=username))
    return user


# -- who may manage which account ----------------------------------------------------------


def may_manage(
    actor: User | None,
    target_role: str,
    target_scope: Unit,
    *,
    account: User | None = None,
    deactivating: bool = False,
) -> str | None:
    """Why `actor` may not give an account `target_role` over `target_scope`, or None if
    they may. With `account`, the change is to that existing account (its present role and
    scope must be within reach too); `deactivating` asks about switching it off.

    - None as actor is the command line: allowed.
    - Only an active administrator manages accounts, and only inside their own subtree:
      the account's scope, now and after the change, must lie within the actor's scope.
    - Nobody gives a role above their own (an administrator may make other administrators,
      inside their scope).
    - Nobody changes their own role or scope or deactivates themselves: that is how one
      locks oneself out. Another administrator (or the command line) must do it.
    """
    if actor is None:
        return None
    if not (actor.active and actor.role == "admin"):
        return _("Only an administrator can manage accounts.")
    if account is not None:
        if not is_within(account.scope_unit, actor.scope_unit):
            return _("This account is outside your scope.")
        if ROLE_RANK[account.role] > ROLE_RANK[actor.role]:
            return _("This account has a role above your own.")
    if target_role not in ROLE_RANK:
        return _("Unknown role “%(role)s”.", role=target_role)
    if ROLE_RANK[target_role] > ROLE_RANK[actor.role]:
        return _("You cannot give a role above your own.")
    if not is_within(target_scope, actor.scope_unit):
        return _(
            "“%(unit)s” is outside your scope “%(scope)s”.",
            unit=unit_label(target_scope),
            scope=unit_label(actor.scope_unit),
        )
    if account is not None and account.id == actor.id:
        changes_self = (
            target_role != account.role or target_scope.id != account.scope_unit_id or deactivating
        )
        if changes_self:
            return _(
                "You cannot change the role or scope of your own account or deactivate it: "
                "ask another administrator."
            )
    return None


def check_may_manage(
    actor: User | None,
    target_role: str,
    target_scope: Unit,
    *,
    account: User | None = None,
    deactivating: bool = False,
) -> None:
    refusal = may_manage(
        actor, target_role, target_scope, account=account, deactivating=deactivating
    )
    if refusal is not None:
        raise AccountError(refusal)


def _actor_id(actor: User | None) -> int | None:
    return actor.id if actor is not None else None


# -- passwords ------------------------------------------------------------------------------


def temporary_password() -> str:
    """'k7mq-3xhp-w9ta': easy to read out over the phone, never stored but as a hash."""
    groups = ("".join(secrets.choice(TEMPORARY_ALPHABET) for _ in range(4)) for _ in range(3))
    return "-".join(groups)


def set_password(user: User, password: str, *, actor: User | None = None) -> None:
    """New password; sessions signed in with the old one stop working."""
    check_may_manage(actor, user.role, user.scope_unit, account=user)
    check_password_rules(password, user.username)
    before = {"session_epoch": user.session_epoch}
    user.set_password(password)
    db.session.flush()
    record(
        "user.set_password",
        user,
        actor_id=_actor_id(actor),
        unit_id=user.scope_unit_id,
        before=before,
        after={"session_epoch": user.session_epoch},
    )


def reset_password(user: User, *, actor: User | None) -> str:
    """Give the account a one-time password and return it (to show once, never to store).

    The person must choose their own at the next sign-in; their other sessions end now.
    """
    check_may_manage(actor, user.role, user.scope_unit, account=user)
    if actor is not None and actor.id == user.id:
        raise AccountError(_("Change your own password on the “My account” page."))
    password = temporary_password()
    before = {
        "must_change_password": user.must_change_password,
        "session_epoch": user.session_epoch,
    }
    user.set_password(password)
    user.must_change_password = True
    db.session.flush()
    record(
        "user.reset_password",
        user,
        actor_id=_actor_id(actor),
        unit_id=user.scope_unit_id,
        before=before,
        after={"must_change_password": True, "session_epoch": user.session_epoch},
    )
    return password


# -- creating and changing accounts ---------------------------------------------------------


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
    must_change_password: bool = False,
    actor: User | None = None,
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
    check_may_manage(actor, role, scope_unit)
    if locale is not None and locale not in LOCALES:
        raise AccountError(_("Unknown language “%(locale)s”; use vi or en.", locale=locale))
    check_password_rules(password, username)
    if find_by_username(username) is not None:
        raise AccountError(_("The username “%(username)s” is taken.", username=username))
    phone = _checked_phone(phone)
    if member is not None:
        if actor is not None and not is_within(member.unit, actor.scope_unit):
            raise AccountError(_("This member is outside your scope."))
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
        must_change_password=must_change_password,
    )
    user.set_password(password)
    db.session.add(user)
    db.session.flush()
    record(
        "user.create",
        user,
        actor_id=_actor_id(actor),
        unit_id=scope_unit.id,
        after=_snapshot(user),
    )
    return user


def update_access(user: User, *, role: str, scope_unit: Unit, actor: User | None) -> bool:
    """Change the account's role and scope; False if neither changes."""
    check_may_manage(actor, role, scope_unit, account=user)
    if role == user.role and scope_unit.id == user.scope_unit_id:
        return False
    if user.member is not None and role == "cadre":
        _check_member_scope(user.member, scope_unit)
    before = {"role": user.role, "scope_unit_id": user.scope_unit_id}
    user.role = role
    user.scope_unit = scope_unit
    db.session.flush()
    record(
        "user.update",
        user,
        actor_id=_actor_id(actor),
        unit_id=scope_unit.id,
        before=before,
        after={"role": role, "scope_unit_id": scope_unit.id},
    )
    return True


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


def _check_member_scope(member: Member, scope_unit: Unit) -> None:
    if not is_within(member.unit, scope_unit):
        raise AccountError(
            _(
                "%(name)s is a member of “%(unit)s”, outside the account's scope “%(scope)s”.",
                name=member.full_name,
                unit=unit_label(member.unit),
                scope=unit_label(scope_unit),
            )
        )


def _check_member(member: Member, role: str, scope_unit: Unit) -> None:
    if role == "cadre":
        _check_member_scope(member, scope_unit)
    other = db.session.scalars(select(User).where(User.member_id == member.id)).first()
    if other is not None:
        raise AccountError(
            _(
                "%(name)s already has the account “%(username)s”.",
                name=member.full_name,
                username=other.username,
            )
        )


# -- switching accounts off and on; unlocking ------------------------------------------------


def deactivate(user: User, *, actor: User | None = None) -> bool:
    """Stop the account and end its sessions; False if it was already inactive."""
    check_may_manage(actor, user.role, user.scope_unit, account=user, deactivating=True)
    if not user.active:
        return False
    before = {"active": True, "session_epoch": user.session_epoch}
    user.active = False
    user.session_epoch = (user.session_epoch or 0) + 1
    db.session.flush()
    record(
        "user.deactivate",
        user,
        actor_id=_actor_id(actor),
        unit_id=user.scope_unit_id,
        before=before,
        after={"active": False, "session_epoch": user.session_epoch},
    )
    return True


def reactivate(user: User, *, actor: User | None = None) -> bool:
    """Let the account sign in again (old sessions stay ended); False if it was active."""
    check_may_manage(actor, user.role, user.scope_unit, account=user)
    if user.active:
        return False
    user.active = True
    db.session.flush()
    record(
        "user.reactivate",
        user,
        actor_id=_actor_id(actor),
        unit_id=user.scope_unit_id,
        before={"active": False},
        after={"active": True},
    )
    return True


def unlock(user: User, *, actor: User | None = None) -> bool:
    """Forget the failed sign-ins counted against the account; False if none were counted.

    The audit event is written to the database, the limiter's storage is cleared at once
    (it is not transactional): the caller commits right after.
    """
    check_may_manage(actor, user.role, user.scope_unit, account=user)
    lock = sign_in_lock(user.id)
    if lock.failures == 0:
        return False
    clear_sign_in_failures(user.id)
    record(
        "user.unlock",
        user,
        actor_id=_actor_id(actor),
        unit_id=user.scope_unit_id,
        before={"locked": lock.locked, "failed_sign_ins": lock.failures},
        after={"locked": False, "failed_sign_ins": 0},
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
        "must_change_password": user.must_change_password,
    }
