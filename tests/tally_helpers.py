"""Tally figures counted the naive way, straight from raw rows, to hold the rollup against.

Nothing here uses the rollup tables or `webapp.tallies`' own helpers (month arithmetic, subtree
ranges): the raw rows (activities with their unit, participations, units) are read as they
stand, and every figure is counted from them in plain Python — a subtree is a path prefix, a
month is year * 100 + month of the date, distinct counts are sets.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass

from sqlalchemy import select

from webapp.extensions import db
from webapp.models import CELL_KINDS, HOLDING_KINDS, Activity, Base, Participation, Unit
from webapp.tallies import query, rebuild


def next_month(month: int) -> int:
    year, m = divmod(month, 100)
    return (year + 1) * 100 + 1 if m == 12 else month + 1


def month_list(first: int, last: int) -> list[int]:
    months = []
    month = first
    while month <= last:
        months.append(month)
        month = next_month(month)
    return months


@dataclass(frozen=True)
class RawEntry:
    unit_id: int
    unit_path: str
    unit_kind: str
    status: str
    month: int
    kind_id: int
    program_id: int | None
    people: int
    households: int
    members: tuple[int, ...]


@dataclass(frozen=True)
class RawRows:
    """Every activity with its unit and participants, and every unit, as they stand now."""

    entries: tuple[RawEntry, ...]
    units: tuple[tuple[str, str, bool], ...]  # path, kind, active

    @classmethod
    def load(cls) -> RawRows:
        members: dict[object, list[int]] = defaultdict(list)
        for activity_id, member_id in db.session.execute(
            select(Participation.activity_id, Participation.member_id)
        ):
            members[activity_id].append(member_id)
        rows = db.session.execute(
            select(
                Activity.id,
                Activity.unit_id,
                Unit.path,
                Unit.kind,
                Activity.status,
                Activity.occurred_on,
                Activity.kind_id,
                Activity.program_id,
                Activity.people_reached,
                Activity.households_reached,
            ).join(Unit, Unit.id == Activity.unit_id)
        )
        entries = tuple(
            RawEntry(
                unit_id=row.unit_id,
                unit_path=row.path,
                unit_kind=row.kind,
                status=row.status,
                month=row.occurred_on.year * 100 + row.occurred_on.month,
                kind_id=row.kind_id,
                program_id=row.program_id,
                people=row.people_reached,
                households=row.households_reached,
                members=tuple(members[row.id]),
            )
            for row in rows
        )
        units = tuple(
            tuple(row) for row in db.session.execute(select(Unit.path, Unit.kind, Unit.active))
        )
        return cls(entries, units)


def naive_figures(
    raw: RawRows,
    path: str,
    first: int,
    last: int,
    kind_id: int | None = None,
    program_id: int | None = None,
    holding_units: int | None = None,
) -> query.Figures:
    """DESIGN.md §7 figures of the subtree at `path` over months first..last, by counting."""
    months = month_list(first, last)
    chosen = [
        e
        for e in raw.entries
        if e.unit_path.startswith(path)
        and e.month in months
        and (kind_id is None or e.kind_id == kind_id)
        and (program_id is None or (e.program_id or 0) == program_id)
    ]
    confirmed = [e for e in chosen if e.status == "confirmed"]
    pending = [e for e in chosen if e.status == "submitted"]
    active_per_month = [{e.unit_id for e in confirmed if e.month == month} for month in months]
    if holding_units is None:
        # Units that hold activities: active ones of those kinds, and any that held one.
        holding_units = len(
            {
                unit_path
                for unit_path, kind, active in raw.units
                if unit_path.startswith(path) and kind in HOLDING_KINDS and active
            }
            | {e.unit_path for e in confirmed}
        )
    return query.Figures(
        activities=len(confirmed),
        unit_activities=sum(1 for e in confirmed if e.unit_kind in CELL_KINDS),
        participations=sum(len(e.members) for e in confirmed),
        people_reached=sum(e.people for e in confirmed),
        households_reached=sum(e.households for e in confirmed),
        members_engaged=len({m for e in confirmed for m in e.members}),
        active_units=len(set().union(*active_per_month)),
        active_every_month=len(set.intersection(*active_per_month)) if active_per_month else 0,
        holding_units=holding_units,
        pending_activities=len(pending),
        pending_participations=sum(len(e.members) for e in pending),
        pending_people_reached=sum(e.people for e in pending),
        pending_households_reached=sum(e.households for e in pending),
    )


def assert_tally_exact(
    unit: Unit, first: int, last: int, filters: query.Filters | None = None
) -> query.TallyView:
    """`query.tally` for the unit, each child and each month equals the naive count."""
    filters = filters or query.Filters()
    view = query.tally(unit, first, last, filters)
    raw = RawRows.load()
    kind_id, program_id = filters.kind_id, filters.program_id
    where = f"{unit.path} {first}..{last} {filters}"
    expected = naive_figures(raw, unit.path, first, last, kind_id, program_id)
    assert asdict(view.total) == asdict(expected), f"total of {where}"
    children = db.session.scalars(select(Unit).where(Unit.parent_id == unit.id)).all()
    assert sorted(c.id for c, _ in view.children) == sorted(c.id for c in children), where
    for child, figures in view.children:
        expected_child = naive_figures(raw, child.path, first, last, kind_id, program_id)
        assert asdict(figures) == asdict(expected_child), f"child {child.path} of {where}"
    assert [m for m, _ in view.monthly] == month_list(first, last), where
    for month, figures in view.monthly:
        expected_month = naive_figures(
            raw, unit.path, month, month, kind_id, program_id, expected.holding_units
        )
        assert asdict(figures) == asdict(expected_month), f"month {month} of {where}"
    return view


def assert_no_drift() -> None:
    drift = rebuild.verify()
    db.session.rollback()
    assert drift.total == 0, (drift.counts, drift.samples)


def wipe_all_tables() -> None:
    """Every row of every table, children first (one example's world to the next)."""
    db.session.rollback()
    for table in reversed(Base.metadata.sorted_tables):
        db.session.execute(table.delete())
    db.session.commit()
    db.session.expunge_all()
