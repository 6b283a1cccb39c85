"""Who may see and change what: the one place that turns a user into units and rows.

A user's scope is the subtree under `user.scope_unit`. Units are compared by materialized path,
so "is X inside Y" is a string-prefix test and "everything under Y" is a key range.
Cadres see the entries they created or took part in; secretaries and above see every entry in
their subtree. Every query for units, members, activities and photos goes through here.
"""

from __future__ import annotations

from typing import TypeVar

from sqlalchemy import ColumnElement, Select, and_, exists, false, or_, select

from webapp.models import Activity, Member, Participation, Unit, User

T = TypeVar("T")


def subtree_range(path: str) -> tuple[str, str]:
    """Half-open key range holding `path` and every path below it.

    Paths are '/'-separated ids ending in '/', and '0' is the character right after '/',
    so '/1/12/' .. '/1/120' holds '/1/12/345/' but not '/1/123/'.
    """
    return path, path[:-1] + "0"


def in_subtree(path_column: ColumnElement[str], path: str) -> ColumnElement[bool]:
    low, high = subtree_range(path)
    return and_(path_column >= low, path_column < high)


def is_within(unit: Unit, ancestor: Unit) -> bool:
    return unit.path.startswith(ancestor.path)


def can_read_unit(user: User, unit: Unit) -> bool:
    return user.active and is_within(unit, user.scope_unit)


def can_manage_unit(user: User, unit: Unit) -> bool:
    """Changing a unit's data (rosters, accounts) needs an admin whose scope covers it."""
    return user.active and user.has_role("admin") and is_within(unit, user.scope_unit)


def _in_scope(user: User) -> ColumnElement[bool]:
    """Unit rows inside the user's subtree; nothing at all for a deactivated account."""
    if not user.active:
        return false()
    return in_subtree(Unit.path, user.scope_unit.path)


def units(user: User) -> Select[tuple[Unit]]:
    """Every unit the user may see, as a query to refine."""
    return select(Unit).where(_in_scope(user))


def unit_ids(user: User) -> Select[tuple[int]]:
    return select(Unit.id).where(_in_scope(user))


def members(user: User) -> Select[tuple[Member]]:
    return select(Member).join(Unit, Member.unit_id == Unit.id).where(_in_scope(user))


def activity_filter(user: User) -> ColumnElement[bool]:
    """The condition an Activity row must meet to be visible to `user`."""
    in_scope = Activity.unit_id.in_(unit_ids(user))
    if user.has_role("secretary"):
        return in_scope
    own = Activity.created_by_id == user.id
    if user.member_id is None:
        return and_(in_scope, own)
    took_part = exists().where(
        Participation.activity_id == Activity.id, Participation.member_id == user.member_id
    )
    return and_(in_scope, or_(own, took_part))


def activities(user: User) -> Select[tuple[Activity]]:
    return select(Activity).where(activity_filter(user))


def can_read_activity(user: User, activity: Activity) -> bool:
    if not (user.active and is_within(activity.unit, user.scope_unit)):
        return False
    if user.has_role("secretary"):
        return True
    if activity.created_by_id == user.id:
        return True
    return user.member_id is not None and any(
        p.member_id == user.member_id for p in activity.participations
    )
