"""The figures of the tally page, read from the rollup tables (DESIGN.md §7).

Sums come from TallyMonth rows of the unit itself (they already hold its subtree); distinct
members and active units from TallyReach, in the slice of the kind and programme filter (all
activities when there is none): with or without a filter, a page reads the rows of the unit and
its children only, never those of its subtree.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import Integer, String, and_, any_, case, func, literal, or_, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import aliased

from webapp.extensions import db
from webapp.models import HOLDING_KINDS, TallyMonth, TallyPresence, TallyReach, Unit
from webapp.scope import in_subtree
from webapp.tallies import store
from webapp.tallies.months import months_between
from webapp.tallies.reach import ANY


@dataclass(frozen=True)
class Figures:
    """DESIGN.md §7 metrics for one unit's subtree over a range of months; pending beside."""

    activities: int = 0
    unit_activities: int = 0
    participations: int = 0
    people_reached: int = 0
    households_reached: int = 0
    members_engaged: int = 0
    active_units: int = 0  # units with at least one confirmed activity in the range
    active_every_month: int = 0  # ... in every month of the range
    holding_units: int = 0  # units that hold activities (see _holding_units): the denominator
    pending_activities: int = 0
    pending_participations: int = 0
    pending_people_reached: int = 0
    pending_households_reached: int = 0

    @property
    def active_share(self) -> float | None:
        return self.active_units / self.holding_units if self.holding_units else None

    @property
    def every_month_share(self) -> float | None:
        return self.active_every_month / self.holding_units if self.holding_units else None


@dataclass(frozen=True)
class Filters:
    kind_id: int | None = None
    program_id: int | None = None  # 0: entries without a programme

    @property
    def any(self) -> bool:
        return self.kind_id is not None or self.program_id is not None


@dataclass
class TallyView:
    unit: Unit
    first: int  # YYYYMM
    last: int
    filters: Filters
    total: Figures = field(default_factory=Figures)
    children: list[tuple[Unit, Figures]] = field(default_factory=list)
    monthly: list[tuple[int, Figures]] = field(default_factory=list)


def tally(unit: Unit, first: int, last: int, filters: Filters | None = None) -> TallyView:
    """Figures for `unit` and each of its children over months first..last (YYYYMM)."""
    filters = filters or Filters()
    children = list(
        db.session.scalars(select(Unit).where(Unit.parent_id == unit.id).order_by(Unit.name))
    )
    ids = [unit.id, *(c.id for c in children)]
    months = months_between(first, last)
    per_unit: dict[int, dict[str, int]] = defaultdict(dict)
    per_month: dict[int, dict[str, int]] = defaultdict(dict)
    _sums(ids, unit.id, first, last, filters, per_unit, per_month)
    _distinct(ids, unit.id, first, last, filters, per_unit, per_month)
    holding = _holding_units(unit, children, first, last, filters)
    view = TallyView(unit, first, last, filters)
    view.total = Figures(**per_unit[unit.id], holding_units=holding.get(unit.id, 0))
    view.children = [
        (child, Figures(**per_unit[child.id], holding_units=holding.get(child.id, 0)))
        for child in children
    ]
    view.monthly = [
        (m, replace(Figures(**per_month[m]), holding_units=view.total.holding_units))
        for m in months
    ]
    return view


_SUMS = {("confirmed", name): name for name in store.MONTH_COUNTERS} | {
    ("submitted", "activities"): "pending_activities",
    ("submitted", "participations"): "pending_participations",
    ("submitted", "people_reached"): "pending_people_reached",
    ("submitted", "households_reached"): "pending_households_reached",
}


def _sums(
    ids: list[int],
    unit_id: int,
    first: int,
    last: int,
    filters: Filters,
    per_unit: dict[int, dict[str, int]],
    per_month: dict[int, dict[str, int]],
) -> None:
    """Totals per unit (the unit and each child) and per month (the unit): the database adds
    up the rows of every kind and programme, so Python sees a few hundred sums at most."""
    t = TallyMonth
    conditions = [t.month >= first, t.month <= last, t.status.in_(("confirmed", "submitted"))]
    if filters.kind_id is not None:
        conditions.append(t.kind_id == filters.kind_id)
    if filters.program_id is not None:
        conditions.append(t.program_id == filters.program_id)
    sums = [func.sum(getattr(t, name)) for name in store.MONTH_COUNTERS]
    by_unit = db.session.execute(
        select(t.unit_id, t.status, *sums)
        .where(t.unit_id.in_(ids), *conditions)
        .group_by(t.unit_id, t.status)
    )
    for row_unit, status, *values in by_unit:
        _add_counters(per_unit[row_unit], status, values)
    by_month = db.session.execute(
        select(t.month, t.status, *sums)
        .where(t.unit_id == unit_id, *conditions)
        .group_by(t.month, t.status)
    )
    for month, status, *values in by_month:
        _add_counters(per_month[month], status, values)


def _add_counters(bucket: dict[str, int], status: str, values: list[Any]) -> None:
    for name, value in zip(store.MONTH_COUNTERS, values, strict=True):
        target = _SUMS.get((status, name))
        if target is not None:
            _add(bucket, target, int(value))


def _distinct(
    ids: list[int],
    unit_id: int,
    first: int,
    last: int,
    filters: Filters,
    per_unit: dict[int, dict[str, int]],
    per_month: dict[int, dict[str, int]],
) -> None:
    r = TallyReach
    in_slice = (
        r.kind_id == (ANY if filters.kind_id is None else filters.kind_id),
        r.program_id == (ANY if filters.program_id is None else filters.program_id),
    )
    in_range = (r.unit_id.in_(ids), *in_slice, r.month >= first, r.month <= last)
    rows = db.session.execute(
        select(
            r.unit_id,
            r.entity,
            func.sum(case((r.prev_month < first, r.n), else_=0)),
            func.sum(case((and_(r.month == last, r.run_start <= first), r.n), else_=0)),
        )
        .where(*in_range)
        .group_by(r.unit_id, r.entity)
    )
    for row_unit, entity, engaged, every_month in rows:
        _set_distinct(per_unit[row_unit], entity, int(engaged), int(every_month))
    rows = db.session.execute(
        select(r.entity, r.month, func.sum(r.n))
        .where(r.unit_id == unit_id, *in_slice, r.month >= first, r.month <= last)
        .group_by(r.entity, r.month)
    )
    for entity, month, n in rows:
        _set_distinct(per_month[month], entity, int(n), int(n))


def _set_distinct(bucket: dict[str, int], entity: str, engaged: int, every_month: int) -> None:
    if entity == "M":
        bucket["members_engaged"] = engaged
    else:
        bucket["active_units"] = engaged
        bucket["active_every_month"] = every_month


def _holding_units(
    unit: Unit, children: list[Unit], first: int, last: int, filters: Filters
) -> dict[int, int]:
    """The denominator of the active share, per subtree (the unit's own and each child's).

    Active units of HOLDING_KINDS, plus any other unit of the subtree that held a confirmed
    activity in the period (a commune logging directly, a cell closed since): every unit the
    numerator can count is in the denominator, so the share never passes 100 %.
    """
    counts: dict[int, int] = defaultdict(int)
    # Active units of holding kinds, counted by the database per child, each child's subtree a
    # range of the path index (a country has ~20,000 of them: never fetched one by one).
    child, below = aliased(Unit), aliased(Unit)
    child_end = func.substr(child.path, 1, func.length(child.path) - 1, type_=String) + "0"
    per_child = db.session.execute(
        select(child.id, func.count(below.id))
        .join(below, and_(below.path >= child.path, below.path < child_end))
        .where(child.parent_id == unit.id, below.kind.in_(HOLDING_KINDS), below.active)
        .group_by(child.id)
    )
    for child_id, n in per_child:
        counts[child_id] += n
        counts[unit.id] += n
    if unit.kind in HOLDING_KINDS and unit.active:
        counts[unit.id] += 1
    # The others are few (communes, closed cells): look their presence up by key, so the
    # database never scans presence rows of the whole subtree.
    others = dict(
        db.session.execute(
            select(Unit.id, Unit.path).where(
                in_subtree(Unit.path, unit.path),
                or_(Unit.kind.not_in(HOLDING_KINDS), ~Unit.active),
            )
        ).all()
    )
    child_of = {c.path: c.id for c in children}
    for held in _held_any(sorted(others), first, last, filters):
        path = others[held]
        counts[unit.id] += 1
        cut = path.find("/", len(unit.path))
        owner = child_of.get(path[: cut + 1]) if cut >= 0 else None
        if owner is not None:
            counts[owner] += 1
    return counts


def _held_any(unit_ids: list[int], first: int, last: int, filters: Filters) -> list[int]:
    """Which of these units held a confirmed activity in the period (presence rows, by key)."""
    p = TallyPresence
    conditions: list[Any] = [p.entity == "U", p.month >= first, p.month <= last]
    if filters.kind_id is not None:
        conditions.append(p.kind_id == filters.kind_id)
    if filters.program_id is not None:
        conditions.append(p.program_id == filters.program_id)
    if not unit_ids:
        return []
    if db.engine.dialect.name == "postgresql":
        # One statement, the ids as one array parameter (not thousands of placeholders).
        among = p.entity_id == any_(literal(unit_ids, ARRAY(Integer)))
        return list(db.session.scalars(select(p.entity_id).where(among, *conditions).distinct()))
    held: list[int] = []
    for start in range(0, len(unit_ids), 500):  # SQLite's limit on bound parameters
        chunk = unit_ids[start : start + 500]
        held += db.session.scalars(
            select(p.entity_id).where(p.entity_id.in_(chunk), *conditions).distinct()
        )
    return held


def _add(bucket: dict[str, int], name: str, value: int) -> None:
    bucket[name] = bucket.get(name, 0) + value
