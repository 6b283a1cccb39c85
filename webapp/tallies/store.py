"""Adding deltas to the rollup tables: one upsert per table, keys in a fixed order.

Every writer adds to counters (never read-modify-write), and writes its keys sorted, so two
transactions touching the same rows queue on PostgreSQL instead of deadlocking.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Table, and_, delete, tuple_
from sqlalchemy.dialects import postgresql, sqlite

from webapp.database import dialect_name
from webapp.extensions import db
from webapp.models import TallyMonth, TallyPresence, TallyReach

MONTH_KEY = ("unit_id", "month", "status", "kind_id", "program_id")
MONTH_COUNTERS = (
    "activities",
    "unit_activities",
    "participations",
    "people_reached",
    "households_reached",
)
PRESENCE_KEY = ("entity", "entity_id", "unit_id", "month", "kind_id", "program_id")
REACH_KEY = ("unit_id", "entity", "kind_id", "program_id", "month", "prev_month", "run_start")

MonthKey = tuple[int, int, str, int, int]
PresenceKey = tuple[str, int, int, int, int, int]
ReachKey = tuple[int, str, int, int, int, int, int]


def add_months(deltas: Mapping[MonthKey, Sequence[int]]) -> None:
    rows = [
        dict(zip(MONTH_KEY, key, strict=True)) | dict(zip(MONTH_COUNTERS, values, strict=True))
        for key, values in sorted(deltas.items())
        if any(values)
    ]
    _upsert_add(TallyMonth.__table__, MONTH_KEY, MONTH_COUNTERS, rows)
    _delete_empty(TallyMonth.__table__, MONTH_KEY, "activities", rows)


def add_counts(table: Table, key_names: Sequence[str], deltas: Mapping[Any, int]) -> None:
    """Add n to rows of `table` (TallyPresence or TallyReach); rows that reach 0 go."""
    rows = [
        dict(zip(key_names, key, strict=True)) | {"n": n} for key, n in sorted(deltas.items()) if n
    ]
    _upsert_add(table, key_names, ("n",), rows)
    _delete_empty(table, key_names, "n", rows)


def add_presence(deltas: Mapping[PresenceKey, int]) -> None:
    add_counts(TallyPresence.__table__, PRESENCE_KEY, deltas)


def add_reach(deltas: Mapping[ReachKey, int]) -> None:
    add_counts(TallyReach.__table__, REACH_KEY, deltas)


def replace_reach(ancestor_ids: Sequence[int] | None, rows: Mapping[ReachKey, int]) -> None:
    """Replace every TallyReach row of these subtrees (None: of all) by `rows`."""
    table = TallyReach.__table__
    if ancestor_ids is None:
        db.session.execute(delete(table))
    for start in range(0, len(ancestor_ids or ()), 500):
        chunk = list(ancestor_ids[start : start + 500])
        db.session.execute(delete(table).where(table.c.unit_id.in_(chunk)))
    insert_rows(table, REACH_KEY, ("n",), ((k, (n,)) for k, n in sorted(rows.items()) if n))


def insert_rows(
    table: Table,
    key_names: Sequence[str],
    value_names: Sequence[str],
    rows: Iterable[tuple[Sequence[Any], Sequence[int]]],
    batch: int = 5000,
) -> int:
    """Plain inserts in batches (the tables are empty for these keys); returns the count."""
    names = (*key_names, *value_names)
    stmt = table.insert()
    pending: list[dict[str, Any]] = []
    count = 0
    for key, values in rows:
        pending.append(dict(zip(names, (*key, *values), strict=True)))
        if len(pending) >= batch:
            db.session.execute(stmt, pending)
            count += len(pending)
            pending = []
    if pending:
        db.session.execute(stmt, pending)
        count += len(pending)
    return count


def _upsert_add(
    table: Table, key_names: Sequence[str], counters: Sequence[str], rows: list[dict[str, Any]]
) -> None:
    if not rows:
        return
    dialect = postgresql if dialect_name() == "postgresql" else sqlite
    stmt = dialect.insert(table)
    stmt = stmt.on_conflict_do_update(
        index_elements=[table.c[name] for name in key_names],
        set_={name: table.c[name] + stmt.excluded[name] for name in counters},
    )
    db.session.execute(stmt, rows)


def _delete_empty(
    table: Table, key_names: Sequence[str], counter: str, rows: Iterable[dict[str, Any]]
) -> None:
    """Drop the rows a negative delta may have brought to zero, so zero means absent."""
    keys = [tuple(row[name] for name in key_names) for row in rows if row[counter] < 0]
    key_columns = tuple_(*(table.c[name] for name in key_names))
    for start in range(0, len(keys), 200):
        chunk = keys[start : start + 200]
        db.session.execute(delete(table).where(and_(key_columns.in_(chunk), table.c[counter] == 0)))
