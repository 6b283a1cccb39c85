"""Keeping the rollup tables exact in the same transaction as every change (DESIGN.md §7).

A write path calls `watch(ids)` while it holds the rows it is about to change (or `watch_new`
for rows it has just inserted). At commit, the session's `before_commit` hook reads those
entries again and adds the difference (after − before) to the rollup tables, once per
transaction, with every lock taken in one global order:

  1. the tally lock (PostgreSQL: ROW EXCLUSIVE on tally_presence; a unit move takes SHARE ROW
     EXCLUSIVE, so figure changes and moves never interleave),
  2. per-entity advisory locks for distinct counts (sorted),
  3. tally_month, tally_presence, tally_reach rows (keys sorted).

The write path's own row locks (its entries; the key-share its inserts take on their units) come
before all of these, and a unit move updates its unit rows before it takes the tally lock.
Savepoints (bulk confirm, each pushed edit) do not apply anything: only the outermost commit.

A rolled-back transaction forgets what it watched. Bulk writers that bypass this (the demo
loader, the benchmark) call `flask tallies rebuild` afterwards.
"""

from __future__ import annotations

import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from sqlalchemy import event, func, select, text
from sqlalchemy.orm import Session, SessionTransaction

from webapp.database import dialect_name
from webapp.extensions import db
from webapp.models import CELL_KINDS, Activity, Participation, TallyMonth, Unit
from webapp.models.tally import TALLY_STATUSES
from webapp.tallies import reach, store
from webapp.tallies.months import month_of, month_sql

_WATCHED = "tally_watched"


@dataclass(frozen=True)
class Fact:
    """What an entry contributes to the tallies."""

    unit_id: int
    occurred_on: date
    kind_id: int
    program_id: int
    status: str
    people_reached: int
    households_reached: int
    members: frozenset[int]


def watch(ids: Iterable[uuid.UUID]) -> None:
    """Remember how these entries stand now; the caller holds their row locks."""
    watched = _watched(db.session())
    new = [i for i in ids if i not in watched]
    watched.update(facts(new))
    for activity_id in new:
        watched.setdefault(activity_id, None)


def watch_new(ids: Iterable[uuid.UUID]) -> None:
    """Entries this transaction has just inserted: they stood nowhere before."""
    watched = _watched(db.session())
    for activity_id in ids:
        watched.setdefault(activity_id, None)


def facts(ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, Fact]:
    ids = list(ids)
    found: dict[uuid.UUID, Fact] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        members: dict[uuid.UUID, set[int]] = defaultdict(set)
        for activity_id, member_id in db.session.execute(
            select(Participation.activity_id, Participation.member_id).where(
                Participation.activity_id.in_(chunk)
            )
        ):
            members[activity_id].add(member_id)
        rows = db.session.execute(
            select(
                Activity.id,
                Activity.unit_id,
                Activity.occurred_on,
                Activity.kind_id,
                Activity.program_id,
                Activity.status,
                Activity.people_reached,
                Activity.households_reached,
            ).where(Activity.id.in_(chunk))
        )
        for row in rows:
            found[row[0]] = Fact(
                row[1], row[2], row[3], row[4] or 0, row[5], row[6], row[7],
                frozenset(members[row[0]]),
            )  # fmt: skip
    return found


def apply_watched(session: Session) -> None:
    watched = session.info.pop(_WATCHED, None)
    if not watched:
        return
    session.flush()
    after = facts(watched)
    changes = [(watched[i], after.get(i)) for i in watched if watched[i] != after.get(i)]
    if changes:
        apply_changes(changes)


def apply_changes(changes: list[tuple[Fact | None, Fact | None]]) -> None:
    """Add to the rollup what moving each entry from `before` to `after` changes.

    The units' paths and kinds are read after the tally lock, never from the facts: a unit
    moved or re-kinded meanwhile has already carried its entries' figures along.
    """
    lock_tallies("ROW EXCLUSIVE")
    units = _units(f.unit_id for pair in changes for f in pair if f is not None)
    months: dict[store.MonthKey, list[int]] = defaultdict(lambda: [0] * 5)
    presence: Counter[store.PresenceKey] = Counter()
    for before, after in changes:
        for fact, sign in ((before, -1), (after, 1)):
            if fact is not None and fact.status in TALLY_STATUSES:
                path, unit_kind = units[fact.unit_id]
                _contribute(fact, sign, path, unit_kind in CELL_KINDS, months, presence)
    presence = Counter({k: n for k, n in presence.items() if n})
    reach.lock_entities((k[0], k[1]) for k in presence)
    store.add_months(months)
    reach_delta = reach.reach_deltas(presence)
    store.add_presence(presence)
    store.add_reach(reach_delta)


def _contribute(
    fact: Fact,
    sign: int,
    path: str,
    cell: bool,
    months: dict[store.MonthKey, list[int]],
    presence: Counter[store.PresenceKey],
) -> None:
    month = month_of(fact.occurred_on)
    values = (
        1,
        1 if cell else 0,
        len(fact.members),
        fact.people_reached,
        fact.households_reached,
    )
    for ancestor in reach.ancestors(path):
        row = months[(ancestor, month, fact.status, fact.kind_id, fact.program_id)]
        for index, value in enumerate(values):
            row[index] += sign * value
    if fact.status == "confirmed":
        where = (fact.unit_id, month, fact.kind_id, fact.program_id)
        presence[("U", fact.unit_id, *where)] += sign
        for member_id in fact.members:
            presence[("M", member_id, *where)] += sign


def _units(unit_ids: Iterable[int]) -> dict[int, tuple[str, str]]:
    ids = sorted(set(unit_ids))
    found: dict[int, tuple[str, str]] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        rows = db.session.execute(select(Unit.id, Unit.path, Unit.kind).where(Unit.id.in_(chunk)))
        found.update((unit_id, (path, kind)) for unit_id, path, kind in rows)
    return found


def unit_kind_changed(unit_id: int, old_kind: str, new_kind: str) -> None:
    """A unit's kind decides whether its entries are cell activities: recount them.

    Call after the unit row is updated (the caller holds it), before commit.
    """
    sign = int(new_kind in CELL_KINDS) - int(old_kind in CELL_KINDS)
    if not sign:
        return
    db.session.flush()
    lock_tallies("SHARE ROW EXCLUSIVE")
    month = month_sql(Activity.occurred_on)
    program = func.coalesce(Activity.program_id, 0)
    rows = db.session.execute(
        select(month, Activity.status, Activity.kind_id, program, func.count())
        .where(Activity.unit_id == unit_id, Activity.status.in_(TALLY_STATUSES))
        .group_by(month, Activity.status, Activity.kind_id, program)
    )
    path = _units([unit_id])[unit_id][0]
    months: dict[store.MonthKey, list[int]] = defaultdict(lambda: [0] * 5)
    for month_value, status, kind_id, program_id, count in rows:
        for ancestor in reach.ancestors(path):
            key = (ancestor, int(month_value), status, kind_id, int(program_id))
            months[key][1] += sign * count
    store.add_months(months)


def lock_tallies(mode: str) -> None:
    """Step 1 of the lock order (module docstring); nothing to do on SQLite's single writer."""
    if dialect_name() == "postgresql":
        db.session.execute(text(f"LOCK TABLE tally_presence IN {mode} MODE"))


def move_subtree(root_id: int, old_path: str, new_path: str) -> None:
    """A unit and its subtree moved from `old_path` to `new_path` (paths already updated).

    Its subtree sums leave the ancestors it no longer has and join the new ones; the distinct
    counts of those ancestors are recomputed from presence.
    """
    old = reach.ancestors(old_path)[:-1]
    new = reach.ancestors(new_path)[:-1]
    left = [a for a in old if a not in new]
    joined = [a for a in new if a not in old]
    if not left and not joined:
        return
    t = TallyMonth
    months: dict[store.MonthKey, list[int]] = defaultdict(lambda: [0] * 5)
    counters = (getattr(t, name) for name in store.MONTH_COUNTERS)
    rows = db.session.execute(
        select(t.month, t.status, t.kind_id, t.program_id, *counters).where(t.unit_id == root_id)
    )
    for month, status, kind_id, program_id, *values in rows:
        for ancestor, sign in [(a, -1) for a in left] + [(a, 1) for a in joined]:
            row = months[(ancestor, month, status, kind_id, program_id)]
            for index, value in enumerate(values):
                row[index] += sign * value
    store.add_months(months)
    recompute_reach(left + joined)


def recompute_reach(ancestor_ids: list[int]) -> None:
    """Replace the distinct-count rows of these subtrees with ones computed from presence."""
    paths = reach.unit_paths(ancestor_ids)
    rows = reach.presence_rows_under([paths[a] for a in ancestor_ids])
    store.replace_reach(ancestor_ids, reach.reach_from_presence(rows, only=set(ancestor_ids)))


def _watched(session: Session) -> dict[uuid.UUID, Fact | None]:
    return session.info.setdefault(_WATCHED, {})


@event.listens_for(Session, "before_commit")
def _apply_before_commit(session: Session) -> None:
    # SQLAlchemy fires this on every savepoint release too (begin_nested: bulk confirm, each
    # pushed edit). Applying there would take each entry's tally locks in turn, in no global
    # order, and deadlock against another bulk confirm; so only the outermost commit applies.
    if session.in_nested_transaction():
        return
    apply_watched(session)


@event.listens_for(Session, "after_transaction_end")
def _forget_on_end(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:
        session.info.pop(_WATCHED, None)
