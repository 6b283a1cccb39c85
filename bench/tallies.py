"""The tally page's data query at national scale, beside the same figures from raw rows.

For each database (a temporary SQLite file; a throwaway PostgreSQL with fsync off) the schema
is migrated and a synthetic country is bulk-loaded: provinces → districts → communes → cells
(plus a Fatherland Front and an association per commune), ~35 members per cell, 24 months of
activities in date order (confirmed; returned; recent ones still submitted) with 2–9
participants each, mostly from the holding unit's own roster and sometimes from a sibling
unit of the same commune. The rollup is then rebuilt once (`webapp.tallies.rebuild`), and for
the largest province, commune and cell over the last 1, 12 and 24 months the bench times
`query.tally(unit, first, last)` — what the tally page reads: the unit, each child and each
month — beside "raw": the same page computed by SQL straight from activity, participation and
unit (subtree by path range, COUNT(DISTINCT member), ...). Both answers are compared figure by
figure, so the run is also a correctness check of the rollup at scale.

Knobs (environment): BENCH_TALLY_ACTIVITIES confirmed activities (default 1,000,000; pending
ones come on top), BENCH_TALLY_RUNS rollup runs per case (30), BENCH_TALLY_DBS
("sqlite,postgresql"), BENCH_TALLY_PROFILE=1 to print a profile of the rollup rebuild.

Loading: indexes of activity and participation are dropped and rebuilt after the load; SQLite
gets executemany on its own connection in one transaction with journal and sync off,
foreign-key checks off and a 1 GiB page cache; PostgreSQL gets COPY (psycopg `cursor.copy()`) with
session_replication_role = replica, which skips the foreign-key triggers (the rows are
consistent by construction). The server is restarted with shared_buffers = 2GB,
work_mem = 64MB and jit off, as a database of this size would be configured. Both get ANALYZE
(PostgreSQL: VACUUM ANALYZE) after the load and after the rebuild.
"""

from __future__ import annotations

import bisect
import cProfile
import io
import itertools
import math
import os
import pstats
import random
import resource
import sqlite3
import statistics
import subprocess
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.common import machine_line

if TYPE_CHECKING:
    from flask import Flask

    from webapp.tallies.query import Figures, TallyView


def _env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, "").replace("_", "").replace(",", "") or default)


CONFIRMED = _env_int("BENCH_TALLY_ACTIVITIES", 1_000_000)
RUNS = _env_int("BENCH_TALLY_RUNS", 30)
DATABASES = [
    name.strip().lower()
    for name in os.environ.get("BENCH_TALLY_DBS", "sqlite,postgresql").split(",")
    if name.strip()
]
PROFILE = bool(os.environ.get("BENCH_TALLY_PROFILE"))
SEED = 20260601
MONTHS = 24
LAST_MONTH = 202610  # the 24 months are 2024-11 .. 2026-10
RANGES = (1, 12, 24)  # months, ending with LAST_MONTH
LEVELS = ("province", "commune", "cell")
TARGET_P95_MS = 50.0
TARGET_SPEEDUP = 100.0
FILTERED_RUNS = 10
SLOW_RAW_MS = 1000.0  # raw cases slower than this get 3 timed runs, others 5

# The tree: districts per province (uneven, as provinces are), then per district 8–12
# communes, per commune 6–10 cells plus a Fatherland Front and an association.
PROVINCE_DISTRICTS = (14, 11, 9, 8, 8)
COMMUNES_PER_DISTRICT = (8, 12)
CELLS_PER_COMMUNE = (6, 10)
CELL_ROSTER = (24, 46)
OTHER_ROSTER = (10, 20)
OTHER_WEIGHT = 0.3  # front and association hold fewer activities than a cell
# Participants per activity: 2 + int(random() * 7.4), mean ≈ 5.2.
PARTICIPANTS_SPREAD = 7.4
CROSS_UNIT = 0.15  # share of activities with one participant from a sibling unit
RETURNED_SHARE = 0.06
SUBMITTED_SHARE = {0: 0.35, 1: 0.08}  # months back from LAST_MONTH → share still pending
OLD_SUBMITTED_SHARE = 0.005
BATCH = 50_000  # activities per generated batch
SQLITE_LOAD_CACHE_KIB = 1024 * 1024
PG_SETTINGS = {
    "shared_buffers": "2GB",
    "work_mem": "64MB",
    "maintenance_work_mem": "1GB",
    "effective_cache_size": "8GB",
    "max_wal_size": "8GB",
    "jit": "off",  # the raw queries run ~10 % faster without it; the rollup's never reach it
}

ACTIVITY_COLUMNS = (
    "id", "unit_id", "kind_id", "program_id", "occurred_on", "division_code", "village",
    "lat", "lon", "accuracy_m", "summary", "people_reached", "households_reached",
    "photos_expected", "status", "revision", "content_hash", "created_by_id", "device_id",
    "captured_at", "received_at", "updated_at", "reviewed_by_id", "reviewed_at",
)  # fmt: skip
UNIT_COLUMNS = ("id", "parent_id", "path", "name", "search_name", "kind", "division_code", "active")
MEMBER_COLUMNS = (
    "id", "unit_id", "full_name", "search_name", "is_party_member", "position", "phone", "active",
)  # fmt: skip


# --- the synthetic country ----------------------------------------------------------------------


class Leaf:
    """A unit that holds activities: a cell, a front or an association."""

    __slots__ = (
        "code", "gps", "id", "is_cell", "members", "place", "roster", "siblings", "weight",
    )  # fmt: skip

    def __init__(self, unit_id: int, is_cell: bool, place: str, code: str) -> None:
        self.id = unit_id
        self.is_cell = is_cell
        self.members: range = range(0)
        self.roster: tuple[int, int, tuple[int, ...]] = (0, 0, ())
        self.siblings: list[Leaf] = []
        self.place = place
        self.code = code
        self.gps = (0.0, 0.0)
        self.weight = 1.0


@dataclass
class Country:
    units: list[tuple[Any, ...]] = field(default_factory=list)
    members: list[tuple[Any, ...]] = field(default_factory=list)
    leaves: list[Leaf] = field(default_factory=list)
    kind_of: dict[int, str] = field(default_factory=dict)
    parent_of: dict[int, int | None] = field(default_factory=dict)

    def add(self, parent: int | None, name: str, kind: str, code: str | None = None) -> int:
        """A unit row; ids are 1, 2, 3, ... in the order of the calls."""
        from webapp.text import fold

        unit_id = len(self.units) + 1
        path = f"{self.units[parent - 1][2] if parent else '/'}{unit_id}/"
        self.units.append((unit_id, parent, path, name, fold(name), kind, code, True))
        self.kind_of[unit_id] = kind
        self.parent_of[unit_id] = parent
        return unit_id


def build_country(rng: random.Random) -> Country:
    """Units (breadth first, so ids grow by level) and their rosters, as plain rows."""
    country = Country()
    add = country.add
    provinces = [add(None, f"Tỉnh thử nghiệm số {i + 1}", "province") for i in range(5)]
    districts = [
        (province, add(province, f"Huyện số {j + 1}", "district"))
        for province, count in zip(provinces, PROVINCE_DISTRICTS, strict=True)
        for j in range(count)
    ]
    communes = [
        add(district, f"Xã số {k + 1}", "commune", f"B{district:03d}{k:02d}")
        for _province, district in districts
        for k in range(rng.randint(*COMMUNES_PER_DISTRICT))
    ]
    add_commune_units(country, rng, communes)
    return country


def add_commune_units(
    country: Country,
    rng: random.Random,
    communes: Sequence[int],
    cells_per_commune: tuple[int, int] = CELLS_PER_COMMUNE,
    cell_roster: tuple[int, int] = CELL_ROSTER,
    other_roster: tuple[int, int] = OTHER_ROSTER,
) -> None:
    """Under each commune its cells, a Fatherland Front and an association (the leaves that
    hold activities), then every leaf's roster."""
    from webapp.demo import data
    from webapp.text import fold

    add = country.add
    commune_leaves: dict[int, list[Leaf]] = defaultdict(list)
    for commune in communes:
        code = country.units[commune - 1][6]
        gps = (21.8 + rng.uniform(-2, 2), 105.2 + rng.uniform(-2, 2))
        villages = rng.sample(data.VILLAGES, min(len(data.VILLAGES), cells_per_commune[1]))
        count = rng.randint(*cells_per_commune)
        for n in range(count):
            place = data.VILLAGE_PLACE.format(village=villages[n % len(villages)])
            leaf = Leaf(add(commune, f"Chi bộ {place} ({n + 1})", "cell"), True, place, code)
            leaf.weight = rng.uniform(0.5, 1.5)
            commune_leaves[commune].append(leaf)
        for name, kind in (("Ủy ban MTTQ xã", "front"), ("Hội Nông dân xã", "association")):
            leaf = Leaf(add(commune, name, kind), False, "xã", code)
            leaf.weight = OTHER_WEIGHT
            commune_leaves[commune].append(leaf)
        for leaf in commune_leaves[commune]:
            leaf.gps = gps
            leaf.siblings = [other for other in commune_leaves[commune] if other is not leaf]
            country.leaves.append(leaf)
    member_id = len(country.members) + 1
    for leaf in country.leaves:
        size = rng.randint(*(cell_roster if leaf.is_cell else other_roster))
        leaf.members = range(member_id, member_id + size)
        steps = tuple(step for step in range(1, size) if math.gcd(step, size) == 1)
        leaf.roster = (member_id, size, steps)
        for _ in range(size):
            sex = rng.choice("mf")
            parts = (data.FAMILY_NAMES, data.MIDDLE_NAMES[sex], data.GIVEN_NAMES[sex])
            full_name = " ".join(rng.choice(names) for names in parts)
            party = rng.random() < 0.85
            position = data.RANK_AND_FILE if party else data.ASSOCIATION_MEMBER
            country.members.append(
                (member_id, leaf.id, full_name, fold(full_name), party, position, None, True)
            )
            member_id += 1


@dataclass(frozen=True)
class Stamps:
    """Per day of the 24 months: the column values of dates and times, as the database wants
    them (strings: SQLite stores what SQLAlchemy would; PostgreSQL parses them in COPY)."""

    days: tuple[str, ...]
    captured: tuple[str, ...]
    received: tuple[str, ...]
    reviewed: tuple[str, ...]
    month_days: tuple[tuple[int, int], ...]  # (first day index, days) per month, oldest first


def make_stamps(dialect: str) -> Stamps:
    from webapp.tallies.months import add_months, first_day

    first = first_day(add_months(LAST_MONTH, -(MONTHS - 1)))
    end = first_day(add_months(LAST_MONTH, 1))
    days = [first + timedelta(days=i) for i in range((end - first).days)]
    zone = "+00" if dialect == "postgresql" else ".000000"
    month_days = []
    for month in range(MONTHS):
        start = first_day(add_months(LAST_MONTH, month - (MONTHS - 1)))
        stop = first_day(add_months(LAST_MONTH, month - (MONTHS - 2)))
        month_days.append(((start - first).days, (stop - start).days))
    return Stamps(
        tuple(d.isoformat() for d in days),
        tuple(f"{d.isoformat()} 03:12:00{zone}" for d in days),
        tuple(f"{d.isoformat()} 05:40:00{zone}" for d in days),
        tuple(f"{(d + timedelta(days=1)).isoformat()} 02:05:00{zone}" for d in days),
        tuple(month_days),
    )


@dataclass(frozen=True)
class Reference:
    kinds: tuple[tuple[int, int | None, tuple[int, int], tuple[int, int], tuple[str, ...]], ...]
    kind_cum: tuple[float, ...]
    programs: tuple[int, ...]
    user_id: int


class Generator:
    """Activities and participations as plain tuples, month by month in date order."""

    def __init__(
        self,
        rng: random.Random,
        country: Country,
        ref: Reference,
        stamps: Stamps,
        confirmed: int = CONFIRMED,
        participants_spread: float = PARTICIPANTS_SPREAD,
    ):
        self.rng, self.country, self.ref, self.stamps = rng, country, ref, stamps
        self.confirmed = confirmed
        self.participants_spread = participants_spread
        self.leaf_cum = list(itertools.accumulate(leaf.weight for leaf in country.leaves))
        self.per_unit: Counter[int] = Counter()  # confirmed activities per holding unit
        self.statuses: Counter[str] = Counter()
        self.participations = 0

    def month_statuses(self, month: int) -> list[str]:
        """Exactly `confirmed`/24 confirmed per month; pending and returned on top."""
        confirmed = self.confirmed // MONTHS + (1 if month < self.confirmed % MONTHS else 0)
        back = MONTHS - 1 - month
        submitted = round(confirmed * SUBMITTED_SHARE.get(back, OLD_SUBMITTED_SHARE))
        returned = round(confirmed * RETURNED_SHARE)
        statuses = ["confirmed"] * confirmed + ["submitted"] * submitted + ["returned"] * returned
        self.rng.shuffle(statuses)
        return statuses

    def batches(self, size: int) -> Iterator[tuple[list[tuple[Any, ...]], list[tuple[str, int]]]]:
        rng = self.rng
        rnd, getrandbits = rng.random, rng.getrandbits
        leaves, leaf_cum = self.country.leaves, self.leaf_cum
        leaf_total = leaf_cum[-1]
        kinds, kind_cum = self.ref.kinds, self.ref.kind_cum
        kind_total = kind_cum[-1]
        programs = self.ref.programs
        user = self.ref.user_id
        st = self.stamps
        per_unit = self.per_unit
        bisect_right = bisect.bisect_right
        device = f"bench-{user}"
        spread = self.participants_spread
        activities: list[tuple[Any, ...]] = []
        participations: list[tuple[str, int]] = []
        for month, (first_day, ndays) in enumerate(st.month_days):
            statuses = self.month_statuses(month)
            self.statuses.update(statuses)
            days = sorted(first_day + int(rnd() * ndays) for _ in statuses)
            for status, day in zip(statuses, days, strict=True):
                leaf = leaves[bisect_right(leaf_cum, rnd() * leaf_total)]
                kind_id, program, people, households, summaries = kinds[
                    bisect_right(kind_cum, rnd() * kind_total)
                ]
                if program is None or rnd() >= 0.8:
                    program = programs[int(rnd() * len(programs))] if rnd() < 0.15 else None
                # Distinct members of the roster: an arithmetic progression modulo its size
                # with a step prime to it, from a random start (random.sample costs 3× more).
                first_member, size, steps = leaf.roster
                wanted = 2 + int(rnd() * spread)
                start = int(rnd() * size)
                step = steps[int(rnd() * len(steps))]
                chosen = [
                    first_member + (start + j * step) % size
                    for j in range(wanted if wanted < size else size)
                ]
                if rnd() < CROSS_UNIT:
                    other = leaf.siblings[int(rnd() * len(leaf.siblings))].members
                    chosen[-1] = other[int(rnd() * len(other))]
                hh = households[0] + int(rnd() * (households[1] - households[0] + 1))
                reached = people[0] + int(rnd() * (people[1] - people[0] + 1))
                lat = lon = accuracy = None
                if rnd() < 0.4:
                    lat = round(leaf.gps[0] + (rnd() - 0.5) * 0.06, 6)
                    lon = round(leaf.gps[1] + (rnd() - 0.5) * 0.06, 6)
                    accuracy = round(4 + rnd() * 56, 1)
                activity_id = f"{getrandbits(128):032x}"
                reviewed = st.reviewed[day] if status != "submitted" else None
                activities.append((
                    activity_id, leaf.id, kind_id, program, st.days[day], leaf.code,
                    leaf.place, lat, lon, accuracy,
                    summaries[int(rnd() * len(summaries))].format(place=leaf.place),
                    reached if reached > hh else hh, hh, 0, status, 1,
                    activity_id + activity_id, user, device, st.captured[day], st.received[day],
                    reviewed or st.received[day], user if reviewed else None, reviewed,
                ))  # fmt: skip
                participations.extend([(activity_id, m) for m in chosen])
                if status == "confirmed":
                    per_unit[leaf.id] += 1
                if len(activities) >= size:
                    self.participations += len(participations)
                    yield activities, participations
                    activities, participations = [], []
        if activities:
            self.participations += len(participations)
            yield activities, participations


# --- loading ------------------------------------------------------------------------------------


class Loader:
    """Plain rows into a table, as fast as the driver goes."""

    def insert(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        raise NotImplementedError

    def execute(self, sql: str) -> None:
        raise NotImplementedError

    def commit(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError


class SqliteLoader(Loader):
    def __init__(self, path: Path) -> None:
        self.conn = sqlite3.connect(path, isolation_level=None)
        for pragma in (
            "journal_mode = DELETE",  # leave WAL (the app's hook puts it back on connect)
            "journal_mode = OFF",
            "synchronous = OFF",
            "foreign_keys = OFF",
            "temp_store = MEMORY",
            f"cache_size = -{SQLITE_LOAD_CACHE_KIB}",
        ):
            self.conn.execute(f"PRAGMA {pragma}")
        self.conn.execute("BEGIN")

    def insert(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        marks = ", ".join("?" for _ in columns)
        sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"  # noqa: S608
        self.conn.executemany(sql, rows)

    def execute(self, sql: str) -> None:
        self.conn.execute(sql)

    def commit(self) -> None:
        """Nothing until `close`: each COMMIT writes every dirty page of the two primary-key
        indexes (random UUIDs touch all of them), which costs more than the inserts."""

    def close(self) -> None:
        self.conn.execute("COMMIT")
        self.conn.close()


class PostgresLoader(Loader):
    def __init__(self, url: str) -> None:
        import psycopg

        self.conn = psycopg.connect(_plain_url(url))
        self.conn.execute("SET session_replication_role = replica")  # no FK triggers

    def insert(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        with (
            self.conn.cursor() as cursor,
            cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy,
        ):
            for row in rows:
                copy.write_row(row)

    def execute(self, sql: str) -> None:
        self.conn.execute(sql)  # type: ignore[arg-type]

    def commit(self) -> None:
        self.conn.commit()

    def close(self) -> None:
        self.conn.commit()
        self.conn.close()


def _plain_url(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


@dataclass
class LoadReport:
    seconds: dict[str, float] = field(default_factory=dict)
    rebuild_seconds: dict[str, float] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    statuses: dict[str, int] = field(default_factory=dict)
    rebuild_rows: dict[str, int] = field(default_factory=dict)
    per_unit: Counter[int] = field(default_factory=Counter)
    country: Country | None = None
    kind_ids: dict[str, int] = field(default_factory=dict)
    size_bytes: int = 0
    profile: str = ""


def make_app(url: str, tmp: Path) -> Flask:
    from bench.sync_ingest import make_app as production_app

    return production_app(url, tmp)


@dataclass(frozen=True)
class Scale:
    """What `load` generates: the country (units and rosters), confirmed activities (pending
    and returned ones come on top), participants per activity (2 + int(random() × spread))."""

    build: Callable[[random.Random], Country] = build_country
    confirmed: int = CONFIRMED
    participants_spread: float = PARTICIPANTS_SPREAD


def load(
    dialect: str, url: str, tmp: Path, sqlite_path: Path | None, scale: Scale | None = None
) -> LoadReport:
    """Schema, reference data, the country, its activities; indexes; statistics; rollup."""
    from flask_migrate import upgrade
    from sqlalchemy.schema import CreateIndex, DropIndex

    from webapp.demo import data
    from webapp.demo.services import ensure_reference_data
    from webapp.extensions import db
    from webapp.models import Activity, Participation, User

    scale = scale or Scale()
    report = LoadReport()
    rng = random.Random(SEED)
    started = time.perf_counter()
    app = make_app(url, tmp)
    with app.app_context():
        upgrade()
        kind_objects, program_objects = ensure_reference_data()
        db.session.commit()
        kinds = {code: kind.id for code, kind in kind_objects.items()}
        programs = {code: program.id for code, program in program_objects.items()}
        indexes = [ix for t in (Activity.__table__, Participation.__table__) for ix in t.indexes]
        drops = [str(DropIndex(ix).compile(dialect=db.engine.dialect)) for ix in indexes]
        creates = [str(CreateIndex(ix).compile(dialect=db.engine.dialect)) for ix in indexes]
        db.session.remove()
        db.engine.dispose()
    report.seconds["schema"] = time.perf_counter() - started

    clock = time.perf_counter()
    country = scale.build(rng)
    report.country = country
    loader: Loader = SqliteLoader(sqlite_path) if sqlite_path else PostgresLoader(url)
    loader.insert("unit", UNIT_COLUMNS, country.units)
    loader.insert("member", MEMBER_COLUMNS, country.members)
    if dialect == "postgresql":
        for table in ("unit", "member"):
            loader.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608
                f"(SELECT max(id) FROM {table}))"
            )
    loader.close()
    report.seconds["units and rosters"] = time.perf_counter() - clock

    with app.app_context():
        user = User(
            username="bench",
            full_name="Chuyên viên thử nghiệm",
            password_hash="!",  # noqa: S106 (no sign-in: the account only owns entries)
            role="staff",
            scope_unit_id=1,
        )
        db.session.add(user)
        db.session.commit()
        ref = Reference(
            kinds=tuple(
                (
                    kinds[spec.code],
                    programs[spec.program] if spec.program else None,
                    spec.people,
                    spec.households,
                    data.SUMMARIES[spec.code],
                )
                for spec in data.KINDS
            ),
            kind_cum=tuple(itertools.accumulate(spec.weight for spec in data.KINDS)),
            programs=tuple(sorted(programs.values())),
            user_id=user.id,
        )
        report.kind_ids = kinds
        db.session.remove()
        db.engine.dispose()

    generator = Generator(
        rng, country, ref, make_stamps(dialect), scale.confirmed, scale.participants_spread
    )
    loader = SqliteLoader(sqlite_path) if sqlite_path else PostgresLoader(url)
    for statement in drops:
        loader.execute(statement)
    clock = time.perf_counter()
    generating = writing_activities = writing_participations = 0.0
    batches = generator.batches(BATCH)
    while True:
        t0 = time.perf_counter()
        batch = next(batches, None)
        generating += time.perf_counter() - t0
        if batch is None:
            break
        activities, participations = batch
        t0 = time.perf_counter()
        loader.insert("activity", ACTIVITY_COLUMNS, activities)
        t1 = time.perf_counter()
        loader.insert("participation", ("activity_id", "member_id"), participations)
        t2 = time.perf_counter()
        loader.commit()
        writing_activities += t1 - t0
        writing_participations += t2 - t1
    report.seconds["activities and participations"] = time.perf_counter() - clock
    report.seconds["(of which generating rows in Python)"] = generating
    report.seconds["(of which writing activity rows)"] = writing_activities
    report.seconds["(of which writing participation rows)"] = writing_participations
    clock = time.perf_counter()
    for statement in creates:
        loader.execute(statement)
    loader.close()
    report.seconds["indexes"] = time.perf_counter() - clock
    report.statuses = dict(generator.statuses)
    report.per_unit = generator.per_unit
    report.counts = {
        "units": len(country.units),
        "members": len(country.members),
        "activities": sum(generator.statuses.values()),
        "participations": generator.participations,
    }

    clock = time.perf_counter()
    analyze(dialect, url, app)
    report.seconds["statistics (ANALYZE)"] = time.perf_counter() - clock
    report.seconds["load in all"] = time.perf_counter() - started
    return report


def rebuild_rollup(
    dialect: str, url: str, tmp: Path, sqlite_path: Path | None, report: LoadReport
) -> None:
    """`webapp.tallies.rebuild.rebuild()` once, timed (and profiled with BENCH_TALLY_PROFILE)."""
    from webapp.extensions import db

    app = make_app(url, tmp)
    with app.app_context():
        from webapp.database import begin_write
        from webapp.tallies import rebuild

        clock = time.perf_counter()
        begin_write()
        if PROFILE:
            profiler = cProfile.Profile()
            profiler.enable()
        report.rebuild_rows = rebuild.rebuild()
        db.session.commit()
        if PROFILE:
            profiler.disable()
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(30)
            report.profile = out.getvalue()
        report.rebuild_seconds["rollup rebuild"] = time.perf_counter() - clock
        db.session.remove()
        db.engine.dispose()
    clock = time.perf_counter()
    analyze(dialect, url, app)
    report.rebuild_seconds["statistics after rebuild"] = time.perf_counter() - clock
    report.size_bytes = database_size(dialect, url, sqlite_path)


def analyze(dialect: str, url: str, app: Flask) -> None:
    if dialect == "postgresql":
        import psycopg

        with psycopg.connect(_plain_url(url), autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE")
        return
    from webapp.extensions import db

    with app.app_context():
        db.session.execute(db.text("ANALYZE"))
        db.session.commit()
        db.session.remove()
        db.engine.dispose()


def database_size(dialect: str, url: str, sqlite_path: Path | None) -> int:
    if sqlite_path is not None:
        return sum(p.stat().st_size for p in sqlite_path.parent.glob(sqlite_path.name + "*"))
    import psycopg

    with psycopg.connect(_plain_url(url)) as conn:
        row = conn.execute("SELECT pg_database_size(current_database())").fetchone()
        return int(row[0]) if row else 0


def tune_postgres(url: str) -> None:
    """ALTER SYSTEM the settings of a server of this size, and restart it."""
    import psycopg

    from tests.pg_server import find_pg_bin

    with psycopg.connect(_plain_url(url), autocommit=True) as conn:
        for name, value in PG_SETTINGS.items():
            conn.execute(f"ALTER SYSTEM SET {name} = '{value}'")  # type: ignore[arg-type]
        row = conn.execute("SHOW data_directory").fetchone()
        assert row is not None
        data_dir = Path(row[0])
    args = [
        str(find_pg_bin() / "pg_ctl"),
        "-D",
        str(data_dir),
        "-l",
        str(data_dir.parent / "log"),
        "-m",
        "fast",
        "-w",
        "restart",
    ]
    if os.geteuid() == 0:
        args = ["runuser", "-u", "postgres", "--", *args]
    subprocess.run(args, check=True, capture_output=True)


# --- the figures from raw rows ------------------------------------------------------------------

# The subtree's units, each with the child of the unit it lies under (NULL: the unit itself).
# SQLite gets it MATERIALIZED, or it works the child out again for every joined row (the
# participations statement took 11.8 s instead of 4 s); PostgreSQL gets it inline, since a
# materialized CTE rules out its parallel plans (5.3 s instead of 7.9 s in all).
_SUB = """
WITH sub AS {materialized} (
    SELECT u.id, u.kind, u.active, c.id AS child
    FROM unit u
    LEFT JOIN unit c ON c.parent_id = :uid AND u.path >= c.path
        AND u.path < substr(c.path, 1, length(c.path) - 1) || '0'
    WHERE u.path >= :lo AND u.path < :hi
)"""
_IN_RANGE = "a.occurred_on >= :d0 AND a.occurred_on < :d1{kind}"
RAW_SUMS = (
    _SUB
    + """
SELECT sub.child, {month}, a.status, count(*),
    sum(CASE WHEN sub.kind IN ({cell_kinds}) THEN 1 ELSE 0 END),
    sum(a.people_reached), sum(a.households_reached)
FROM activity a JOIN sub ON sub.id = a.unit_id
WHERE a.status IN ('confirmed', 'submitted') AND """
    + _IN_RANGE
    + """
GROUP BY 1, 2, 3"""
)
RAW_PARTICIPATIONS = (
    _SUB
    + """
SELECT sub.child, {month}, a.status, count(*)
FROM participation p
JOIN activity a ON a.id = p.activity_id
JOIN sub ON sub.id = a.unit_id
WHERE a.status IN ('confirmed', 'submitted') AND """
    + _IN_RANGE
    + """
GROUP BY 1, 2, 3"""
)
RAW_MEMBERS = (
    _SUB  # noqa: S608 (constants only)
    + """, x AS (
    SELECT DISTINCT sub.child, {month} AS month, p.member_id
    FROM participation p
    JOIN activity a ON a.id = p.activity_id
    JOIN sub ON sub.id = a.unit_id
    WHERE a.status = 'confirmed' AND """
    + _IN_RANGE
    + """
)
SELECT 0, NULL, count(DISTINCT member_id) FROM x
UNION ALL SELECT 1, child, count(DISTINCT member_id) FROM x GROUP BY child
UNION ALL SELECT 2, month, count(DISTINCT member_id) FROM x GROUP BY month"""
)
RAW_UNITS = (
    _SUB  # noqa: S608 (constants only)
    + """, x AS (
    SELECT DISTINCT a.unit_id, sub.child, {month} AS month
    FROM activity a JOIN sub ON sub.id = a.unit_id
    WHERE a.status = 'confirmed' AND """
    + _IN_RANGE
    + """
)
SELECT 0, month, count(*), 0 FROM x GROUP BY month
UNION ALL
SELECT 1, child, count(*), sum(CASE WHEN n = :months THEN 1 ELSE 0 END)
FROM (SELECT unit_id, child, count(*) AS n FROM x GROUP BY unit_id, child) AS y
GROUP BY child"""
)
RAW_HOLDING = (  # active units of holding kinds, and any other that held an activity
    _SUB  # noqa: S608 (constants only)
    + """
SELECT child, count(*) FROM sub
WHERE (kind IN ({holding_kinds}) AND active) OR EXISTS (
    SELECT 1 FROM activity a
    WHERE a.unit_id = sub.id AND a.status = 'confirmed' AND """
    + _IN_RANGE
    + """
)
GROUP BY child"""
)
RAW_NAMES = {
    RAW_SUMS: "sums of activities and people",
    RAW_PARTICIPATIONS: "participations",
    RAW_MEMBERS: "distinct members",
    RAW_UNITS: "active units",
    RAW_HOLDING: "holding units",
}
_CONFIRMED_SUMS = ("activities", "unit_activities", "people_reached", "households_reached")
_PENDING_SUMS = ("pending_activities", None, "pending_people_reached", "pending_households_reached")


@dataclass(frozen=True)
class Page:
    """What the tally page shows: the unit, each child, each month."""

    total: Figures
    children: dict[int, Figures]
    monthly: dict[int, Figures]


def page_of(view: TallyView) -> Page:
    return Page(
        view.total,
        {child.id: figures for child, figures in view.children},
        dict(view.monthly),
    )


def raw_page(
    unit_id: int,
    first: int,
    last: int,
    kind_id: int | None = None,
    timings: dict[str, float] | None = None,
) -> Page:
    """The tally page's figures computed from activity, participation and unit."""
    from dataclasses import replace

    from sqlalchemy import text

    from webapp.database import dialect_name
    from webapp.extensions import db
    from webapp.models import CELL_KINDS, HOLDING_KINDS
    from webapp.scope import subtree_range
    from webapp.tallies.months import add_months, first_day, months_between
    from webapp.tallies.query import Figures

    postgres = dialect_name() == "postgresql"
    path = db.session.execute(
        text("SELECT path FROM unit WHERE id = :id"), {"id": unit_id}
    ).scalar_one()
    children = db.session.scalars(
        text("SELECT id FROM unit WHERE parent_id = :id"), {"id": unit_id}
    ).all()
    lo, hi = subtree_range(path)
    d0, d1 = first_day(first), first_day(add_months(last, 1))
    months = months_between(first, last)
    params: dict[str, Any] = {
        "uid": unit_id,
        "lo": lo,
        "hi": hi,
        "d0": d0 if postgres else d0.isoformat(),
        "d1": d1 if postgres else d1.isoformat(),
        "months": len(months),
    }
    if kind_id is not None:
        params["kind"] = kind_id
    fill = {
        "month": (
            "CAST(to_char(a.occurred_on, 'YYYYMM') AS INTEGER)"
            if postgres
            else "CAST(strftime('%Y%m', a.occurred_on) AS INTEGER)"
        ),
        "kind": " AND a.kind_id = :kind" if kind_id is not None else "",
        "materialized": "" if postgres else "MATERIALIZED",
        "cell_kinds": ", ".join(f"'{k}'" for k in CELL_KINDS),
        "holding_kinds": ", ".join(f"'{k}'" for k in HOLDING_KINDS),
    }

    def run(sql: str) -> list[Any]:
        started = time.perf_counter()
        rows = db.session.execute(text(sql.format(**fill)), params).all()
        if timings is not None:
            timings[RAW_NAMES[sql]] = (time.perf_counter() - started) * 1000
        return rows

    total: dict[str, int] = defaultdict(int)
    by_child: dict[int | None, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    by_month: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for child, month, status, *values in run(RAW_SUMS):
        names = _CONFIRMED_SUMS if status == "confirmed" else _PENDING_SUMS
        for bucket in (total, by_child[child], by_month[month]):
            for name, value in zip(names, values, strict=True):
                if name is not None:
                    bucket[name] += int(value)
    for child, month, status, n in run(RAW_PARTICIPATIONS):
        name = "participations" if status == "confirmed" else "pending_participations"
        for bucket in (total, by_child[child], by_month[month]):
            bucket[name] += int(n)
    for what, key, n in run(RAW_MEMBERS):
        if what == 0:
            total["members_engaged"] = int(n)
        elif what == 1 and key is not None:
            by_child[key]["members_engaged"] = int(n)
        elif what == 2:
            by_month[key]["members_engaged"] = int(n)
    for what, key, n, every in run(RAW_UNITS):
        if what == 0:
            by_month[key]["active_units"] = by_month[key]["active_every_month"] = int(n)
        else:
            for bucket in (total, by_child[key]) if key is not None else (total,):
                bucket["active_units"] += int(n)
                bucket["active_every_month"] += int(every)
    holding: dict[int | None, int] = {child: int(n) for child, n in run(RAW_HOLDING)}
    total_holding = sum(holding.values())
    return Page(
        Figures(**total, holding_units=total_holding),
        {
            child: Figures(**by_child.get(child, {}), holding_units=holding.get(child, 0))
            for child in children
        },
        {
            month: replace(Figures(**by_month.get(month, {})), holding_units=total_holding)
            for month in months
        },
    )


def differences(rollup: Page, raw: Page) -> list[str]:
    found = []
    if rollup.total != raw.total:
        found.append(f"total: rollup {rollup.total} raw {raw.total}")
    for label, a, b in (
        ("child", rollup.children, raw.children),
        ("month", rollup.monthly, raw.monthly),
    ):
        for key in sorted(set(a) | set(b)):
            if a.get(key) != b.get(key):
                found.append(f"{label} {key}: rollup {a.get(key)} raw {b.get(key)}")
    return found


# --- measuring ----------------------------------------------------------------------------------


def percentile(samples: Sequence[float], q: float) -> float:
    ordered = sorted(samples)
    if len(ordered) == 1:
        return ordered[0]
    position = q * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def timed(fn: Callable[[], Any], runs: int) -> list[float]:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


@dataclass(frozen=True)
class CaseResult:
    database: str
    level: str
    unit_label: str
    months: int
    rollup_ms: tuple[float, ...]
    raw_ms: tuple[float, ...]
    mismatches: tuple[str, ...]

    @property
    def rollup_p50(self) -> float:
        return statistics.median(self.rollup_ms)

    @property
    def rollup_p95(self) -> float:
        return percentile(self.rollup_ms, 0.95)

    @property
    def raw_p50(self) -> float:
        return statistics.median(self.raw_ms)

    @property
    def speedup(self) -> float:
        return self.raw_p50 / self.rollup_p50


def pick_units(report: LoadReport) -> dict[str, int]:
    """The largest province, commune and cell by confirmed activities."""
    country = report.country
    assert country is not None
    per_unit: Counter[int] = Counter()
    for unit_id, n in report.per_unit.items():
        ancestor: int | None = unit_id
        while ancestor is not None:
            per_unit[ancestor] += n
            ancestor = country.parent_of[ancestor]
    return {
        level: max(
            (u for u in per_unit if country.kind_of[u] == level), key=lambda u: (per_unit[u], -u)
        )
        for level in LEVELS
    }


def measure_database(name: str, url: str, tmp: Path, report: LoadReport) -> list[CaseResult]:
    from webapp.extensions import db
    from webapp.models import Unit
    from webapp.tallies.months import add_months
    from webapp.tallies.query import Filters, tally

    app = make_app(url, tmp)
    results: list[CaseResult] = []
    chosen = pick_units(report)
    with app.app_context():
        for level in LEVELS:
            unit_id = chosen[level]
            for months in RANGES:
                first = add_months(LAST_MONTH, -(months - 1))

                def rollup(uid: int = unit_id, first: int = first) -> TallyView:
                    view = tally(db.session.get_one(Unit, uid), first, LAST_MONTH)
                    db.session.rollback()
                    return view

                def raw(uid: int = unit_id, first: int = first) -> Page:
                    page = raw_page(uid, first, LAST_MONTH)
                    db.session.rollback()
                    return page

                for _ in range(3):
                    view = rollup()
                started = time.perf_counter()
                expected = raw()  # warm-up and the figures to compare
                first_raw_ms = (time.perf_counter() - started) * 1000
                mismatches = differences(page_of(view), expected)
                rollup_ms = timed(rollup, RUNS)
                raw_runs = 3 if first_raw_ms > SLOW_RAW_MS else 5
                raw_ms = timed(raw, raw_runs)
                label = f"{level} #{unit_id} ({report_size(report, unit_id)})"
                if level == LEVELS[0] and months == max(RANGES):
                    timings: dict[str, float] = {}
                    raw_page(unit_id, first, LAST_MONTH, timings=timings)
                    db.session.rollback()
                    spent = ", ".join(f"{k} {ms:,.0f} ms" for k, ms in timings.items())
                    print(f"  raw {level} × {months} months, by statement: {spent}")
                result = CaseResult(
                    name, level, label, months, tuple(rollup_ms), tuple(raw_ms), tuple(mismatches)
                )
                results.append(result)
                print(
                    f"  {name} {level} {months:>2} months: rollup p50 {result.rollup_p50:.1f} ms, "
                    f"p95 {result.rollup_p95:.1f} ms; raw p50 {result.raw_p50:,.0f} ms "
                    f"({'figures agree' if not mismatches else f'{len(mismatches)} MISMATCHES'})",
                    flush=True,
                )
        # The kind-filtered page: distinct counts come from TallyPresence over the subtree.
        province = chosen["province"]
        kind_id = report.kind_ids["home_visit"]
        first = add_months(LAST_MONTH, -(MONTHS - 1))

        def filtered() -> TallyView:
            view = tally(
                db.session.get_one(Unit, province), first, LAST_MONTH, Filters(kind_id=kind_id)
            )
            db.session.rollback()
            return view

        view = filtered()
        started = time.perf_counter()
        expected = raw_page(province, first, LAST_MONTH, kind_id=kind_id)
        raw_ms = (time.perf_counter() - started) * 1000
        db.session.rollback()
        mismatches = differences(page_of(view), expected)
        samples = timed(filtered, FILTERED_RUNS)
        results.append(
            CaseResult(
                name, "province, kind filter", f"province #{province}", MONTHS, tuple(samples),
                (raw_ms,), tuple(mismatches),
            )
        )  # fmt: skip
        db.session.remove()
        db.engine.dispose()
    return results


def report_size(report: LoadReport, unit_id: int) -> str:
    country = report.country
    assert country is not None
    path = country.units[unit_id - 1][2]
    units = sum(1 for row in country.units if row[2].startswith(path))
    activities = sum(
        n for u, n in report.per_unit.items() if country.units[u - 1][2].startswith(path)
    )
    return f"{units:,} unit{'s' if units > 1 else ''}, {activities:,} confirmed activities"


# --- report -------------------------------------------------------------------------------------


def table(results: list[CaseResult]) -> str:
    lines = [
        "| DB | unit level | months | rollup p50 ms | rollup p95 ms | raw p50 ms | speed-up "
        "| runs (rollup/raw) | figures |",
        "|---|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in results:
        if r.level.endswith("filter"):
            continue
        lines.append(
            f"| {r.database} | {r.level} | {r.months} | {r.rollup_p50:.1f} | {r.rollup_p95:.1f} | "
            f"{r.raw_p50:,.1f} | {r.speedup:,.0f}× | {len(r.rollup_ms)}/{len(r.raw_ms)} | "
            f"{'agree' if not r.mismatches else 'DIFFER'} |"
        )
    return "\n".join(lines)


def print_load(name: str, report: LoadReport) -> None:
    counts = report.counts
    statuses = ", ".join(f"{s} {n:,}" for s, n in sorted(report.statuses.items()))
    print(f"\n{name}: dataset")
    print(
        f"- {counts['units']:,} units (5 provinces, districts, communes, cells + front + "
        f"association per commune), {counts['members']:,} members"
    )
    print(
        f"- {counts['activities']:,} activities ({statuses}); "
        f"{counts['participations']:,} participations"
    )
    loaded = counts["activities"] + counts["participations"]
    load_s = report.seconds["activities and participations"]
    print(f"{name}: load ({loaded / load_s:,.0f} activity + participation rows/s)")
    for step, seconds in report.seconds.items():
        print(f"- {step}: {seconds:,.1f} s")
    print(flush=True)


def print_rebuild(name: str, report: LoadReport) -> None:
    rows = ", ".join(f"{t} {n:,}" for t, n in report.rebuild_rows.items())
    print(f"{name}: rollup rebuilt from raw rows ({rows})")
    for step, seconds in report.rebuild_seconds.items():
        print(f"- {step}: {seconds:,.1f} s")
    print(f"- database size {report.size_bytes / 2**20:,.0f} MiB")
    if report.profile:
        print(f"\n{name}: profile of the rollup rebuild\n```\n{report.profile}```")


def main() -> None:
    from tests.pg_server import postgres_server

    print(machine_line(), flush=True)
    print(
        f"scale: {CONFIRMED:,} confirmed activities over {MONTHS} months (to {LAST_MONTH}); "
        f"rollup {RUNS} runs per case after 3 warm-ups; raw 5 runs (3 when > {SLOW_RAW_MS:.0f} ms) "
        "after 1 warm-up",
        flush=True,
    )
    started = time.perf_counter()
    all_results: list[CaseResult] = []
    with tempfile.TemporaryDirectory(prefix="bench-tallies-") as tmp_name:
        tmp = Path(tmp_name)
        for dialect in DATABASES:
            where = tmp / dialect
            where.mkdir()
            if dialect == "sqlite":
                path = where / "bench.sqlite3"
                results = run_database("SQLite", dialect, f"sqlite:///{path}", where, path)
            elif dialect == "postgresql":
                with postgres_server() as pg_url:
                    tune_postgres(pg_url)
                    results = run_database("PostgreSQL", dialect, pg_url, where, None)
            else:
                raise SystemExit(f"unknown database {dialect!r} in BENCH_TALLY_DBS")
            all_results += results
    print(f"\n{table(all_results)}\n")
    for r in all_results:
        if r.level.endswith("filter"):
            print(
                f"{r.database}, {r.unit_label}, {r.months} months, kind filter (TallyPresence): "
                f"p50 {r.rollup_p50:.1f} ms, p95 {r.rollup_p95:.1f} ms over {len(r.rollup_ms)} "
                f"runs; raw {r.raw_ms[0]:,.0f} ms once; figures "
                f"{'agree' if not r.mismatches else 'DIFFER'}"
            )
    verdicts(all_results)
    print(f"\n{machine_line().replace('at start', 'at end')}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    print(f"bench took {time.perf_counter() - started:.0f} s; peak memory {peak:,.0f} MiB")
    mismatched = [r for r in all_results if r.mismatches]
    for r in mismatched:
        print(f"\nMISMATCH {r.database} {r.level} {r.months} months:")
        print("\n".join(f"  {line}" for line in r.mismatches[:10]))
    if mismatched:
        raise AssertionError("the rollup and the raw rows disagree (see above)")


def run_database(
    name: str, dialect: str, url: str, where: Path, sqlite_path: Path | None
) -> list[CaseResult]:
    print(f"\n{name}: loading ...", flush=True)
    report = load(dialect, url, where, sqlite_path)
    print_load(name, report)
    rebuild_rollup(dialect, url, where, sqlite_path, report)
    print_rebuild(name, report)
    chosen = pick_units(report)
    for level in LEVELS:
        print(f"- measured {level}: #{chosen[level]} ({report_size(report, chosen[level])})")
    print(flush=True)
    return measure_database(name, url, where, report)


def verdicts(results: list[CaseResult]) -> None:
    scale = "" if CONFIRMED >= 1_000_000 else " (they are set for ≥ 1,000,000 activities)"
    print(f"targets{scale}:")
    plain = [r for r in results if not r.level.endswith("filter")]
    for database in dict.fromkeys(r.database for r in plain):
        mine = [r for r in plain if r.database == database]
        worst = max(mine, key=lambda r: r.rollup_p95)
        ok = worst.rollup_p95 <= TARGET_P95_MS
        print(
            f"- {database}: worst rollup p95 {worst.rollup_p95:.1f} ms ({worst.level}, "
            f"{worst.months} months; target ≤ {TARGET_P95_MS:.0f} ms: {'met' if ok else 'MISSED'})"
        )
        largest = next(r for r in mine if r.level == "province" and r.months == max(RANGES))
        ok = largest.speedup >= TARGET_SPEEDUP
        print(
            f"- {database}: province × {largest.months} months speed-up {largest.speedup:,.0f}× "
            f"(target ≥ {TARGET_SPEEDUP:.0f}×: {'met' if ok else 'MISSED'})"
        )


if __name__ == "__main__":
    main()
