"""Reading the audit log: filters, keyset pages, readable labels and before → after diffs.

An administrator sees the events recorded on units of their scope; events recorded on no unit
only reach administrators of a whole tree. Read-only: nothing here writes.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app
from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy import ColumnElement, Select, and_, func, or_, select

from webapp import scope
from webapp.extensions import db
from webapp.models import (
    Activity,
    ActivityKind,
    AuditEvent,
    Indicator,
    IndicatorGroup,
    Member,
    Program,
    Unit,
    User,
)
from webapp.units.tree import is_root_admin

PAGE_SIZE = 50
LIST_SHOWN = 20  # items of a list value shown before "and n more"


@dataclass
class Filters:
    who: str = ""
    unit: Unit | None = None
    action: str = ""
    since: date | None = None
    until: date | None = None
    older_than: int | None = None
    newer_than: int | None = None

    def query_args(self) -> dict[str, str]:
        """The filters as URL arguments, for the pager's links."""
        args = {
            "who": self.who,
            "unit": str(self.unit.id) if self.unit else "",
            "action": self.action,
            "since": self.since.isoformat() if self.since else "",
            "until": self.until.isoformat() if self.until else "",
        }
        return {k: v for k, v in args.items() if v}


@dataclass
class Page:
    events: list[AuditEvent]
    has_older: bool
    has_newer: bool
    actors: dict[int, User] = field(default_factory=dict)
    units: dict[int, Unit] = field(default_factory=dict)
    objects: dict[tuple[str, str], str] = field(default_factory=dict)


def visible(user: User) -> ColumnElement[bool]:
    """The events `user` may read."""
    in_scope = AuditEvent.unit_id.in_(scope.unit_ids(user))
    if is_root_admin(user):
        return or_(in_scope, AuditEvent.unit_id.is_(None))
    return in_scope


def _local_midnight_utc(day: date) -> datetime:
    zone = ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])
    return datetime.combine(day, time.min, tzinfo=zone).astimezone(UTC)


def _filtered(user: User, filters: Filters) -> Select[tuple[AuditEvent]]:
    stmt = select(AuditEvent).where(visible(user))
    if filters.who:
        people = select(User.id).where(
            func.lower(User.username).contains(filters.who.lower(), autoescape=True)
        )
        stmt = stmt.where(AuditEvent.actor_id.in_(people))
    if filters.unit is not None:
        below = select(Unit.id).where(scope.in_subtree(Unit.path, filters.unit.path))
        stmt = stmt.where(AuditEvent.unit_id.in_(below))
    if filters.action:
        stmt = stmt.where(AuditEvent.action == filters.action)
    # Dates are days in the app's time zone (Vietnam), the event times are UTC.
    if filters.since:
        stmt = stmt.where(AuditEvent.at >= _local_midnight_utc(filters.since))
    if filters.until:
        stmt = stmt.where(AuditEvent.at < _local_midnight_utc(filters.until + timedelta(days=1)))
    return stmt


def page(user: User, filters: Filters, size: int = PAGE_SIZE) -> Page:
    """Newest first, `size` at a time; the cursor is the event the previous page ended on."""
    stmt = _filtered(user, filters)
    at, ident = AuditEvent.at, AuditEvent.id
    cursor_id = filters.newer_than or filters.older_than
    cursor = db.session.get(AuditEvent, cursor_id) if cursor_id else None
    if cursor is not None and filters.newer_than:
        stmt = stmt.where(or_(at > cursor.at, and_(at == cursor.at, ident > cursor.id)))
        rows = list(db.session.scalars(stmt.order_by(at, ident).limit(size + 1)))
        events = list(reversed(rows[:size]))
        result = Page(events, has_older=True, has_newer=len(rows) > size)
    else:
        if cursor is not None:
            stmt = stmt.where(or_(at < cursor.at, and_(at == cursor.at, ident < cursor.id)))
        rows = list(db.session.scalars(stmt.order_by(at.desc(), ident.desc()).limit(size + 1)))
        result = Page(rows[:size], has_older=len(rows) > size, has_newer=cursor is not None)
    _load_names(result)
    return result


def actions(user: User) -> list[str]:
    """The distinct actions among the events `user` may read, for the filter."""
    stmt = select(AuditEvent.action).where(visible(user)).distinct().order_by(AuditEvent.action)
    return list(db.session.scalars(stmt))


def _int_ids(ids: set[str]) -> set[int]:
    return {int(i) for i in ids if i.isdigit() and len(i) < 19}


def _load_names(result: Page) -> None:
    """Who, where and what, for a whole page in one query per kind of thing."""
    events = result.events
    actor_ids = {e.actor_id for e in events if e.actor_id}
    if actor_ids:
        result.actors = {
            u.id: u for u in db.session.scalars(select(User).where(User.id.in_(actor_ids)))
        }
    unit_ids = {e.unit_id for e in events if e.unit_id}
    by_type: dict[str, set[str]] = {}
    for e in events:
        by_type.setdefault(e.object_type, set()).add(e.object_id)
    unit_ids |= _int_ids(by_type.get("unit", set()))
    if unit_ids:
        result.units = {
            u.id: u for u in db.session.scalars(select(Unit).where(Unit.id.in_(unit_ids)))
        }
    names = result.objects
    for unit_id, unit in result.units.items():
        names[("unit", str(unit_id))] = unit.name
    named: list[tuple[str, Any, Any]] = [
        ("app_user", User, User.username),
        ("member", Member, Member.full_name),
        ("activity_kind", ActivityKind, ActivityKind.name_vi),
        ("program", Program, Program.name_vi),
        ("indicator_group", IndicatorGroup, IndicatorGroup.name_vi),
        ("indicator", Indicator, Indicator.name_vi),
    ]
    for object_type, model, column in named:
        ids = _int_ids(by_type.get(object_type, set()))
        if ids:
            for object_id, name in db.session.execute(
                select(model.id, column).where(model.id.in_(ids))
            ):
                names[(object_type, str(object_id))] = name
    activity_ids = []
    for raw in by_type.get("activity", set()):
        try:
            activity_ids.append(uuid.UUID(raw))
        except ValueError:
            continue
    if activity_ids:
        for activity_id, summary in db.session.execute(
            select(Activity.id, Activity.summary).where(Activity.id.in_(activity_ids))
        ):
            names[("activity", str(activity_id))] = summary


# -- Labels ---------------------------------------------------------------------------------


def action_label(action: str) -> str:
    labels = {
        "activity.confirm": _("Entry confirmed"),
        "activity.return": _("Entry returned for correction"),
        "activity.unconfirm": _("Entry put back to waiting for review"),
        "activity.resubmit": _("Entry corrected and sent again"),
        "user.create": _("Account created"),
        "user.update": _("Account changed"),
        "user.set_password": _("Password set"),
        "user.change_password": _("Password changed by its owner"),
        "user.reset_password": _("Password reset"),
        "user.unlock": _("Account unlocked"),
        "user.deactivate": _("Account deactivated"),
        "user.reactivate": _("Account reactivated"),
        "member.create": _("Member added"),
        "member.update": _("Member changed"),
        "member.deactivate": _("Member deactivated"),
        "member.reactivate": _("Member reactivated"),
        "member.transfer": _("Member moved to another unit"),
        "unit.create": _("Unit added"),
        "unit.rename": _("Unit renamed"),
        "unit.move": _("Unit moved"),
        "unit.deactivate": _("Unit deactivated"),
        "unit.reactivate": _("Unit reactivated"),
        "unit.import_divisions": _("Official communes imported"),
        "activity_kind.create": _("Activity kind added"),
        "activity_kind.update": _("Activity kind changed"),
        "activity_kind.activate": _("Activity kind reactivated"),
        "activity_kind.deactivate": _("Activity kind deactivated"),
        "program.create": _("Programme added"),
        "program.update": _("Programme changed"),
        "program.activate": _("Programme reactivated"),
        "program.deactivate": _("Programme deactivated"),
        "indicator_group.create": _("Indicator group added"),
        "indicator_group.update": _("Indicator group changed"),
        "indicator_group.deactivate": _("Indicator group deactivated"),
        "indicator.create": _("Indicator added"),
        "indicator.update": _("Indicator changed"),
        "indicator.deactivate": _("Indicator deactivated"),
        "target.set": _("Target set"),
        "target.delete": _("Target removed"),
    }
    return labels.get(action, action)


def object_type_label(object_type: str) -> str:
    labels = {
        "unit": _("Unit"),
        "app_user": _("Account"),
        "member": _("Member"),
        "activity": _("Entry"),
        "activity_kind": _("Activity kind"),
        "program": _("Programme"),
        "indicator_group": _("Indicator group"),
        "indicator": _("Indicator"),
        "target": _("Target"),
    }
    return labels.get(object_type, object_type)


def _field_label(key: str) -> str:
    labels = {
        "name": _("Unit name"),
        "full_name": _("Full name"),
        "kind": _("Kind of unit"),
        "active": _("Active"),
        "parent": _("Parent unit"),
        "parent_id": _("Parent unit (id)"),
        "division_code": _("Division code"),
        "status": _("Status"),
        "reason": _("Reason"),
        "revision": _("Revision"),
        "code": _("Code"),
        "name_vi": _("Name in Vietnamese"),
        "name_en": _("Name in English"),
        "sort_order": _("Order in lists"),
        "starts_on": _("Starts on"),
        "ends_on": _("Ends on"),
        "role": _("Role"),
        "username": _("Username"),
        "province": _("Province"),
        "created": _("Units created"),
        "updated": _("Units updated"),
        "unchanged": _("Units unchanged"),
        "units": _("Units"),
    }
    return labels.get(key, key)


def show_value(value: Any) -> str:
    """A JSON value as a person reads it; the template escapes the result."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        shown = ", ".join(show_value(v) for v in value[:LIST_SHOWN])
        if len(value) > LIST_SHOWN:
            more = len(value) - LIST_SHOWN
            shown += " " + ngettext("and %(num)d more", "and %(num)d more", more)
        return shown or "—"
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


@dataclass(frozen=True)
class DiffRow:
    label: str
    before: str | None  # None: the field was not there
    after: str | None
    changed: bool


def diff(before: dict[str, Any] | None, after: dict[str, Any] | None) -> list[DiffRow]:
    """One row per field of either side, in the order they were recorded."""
    before, after = before or {}, after or {}
    if not isinstance(before, dict):
        before = {"": before}
    if not isinstance(after, dict):
        after = {"": after}
    rows = []
    for key in dict.fromkeys([*before, *after]):
        old = show_value(before[key]) if key in before else None
        new = show_value(after[key]) if key in after else None
        changed = key not in before or key not in after or before[key] != after[key]
        rows.append(DiffRow(_field_label(key), old, new, changed))
    return rows
