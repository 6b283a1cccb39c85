"""The roster on the admin pages: finding members in scope and changing them.

Who may do what is `webapp.scope`'s answer (`can_manage_unit`: an admin whose subtree holds
the unit); every change here is checked against it and recorded as an audit event with the
member before and after. The views commit; nothing here does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import Select, func, or_, select

from webapp import scope
from webapp.audit import record
from webapp.extensions import db
from webapp.members.services import (
    FULL_NAME_MAX,
    POSITION_MAX,
    clean_phone,
    find_member,
    member_snapshot,
)
from webapp.models import AuditEvent, Member, Unit, User
from webapp.text import fold
from webapp.units.services import PATH_SEPARATOR

PAGE_SIZE = 50
UNIT_CHOICES_MAX = 3000
STATUSES = ("active", "inactive", "all")
PARTY = ("", "yes", "no")


class RosterError(ValueError):
    """A refused change, with a message in the user's language."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class RosterFilters:
    unit_id: int | None = None
    q: str = ""
    status: str = "active"
    party: str = ""
    page: int = 1

    def args(self) -> dict[str, Any]:
        """The filters as query arguments (for links that keep them)."""
        args: dict[str, Any] = {"unit": self.unit_id, "q": self.q, "status": self.status}
        if self.party:
            args["party"] = self.party
        return {k: v for k, v in args.items() if v not in (None, "")}


@dataclass(frozen=True)
class RosterPage:
    unit: Unit
    members: list[Member]
    total: int
    page: int
    pages: int
    unit_names: dict[int, str]


def manageable_unit(user: User, unit_id: int | None) -> Unit | None:
    """The unit if `user` may manage it; the user's own scope unit when none is asked for."""
    unit = user.scope_unit if unit_id is None else db.session.get(Unit, unit_id)
    if unit is None or not scope.can_manage_unit(user, unit):
        return None
    return unit


def member_in_scope(user: User, member_id: int, *, for_update: bool = False) -> Member | None:
    """The member, if `user` may manage its unit (else None: the caller answers 404)."""
    query = scope.members(user).where(Member.id == member_id)
    if for_update:
        query = query.with_for_update(of=Member)
    member = db.session.scalars(query).one_or_none()
    if member is None or not scope.can_manage_unit(user, member.unit):
        return None
    return member


def filtered(user: User, unit: Unit, filters: RosterFilters) -> Select[tuple[Member]]:
    """Members of `unit`'s subtree matching the filters, through the scope module."""
    query = scope.members(user).where(scope.in_subtree(Unit.path, unit.path))
    words = fold(filters.q)
    if words:
        digits = "".join(ch for ch in filters.q if ch.isdigit())
        by_name = Member.search_name.contains(words, autoescape=True)
        if digits and digits == filters.q.replace(" ", "").replace(".", ""):
            query = query.where(or_(by_name, Member.phone.contains(digits, autoescape=True)))
        else:
            query = query.where(by_name)
    if filters.status == "active":
        query = query.where(Member.active.is_(True))
    elif filters.status == "inactive":
        query = query.where(Member.active.is_(False))
    if filters.party == "yes":
        query = query.where(Member.is_party_member.is_(True))
    elif filters.party == "no":
        query = query.where(Member.is_party_member.is_(False))
    return query.order_by(Unit.path, Member.search_name, Member.id)


def roster_page(user: User, unit: Unit, filters: RosterFilters) -> RosterPage:
    query = filtered(user, unit, filters)
    total = db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    total = total or 0
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(max(1, filters.page), pages)
    members = list(db.session.scalars(query.offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE)))
    names = unit_names(unit, {m.unit_id for m in members})
    return RosterPage(unit, members, total, page, pages, names)


def unit_names(top: Unit, ids: set[int]) -> dict[int, str]:
    """Units by their name path below `top` ('Chi bộ thôn Nà Va'), or `top`'s own name."""
    units = db.session.scalars(select(Unit).where(Unit.id.in_(ids))).all()
    ancestors = {i for unit in units for i in unit.ancestor_ids}
    rows = db.session.execute(select(Unit.id, Unit.name).where(Unit.id.in_(ancestors)))
    names = dict(rows.all())
    result = {}
    for unit in units:
        path = unit.ancestor_ids
        below = path[path.index(top.id) + 1 :] if top.id in path else path
        result[unit.id] = PATH_SEPARATOR.join(names[i] for i in below) or top.name
    return result


def unit_choices(user: User, *, active_only: bool = False) -> list[tuple[int, str]]:
    """The units `user` may manage, in tree order, each named by its path below the user's
    scope unit ('Xã Ngọc Đường / Chi bộ thôn Nà Tè'): clear in a closed select too."""
    if not user.has_role("admin"):
        return []
    query = scope.units(user).with_only_columns(Unit.id, Unit.name, Unit.path, Unit.active)
    if active_only:
        query = query.where(Unit.active.is_(True))
    rows = db.session.execute(query.order_by(Unit.path).limit(UNIT_CHOICES_MAX)).all()
    top = user.scope_unit
    names = {r.id: r.name for r in rows}
    choices = []
    for r in rows:
        ids = [int(part) for part in r.path.strip("/").split("/")]
        below = ids[ids.index(top.id) + 1 :] if top.id in ids else ids
        choices.append((r.id, PATH_SEPARATOR.join(names.get(i, "…") for i in below) or r.name))
    return choices


def history(member: Member) -> list[AuditEvent]:
    return list(
        db.session.scalars(
            select(AuditEvent)
            .where(AuditEvent.object_type == "member", AuditEvent.object_id == str(member.id))
            .order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
            .limit(50)
        )
    )


# -- changes ----------------------------------------------------------------------------------


def add_member(
    actor: User,
    unit: Unit,
    *,
    full_name: str,
    is_party_member: bool,
    position: str | None,
    phone: str | None,
) -> Member:
    _check_manage(actor, unit)
    fields = _clean(full_name, position, phone)
    _check_not_listed(unit, fields["full_name"], fields["phone"], None)
    member = Member(unit_id=unit.id, is_party_member=is_party_member, active=True, **fields)
    db.session.add(member)
    db.session.flush()
    record(
        "member.create",
        member,
        actor_id=actor.id,
        unit_id=unit.id,
        after=member_snapshot(member),
    )
    return member


def edit_member(
    actor: User,
    member: Member,
    *,
    full_name: str,
    is_party_member: bool,
    position: str | None,
    phone: str | None,
) -> bool:
    """Change the member's details; False if nothing changed."""
    _check_manage(actor, member.unit)
    wanted: dict[str, Any] = {**_clean(full_name, position, phone)}
    wanted["is_party_member"] = is_party_member
    changes = {k: (getattr(member, k), v) for k, v in wanted.items() if getattr(member, k) != v}
    if not changes:
        return False
    if "full_name" in changes or "phone" in changes:
        _check_not_listed(member.unit, wanted["full_name"], wanted["phone"], member)
    for name, (_old, new) in changes.items():
        setattr(member, name, new)
    db.session.flush()
    record(
        "member.update",
        member,
        actor_id=actor.id,
        unit_id=member.unit_id,
        before={k: old for k, (old, _new) in changes.items()},
        after={k: new for k, (_old, new) in changes.items()},
    )
    return True


def set_active(actor: User, member: Member, active: bool) -> bool:
    """Deactivate or reactivate; False if it already was so."""
    _check_manage(actor, member.unit)
    if member.active == active:
        return False
    member.active = active
    db.session.flush()
    record(
        "member.reactivate" if active else "member.deactivate",
        member,
        actor_id=actor.id,
        unit_id=member.unit_id,
        before={"active": not active},
        after={"active": active},
    )
    return True


def transfer(actor: User, member: Member, unit: Unit) -> bool:
    """Move the member to another unit in the actor's scope; False if already there.

    Only the member's unit changes: past participations belong to activities, and each
    activity keeps the unit that held it, so its tallies stay where they were.
    """
    _check_manage(actor, member.unit)
    if not scope.can_manage_unit(actor, unit):
        raise RosterError(_("You may only move members to units you manage."))
    if member.unit_id == unit.id:
        return False
    if not unit.active:
        raise RosterError(_("%(unit)s is closed; choose an open unit.", unit=unit.name))
    _check_not_listed(unit, member.full_name, member.phone, member)
    old = member.unit
    member.unit = unit
    db.session.flush()
    record(
        "member.transfer",
        member,
        actor_id=actor.id,
        unit_id=unit.id,
        before={"unit_id": old.id, "unit": old.name},
        after={"unit_id": unit.id, "unit": unit.name},
    )
    return True


def _check_manage(actor: User, unit: Unit) -> None:
    if not scope.can_manage_unit(actor, unit):
        raise RosterError(_("You may only change the rosters of units you manage."))


def _clean(full_name: str, position: str | None, phone: str | None) -> dict[str, Any]:
    name = " ".join((full_name or "").split())
    if not name:
        raise RosterError(_("Enter the member's full name."))
    if len(name) > FULL_NAME_MAX:
        raise RosterError(_("The name is longer than %(max)d characters.", max=FULL_NAME_MAX))
    position = " ".join((position or "").split()) or None
    if position and len(position) > POSITION_MAX:
        raise RosterError(_("The position is longer than %(max)d characters.", max=POSITION_MAX))
    cleaned, error = clean_phone(phone or "")
    if error:
        raise RosterError(error)
    return {"full_name": name, "position": position, "phone": cleaned}


def _check_not_listed(unit: Unit, full_name: str, phone: str | None, member: Member | None) -> None:
    """The import tells members apart by unit, name and phone: two alike would be one."""
    other = find_member(unit, full_name, phone)
    if other is not None and other is not member:
        raise RosterError(
            _(
                "%(name)s with this phone number is already on the roster of %(unit)s.",
                name=other.full_name,
                unit=unit.name,
            )
        )
