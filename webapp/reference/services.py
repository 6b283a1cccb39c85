"""Activity kinds and programmes: creating, editing, switching on and off.

These lists are global (every unit's phones download them), so only an administrator whose
scope is a whole tree changes them (`may_edit`). Every change is an audit event, recorded on
the actor's scope unit so that the audit log of that tree shows it. Services flush; the view
commits.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select

from webapp.audit import record
from webapp.extensions import db
from webapp.models import ActivityKind, Program, User
from webapp.units.tree import is_root_admin

CODE_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
CODE_MAX = 40


class ListError(ValueError):
    """A refused change: `field` names the form field it belongs to (None: the whole form)."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


def may_edit(user: User) -> bool:
    return is_root_admin(user)


def _check_actor(actor: User) -> None:
    if not may_edit(actor):
        raise ListError(_("Only an administrator of a whole province changes these lists."))


@dataclass
class KindData:
    code: str
    name_vi: str
    name_en: str
    sort_order: int = 0


@dataclass
class ProgramData:
    code: str
    name_vi: str
    name_en: str
    starts_on: date | None = None
    ends_on: date | None = None


Model = type[ActivityKind] | type[Program]


def _clean_code(model: Model, code: str, own_id: int | None) -> str:
    code = code.strip().lower()
    if not code:
        raise ListError(_("Enter a code."), "code")
    if len(code) > CODE_MAX or not CODE_PATTERN.match(code):
        raise ListError(
            _(
                "A code is at most %(max)d lower-case letters without diacritics, digits, "
                "“_” or “-”, such as home_visit.",
                max=CODE_MAX,
            ),
            "code",
        )
    taken = db.session.scalars(select(model).where(model.code == code)).first()
    if taken is not None and taken.id != own_id:
        raise ListError(
            _("The code %(code)s is already used by %(name)s.", code=code, name=taken.name_vi),
            "code",
        )
    return code


def _clean_names(name_vi: str, name_en: str) -> tuple[str, str]:
    name_vi, name_en = " ".join(name_vi.split()), " ".join((name_en or "").split())
    if not name_vi:
        raise ListError(_("Enter the Vietnamese name."), "name_vi")
    return name_vi, name_en


def kind_snapshot(kind: ActivityKind) -> dict[str, Any]:
    return {
        "code": kind.code,
        "name_vi": kind.name_vi,
        "name_en": kind.name_en,
        "sort_order": kind.sort_order,
        "active": kind.active,
    }


def program_snapshot(program: Program) -> dict[str, Any]:
    return {
        "code": program.code,
        "name_vi": program.name_vi,
        "name_en": program.name_en,
        "starts_on": program.starts_on.isoformat() if program.starts_on else None,
        "ends_on": program.ends_on.isoformat() if program.ends_on else None,
        "active": program.active,
    }


def _changes(
    before: dict[str, Any], after: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Only the fields that changed, before and after."""
    keys = [k for k in after if before.get(k) != after[k]]
    return {k: before.get(k) for k in keys}, {k: after[k] for k in keys}


def _record(action: str, obj: Any, actor: User, before: Any, after: Any) -> None:
    record(action, obj, actor_id=actor.id, unit_id=actor.scope_unit_id, before=before, after=after)


# -- Activity kinds -------------------------------------------------------------------------


def save_kind(actor: User, data: KindData, kind: ActivityKind | None = None) -> ActivityKind:
    """Create a kind (kind=None) or change one; returns it."""
    _check_actor(actor)
    code = _clean_code(ActivityKind, data.code, kind.id if kind else None)
    name_vi, name_en = _clean_names(data.name_vi, data.name_en)
    before = kind_snapshot(kind) if kind is not None else None
    if kind is None:
        kind = ActivityKind(active=True)
        db.session.add(kind)
    kind.code, kind.name_vi, kind.name_en = code, name_vi, name_en
    kind.sort_order = data.sort_order or 0
    db.session.flush()
    after = kind_snapshot(kind)
    if before is None:
        _record("activity_kind.create", kind, actor, None, after)
    elif before != after:
        _record("activity_kind.update", kind, actor, *_changes(before, after))
    return kind


def set_kind_active(actor: User, kind: ActivityKind, active: bool) -> bool:
    _check_actor(actor)
    if kind.active == active:
        return False
    kind.active = active
    db.session.flush()
    action = "activity_kind.activate" if active else "activity_kind.deactivate"
    _record(action, kind, actor, {"active": not active}, {"active": active})
    return True


# -- Programmes -----------------------------------------------------------------------------


def save_program(actor: User, data: ProgramData, program: Program | None = None) -> Program:
    _check_actor(actor)
    code = _clean_code(Program, data.code, program.id if program else None)
    name_vi, name_en = _clean_names(data.name_vi, data.name_en)
    if data.starts_on and data.ends_on and data.ends_on < data.starts_on:
        raise ListError(_("The end date must be on or after the start date."), "ends_on")
    before = program_snapshot(program) if program is not None else None
    if program is None:
        program = Program(active=True)
        db.session.add(program)
    program.code, program.name_vi, program.name_en = code, name_vi, name_en
    program.starts_on, program.ends_on = data.starts_on, data.ends_on
    db.session.flush()
    after = program_snapshot(program)
    if before is None:
        _record("program.create", program, actor, None, after)
    elif before != after:
        _record("program.update", program, actor, *_changes(before, after))
    return program


def set_program_active(actor: User, program: Program, active: bool) -> bool:
    _check_actor(actor)
    if program.active == active:
        return False
    program.active = active
    db.session.flush()
    action = "program.activate" if active else "program.deactivate"
    _record(action, program, actor, {"active": not active}, {"active": active})
    return True


# -- Listing --------------------------------------------------------------------------------


def kinds() -> list[ActivityKind]:
    return list(
        db.session.scalars(
            select(ActivityKind).order_by(
                ActivityKind.active.desc(), ActivityKind.sort_order, ActivityKind.id
            )
        )
    )


def programs() -> list[Program]:
    return list(
        db.session.scalars(
            select(Program).order_by(
                Program.active.desc(), Program.starts_on.desc().nulls_last(), Program.code
            )
        )
    )
