"""Targets from and to spreadsheets: the CSV import (all or nothing) and its template.

The rules are those of `webapp.tallies.targets.set_target`, so a row is refused for the same
reasons a page would refuse it, scope included; see that module for who may set what.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass

from flask_babel import gettext as _
from sqlalchemy import select

from webapp.csv_import import ErrorList, ImportCounts, Row
from webapp.extensions import db
from webapp.models import Indicator, IndicatorGroup, Target, Unit, User
from webapp.tallies.targets import (
    TargetError,
    get_target,
    not_a_number_message,
    parse_number,
    set_target,
)
from webapp.units.services import UnitFinder, missing_unit_message, unit_label

TARGET_COLUMNS = ("indicator", "unit", "year", "value")


@dataclass(frozen=True)
class TargetChange:
    """What one row changes, for a preview: `before` is None for a new target."""

    line: int
    indicator: Indicator
    unit: Unit
    year: int
    before: float | None
    after: float


def import_targets(
    rows: Sequence[Row], actor: User | None, *, changes: list[TargetChange] | None = None
) -> ImportCounts:
    """Set the targets of `rows` (columns TARGET_COLUMNS) as `actor`; rows that change a
    target are appended to `changes` if given.

    A row names an indicator by code and a unit by division code or name path. Setting a value
    a target already has changes nothing, so importing a file twice is harmless. If any row is
    wrong, `ImportFailed` lists every problem and the caller rolls back.
    """
    errors = ErrorList()
    counts = ImportCounts()
    find = UnitFinder()
    indicators = {i.code: i for i in db.session.scalars(select(Indicator))}
    seen: dict[tuple[int, int, int], int] = {}
    for row in rows:
        before = len(errors.errors)
        indicator = _row_indicator(row, indicators, errors)
        unit = _row_unit(row, find, errors)
        year = _row_year(row, errors)
        value = _row_value(row, errors)
        if len(errors.errors) > before or indicator is None or unit is None:
            continue
        assert year is not None and value is not None
        key = (indicator.id, unit.id, year)
        if key in seen:
            errors.add(
                row.line,
                "indicator",
                _("the same target is already on line %(other)d", other=seen[key]),
            )
            continue
        seen[key] = row.line
        old = get_target(indicator, unit, year)
        before_value = None if old is None else old.value
        try:
            outcome = set_target(actor, indicator, unit, year, value)
        except TargetError as exc:
            errors.add(row.line, exc.field, _lower_first(exc.message))
            continue
        setattr(counts, outcome, getattr(counts, outcome) + 1)
        if changes is not None and outcome != "unchanged":
            changes.append(TargetChange(row.line, indicator, unit, year, before_value, value))
    errors.raise_if_any()
    return counts


def _row_indicator(
    row: Row, indicators: dict[str, Indicator], errors: ErrorList
) -> Indicator | None:
    code = row["indicator"].lower()
    if not code:
        errors.add(row.line, "indicator", _("the indicator is empty"))
        return None
    indicator = indicators.get(code)
    if indicator is None:
        errors.add(row.line, "indicator", _("no indicator with the code “%(code)s”", code=code))
    return indicator


def _row_unit(row: Row, find: UnitFinder, errors: ErrorList) -> Unit | None:
    if not row["unit"]:
        errors.add(row.line, "unit", _("the unit is empty"))
        return None
    unit = find(row["unit"])
    if unit is None:
        errors.add(row.line, "unit", missing_unit_message(row["unit"]))
    return unit


def _row_year(row: Row, errors: ErrorList) -> int | None:
    text = row["year"]
    if not (len(text) == 4 and text.isdigit()):
        errors.add(row.line, "year", _("“%(value)s” is not a year such as 2026", value=text))
        return None
    return int(text)


def _row_value(row: Row, errors: ErrorList) -> float | None:
    text = row["value"]
    if not text:
        errors.add(row.line, "value", _("the value is empty: write a number, or delete the row"))
        return None
    value = parse_number(text)
    if value is None:
        errors.add(row.line, "value", not_a_number_message(text))
    return value


def _lower_first(message: str) -> str:
    """Row errors read 'line 3, column value: a target cannot …', like the others."""
    text = message.rstrip(".")
    return text if text[1:2].isupper() else text[:1].lower() + text[1:]


def template_csv(units: Sequence[Unit], year: int) -> bytes:
    """A file to fill in: one row per active indicator and unit, with the targets already set
    for `year` (blank where there is none yet); UTF-8 with a byte-order mark for Excel."""
    indicators = db.session.scalars(
        select(Indicator)
        .join(IndicatorGroup, IndicatorGroup.id == Indicator.group_id)
        .where(Indicator.active)
        .order_by(
            IndicatorGroup.sort_order, IndicatorGroup.code, Indicator.sort_order, Indicator.code
        )
    ).all()
    values = {
        (t.indicator_id, t.unit_id): t.value
        for t in db.session.scalars(
            select(Target).where(Target.year == year, Target.unit_id.in_([u.id for u in units]))
        )
    }
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(TARGET_COLUMNS)
    for unit in units:
        ref = unit.division_code or unit_label(unit)
        for indicator in indicators:
            value = values.get((indicator.id, unit.id))
            writer.writerow(
                [indicator.code, ref, year, "" if value is None else plain_number(value)]
            )
    return out.getvalue().encode("utf-8-sig")


def plain_number(value: float) -> str:
    """12.0 -> '12', 12.5 -> '12.5': what `parse_number` reads back."""
    return str(int(value)) if value == int(value) else f"{value:.2f}".rstrip("0")
