"""A realistic demo: one province's communes, cells, rosters, accounts and activities.

Deterministic for a given seed and day. Activities and participations are generated as plain
rows and written with the driver's executemany in chunks, so a million activities take minutes,
not hours (DESIGN.md §10). Like every service it only flushes; the caller commits.
"""

from __future__ import annotations

import bisect
import itertools
import random
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from time import perf_counter
from typing import Any, TypeVar

from sqlalchemy import Connection, Table, func, select
from vietnam_provinces import Province

from webapp.demo import data
from webapp.extensions import db
from webapp.models import Activity, ActivityKind, Member, Participation, Program, Unit, User
from webapp.sync.services import content_hash
from webapp.tallies.months import month_of
from webapp.tallies.rebuild import rebuild as rebuild_tallies
from webapp.tallies.targets_demo import ensure_default_indicators, seed_demo_targets
from webapp.text import fold
from webapp.units.divisions import import_divisions
from webapp.units.services import unit_label
from webapp.users.services import create_user

DEMO_PASSWORD = "nhatky-demo-2026"  # noqa: S105 (published: demo sign-ins only)
DEMO_USERNAMES = {"canbo": "cadre", "bithu": "secretary", "chuyenvien": "staff", "quantri": "admin"}
CHUNK = 10_000
SPAN_DAYS = 730  # the last 24 months, today included
CENTRE = (21.8, 105.2)  # Tuyên Quang, roughly
LOCAL_OFFSET = timedelta(hours=7)  # Vietnam has no daylight saving time
STATUSES = ("confirmed", "submitted", "returned")  # drawn 75 %, 15 %, 10 %
RECENT_DAYS = 60  # entries still waiting for review are recent ones
SQLITE_CACHE_KIB = 256 * 1024

T = TypeVar("T")


class DatabaseNotEmpty(RuntimeError):
    """The demo only loads into a database without units."""


@dataclass(frozen=True)
class SignIn:
    username: str
    role: str
    scope: str


@dataclass
class DemoReport:
    province: str
    counts: dict[str, int] = field(default_factory=dict)
    statuses: dict[str, int] = field(default_factory=dict)
    timings: list[tuple[str, float]] = field(default_factory=list)
    sign_ins: list[SignIn] = field(default_factory=list)


@dataclass
class _Cell:
    id: int
    commune_code: str
    place: str  # "thôn Nà Va", "tổ dân phố số 3"
    gps: tuple[float, float]
    weight: int = 1
    has_cadre: bool = False
    creator_id: int = 0
    reviewer_id: int = 0
    members: list[int] = field(default_factory=list)


def demo_sign_ins() -> list[SignIn]:
    """The demo accounts that exist and are active, one per role."""
    users = db.session.scalars(
        select(User).where(User.username.in_(DEMO_USERNAMES), User.active)
    ).all()
    order = list(DEMO_USERNAMES)
    return [
        SignIn(u.username, u.role, unit_label(u.scope_unit))
        for u in sorted(users, key=lambda u: order.index(u.username))
    ]


def database_is_empty() -> bool:
    return db.session.scalars(select(Unit.id).limit(1)).first() is None


def load_demo(
    province: Province, *, activities: int, seed: int, now: datetime | None = None
) -> DemoReport:
    """Fill an empty database; raises `DatabaseNotEmpty` if it has any unit."""
    if not database_is_empty():
        raise DatabaseNotEmpty
    now = (now or datetime.now(UTC)).astimezone(UTC)
    rng = random.Random(seed)
    report = DemoReport(province=province.name)
    clock = perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        report.timings.append((name, perf_counter() - clock))
        clock = perf_counter()

    kinds, programs = ensure_reference_data()
    root, _counts = import_divisions(province)
    lap("divisions")
    communes = sorted(
        db.session.scalars(select(Unit).where(Unit.parent_id == root.id)),
        key=lambda u: u.division_code or "",
    )
    cells = _create_cells(rng, communes)
    lap("cells")
    _create_members(rng, cells)
    lap("members")
    # The accounts' home: the first rural commune (xã) by code.
    home = next((c for c in communes if c.name.startswith("Xã")), communes[0])
    report.sign_ins, cadre_member = _create_users(root, home, cells)
    lap("accounts")
    maker = _ActivityMaker(rng, cells, kinds, programs, now, cadre_member)
    written = _write_activities(maker, activities)
    report.statuses = {status: written[status] for status in STATUSES}
    lap("activities")
    # The entries went in by bulk insert, past the rollup's hook: build the tallies once.
    rebuild_tallies()
    # Targets for this year, set from this year's figures so far: some met, some not.
    today = (now + LOCAL_OFFSET).date()
    ensure_default_indicators()
    seed_demo_targets(root, today.year, last_month=month_of(today), seed=seed)
    lap("tallies")
    report.counts = {
        "units": _count(Unit.id),
        "members": _count(Member.id),
        "accounts": _count(User.id),
        "activities": written["activities"],
        "participations": written["participations"],
    }
    return report


def ensure_reference_data() -> tuple[dict[str, ActivityKind], dict[str, Program]]:
    """The demo's activity kinds and programmes, created if missing (matched by code)."""
    kinds = {k.code: k for k in db.session.scalars(select(ActivityKind))}
    for order, spec in enumerate(data.KINDS):
        if spec.code not in kinds:
            kinds[spec.code] = ActivityKind(
                code=spec.code, name_vi=spec.name_vi, name_en=spec.name_en, sort_order=order
            )
            db.session.add(kinds[spec.code])
    programs = {p.code: p for p in db.session.scalars(select(Program))}
    for spec in data.PROGRAMS:
        if spec.code not in programs:
            programs[spec.code] = Program(
                code=spec.code, name_vi=spec.name_vi, name_en=spec.name_en
            )
            db.session.add(programs[spec.code])
    db.session.flush()
    return kinds, programs


def _create_cells(rng: random.Random, communes: list[Unit]) -> list[_Cell]:
    """3–5 cells per commune: one per village, or per residential group in a ward."""
    planned: list[tuple[Unit, Unit, str, tuple[float, float]]] = []
    for commune in communes:
        count = rng.randint(3, 5)
        if commune.name.startswith("Phường"):
            numbers = sorted(rng.sample(range(1, 16), count))
            places = [data.WARD_PLACE.format(n=n) for n in numbers]
        else:
            villages = rng.sample(data.VILLAGES, count)
            places = [data.VILLAGE_PLACE.format(village=v) for v in villages]
        gps = (CENTRE[0] + rng.uniform(-0.4, 0.4), CENTRE[1] + rng.uniform(-0.4, 0.4))
        for place in places:
            unit = Unit(name=f"Chi bộ {place}", kind="cell", parent_id=commune.id)
            planned.append((unit, commune, place, gps))
    # As create_unit does, but two flushes in all: a path needs the new id.
    db.session.add_all(unit for unit, *_rest in planned)
    db.session.flush()
    for unit, commune, _place, _gps in planned:
        unit.path = f"{commune.path}{unit.id}/"
    db.session.flush()
    return [_Cell(unit.id, commune.division_code or "", place, gps)
            for unit, commune, place, gps in planned]  # fmt: skip


def _person(rng: random.Random, sex: str | None) -> str:
    sex = sex or rng.choice("mf")
    parts = (data.FAMILY_NAMES, data.MIDDLE_NAMES[sex], data.GIVEN_NAMES[sex])
    return " ".join(rng.choice(names) for names in parts)


def _phone(rng: random.Random) -> str:
    prefix = rng.choice(("03", "08", "09", "097", "098", "086"))
    return prefix + "".join(rng.choices("0123456789", k=10 - len(prefix)))


def _create_members(rng: random.Random, cells: list[_Cell]) -> None:
    """8–15 members per cell: secretary and deputy, some association leaders, the rest;
    most of them party members."""
    rows: list[dict[str, Any]] = []
    for cell in cells:
        leaders = list(data.LEADING_POSITIONS[:2])
        leaders += rng.sample(data.LEADING_POSITIONS[2:], rng.randint(1, 3))
        for i in range(rng.randint(8, 15)):
            position, sex = leaders[i] if i < len(leaders) else (None, None)
            party = i < 2 or rng.random() < 0.85
            if position is None:
                position = data.RANK_AND_FILE if party else data.ASSOCIATION_MEMBER
            full_name = _person(rng, sex)
            phone = _phone(rng) if rng.random() < 0.7 else None
            rows.append({"unit_id": cell.id, "full_name": full_name,
                         "search_name": fold(full_name), "is_party_member": party,
                         "position": position, "phone": phone, "active": True})  # fmt: skip
    _executemany(Member.__table__, rows)
    by_id = {cell.id: cell for cell in cells}
    query = select(Member.id, Member.unit_id).order_by(Member.id)
    for member_id, unit_id in db.session.execute(query):
        by_id[unit_id].members.append(member_id)


def _create_users(root: Unit, home: Unit, cells: list[_Cell]) -> tuple[list[SignIn], int]:
    """One account per role. The cadre is a rank-and-file member of the home commune's first
    cell. Entries are written by the cadre (their cell), the secretary (the rest of the home
    commune) or the staff member (elsewhere), and reviewed by the next one up."""
    home_cells = {c.id for c in cells if c.commune_code == home.division_code}
    cell = next(c for c in cells if c.id in home_cells)
    member = db.session.scalars(
        select(Member)
        .where(Member.unit_id == cell.id, Member.position == data.RANK_AND_FILE)
        .order_by(Member.id)
    ).first() or db.session.get_one(Member, cell.members[-1])
    if member.phone is None:
        member.phone = "0912345678"
    cell_unit = db.session.get_one(Unit, cell.id)
    scopes = {"cadre": cell_unit, "secretary": home, "staff": root, "admin": root}
    specs = [
        (username, role, scopes[role], member if role == "cadre" else None)
        for username, role in DEMO_USERNAMES.items()
    ]
    users = {
        username: create_user(
            username=username, role=role, scope_unit=scope, password=DEMO_PASSWORD,
            member=linked, phone=linked.phone if linked else None,
            full_name=None if linked else data.STAFF_NAMES[role],
        )
        for username, role, scope, linked in specs
    }  # fmt: skip
    reviewer = {"canbo": "bithu", "bithu": "chuyenvien", "chuyenvien": "quantri"}
    for other in cells:
        writer = "bithu" if other.id in home_cells else "chuyenvien"
        if other is cell:
            writer, other.has_cadre = "canbo", True
        # More entries close to the demo accounts, so their pages do not look empty.
        other.weight = 10 if other is cell else 3 if other.id in home_cells else 1
        other.creator_id, other.reviewer_id = users[writer].id, users[reviewer[writer]].id
    sign_ins = [SignIn(u.username, u.role, unit_label(u.scope_unit)) for u in users.values()]
    return sign_ins, member.id


def _write_activities(maker: _ActivityMaker, total: int) -> Counter[str]:
    """Write `total` activities and their participations, CHUNK at a time.

    The tables are empty (they need units), so their secondary indexes are dropped for the
    load and built once at the end: one sorted build beats a million random inserts into
    seven B-trees. DDL is transactional on SQLite and PostgreSQL, so a failed load leaves
    the indexes as they were.
    """
    connection = db.session.connection()
    indexes = [ix for t in (Activity.__table__, Participation.__table__) for ix in t.indexes]
    for index in indexes:
        index.drop(connection)
    counts: Counter[str] = Counter()
    with _sqlite_page_cache(connection, SQLITE_CACHE_KIB):
        while (size := min(CHUNK, total - counts["activities"])) > 0:
            activities, participations = maker.batch(size)
            _executemany(Activity.__table__, activities)
            _executemany(Participation.__table__, participations)
            counts.update(row["status"] for row in activities)
            counts["activities"] += size
            counts["participations"] += len(participations)
        for index in indexes:
            index.create(connection)
    return counts


@contextmanager
def _sqlite_page_cache(connection: Connection, kib: int) -> Iterator[None]:
    """A bigger SQLite page cache for this connection while loading: the random-UUID keys of
    a million rows no longer fit the default 2 MiB, and every miss costs a read and a write
    (measured: participations 24 k -> 51 k rows a second). No-op on other databases."""
    if connection.dialect.name != "sqlite":
        yield
        return
    previous = connection.exec_driver_sql("PRAGMA cache_size").scalar()
    connection.exec_driver_sql(f"PRAGMA cache_size = -{int(kib)}")
    try:
        yield
    finally:
        connection.exec_driver_sql(f"PRAGMA cache_size = {int(previous or -2000)}")


def _executemany(table: Table, rows: list[dict[str, Any]]) -> None:
    """INSERT plain rows with the DB-API driver's executemany.

    Values are converted column by column with the dialect's own bind processors, so they are
    stored exactly as SQLAlchemy stores them; what is skipped is its per-row parameter
    handling, which on SQLite costs more than the insert itself (about 7 k against 25 k
    activity rows a second here). Drivers with named parameters (psycopg) take SQLAlchemy's
    own path, which already batches rows into multi-row VALUES.
    """
    if not rows:
        return
    connection = db.session.connection()
    dialect = connection.dialect
    compiled = table.insert().compile(dialect=dialect, column_keys=list(rows[0]))
    if not compiled.positional or compiled.positiontup is None:
        connection.execute(table.insert(), rows)
        return
    columns: list[list[Any]] = []
    for name in compiled.positiontup:
        values = [row[name] for row in rows]
        process = table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
        columns.append(list(map(process, values)) if process else values)
    connection.exec_driver_sql(compiled.string, list(zip(*columns, strict=True)))


class _ActivityMaker:
    """Activities as plain rows, drawn from one seeded generator; tuned for millions of rows
    (look-up tables instead of date arithmetic, `random()` instead of `randint`)."""

    def __init__(
        self,
        rng: random.Random,
        cells: list[_Cell],
        kinds: dict[str, ActivityKind],
        programs: dict[str, Program],
        now: datetime,
        cadre_member: int,
    ) -> None:
        self.rng, self.cells, self.now, self.cadre_member = rng, cells, now, cadre_member
        today = (now + LOCAL_OFFSET).date()
        self.days = [today - timedelta(days=back) for back in range(SPAN_DAYS)]
        self.midnights = [  # local midnight of each day, in UTC
            datetime(d.year, d.month, d.day, tzinfo=UTC) - LOCAL_OFFSET for d in self.days
        ]
        self.cell_cum = list(itertools.accumulate(c.weight for c in cells))
        self.kind_cum = list(itertools.accumulate(k.weight for k in data.KINDS))
        self.kind_ids = {code: kind.id for code, kind in kinds.items()}
        self.program_ids = {code: program.id for code, program in programs.items()}
        self.any_program = sorted(self.program_ids.values())

    def batch(self, count: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        activities: list[dict[str, Any]] = []
        participations: list[dict[str, Any]] = []
        for _ in range(count):
            row, people = self._one()
            activities.append(row)
            participations.extend({"activity_id": row["id"], "member_id": m} for m in people)
        return activities, participations

    def _one(self) -> tuple[dict[str, Any], list[int]]:
        rnd, now = self.rng.random, self.now
        cell = self.cells[bisect.bisect_right(self.cell_cum, rnd() * self.cell_cum[-1])]
        spec = data.KINDS[bisect.bisect_right(self.kind_cum, rnd() * self.kind_cum[-1])]
        draw = rnd()
        status = "confirmed" if draw < 0.75 else "submitted" if draw < 0.90 else "returned"
        back = int(rnd() * (RECENT_DAYS if status == "submitted" else len(self.days)))
        if spec.program and rnd() < 0.8:
            program_id: int | None = self.program_ids[spec.program]
        else:
            program_id = _pick(rnd, self.any_program) if rnd() < 0.15 else None
        members = cell.members
        wanted = 1 + int(rnd() * min(6, len(members)))
        people: list[int] = []
        while len(people) < wanted:
            member = _pick(rnd, members)
            if member not in people:
                people.append(member)
        if cell.has_cadre and self.cadre_member not in people:
            people[0] = self.cadre_member
        households = _between(rnd, spec.households)
        reached = max(_between(rnd, spec.people), households)
        lat = lon = accuracy = None
        if rnd() < 0.4:
            lat = round(cell.gps[0] + (rnd() - 0.5) * 0.06, 6)
            lon = round(cell.gps[1] + (rnd() - 0.5) * 0.06, 6)
            accuracy = round(4 + rnd() * 56, 1)
        activity_id = uuid.UUID(int=self.rng.getrandbits(128), version=4)
        summary = _pick(rnd, data.SUMMARIES[spec.code]).format(place=cell.place)
        notes = _pick(rnd, data.NOTES) if rnd() < 0.2 else None
        village = cell.place[0].upper() + cell.place[1:]
        occurred_on = self.days[back]
        captured = min(now, self.midnights[back] + timedelta(minutes=420 + int(rnd() * 720)))
        received = min(now, captured + timedelta(minutes=1 + int(rnd() * 4320)))
        reviewed = None
        if status != "submitted":
            reviewed = min(now, received + timedelta(minutes=60 + int(rnd() * 7200)))
        row = {
            "id": activity_id, "unit_id": cell.id, "kind_id": self.kind_ids[spec.code],
            "program_id": program_id, "occurred_on": occurred_on,
            "division_code": cell.commune_code, "village": village, "lat": lat, "lon": lon,
            "accuracy_m": accuracy, "summary": summary, "notes": notes,
            "people_reached": reached, "households_reached": households, "photos_expected": 0,
            "status": status, "revision": 1,
            "created_by_id": cell.creator_id, "device_id": f"demo-{cell.creator_id}",
            "captured_at": captured, "received_at": received, "updated_at": reviewed or received,
            "reviewed_by_id": cell.reviewer_id if reviewed else None, "reviewed_at": reviewed,
            "review_note": _pick(rnd, data.REVIEW_NOTES) if status == "returned" else None,
        }  # fmt: skip
        # The sync API's own hash: pushing this entry again from a phone is "unchanged".
        row["content_hash"] = content_hash(row, people)
        return row, people


def _pick(rnd: Callable[[], float], items: Sequence[T]) -> T:
    return items[int(rnd() * len(items))]


def _between(rnd: Callable[[], float], bounds: tuple[int, int]) -> int:
    low, high = bounds
    return low + int(rnd() * (high - low + 1))


def _count(column: Any) -> int:
    return db.session.scalar(select(func.count(column))) or 0
