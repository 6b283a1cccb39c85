"""Distinct members and active units per subtree, for any range of months (see models.tally).

An entity (member 'M' or holding unit 'U') present in a subtree in months m1 < m2 < ... gives
one TallyReach row per month: (m_i, m_{i-1} or 0, first month of its unbroken run). It does so
in four *slices*: all activities, those of one kind, those of one programme, and those of one
kind and one programme (ANY stands for "every kind" or "every programme"), so the tally page
answers a kind or programme filter from the same kind of rows as the unfiltered page. When an
entity's presence changes, its tuples are computed before and after for the subtrees and slices
involved, and the difference is added: the work is proportional to the entity's own history,
never to the size of the subtree.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping

from sqlalchemy import or_, select, text

from webapp.database import dialect_name
from webapp.extensions import db
from webapp.models import TallyPresence, Unit
from webapp.scope import in_subtree
from webapp.tallies.months import add_months
from webapp.tallies.store import PresenceKey, ReachKey

Entity = tuple[str, int]
_LOCK_CLASS = {"M": 7101, "U": 7102}
ANY = -1  # a slice that takes every kind, or every programme
# (ancestor unit, kind or ANY, programme or ANY): one timeline of an entity's presence.
SliceKey = tuple[int, int, int]


def slices(kind_id: int, program_id: int) -> tuple[tuple[int, int], ...]:
    """The slices an activity of this kind and programme counts in."""
    return ((ANY, ANY), (kind_id, ANY), (ANY, program_id), (kind_id, program_id))


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


def reach_rows(entity: str, months_by_slice: Mapping[SliceKey, Iterable[int]]) -> Counter[ReachKey]:
    rows: Counter[ReachKey] = Counter()
    for (ancestor, kind_id, program_id), months in months_by_slice.items():
        for month, previous, run_start in presence_tuples(months):
            rows[(ancestor, entity, kind_id, program_id, month, previous, run_start)] += 1
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
    changed: dict[Entity, Counter[Where]] = defaultdict(Counter)
    for (entity, entity_id, unit_id, month, kind_id, program_id), n in presence_deltas.items():
        if n:
            changed[(entity, entity_id)][(unit_id, month, kind_id, program_id)] += n
    if not changed:
        return Counter()
    current = _current_presence(changed.keys())
    paths = unit_paths(
        [where[0] for counts in (*changed.values(), *current.values()) for where in counts]
    )
    gained: Counter[ReachKey] = Counter()
    for key, delta in changed.items():
        entity = key[0]
        involved = {
            (a, *s)
            for unit, _month, kind_id, program_id in delta
            for a in ancestors(paths[unit])
            for s in slices(kind_id, program_id)
        }
        before = current.get(key, Counter())
        after = before.copy()
        after.update(delta)
        gained.update(reach_rows(entity, _months_by_slice(after, paths, involved)))
        gained.subtract(reach_rows(entity, _months_by_slice(before, paths, involved)))
    return Counter({k: n for k, n in gained.items() if n})


# Where an entity was present: (holding unit, month, kind, programme).
Where = tuple[int, int, int, int]


def _current_presence(entities: Iterable[Entity]) -> dict[Entity, Counter[Where]]:
    by_kind: dict[str, list[int]] = defaultdict(list)
    for entity, entity_id in entities:
        by_kind[entity].append(entity_id)
    current: dict[Entity, Counter[Where]] = defaultdict(Counter)
    t = TallyPresence
    for entity, ids in by_kind.items():
        for start in range(0, len(ids), 500):
            chunk = sorted(ids)[start : start + 500]
            rows = db.session.execute(
                select(t.entity_id, t.unit_id, t.month, t.kind_id, t.program_id, t.n).where(
                    t.entity == entity, t.entity_id.in_(chunk)
                )
            )
            for entity_id, unit_id, month, kind_id, program_id, n in rows:
                current[(entity, entity_id)][(unit_id, month, kind_id, program_id)] += int(n)
    return current


def _months_by_slice(
    presence: Counter[Where], paths: Mapping[int, str], involved: set[SliceKey]
) -> dict[SliceKey, set[int]]:
    months: dict[SliceKey, set[int]] = defaultdict(set)
    for (unit_id, month, kind_id, program_id), n in presence.items():
        if n > 0:
            for ancestor in ancestors(paths[unit_id]):
                for kind, program in slices(kind_id, program_id):
                    if (ancestor, kind, program) in involved:
                        months[(ancestor, kind, program)].add(month)
    return months


def reach_from_presence(
    rows: Iterable[tuple[str, int, str, int, int, int]], only: set[int] | None = None
) -> Counter[ReachKey]:
    """TallyReach recomputed from presence rows (entity, id, holding unit path, month, kind,
    programme) that come sorted by entity and id; `only` limits the subtrees computed."""
    result: Counter[ReachKey] = Counter()
    current: Entity | None = None
    months: dict[SliceKey, set[int]] = defaultdict(set)
    for entity, entity_id, path, month, kind_id, program_id in rows:
        if (entity, entity_id) != current:
            if current is not None:
                result.update(reach_rows(current[0], months))
            current = (entity, entity_id)
            months = defaultdict(set)
        for ancestor in ancestors(path):
            if only is None or ancestor in only:
                for kind, program in slices(kind_id, program_id):
                    months[(ancestor, kind, program)].add(month)
    if current is not None:
        result.update(reach_rows(current[0], months))
    return result


def presence_rows_under(
    paths: Iterable[str] | None,
) -> Iterable[tuple[str, int, str, int, int, int]]:
    """(entity, id, holding unit path, month, kind, programme) of the presence in these
    subtrees (None: all), sorted by entity and id, streamed."""
    t = TallyPresence
    stmt = (
        select(t.entity, t.entity_id, Unit.path, t.month, t.kind_id, t.program_id)
        .join(Unit, Unit.id == t.unit_id)
        .order_by(t.entity, t.entity_id)
    )
    if paths is not None:
        stmt = stmt.where(or_(*(in_subtree(Unit.path, p) for p in paths)))
    result = db.session.execute(stmt.execution_options(yield_per=5000))
    yield from result
