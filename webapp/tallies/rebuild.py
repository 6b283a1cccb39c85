"""The rollup recomputed from raw rows: `verify` compares, `rebuild` replaces (DESIGN.md §7)."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Select, delete, func, literal, select, union_all

from webapp.extensions import db
from webapp.models import (
    CELL_KINDS,
    Activity,
    Participation,
    TallyMonth,
    TallyPresence,
    TallyReach,
    Unit,
)
from webapp.models.tally import TALLY_STATUSES
from webapp.tallies import reach, store
from webapp.tallies.months import month_sql
from webapp.tallies.rollup import lock_tallies

SAMPLE = 20


@dataclass
class Drift:
    """Differences per table; `samples` shows a few (key, expected, stored)."""

    counts: dict[str, int] = field(default_factory=dict)
    samples: list[tuple[str, Any, Any, Any]] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def expected_months() -> dict[store.MonthKey, list[int]]:
    per_activity = (
        select(Participation.activity_id, func.count().label("n"))
        .group_by(Participation.activity_id)
        .subquery()
    )
    month = month_sql(Activity.occurred_on)
    program = func.coalesce(Activity.program_id, 0)
    stmt = (
        select(
            Activity.unit_id,
            month,
            Activity.status,
            Activity.kind_id,
            program,
            func.count(),
            func.count().filter(Unit.kind.in_(CELL_KINDS)),
            func.coalesce(func.sum(per_activity.c.n), 0),
            func.sum(Activity.people_reached),
            func.sum(Activity.households_reached),
        )
        .join(Unit, Unit.id == Activity.unit_id)
        .outerjoin(per_activity, per_activity.c.activity_id == Activity.id)
        .where(Activity.status.in_(TALLY_STATUSES))
        .group_by(Activity.unit_id, month, Activity.status, Activity.kind_id, program)
    )
    paths: dict[int, str] = dict(db.session.execute(select(Unit.id, Unit.path)).all())
    months: dict[store.MonthKey, list[int]] = defaultdict(lambda: [0] * 5)
    for unit_id, month_value, status, kind_id, program_id, *values in db.session.execute(stmt):
        for ancestor in reach.ancestors(paths[unit_id]):
            row = months[(ancestor, int(month_value), status, kind_id, int(program_id))]
            for index, value in enumerate(values):
                row[index] += int(value)
    return months


def expected_presence() -> Select[Any]:
    """(entity, entity_id, unit_id, month, kind_id, program_id, n) from raw rows."""
    month = month_sql(Activity.occurred_on).label("month")
    program = func.coalesce(Activity.program_id, 0).label("program_id")
    confirmed = Activity.status == "confirmed"
    members = (
        select(
            literal("M").label("entity"),
            Participation.member_id.label("entity_id"),
            Activity.unit_id.label("unit_id"),
            month,
            Activity.kind_id.label("kind_id"),
            program,
            func.count().label("n"),
        )
        .join(Activity, Activity.id == Participation.activity_id)
        .where(confirmed)
        .group_by(Participation.member_id, Activity.unit_id, month, Activity.kind_id, program)
    )
    units = (
        select(
            literal("U").label("entity"),
            Activity.unit_id.label("entity_id"),
            Activity.unit_id.label("unit_id"),
            month,
            Activity.kind_id.label("kind_id"),
            program,
            func.count().label("n"),
        )
        .where(confirmed)
        .group_by(Activity.unit_id, month, Activity.kind_id, program)
    )
    return union_all(members, units)


def _expected_reach() -> Counter[store.ReachKey]:
    raw = expected_presence().subquery()
    rows = db.session.execute(
        select(
            raw.c.entity, raw.c.entity_id, Unit.path, raw.c.month, raw.c.kind_id, raw.c.program_id
        )
        .join(Unit, Unit.id == raw.c.unit_id)
        .order_by(raw.c.entity, raw.c.entity_id)
        .execution_options(yield_per=5000)
    )
    return reach.reach_from_presence((e, i, p, int(m), int(k), int(g)) for e, i, p, m, k, g in rows)


def verify() -> Drift:
    drift = Drift()
    t = TallyMonth
    stored_months = {
        tuple(row[:5]): list(row[5:])
        for row in db.session.execute(
            select(*(t.__table__.c[n] for n in (*store.MONTH_KEY, *store.MONTH_COUNTERS)))
        )
    }
    _compare(drift, "tally_month", _nonzero(expected_months()), stored_months)

    p = TallyPresence.__table__
    columns = [p.c[n] for n in (*store.PRESENCE_KEY, "n")]
    raw = expected_presence().subquery()
    expected_rows = select(*(raw.c[n] for n in (*store.PRESENCE_KEY, "n")))
    stored_rows = select(*columns)
    missing = expected_rows.except_(stored_rows).subquery()
    extra = stored_rows.except_(expected_rows).subquery()
    differing = db.session.scalar(select(func.count()).select_from(missing)) or 0
    differing += db.session.scalar(select(func.count()).select_from(extra)) or 0
    if differing:
        drift.counts["tally_presence"] = differing
        for row in db.session.execute(select(missing).limit(SAMPLE)):
            drift.samples.append(("tally_presence", tuple(row), "present", "absent or different"))

    r = TallyReach.__table__
    stored_reach = {
        tuple(row[:7]): row[7]
        for row in db.session.execute(select(*(r.c[n] for n in (*store.REACH_KEY, "n"))))
    }
    expected_reach = {k: n for k, n in _expected_reach().items() if n}
    _compare(drift, "tally_reach", expected_reach, stored_reach)
    return drift


def rebuild() -> dict[str, int]:
    """Replace the three rollup tables by what the raw rows say; returns their row counts."""
    lock_tallies("SHARE ROW EXCLUSIVE")
    for model in (TallyMonth, TallyPresence, TallyReach):
        db.session.execute(delete(model))
    counts = {
        "tally_month": store.insert_rows(
            TallyMonth.__table__,
            store.MONTH_KEY,
            store.MONTH_COUNTERS,
            sorted(_nonzero(expected_months()).items()),
        )
    }
    p = TallyPresence.__table__
    names = (*store.PRESENCE_KEY, "n")
    raw = expected_presence().subquery()
    db.session.execute(p.insert().from_select(names, select(*(raw.c[n] for n in names))))
    counts["tally_presence"] = db.session.scalar(select(func.count()).select_from(p)) or 0
    rows = reach.reach_from_presence(reach.presence_rows_under(None))
    store.replace_reach(None, rows)
    counts["tally_reach"] = len(rows)
    return counts


def _nonzero(rows: dict[Any, list[int]]) -> dict[Any, list[int]]:
    return {k: v for k, v in rows.items() if any(v)}


def _compare(drift: Drift, table: str, expected: dict[Any, Any], stored: dict[Any, Any]) -> None:
    keys: Iterable[Any] = sorted(set(expected) | set(stored), key=repr)
    differing = 0
    for key in keys:
        if expected.get(key) != stored.get(key):
            differing += 1
            if len(drift.samples) < SAMPLE:
                drift.samples.append((table, key, expected.get(key), stored.get(key)))
    if differing:
        drift.counts[table] = differing
