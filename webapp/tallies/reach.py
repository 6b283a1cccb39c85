"""Distinct members and active units per subtree, for any range of months (see models.tally).

An entity (member 'M' or holding unit 'U') present in a subtree in months m1 < m2 < ... gives
one TallyReach row per month: (m_i, m_{i-1} or 0, first month of its unbroken run). When an
entity's presence changes, its tuples are computed before and after for the subtrees involved,
and the difference is added: the work is proportional to the entity's own history, never to the
size of the subtree.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping

from sqlalchemy import func, or_, select, text

from webapp.database import dialect_name
from webapp.extensions import db
from webapp.models import TallyPresence, Unit
from webapp.scope import in_subtree
from webapp.tallies.months import add_months
from webapp.tallies.store import PresenceKey, ReachKey

Entity = tuple[str, int]
_LOCK_CLASS = {"M": 7101, "U": 7102}


def ancestors(path: str) -> list[int]:
    return [int(part) for part in path.strip("/").split("/") if part]


def presence_tuples(months: Iterable[int]) -> list[tuple[int, int, int]]:
    """(month, previous month present or 0, first month of the run) for sorted months."""
    tuples = []
    previous = 0
    run_start = 0
    for month in sorted(months):
        if not previous or add_months(previous, 1) != month:
            run_start = month
        tuples.append((month, previous, run_start))
        previous = month
    return tuples


def reach_rows(entity: str, months_by_ancestor: Mapping[int, Iterable[int]]) -> Counter[ReachKey]:
    rows: Counter[ReachKey] = Counter()
    for ancestor, months in months_by_ancestor.items():
        for month, previous, run_start in presence_tuples(months):
            rows[(ancestor, entity, month, previous, run_start)] += 1
    return rows


def unit_paths(unit_ids: Iterable[int]) -> dict[int, str]:
    ids = sorted(set(unit_ids))
    paths: dict[int, str] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        paths.update(db.session.execute(select(Unit.id, Unit.path).where(Unit.id.in_(chunk))).all())
    return paths


def lock_entities(entities: Iterable[Entity]) -> None:
    """Serialise changes to one entity's presence (PostgreSQL; SQLite has one writer).

    Its reach rows are computed from what it had before, so two transactions must not both
    read the same "before". Locks are taken in sorted order and held to commit.
    """
    if dialect_name() != "postgresql":
        return
    lock = text("SELECT pg_advisory_xact_lock(:cls, :id)")
    for entity, entity_id in sorted(set(entities)):
        db.session.execute(lock, {"cls": _LOCK_CLASS[entity], "id": entity_id})


def reach_deltas(presence_deltas: Mapping[PresenceKey, int]) -> Counter[ReachKey]:
    """What TallyReach must gain or lose when TallyPresence gains `presence_deltas`.

    Reads the current presence of every entity involved: call before writing the deltas, with
    the entities locked.
    """
    changed: dict[Entity, Counter[tuple[int, int]]] = defaultdict(Counter)
    for (entity, entity_id, unit_id, month, _kind, _program), n in presence_deltas.items():
        if n:
            changed[(entity, entity_id)][(unit_id, month)] += n
    if not changed:
        return Counter()
    current = _current_presence(changed.keys())
    paths = unit_paths(
        [unit for counts in (*changed.values(), *current.values()) for unit, _month in counts]
    )
    gained: Counter[ReachKey] = Counter()
    for key, delta in changed.items():
        entity = key[0]
        involved = {a for unit, _month in delta for a in ancestors(paths[unit])}
        before = current.get(key, Counter())
        after = before.copy()
        after.update(delta)
        gained.update(reach_rows(entity, _months_by_ancestor(after, paths, involved)))
        gained.subtract(reach_rows(entity, _months_by_ancestor(before, paths, involved)))
    return Counter({k: n for k, n in gained.items() if n})


def _current_presence(entities: Iterable[Entity]) -> dict[Entity, Counter[tuple[int, int]]]:
    by_kind: dict[str, list[int]] = defaultdict(list)
    for entity, entity_id in entities:
        by_kind[entity].append(entity_id)
    current: dict[Entity, Counter[tuple[int, int]]] = defaultdict(Counter)
    t = TallyPresence
    for entity, ids in by_kind.items():
        for start in range(0, len(ids), 500):
            chunk = sorted(ids)[start : start + 500]
            rows = db.session.execute(
                select(t.entity_id, t.unit_id, t.month, func.sum(t.n))
                .where(t.entity == entity, t.entity_id.in_(chunk))
                .group_by(t.entity_id, t.unit_id, t.month)
            )
            for entity_id, unit_id, month, n in rows:
                current[(entity, entity_id)][(unit_id, month)] += int(n)
    return current


def _months_by_ancestor(
    presence: Counter[tuple[int, int]], paths: Mapping[int, str], involved: set[int]
) -> dict[int, set[int]]:
    months: dict[int, set[int]] = defaultdict(set)
    for (unit_id, month), n in presence.items():
        if n > 0:
            for ancestor in ancestors(paths[unit_id]):
                if ancestor in involved:
                    months[ancestor].add(month)
    return months


def reach_from_presence(
    rows: Iterable[tuple[str, int, str, int]], only: set[int] | None = None
) -> Counter[ReachKey]:
    """TallyReach recomputed from presence rows (entity, id, holding unit path, month) that
    come sorted by entity and id; `only` limits the subtrees computed."""
    result: Counter[ReachKey] = Counter()
    current: Entity | None = None
    months: dict[int, set[int]] = defaultdict(set)
    for entity, entity_id, path, month in rows:
        if (entity, entity_id) != current:
            if current is not None:
                result.update(reach_rows(current[0], months))
            current = (entity, entity_id)
            months = defaultdict(set)
        for ancestor in ancestors(path):
            if only is None or ancestor in only:
                months[ancestor].add(month)
    if current is not None:
        result.update(reach_rows(current[0], months))
    return result


def presence_rows_under(paths: Iterable[str] | None) -> Iterable[tuple[str, int, str, int]]:
    """(entity, id, holding unit path, month) of the presence in these subtrees (None: all),
    sorted by entity and id, streamed."""
    t = TallyPresence
    stmt = (
        select(t.entity, t.entity_id, Unit.path, t.month)
        .join(Unit, Unit.id == t.unit_id)
        .distinct()
        .order_by(t.entity, t.entity_id)
    )
    if paths is not None:
        stmt = stmt.where(or_(*(in_subtree(Unit.path, p) for p in paths)))
    result = db.session.execute(stmt.execution_options(yield_per=5000))
    yield from result
