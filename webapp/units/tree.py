"""The unit tree as the admin pages see it: listing with counts, search, and the changes an
administrator makes (create, rename, move, deactivate, reactivate). Importing a province's
official communes from the page is `webapp.units.province_import`.

Creating and moving are `webapp.units.services.create_unit` and `move_unit`; this module adds
the checks, labels and audit events around them. Every change takes the acting user, refuses
what their scope does not cover (`scope.can_manage_unit`), flushes and records an audit event;
the view commits once.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy import String, and_, func, literal, select, union_all, update
from sqlalchemy.orm import aliased

from webapp import scope
from webapp.audit import record
from webapp.extensions import db
from webapp.i18n import fmt_number
from webapp.models import UNIT_KINDS, Member, Unit, User
from webapp.text import fold
from webapp.units.services import (
    CODE_MAX,
    NAME_MAX,
    PATH_SEPARATOR,
    MoveError,
    create_unit,
    find_child,
    move_unit,
)

CHILDREN_LIMIT = 500  # more children than this under one unit: the page says so; search finds them
SEARCH_LIMIT = 100


class UnitError(ValueError):
    """A refused change, with a message in the user's language."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def kind_label(kind: str) -> str:
    labels = {
        "province": _("Province"),
        "district": _("District (intermediate level)"),
        "commune": _("Commune"),
        "committee": _("Party committee"),
        "cell": _("Party cell"),
        "front": _("Fatherland Front"),
        "association": _("Association"),
    }
    return labels.get(kind, kind)


def is_root_admin(user: User) -> bool:
    """An active administrator whose scope is a whole tree: they keep the global lists."""
    return user.active and user.has_role("admin") and user.scope_unit.parent_id is None


# -- Reading --------------------------------------------------------------------------------


@dataclass
class Node:
    """A unit with what the tree shows beside it; counts cover the unit and everything below."""

    unit: Unit
    children: int = 0
    members: int = 0
    users: int = 0


def _subtree_end(path: Any) -> Any:
    """SQL for the exclusive end of the key range of `path`'s subtree (see scope.subtree_range)."""
    return func.substr(path, 1, func.length(path) - 1, type_=String) + literal("0")


def nodes(units: Sequence[Unit]) -> list[Node]:
    """`units` with their counts: one grouped query for all of them, however many."""
    by_id = {u.id: Node(u) for u in units}
    if not by_id:
        return []
    top, below = aliased(Unit), aliased(Unit)
    in_top = and_(below.path >= top.path, below.path < _subtree_end(top.path))
    ids = list(by_id)
    children = (
        select(Unit.parent_id.label("unit_id"), literal("c").label("what"), func.count())
        .where(Unit.parent_id.in_(ids))
        .group_by(Unit.parent_id)
    )
    members = (
        select(top.id, literal("m"), func.count(Member.id))
        .join(below, in_top)
        .join(Member, Member.unit_id == below.id)
        .where(top.id.in_(ids), Member.active)
        .group_by(top.id)
    )
    users = (
        select(top.id, literal("u"), func.count(User.id))
        .join(below, in_top)
        .join(User, User.scope_unit_id == below.id)
        .where(top.id.in_(ids), User.active)
        .group_by(top.id)
    )
    fields = {"c": "children", "m": "members", "u": "users"}
    for unit_id, what, count in db.session.execute(union_all(children, members, users)):
        setattr(by_id[unit_id], fields[what], count)
    return list(by_id.values())


def child_units(parent: Unit, limit: int = CHILDREN_LIMIT) -> list[Unit]:
    return list(
        db.session.scalars(
            select(Unit)
            .where(Unit.parent_id == parent.id)
            .order_by(Unit.active.desc(), Unit.search_name, Unit.id)
            .limit(limit)
        )
    )


def child_nodes(parent: Unit) -> list[Node]:
    return nodes(child_units(parent))


def unit_choices_below(unit: Unit) -> list[tuple[int, str]]:
    """(id, name) of a unit and its children: a unit filter that stays short on any tree."""
    rows = db.session.execute(
        select(Unit.id, Unit.name)
        .where(Unit.parent_id == unit.id)
        .order_by(Unit.search_name, Unit.id)
        .limit(CHILDREN_LIMIT)
    )
    return [(unit.id, unit.name), *((i, n) for i, n in rows)]


def labels(units: Iterable[Unit], start: Unit | None = None, *, own: bool = True) -> dict[int, str]:
    """Name paths ('Xã Lâm Bình / Chi bộ thôn Nà Va') for many units in one query, from
    `start` (the viewer's scope root) down, or from the top; without `own`, only the parents."""
    units = list(units)
    skip = len(start.ancestor_ids) - 1 if start is not None else 0
    wanted = {i for u in units for i in u.ancestor_ids}
    names = dict(db.session.execute(select(Unit.id, Unit.name).where(Unit.id.in_(wanted))).all())
    paths = {}
    for u in units:
        ids = u.ancestor_ids[max(skip, 0) :]
        paths[u.id] = PATH_SEPARATOR.join(names.get(i, "?") for i in (ids if own else ids[:-1]))
    return paths


def ancestors_within(unit: Unit, top: Unit) -> list[Unit]:
    """The units from `top` down to `unit`'s parent: the breadcrumb of a unit page."""
    ids = unit.ancestor_ids[len(top.ancestor_ids) - 1 : -1]
    found = {u.id: u for u in db.session.scalars(select(Unit).where(Unit.id.in_(ids)))}
    return [found[i] for i in ids if i in found]


def search(
    user: User, query: str, *, exclude: Unit | None = None, active_only: bool = False
) -> list[Unit]:
    """Units in `user`'s scope whose name holds every word of `query`, ignoring diacritics and
    case ('ngoc duong' finds 'Xã Ngọc Đường'); higher units first. `exclude` leaves out a
    subtree (a unit being moved cannot go under itself)."""
    words = fold(query).split()
    if not words:
        return []
    stmt = scope.units(user).where(
        *(Unit.search_name.contains(word, autoescape=True) for word in words)
    )
    if exclude is not None:
        stmt = stmt.where(~scope.in_subtree(Unit.path, exclude.path))
    if active_only:
        stmt = stmt.where(Unit.active)
    stmt = stmt.order_by(func.length(Unit.path), Unit.search_name, Unit.id).limit(SEARCH_LIMIT)
    return list(db.session.scalars(stmt))


@dataclass(frozen=True)
class Occupancy:
    """What is still active in a unit's subtree, the unit itself included."""

    units: int
    members: int
    users: int


def occupancy(unit: Unit) -> Occupancy:
    below = scope.in_subtree(Unit.path, unit.path)
    units = select(func.count(Unit.id)).where(below, Unit.active).scalar_subquery()
    members = (
        select(func.count(Member.id))
        .join(Unit, Member.unit_id == Unit.id)
        .where(below, Member.active)
        .scalar_subquery()
    )
    users = (
        select(func.count(User.id))
        .join(Unit, User.scope_unit_id == Unit.id)
        .where(below, User.active)
        .scalar_subquery()
    )
    row = db.session.execute(select(units, members, users)).one()
    return Occupancy(*row)


def deactivation_refusal(unit: Unit, occupied: Occupancy) -> str | None:
    """Why the unit cannot be switched off yet, or None. Active members and accounts below
    it would be left logging entries for a unit the phones no longer offer."""
    members = ngettext(
        "%(count)s active member",
        "%(count)s active members",
        occupied.members,
        count=fmt_number(occupied.members),
    )
    users = ngettext(
        "%(count)s active account",
        "%(count)s active accounts",
        occupied.users,
        count=fmt_number(occupied.users),
    )
    if occupied.members and occupied.users:
        return _(
            "%(unit)s still has %(members)s and %(users)s in it or below it. Move them to "
            "another unit or deactivate them first.",
            unit=unit.name,
            members=members,
            users=users,
        )
    if occupied.members or occupied.users:
        return _(
            "%(unit)s still has %(people)s in it or below it. Move them to another unit or "
            "deactivate them first.",
            unit=unit.name,
            people=members if occupied.members else users,
        )
    return None


# -- Changing -------------------------------------------------------------------------------


def check_manage(actor: User, unit: Unit) -> None:
    if not scope.can_manage_unit(actor, unit):
        raise UnitError(_("%(unit)s is outside your scope.", unit=unit.name))


def _check_name(parent: Unit | None, name: str, own: Unit | None = None) -> str:
    name = " ".join(name.split())
    if not name:
        raise UnitError(_("Enter a name."))
    if len(name) > NAME_MAX:
        raise UnitError(_("The name is longer than %(max)d characters.", max=NAME_MAX))
    clash = find_child(parent, name)
    if clash is not None and (own is None or clash.id != own.id):
        raise UnitError(
            _(
                "%(parent)s already has a unit named %(name)s.",
                parent=parent.name if parent else "—",
                name=clash.name,
            )
        )
    return name


def snapshot(unit: Unit) -> dict[str, Any]:
    return {
        "name": unit.name,
        "kind": unit.kind,
        "division_code": unit.division_code,
        "parent_id": unit.parent_id,
        "active": unit.active,
    }


def add_unit(
    actor: User, parent: Unit, name: str, kind: str, division_code: str | None = None
) -> Unit:
    check_manage(actor, parent)
    if not parent.active:
        raise UnitError(_("%(unit)s is inactive; reactivate it first.", unit=parent.name))
    name = _check_name(parent, name)
    if kind not in UNIT_KINDS:
        raise UnitError(_("Choose a kind of unit."))
    code = (division_code or "").strip() or None
    if code is not None:
        if not (code.isdigit() and len(code) <= CODE_MAX):
            raise UnitError(_("A division code is digits only, at most %(max)d.", max=CODE_MAX))
        holder = db.session.scalars(select(Unit).where(Unit.division_code == code)).first()
        if holder is not None:
            raise UnitError(
                _(
                    "Division code %(code)s already belongs to %(unit)s.",
                    code=code,
                    unit=holder.name,
                )
            )
    unit = create_unit(name, kind, parent, code)
    record("unit.create", unit, actor_id=actor.id, unit_id=unit.id, after=snapshot(unit))
    return unit


def rename_unit(actor: User, unit: Unit, name: str) -> bool:
    """True if the name changed."""
    check_manage(actor, unit)
    name = _check_name(unit.parent, name, own=unit)
    if name == unit.name:
        return False
    before = {"name": unit.name}
    unit.name = name
    db.session.flush()
    record(
        "unit.rename", unit, actor_id=actor.id, unit_id=unit.id, before=before, after={"name": name}
    )
    return True


def move(actor: User, unit: Unit, new_parent: Unit) -> Unit:
    """Move `unit` with its subtree under `new_parent`, both inside the actor's scope; tallies
    follow in the same transaction (`move_unit`). Returns the reloaded unit."""
    check_manage(actor, unit)
    check_manage(actor, new_parent)
    if unit.id == actor.scope_unit_id:
        raise UnitError(_("This is the top of your part of the tree; it cannot be moved."))
    if not new_parent.active:
        raise UnitError(_("%(unit)s is inactive; reactivate it first.", unit=new_parent.name))
    old_parent = unit.parent
    before = {"parent_id": unit.parent_id, "parent": old_parent.name if old_parent else None}
    unit_id, new_parent_id = unit.id, new_parent.id
    try:
        move_unit(unit, new_parent)
    except MoveError as refused:
        raise UnitError(refused.message) from None
    moved = db.session.get_one(Unit, unit_id)
    if before["parent_id"] != new_parent_id:
        record(
            "unit.move",
            moved,
            actor_id=actor.id,
            unit_id=unit_id,
            before=before,
            after={"parent_id": new_parent_id, "parent": new_parent.name},
        )
    return moved


def deactivate(actor: User, unit: Unit) -> int:
    """Switch off the unit and every unit below it; refused while people are active there.
    Returns how many units were switched off."""
    check_manage(actor, unit)
    if unit.id == actor.scope_unit_id:
        raise UnitError(_("This is the top of your part of the tree; it cannot be deactivated."))
    refusal = deactivation_refusal(unit, occupancy(unit))
    if refusal is not None:
        raise UnitError(refusal)
    if not unit.active:
        return 0
    result = db.session.execute(
        update(Unit)
        .where(scope.in_subtree(Unit.path, unit.path), Unit.active)
        .values(active=False)
        .execution_options(synchronize_session=False)
    )
    count = int(result.rowcount or 0)  # type: ignore[attr-defined]
    for obj in list(db.session.identity_map.values()):
        if isinstance(obj, Unit):
            db.session.expire(obj)
    record(
        "unit.deactivate",
        unit,
        actor_id=actor.id,
        unit_id=unit.id,
        before={"active": True},
        after={"active": False, "units": count},
    )
    return count


def reactivate(actor: User, unit: Unit) -> bool:
    """Switch the unit itself back on (the units below it stay as they are)."""
    check_manage(actor, unit)
    if unit.active:
        return False
    if unit.parent is not None and not unit.parent.active:
        raise UnitError(_("%(unit)s is inactive; reactivate it first.", unit=unit.parent.name))
    unit.active = True
    db.session.flush()
    record(
        "unit.reactivate",
        unit,
        actor_id=actor.id,
        unit_id=unit.id,
        before={"active": False},
        after={"active": True},
    )
    return True
