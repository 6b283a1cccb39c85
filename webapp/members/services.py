"""The roster: checking and importing members of units.

One import serves the command line (`flask members import-csv`) and the admin page (CSV or
Excel, previewed first): rows are matched to existing members by unit, name without
diacritics, and phone; every change is an audit event; any wrong row stops the whole import.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select

from webapp.audit import record
from webapp.auth.services import normalise_phone
from webapp.csv_import import ErrorList, ImportCounts, Row, parse_bool
from webapp.extensions import db
from webapp.models import Member, Unit
from webapp.scope import is_within
from webapp.text import fold
from webapp.units.services import UnitFinder, find_child, missing_unit_message

MEMBER_COLUMNS = ("unit", "full_name", "is_party_member", "position", "phone")
# May be left out: blank means "on the roster" (a new member is active, an old one returns).
MEMBER_OPTIONAL = ("active",)
# The file's headers as people write them; English names and these match without diacritics.
MEMBER_HEADERS_VI = {
    "unit": "Đơn vị",
    "full_name": "Họ và tên",
    "is_party_member": "Đảng viên",
    "position": "Chức vụ",
    "phone": "Số điện thoại",
    "active": "Đang hoạt động",
}
MEMBER_ALIASES = {
    **{header: column for column, header in MEMBER_HEADERS_VI.items()},
    "Tên đơn vị": "unit",
    "Chi bộ": "unit",
    "Họ tên": "full_name",
    "Tên": "full_name",
    "Là đảng viên": "is_party_member",
    "Điện thoại": "phone",
    "SĐT": "phone",
    "Trạng thái": "active",
    "Còn sinh hoạt": "active",
    "Đang sinh hoạt": "active",
}
FULL_NAME_MAX = 120
POSITION_MAX = 120
PHONE_DIGITS = (9, 11)
_FORMULA_QUOTE = ("'=", "'+", "'-", "'@")  # how our exports keep a cell from being a formula
_PATH_SPLIT = re.compile(r"\s+/\s+")  # as units.services reads 'Xã Lâm Bình / Chi bộ …'


def clean_phone(value: str, *, lost_zero: bool = False) -> tuple[str | None, str | None]:
    """(normalised phone or None, error message or None) for a phone number as typed.

    `lost_zero`: the value comes from a spreadsheet, where a number typed as 0912345678 is
    often stored as the number 912345678. Only the shapes of Vietnamese numbers are mended:
    9 digits starting 3, 5, 7, 8 or 9 (a mobile) and 10 digits starting 2 (a landline).
    """
    if not value.strip():
        return None, None
    phone = normalise_phone(value)
    if lost_zero and value.strip().isdigit() and _lost_its_zero(phone):
        phone = "0" + phone
    low, high = PHONE_DIGITS
    if not (low <= len(phone) <= high and phone.startswith("0")):
        return None, _(
            "“%(phone)s” is not a phone number: %(low)d to %(high)d digits starting with 0",
            phone=value,
            low=low,
            high=high,
        )
    return phone, None


def _lost_its_zero(digits: str) -> bool:
    return (len(digits) == 9 and digits[0] in "35789") or (len(digits) == 10 and digits[0] == "2")


def find_member(unit: Unit, full_name: str, phone: str | None) -> Member | None:
    """The member of `unit` with this name (ignoring diacritics and case) and phone."""
    query = select(Member).where(
        Member.unit_id == unit.id,
        Member.search_name == fold(full_name),
        Member.phone.is_(None) if phone is None else Member.phone == phone,
    )
    return db.session.scalars(query.order_by(Member.id).limit(1)).first()


def member_snapshot(member: Member) -> dict[str, Any]:
    """What an audit event records of a member."""
    return {
        "unit_id": member.unit_id,
        "full_name": member.full_name,
        "is_party_member": member.is_party_member,
        "position": member.position,
        "phone": member.phone,
        "active": member.active,
    }


@dataclass(frozen=True)
class RowOutcome:
    """What an import does with one row: `changes` maps a field to (before, after)."""

    line: int
    outcome: str  # created | updated | unchanged
    unit_id: int
    full_name: str
    phone: str | None
    is_party_member: bool
    position: str | None
    changes: dict[str, tuple[Any, Any]] = field(default_factory=dict)


def import_members(
    rows: Sequence[Row],
    *,
    within: Unit | None = None,
    default_unit: Unit | None = None,
    actor_id: int | None = None,
    outcomes: list[RowOutcome] | None = None,
) -> ImportCounts:
    """Add the members of `rows` to their units.

    A row is the same member as an existing one of that unit with the same folded name and
    phone: unchanged if nothing differs, else its party membership, position and (if the
    optional `active` column says so) status are updated. With `within`, every unit must lie
    in that subtree, and a unit may also be named by its path below it. `default_unit` stands
    for an empty unit cell. `outcomes`, if given, receives what happens to each good row (even
    when others are wrong). If any row is wrong, `ImportFailed` lists every problem and the
    caller rolls back.
    """
    errors = ErrorList()
    counts = ImportCounts()
    find = _unit_finder(within)
    index = _MemberIndex()
    seen: dict[tuple[int, str, str | None], int] = {}
    created: list[Member] = []
    for row in rows:
        before = len(errors.errors)
        unit = _row_unit(row, find, default_unit, errors)
        full_name = " ".join(_unquote(row["full_name"]).split())
        if not full_name:
            errors.add(row.line, "full_name", _("the name is empty"))
        elif len(full_name) > FULL_NAME_MAX:
            errors.add(
                row.line,
                "full_name",
                _("the name is longer than %(max)d characters", max=FULL_NAME_MAX),
            )
        is_party_member = _row_bool(row, "is_party_member", errors)
        active = _row_bool(row, "active", errors)
        position = _unquote(row["position"]) or None
        if position and len(position) > POSITION_MAX:
            errors.add(
                row.line,
                "position",
                _("the position is longer than %(max)d characters", max=POSITION_MAX),
            )
        phone, phone_error = clean_phone(row["phone"], lost_zero=True)
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
        member = index.find(unit.id, full_name, phone)
        if member is None:
            member = Member(
                unit_id=unit.id,
                full_name=full_name,
                is_party_member=True if is_party_member is None else is_party_member,
                position=position,
                phone=phone,
                active=True if active is None else active,
            )
            db.session.add(member)
            index.add(member)
            created.append(member)
            outcome = RowOutcome(
                row.line, "created", unit.id, full_name, phone, member.is_party_member, position
            )
        else:
            changes = _update_member(member, is_party_member, position, active)
            if changes:
                db.session.flush()
                record(
                    "member.update",
                    member,
                    actor_id=actor_id,
                    unit_id=member.unit_id,
                    before={name: old for name, (old, _new) in changes.items()},
                    after={name: new for name, (_old, new) in changes.items()},
                )
            outcome = RowOutcome(
                row.line,
                "updated" if changes else "unchanged",
                unit.id,
                member.full_name,
                phone,
                member.is_party_member,
                member.position,
                changes,
            )
        setattr(counts, outcome.outcome, getattr(counts, outcome.outcome) + 1)
        if outcomes is not None:
            outcomes.append(outcome)
    errors.raise_if_any()
    db.session.flush()
    for member in created:
        record(
            "member.create",
            member,
            actor_id=actor_id,
            unit_id=member.unit_id,
            after=member_snapshot(member),
        )
    db.session.flush()
    return counts


class _MemberIndex:
    """Each unit's members by (folded name, phone), read once per unit: an import of a whole
    roster costs one query per unit rather than one per row."""

    def __init__(self) -> None:
        self._units: dict[int, dict[tuple[str, str | None], Member]] = {}

    def _unit(self, unit_id: int) -> dict[tuple[str, str | None], Member]:
        known = self._units.get(unit_id)
        if known is None:
            known = {}
            query = select(Member).where(Member.unit_id == unit_id).order_by(Member.id)
            for member in db.session.scalars(query):
                known.setdefault((member.search_name, member.phone), member)
            self._units[unit_id] = known
        return known

    def find(self, unit_id: int, full_name: str, phone: str | None) -> Member | None:
        return self._unit(unit_id).get((fold(full_name), phone))

    def add(self, member: Member) -> None:
        self._unit(member.unit_id).setdefault((fold(member.full_name), member.phone), member)


def _unit_finder(within: Unit | None) -> Callable[[str], Unit | None]:
    """`find_unit` with a memory; with `within`, only units in that subtree, also named by
    their path below it ('Chi bộ thôn Nà Va' for an admin of its commune)."""
    find = UnitFinder()
    if within is None:
        return find
    below: dict[str, Unit | None] = {}

    def scoped(ref: str) -> Unit | None:
        unit = find(ref)
        if unit is None or not is_within(unit, within):
            key = ref.strip()
            if key not in below:
                below[key] = _find_below(within, key)
            unit = below[key]
        return unit if unit is not None and is_within(unit, within) else None

    return scoped


def _find_below(top: Unit, ref: str) -> Unit | None:
    unit: Unit | None = top
    for part in _PATH_SPLIT.split(ref):
        unit = find_child(unit, part.strip())
        if unit is None:
            return None
    return unit


def _row_unit(
    row: Row, find: Callable[[str], Unit | None], default: Unit | None, errors: ErrorList
) -> Unit | None:
    if not row["unit"]:
        if default is not None:
            return default
        errors.add(row.line, "unit", _("the unit is empty"))
        return None
    unit = find(row["unit"])
    if unit is None:
        errors.add(row.line, "unit", missing_unit_message(row["unit"]))
    return unit


def _row_bool(row: Row, column: str, errors: ErrorList) -> bool | None:
    """A yes/no cell: None when blank (not given)."""
    if not row[column]:
        return None
    parsed = parse_bool(row[column])
    if parsed is None:
        errors.add(
            row.line,
            column,
            _(
                "“%(value)s” is not yes or no (use 1/0, yes/no, có/không, true/false)",
                value=row[column],
            ),
        )
    return parsed


def _unquote(value: str) -> str:
    """Our exports write '=… as text; take the quote off again."""
    return value[1:] if value.startswith(_FORMULA_QUOTE) else value


def _update_member(
    member: Member, is_party_member: bool | None, position: str | None, active: bool | None
) -> dict[str, tuple[Any, Any]]:
    """Apply what a row says about an existing member; the fields that changed."""
    changes: dict[str, tuple[Any, Any]] = {}
    wanted = {
        "is_party_member": is_party_member,
        "position": position,
        "active": True if active is None else active,
    }
    for name, value in wanted.items():
        if value is not None and getattr(member, name) != value:
            changes[name] = (getattr(member, name), value)
            setattr(member, name, value)
    return changes
