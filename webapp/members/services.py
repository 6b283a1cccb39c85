"""The roster: checking and importing members of units."""

from __future__ import annotations

from collections.abc import Sequence

from flask_babel import gettext as _
from sqlalchemy import select

from webapp.auth.services import normalise_phone
from webapp.csv_import import ErrorList, ImportCounts, Row, parse_bool
from webapp.extensions import db
from webapp.models import Member, Unit
from webapp.text import fold
from webapp.units.services import UnitFinder, missing_unit_message

MEMBER_COLUMNS = ("unit", "full_name", "is_party_member", "position", "phone")
FULL_NAME_MAX = 120
POSITION_MAX = 120
PHONE_DIGITS = (9, 11)


def clean_phone(value: str) -> tuple[str | None, str | None]:
    """(normalised phone or None, error message or None) for a phone number as typed."""
    if not value.strip():
        return None, None
    phone = normalise_phone(value)
    low, high = PHONE_DIGITS
    if not (low <= len(phone) <= high and phone.startswith("0")):
        return None, _(
            "“%(phone)s” is not a phone number: %(low)d to %(high)d digits starting with 0",
            phone=value,
            low=low,
            high=high,
        )
    return phone, None


def find_member(unit: Unit, full_name: str, phone: str | None) -> Member | None:
    """The member of `unit` with this name (ignoring diacritics and case) and phone."""
    query = select(Member).where(
        Member.unit_id == unit.id,
        Member.search_name == fold(full_name),
        Member.phone.is_(None) if phone is None else Member.phone == phone,
    )
    return db.session.scalars(query.order_by(Member.id).limit(1)).first()


def import_members(rows: Sequence[Row]) -> ImportCounts:
    """Add the members of `rows` to their units.

    A row is the same member as an existing one of that unit with the same folded name and
    phone: unchanged if nothing differs, else its party membership and position are updated.
    If any row is wrong, `ImportFailed` lists every problem and the caller rolls back.
    """
    errors = ErrorList()
    counts = ImportCounts()
    find = UnitFinder()
    seen: dict[tuple[int, str, str | None], int] = {}
    for row in rows:
        before = len(errors.errors)
        unit = _row_unit(row, find, errors)
        full_name = " ".join(row["full_name"].split())
        if not full_name:
            errors.add(row.line, "full_name", _("the name is empty"))
        elif len(full_name) > FULL_NAME_MAX:
            errors.add(
                row.line,
                "full_name",
                _("the name is longer than %(max)d characters", max=FULL_NAME_MAX),
            )
        is_party_member: bool | None = None  # not given: a new member is one, others unchanged
        if row["is_party_member"]:
            parsed = parse_bool(row["is_party_member"])
            if parsed is None:
                errors.add(
                    row.line,
                    "is_party_member",
                    _(
                        "“%(value)s” is not yes or no (use 1/0, yes/no, có/không, true/false)",
                        value=row["is_party_member"],
                    ),
                )
            else:
                is_party_member = parsed
        position = row["position"] or None
        if position and len(position) > POSITION_MAX:
            errors.add(
                row.line,
                "position",
                _("the position is longer than %(max)d characters", max=POSITION_MAX),
            )
        phone, phone_error = clean_phone(row["phone"])
        if phone_error:
            errors.add(row.line, "phone", phone_error)
        if len(errors.errors) > before or unit is None:
            continue
        key = (unit.id, fold(full_name), phone)
        if key in seen:
            errors.add(
                row.line,
                "full_name",
                _("the same member is already on line %(other)d", other=seen[key]),
            )
            continue
        seen[key] = row.line
        outcome = _apply_member(unit, full_name, is_party_member, position, phone)
        setattr(counts, outcome, getattr(counts, outcome) + 1)
    errors.raise_if_any()
    return counts


def _row_unit(row: Row, find: UnitFinder, errors: ErrorList) -> Unit | None:
    if not row["unit"]:
        errors.add(row.line, "unit", _("the unit is empty"))
        return None
    unit = find(row["unit"])
    if unit is None:
        errors.add(row.line, "unit", missing_unit_message(row["unit"]))
    return unit


def _apply_member(
    unit: Unit,
    full_name: str,
    is_party_member: bool | None,
    position: str | None,
    phone: str | None,
) -> str:
    member = find_member(unit, full_name, phone)
    if member is None:
        member = Member(
            unit_id=unit.id,
            full_name=full_name,
            is_party_member=True if is_party_member is None else is_party_member,
            position=position,
            phone=phone,
        )
        db.session.add(member)
        db.session.flush()
        return "created"
    changed = False
    if is_party_member is not None and member.is_party_member != is_party_member:
        member.is_party_member = is_party_member
        changed = True
    if position is not None and member.position != position:
        member.position = position
        changed = True
    if not member.active:
        member.active = True
        changed = True
    if changed:
        db.session.flush()
        return "updated"
    return "unchanged"
