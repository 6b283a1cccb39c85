"""The app at national shape on PostgreSQL: load, `flask tallies rebuild`, tally page, push ingest.

A throwaway PostgreSQL (data under /tmp, fsync off, tuned as bench/tallies.py tunes it: 2 GB
shared buffers, 64 MB work_mem, jit off) gets the schema and a synthetic country of today's
two-tier shape: the root unit "Việt Nam" → 34 provinces → 60–160 communes each (about 3,300) →
3–6 cells each (about 15,000), plus a Fatherland Front and an association per commune; rosters of
20–40 members per cell and 10–20 per front or association (about 550,000 members: a tenth of the
real ~5 M party members, which changes the rollup's presence tables, not its month sums). Then
BENCH_NATIONAL_ACTIVITIES activities (default 10,000,000: confirmed, returned, and recent ones
still submitted, as bench/tallies.py mixes them) over 24 months, 2–5 participants each (mean
3.5: ~35 M participations), written with bench/tallies.py's generator and loader: COPY with
session_replication_role = replica, activity and participation indexes dropped and rebuilt,
VACUUM ANALYZE.

1. Load: counts, time per step, the database size and its biggest tables and indexes.
2. `flask tallies rebuild`: the real CLI in a child process against the loaded database, wall
   time and peak memory (the child's maximum RSS from wait4), and where its time goes: a stack
   sampler thread in the child (100 Hz, `sampled_flask` below: flask's own `main`, as
   .venv/bin/flask runs it) counts samples per function and per line of `rebuild()`.
   BENCH_NATIONAL_SAMPLE=0 runs .venv/bin/flask itself, without the sampler.
3. The tally page: `query.tally(unit, first, last)` as the page calls it, for the country, the
   largest province and the largest commune (by confirmed activities), over the last 1, 12 and
   24 months: p50 and p95 over BENCH_NATIONAL_RUNS (30) runs after 3 warm-ups, every case
   before any raw query (raw reads gigabytes and would evict the rollup's pages); beside it the
   same page computed raw (bench/tallies.py's `raw_page`: SQL over activity, participation and
   unit), 3 runs after one warm-up whose figures are compared with the rollup's figure by
   figure (for the country only the months in BENCH_NATIONAL_RAW_COUNTRY, default "1": raw over
   the whole country takes minutes). The statements of the slowest case are timed one by one;
   for a case above the 50 ms goal, EXPLAIN (ANALYZE, BUFFERS) of its slowest statements is
   printed. Then GET /tallies/ through gunicorn for the three units, 12 months.
4. Push ingest through gunicorn (bench/sync_ingest.py's clients: separate processes, each signed
   in once; fresh ids, 3 participants from one cell's roster) into a cell of a large commune:
   batches of 50 from 8 clients and single-item pushes from 1 client, 4 s per case, 3 runs,
   round-robin with the baseline: a second database on the same server with the same units and
   rosters but no activities (both ANALYZEd after a warm-up: analyzed empty, the activity table
   is scanned sequentially by every push until autovacuum catches up). The rollup of that
   commune is then checked against raw rows.
5. Verdicts: each goal met or missed, with the figures that decide it.

Re-timing without reloading: BENCH_NATIONAL_KEEP=/tmp/DIR keeps the server's files in DIR (new)
after the run; BENCH_NATIONAL_REUSE=/tmp/DIR starts that server again and runs phases 3-5 only
(remove DIR afterwards). Other knobs: BENCH_NATIONAL_RUNS, BENCH_NATIONAL_RAW_COUNTRY ("1,12,24"
for every range, "" for none).
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench import tallies
from bench.common import machine_line
from bench.tallies import (
    LAST_MONTH,
    MONTHS,
    OLD_SUBMITTED_SHARE,
    RANGES,
    RETURNED_SHARE,
    SEED,
    SUBMITTED_SHARE,
    TARGET_P95_MS,
    Country,
    Scale,
    percentile,
    timed,
)

if TYPE_CHECKING:
    from flask import Flask

    from bench.sync_ingest import RunResult, World


def _env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, "").replace("_", "").replace(",", "") or default)


ACTIVITIES = _env_int("BENCH_NATIONAL_ACTIVITIES", 10_000_000)
RUNS = _env_int("BENCH_NATIONAL_RUNS", 30)
RAW_RUNS = 3
RAW_COUNTRY_MONTHS = {
    int(m) for m in os.environ.get("BENCH_NATIONAL_RAW_COUNTRY", "1").split(",") if m.strip()
}
KEEP = os.environ.get("BENCH_NATIONAL_KEEP", "")
REUSE = os.environ.get("BENCH_NATIONAL_REUSE", "")
SAMPLE = os.environ.get("BENCH_NATIONAL_SAMPLE", "1") != "0"
ROOT = Path(__file__).resolve().parent.parent

PROVINCES = 34
COMMUNES_PER_PROVINCE = (60, 160, 70)  # triangular(low, high, mode): mean ≈ 97, ~3,300 in all
CELLS_PER_COMMUNE = (3, 6)
CELL_ROSTER = (20, 40)
OTHER_ROSTER = (10, 20)
PARTICIPANTS_SPREAD = 4.0  # 2 + int(random() × 4): 2–5 participants, mean 3.5
# The schema has no "country" kind; the root is a grouping node, as an intermediate level is
# (DESIGN.md §2). Like a province it holds no activities, so only its name says "country".
ROOT_KIND = "district"
LEVELS = ("country", "province", "commune")
SAMPLE_SECONDS = 0.01
HTTP_RUNS = 10
HTTP_MONTHS = 12
INGEST_CASES = ((50, 8), (1, 1))  # (activities per request, concurrent clients)
INGEST_RUNS = 3
STAFF_LOGIN = "bench.chuyenvien"
CADRE_LOGIN = "bench.canbo"
EMPTY_DB = "nhatky_empty"
LOADED_MARK = "loaded-and-rebuilt"
TRACE_RUNS = 5


def confirmed_for(total: int) -> int:
    """Confirmed activities such that, with bench/tallies.py's pending and returned shares on
    top, about `total` activities are generated."""
    pending = sum(SUBMITTED_SHARE.get(back, OLD_SUBMITTED_SHARE) for back in range(MONTHS))
    return round(total * MONTHS / (MONTHS * (1 + RETURNED_SHARE) + pending))


def build_nation(rng: random.Random) -> Country:
    """Việt Nam → 34 provinces → communes → cells, front, association; rosters."""
    country = Country()
    root = country.add(None, "Việt Nam", ROOT_KIND)
    provinces = [
        country.add(root, f"Tỉnh thử nghiệm số {i + 1}", "province", f"{i + 1:02d}")
        for i in range(PROVINCES)
    ]
    communes = [
        country.add(province, f"Xã số {k + 1}", "commune", f"{p + 1:02d}{k + 1:03d}")
        for p, province in enumerate(provinces)
        for k in range(round(rng.triangular(*COMMUNES_PER_PROVINCE)))
    ]
    tallies.add_commune_units(country, rng, communes, CELLS_PER_COMMUNE, CELL_ROSTER, OTHER_ROSTER)
    return country


NATIONAL = Scale(build_nation, confirmed_for(ACTIVITIES), PARTICIPANTS_SPREAD)


# --- the server ---------------------------------------------------------------------------------


def _as_postgres(args: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args


@contextmanager
def kept_server(base: Path, create: bool) -> Iterator[str]:
    """A server whose files stay in `base` (created there when `create`); stopped on exit."""
    from tests.live_server import free_port
    from tests.pg_server import find_pg_bin

    pg_bin, data, port = find_pg_bin(), base / "data", free_port()

    def run(*args: str) -> None:
        subprocess.run(_as_postgres(list(args)), check=True, capture_output=True)

    if create:
        base.mkdir(parents=True)
        if os.geteuid() == 0:
            shutil.chown(base, user="postgres", group="postgres")
        run(str(pg_bin / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres",
            "--no-sync", "-E", "UTF8", "--locale=C.UTF-8")  # fmt: skip
    options = (
        f"-p {port} -c listen_addresses=127.0.0.1 -k {base} -c fsync=off "
        "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
    )
    run(
        str(pg_bin / "pg_ctl"),
        "-D",
        str(data),
        "-w",
        "-l",
        str(base / "log"),
        "-o",
        options,
        "start",
    )
    try:
        if create:
            run(str(pg_bin / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres",
                "nhatky_test")  # fmt: skip
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/nhatky_test"
    finally:
        run(str(pg_bin / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop")


@contextmanager
def national_server() -> Iterator[str]:
    """Throwaway (removed on exit, also on failure), kept (BENCH_NATIONAL_KEEP) or reused."""
    from tests.pg_server import postgres_server

    if REUSE:
        with kept_server(Path(REUSE), create=False) as url:
            yield url
    elif KEEP:
        base = Path(KEEP)
        try:
            with kept_server(base, create=True) as url:
                yield url
        finally:
            if (base / LOADED_MARK).exists():
                print(f"\nkept: {base} (BENCH_NATIONAL_REUSE={base} re-times; rm -rf it after)")
            else:  # the load or the rebuild failed: nothing worth keeping
                shutil.rmtree(base, ignore_errors=True)
    else:
        with postgres_server() as url:
            yield url


def _plain(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


def query(url: str, sql: str, params: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
    import psycopg

    with psycopg.connect(_plain(url), autocommit=True) as conn:
        cursor = conn.execute(sql, params)  # type: ignore[arg-type]
        return cursor.fetchall() if cursor.description else []


# --- 1. load ------------------------------------------------------------------------------------


def database_size(url: str) -> int:
    return int(query(url, "SELECT pg_database_size(current_database())")[0][0])


BIGGEST = """
SELECT c.relname, CASE c.relkind WHEN 'r' THEN 'table' ELSE 'index' END,
    CASE c.relkind WHEN 'r' THEN pg_table_size(c.oid) ELSE pg_relation_size(c.oid) END AS bytes,
    c.reltuples
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' AND c.relkind IN ('r', 'i')
ORDER BY bytes DESC LIMIT %(n)s"""


def size_table(url: str, rows: int = 16) -> str:
    lines = ["| relation | kind | size | rows (estimate) |", "|---|---|---:|---:|"]
    for name, kind, size, tuples in query(url, BIGGEST, {"n": rows}):
        lines.append(f"| {name} | {kind} | {gib(size)} | {max(0, int(tuples)):,} |")
    return "\n".join(lines)


def gib(size: float) -> str:
    return f"{size / 2**30:,.2f} GiB" if size >= 2**30 else f"{size / 2**20:,.0f} MiB"


def print_load(report: tallies.LoadReport, loaded_size: int) -> None:
    country = report.country
    assert country is not None
    kinds = Counter(country.kind_of.values())
    counts = report.counts
    statuses = ", ".join(f"{s} {n:,}" for s, n in sorted(report.statuses.items()))
    copy_s = report.seconds["activities and participations"]
    rows = counts["activities"] + counts["participations"]
    print("\n### 1. Load\n")
    print(machine_line())
    lines = [
        "| what | figure |",
        "|---|---:|",
        f"| units | {counts['units']:,} (1 country, {kinds['province']} provinces, "
        f"{kinds['commune']:,} communes, {kinds['cell']:,} cells, "
        f"{kinds['front'] + kinds['association']:,} fronts and associations) |",
        f"| members | {counts['members']:,} |",
        f"| activities | {counts['activities']:,} ({statuses}) |",
        f"| participations | {counts['participations']:,} "
        f"({counts['participations'] / counts['activities']:.2f} per activity) |",
    ]
    for step, seconds in report.seconds.items():
        extra = (
            f" ({rows / seconds:,.0f} rows/s)" if step == "activities and participations" else ""
        )
        lines.append(f"| load: {step} | {seconds:,.1f} s{extra} |")
    lines.append(f"| database size after the load (pg_database_size) | {gib(loaded_size)} |")
    print("\n".join(lines))
    print(f"\n(COPY of {rows:,} rows took {copy_s:,.0f} s)", flush=True)


# --- 2. rebuild ---------------------------------------------------------------------------------


def _short(file: str, func: str) -> str:
    if "site-packages/" in file:
        file = file.split("site-packages/", 1)[1]
    elif "/webapp/" in file:
        file = "webapp/" + file.split("/webapp/", 1)[1]
    elif "/lib/python3" in file:
        file = Path(file).name
    return f"{file.removesuffix('.py')}:{func}"


def sampled_flask() -> None:
    """The rebuild child: `python -c '...sampled_flask()' OUT.json tallies rebuild` runs flask's
    CLI (`flask.cli.main`, what .venv/bin/flask runs) while a thread samples the main thread's
    stack every 10 ms; the counts go to OUT.json when the command ends."""
    from flask.cli import main as flask_main

    out = Path(sys.argv[1])
    sys.argv = ["flask", *sys.argv[2:]]
    main_thread = threading.get_ident()
    own: Counter[str] = Counter()
    cumulative: Counter[str] = Counter()
    lines: Counter[int] = Counter()
    stop = threading.Event()
    samples = 0

    def sample() -> None:
        nonlocal samples
        while not stop.wait(SAMPLE_SECONDS):
            frame = sys._current_frames().get(main_thread)
            if frame is None:
                continue
            samples += 1
            seen: set[str] = set()
            leaf = True
            while frame is not None:
                code = frame.f_code
                name = _short(code.co_filename, code.co_name)
                if leaf:
                    own[name] += 1
                    leaf = False
                if name not in seen:
                    seen.add(name)
                    cumulative[name] += 1
                if name == "webapp/tallies/rebuild:rebuild":
                    lines[frame.f_lineno] += 1
                frame = frame.f_back

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        flask_main()
    finally:
        stop.set()
        thread.join()
        out.write_text(
            json.dumps(
                {
                    "interval": SAMPLE_SECONDS,
                    "samples": samples,
                    "own": own.most_common(40),
                    "cumulative": cumulative.most_common(80),
                    "lines": sorted(lines.items()),
                }
            )
        )


@dataclass
class RebuildResult:
    seconds: float
    max_rss_kib: int
    output: str
    samples: dict[str, Any] | None
    analyze_seconds: float = 0.0


def run_rebuild(url: str, tmp: Path) -> RebuildResult:
    """`flask tallies rebuild` in a child process: wall time, peak RSS, samples."""
    from bench.sync_ingest import server_env

    env = {**os.environ, **server_env(url, tmp), "FLASK_APP": "webapp"}
    samples_path = tmp / "rebuild-samples.json"
    if SAMPLE:
        code = "from bench.national import sampled_flask; sampled_flask()"
        args = [sys.executable, "-c", code, str(samples_path), "tallies", "rebuild"]
    else:
        args = [str(Path(sys.executable).with_name("flask")), "tallies", "rebuild"]
    log = tmp / "rebuild.log"
    started = time.perf_counter()
    with open(log, "wb") as out:
        child = subprocess.Popen(args, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
        _pid, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    output = log.read_text(errors="replace").strip()
    if child.returncode != 0:
        raise RuntimeError(f"flask tallies rebuild failed ({child.returncode}):\n{output[-3000:]}")
    samples = json.loads(samples_path.read_text()) if SAMPLE else None
    return RebuildResult(seconds, usage.ru_maxrss, output, samples)


def print_rebuild(result: RebuildResult, url: str) -> None:
    print("\n### 2. `flask tallies rebuild`\n")
    lines = [
        "| what | figure |",
        "|---|---:|",
        f"| wall time of the CLI process | {result.seconds:,.1f} s |",
        f"| peak memory (maximum RSS of the CLI process) | {result.max_rss_kib / 1024:,.0f} MiB |",
        f"| VACUUM ANALYZE afterwards | {result.analyze_seconds:,.1f} s |",
    ]
    rows = query(
        url,
        "SELECT (SELECT count(*) FROM tally_month), (SELECT count(*) FROM tally_presence), "
        "(SELECT count(*) FROM tally_reach)",
    )[0]
    for table, n in zip(("tally_month", "tally_presence", "tally_reach"), rows, strict=True):
        lines.append(f"| rows in {table} | {n:,} |")
    lines.append(f"| CLI said | {result.output.splitlines()[-1] if result.output else ''} |")
    print("\n".join(lines))
    if result.samples:
        print(f"\n{profile_tables(result.samples, result.seconds)}")
    print(flush=True)


def profile_tables(samples: dict[str, Any], wall: float) -> str:
    import linecache

    total = samples["samples"] or 1
    # The sampler wakes a little later than asked (and not at all while the child holds the
    # interpreter in C): seconds are shares of the wall time, not samples × interval.
    interval = wall / total
    source = ROOT / "webapp" / "tallies" / "rebuild.py"
    out = [
        f"Where the time goes ({total:,} stack samples, asked for every "
        f"{samples['interval'] * 1000:.0f} ms of {wall:,.0f} s): lines of `rebuild()`, cumulative",
        "",
        "| line of webapp/tallies/rebuild.py:rebuild | s | share |",
        "|---|---:|---:|",
    ]
    for line, n in samples["lines"]:
        text = linecache.getline(str(source), line).strip().replace("|", "\\|")
        out.append(f"| {line}: `{text[:90]}` | {n * interval:,.1f} | {n / total:.0%} |")
    out += ["", "| function, cumulative | s | share |", "|---|---:|---:|"]
    shown = 0
    for name, n in samples["cumulative"]:
        if n / total < 0.02 or shown >= 24:
            break
        if name.startswith(("<", "runpy:", "threading:")):
            continue
        out.append(f"| {name} | {n * interval:,.1f} | {n / total:.0%} |")
        shown += 1
    out += ["", "| function, own time | s | share |", "|---|---:|---:|"]
    for name, n in samples["own"][:14]:
        out.append(f"| {name} | {n * interval:,.1f} | {n / total:.0%} |")
    return "\n".join(out)


# --- 3. the tally page --------------------------------------------------------------------------


def pick_units(url: str) -> dict[str, int]:
    """The country; the province and the commune with the most confirmed activities."""
    rows = query(
        url,
        """SELECT u.id, u.kind FROM tally_month t JOIN unit u ON u.id = t.unit_id
        WHERE t.status = 'confirmed' AND u.kind IN ('province', 'commune')
        GROUP BY u.id, u.kind ORDER BY sum(t.activities) DESC, u.id""",
    )
    root = query(url, "SELECT id FROM unit WHERE parent_id IS NULL ORDER BY id")[0][0]
    chosen = {"country": root}
    for unit_id, kind in rows:
        chosen.setdefault(kind, unit_id)
    return chosen


def unit_label(url: str, level: str, unit_id: int) -> str:
    (path,) = query(url, "SELECT path FROM unit WHERE id = %(id)s", {"id": unit_id})[0]
    lo, hi = path, path[:-1] + "0"
    units, children = query(
        url,
        "SELECT count(*), count(*) FILTER (WHERE parent_id = %(id)s) FROM unit "
        "WHERE path >= %(lo)s AND path < %(hi)s",
        {"id": unit_id, "lo": lo, "hi": hi},
    )[0]
    confirmed = query(
        url,
        "SELECT coalesce(sum(activities), 0) FROM tally_month "
        "WHERE unit_id = %(id)s AND status = 'confirmed'",
        {"id": unit_id},
    )[0][0]
    return (
        f"{level} #{unit_id} ({units:,} units, {children:,} children, "
        f"{confirmed:,} confirmed activities)"
    )


@dataclass(frozen=True)
class PageCase:
    level: str
    unit_id: int
    months: int
    rollup_ms: tuple[float, ...]
    raw_ms: tuple[float, ...]
    mismatches: tuple[str, ...] | None  # None: not compared

    @property
    def p50(self) -> float:
        return statistics.median(self.rollup_ms)

    @property
    def p95(self) -> float:
        return percentile(self.rollup_ms, 0.95)

    @property
    def raw_p50(self) -> float | None:
        return statistics.median(self.raw_ms) if self.raw_ms else None


@contextmanager
def statements(app: Flask) -> Iterator[list[tuple[str, Any, float]]]:
    """(statement, parameters, ms) of every statement run inside the block."""
    from sqlalchemy import event

    from webapp.extensions import db

    seen: list[tuple[str, Any, float]] = []
    starts: list[float] = []

    def before(*_args: Any) -> None:
        starts.append(time.perf_counter())

    def after(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_rest: Any) -> None:
        seen.append((statement, parameters, (time.perf_counter() - starts.pop()) * 1000))

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", before)
        event.remove(engine, "after_cursor_execute", after)


def measure_pages(
    url: str, app: Flask, chosen: dict[str, int]
) -> tuple[list[PageCase], dict[PageCase, Trace], dict[PageCase, Callable[[], object]]]:
    """Every rollup case first (3 warm-ups, RUNS timed, TRACE_RUNS traced), then the raw
    pages: raw reads gigabytes of activity and participation pages and would otherwise push
    the rollup's pages out of the buffer cache between the rollup runs."""
    from webapp.extensions import db
    from webapp.models import Unit
    from webapp.tallies.months import add_months
    from webapp.tallies.query import tally

    def rollup_of(uid: int, first: int) -> Callable[[], Any]:
        def rollup() -> Any:
            view = tally(db.session.get_one(Unit, uid), first, LAST_MONTH)
            db.session.rollback()
            return view

        return rollup

    def raw_of(uid: int, first: int) -> Callable[[], tallies.Page]:
        def raw() -> tallies.Page:
            page = tallies.raw_page(uid, first, LAST_MONTH)
            db.session.rollback()
            return page

        return raw

    keys = [(level, months) for level in LEVELS for months in RANGES]
    rollup_ms: dict[tuple[str, int], list[float]] = {}
    traced_by_key: dict[tuple[str, int], Trace] = {}
    with app.app_context():
        load_before = os.getloadavg()[0]
        for level, months in keys:
            rollup = rollup_of(chosen[level], add_months(LAST_MONTH, -(months - 1)))
            for _ in range(3):
                rollup()
            rollup_ms[(level, months)] = timed(rollup, RUNS)
            traced_by_key[(level, months)] = trace(app, rollup)
            samples = rollup_ms[(level, months)]
            print(
                f"  rollup {level} {months:>2} months: p50 {statistics.median(samples):.1f} ms, "
                f"p95 {percentile(samples, 0.95):.1f} ms",
                flush=True,
            )
        print(
            f"  (rollup runs: 1-minute load average {load_before:.2f} before, "
            f"{os.getloadavg()[0]:.2f} after)",
            flush=True,
        )
        cases: list[PageCase] = []
        traced: dict[PageCase, Trace] = {}
        pages: dict[PageCase, Callable[[], object]] = {}
        for level, months in keys:
            first = add_months(LAST_MONTH, -(months - 1))
            rollup, raw = rollup_of(chosen[level], first), raw_of(chosen[level], first)
            with_raw = level != "country" or months in RAW_COUNTRY_MONTHS
            mismatches: tuple[str, ...] | None = None
            raw_ms: list[float] = []
            if with_raw:
                expected = raw()  # warm-up, and the figures to compare
                mismatches = tuple(tallies.differences(tallies.page_of(rollup()), expected))
                raw_ms = timed(raw, RAW_RUNS)
                agree = "figures agree" if not mismatches else "FIGURES DIFFER"
                print(
                    f"  raw {level} {months:>2} months: p50 {statistics.median(raw_ms):,.0f} ms; "
                    f"{agree}",
                    flush=True,
                )
            case = PageCase(
                level, chosen[level], months, tuple(rollup_ms[(level, months)]), tuple(raw_ms),
                mismatches,
            )  # fmt: skip
            cases.append(case)
            traced[case] = traced_by_key[(level, months)]
            pages[case] = rollup
        db.session.remove()
    return cases, traced, pages


@dataclass(frozen=True)
class Trace:
    """The statements of a page (text, parameters), each one's median ms over TRACE_RUNS runs,
    and the median of the whole page."""

    statements: tuple[tuple[str, Any], ...]
    ms: tuple[float, ...]
    total_ms: float


def trace(app: Flask, fn: Callable[[], object]) -> Trace:
    runs: list[list[tuple[str, Any, float]]] = []
    totals = []
    for _ in range(TRACE_RUNS):
        with statements(app) as seen:
            started = time.perf_counter()
            fn()
            totals.append((time.perf_counter() - started) * 1000)
        runs.append(seen)
    count = min(len(run) for run in runs)
    return Trace(
        tuple((text, params) for text, params, _ms in runs[-1][:count]),
        tuple(statistics.median(run[i][2] for run in runs) for i in range(count)),
        statistics.median(totals),
    )


def page_table(cases: list[PageCase], labels: dict[str, str]) -> str:
    lines = [
        "| unit | months | rollup p50 ms | rollup p95 ms | runs | goal p95 ≤ 50 ms "
        "| raw p50 ms | raw runs | speed-up | figures |",
        "|---|---:|---:|---:|---:|---|---:|---:|---:|---|",
    ]
    for c in cases:
        raw = c.raw_p50
        figures = {None: "not compared", (): "agree"}.get(c.mismatches, "DIFFER")
        lines.append(
            f"| {labels[c.level]} | {c.months} | {c.p50:.1f} | {c.p95:.1f} | {len(c.rollup_ms)} "
            f"| {'met' if c.p95 <= TARGET_P95_MS else 'MISSED'} "
            f"| {f'{raw:,.0f}' if raw else '—'} | {len(c.raw_ms) or '—'} "
            f"| {f'{raw / c.p50:,.0f}×' if raw else '—'} | {figures} |"
        )
    return "\n".join(lines)


def _short_sql(text: str, width: int) -> str:
    text = LONG_ARRAY.sub(_shorten_array, " ".join(text.split()))
    return text if len(text) <= width else text[: width - 1] + "…"


LONG_ARRAY = re.compile(r"'\{([^}]{60,})\}'|\(((?:%\(\w+\)s::\w+, ){8,}%\(\w+\)s::\w+)\)")


def _shorten_array(match: re.Match[str]) -> str:
    if match.group(1):
        values = match.group(1).split(",")
        return f"'{{{','.join(values[:3])},… {len(values)} values}}'"
    params = match.group(2).split(", ")
    return f"({params[0]}, … {len(params)} parameters)"


def statement_table(traced: Trace) -> str:
    lines = [f"| statement (median of {TRACE_RUNS} runs) | ms |", "|---|---:|"]
    for (text, _params), ms in zip(traced.statements, traced.ms, strict=True):
        lines.append(f"| `{_short_sql(text, 140)}` | {ms:.1f} |")
    rest = traced.total_ms - sum(traced.ms)
    lines.append(f"| the rest: Python (ORM, the page's own loops) | {rest:.1f} |")
    lines.append(f"| the page in all | {traced.total_ms:.1f} |")
    return "\n".join(lines)


def page_profile(app: Flask, fn: Callable[[], object], runs: int = 10) -> str:
    """cProfile of `runs` pages: where the time outside the database goes."""
    import cProfile
    import pstats

    profiler = cProfile.Profile()
    started = time.perf_counter()
    profiler.enable()
    for _ in range(runs):
        fn()
    profiler.disable()
    total = (time.perf_counter() - started) * 1000 / runs
    rows = [
        (_short(file, func), calls / runs, own * 1000 / runs, cumulative * 1000 / runs)
        for (file, _line, func), (_cc, calls, own, cumulative, _callers) in pstats.Stats(
            profiler
        ).stats.items()  # type: ignore[attr-defined]
    ]
    out = [
        f"cProfile of {runs} pages ({total:.1f} ms per page under the profiler)",
        "",
        "| function, cumulative | calls/page | ms/page |",
        "|---|---:|---:|",
    ]
    watched = [r for r in rows if r[0].startswith("webapp/") or r[0].endswith(":wait")]
    for name, calls, _own, cumulative in sorted(watched, key=lambda r: -r[3])[:12]:
        out.append(f"| {name} | {calls:,.0f} | {cumulative:.1f} |")
    out += ["", "| function, own time | calls/page | ms/page |", "|---|---:|---:|"]
    for name, calls, own, _cumulative in sorted(rows, key=lambda r: -r[2])[:10]:
        out.append(f"| {name} | {calls:,.0f} | {own:.1f} |")
    return "\n".join(out)


def explain(app: Flask, traced: Trace, top: int = 2) -> str:
    """EXPLAIN (ANALYZE, BUFFERS) of the slowest statements."""
    from webapp.extensions import db

    out = []
    ranked = sorted(zip(traced.statements, traced.ms, strict=True), key=lambda s: -s[1])
    with app.app_context():
        for (statement, params), ms in ranked[:top]:
            plan = db.session.connection().exec_driver_sql(
                "EXPLAIN (ANALYZE, BUFFERS) " + statement, params
            )
            text = "\n".join(LONG_ARRAY.sub(_shorten_array, row[0]) for row in plan)
            db.session.rollback()
            out.append(f"{_short_sql(statement, 400)}\n-- {ms:.1f} ms in the page\n{text}")
        db.session.remove()
    return "\n\n".join(out)


def http_pages(port: int, chosen: dict[str, int]) -> dict[str, list[float]]:
    """GET /tallies/ for each chosen unit over the last HTTP_MONTHS months, signed in as staff."""
    from tests.live_server import HttpSession
    from webapp.tallies.months import add_months

    first = add_months(LAST_MONTH, -(HTTP_MONTHS - 1))
    span = f"from={first // 100}-{first % 100:02d}&to={LAST_MONTH // 100}-{LAST_MONTH % 100:02d}"
    results: dict[str, list[float]] = {}
    with HttpSession("127.0.0.1", port) as session:
        session.login(STAFF_LOGIN)
        for level in LEVELS:
            path = f"/tallies/?unit={chosen[level]}&{span}"

            def get(path: str = path) -> None:
                reply = session.get(path)
                assert reply.status == 200, f"GET {path}: {reply.status} {reply.text[:300]}"

            for _ in range(2):
                get()
            results[level] = timed(get, HTTP_RUNS)
    return results


# --- 4. push ingest -----------------------------------------------------------------------------


def ingest_units(url: str, measured_province: int) -> tuple[int, int]:
    """The largest commune outside the measured province, and its largest cell."""
    (commune,) = query(
        url,
        """SELECT u.id FROM tally_month t JOIN unit u ON u.id = t.unit_id
        WHERE t.status = 'confirmed' AND u.kind = 'commune' AND u.parent_id <> %(p)s
        GROUP BY u.id ORDER BY sum(t.activities) DESC, u.id LIMIT 1""",
        {"p": measured_province},
    )[0]
    (cell,) = query(
        url,
        """SELECT u.id FROM unit u JOIN member m ON m.unit_id = u.id
        WHERE u.parent_id = %(c)s AND u.kind = 'cell'
        GROUP BY u.id ORDER BY count(*) DESC, u.id LIMIT 1""",
        {"c": commune},
    )[0]
    return commune, cell


def make_logins(url: str, tmp: Path, commune: int, cell: int) -> World:
    """A cadre of `commune` who pushes into `cell` (its roster as participants), and a staff
    account at the root for the HTTP tally page; both with the test password."""
    from sqlalchemy import select

    from bench.sync_ingest import World, make_app
    from tests.factories import make_user
    from webapp.extensions import db
    from webapp.models import ActivityKind, Member, Program, Unit, User

    app = make_app(url, tmp)
    with app.app_context():
        root = db.session.scalar(select(Unit).where(Unit.parent_id.is_(None)).order_by(Unit.id))
        assert root is not None
        for login, role, unit in (
            (CADRE_LOGIN, "cadre", db.session.get_one(Unit, commune)),
            (STAFF_LOGIN, "staff", root),
        ):
            if db.session.scalar(select(User).where(User.username == login)) is None:
                make_user(login, role, unit)
        db.session.commit()
        kind = db.session.scalar(select(ActivityKind.id).where(ActivityKind.code == "home_visit"))
        program = db.session.scalar(select(Program.id).order_by(Program.id))
        members = db.session.scalars(select(Member.id).where(Member.unit_id == cell)).all()
        db.session.remove()
        db.engine.dispose()
    assert kind is not None and program is not None
    return World(cell, kind, program, tuple(members), CADRE_LOGIN)


def prepare_empty(url: str, tmp: Path) -> str:
    """The baseline: another database on the server with the same units and rosters (the same
    generator, the same seed, so the same ids), reference data, no activities."""
    from flask_migrate import upgrade

    from bench.sync_ingest import make_app
    from tests.pg_server import create_database
    from webapp.demo.services import ensure_reference_data
    from webapp.extensions import db

    empty = create_database(url, EMPTY_DB)
    app = make_app(empty, tmp)
    with app.app_context():
        upgrade()
        ensure_reference_data()
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
    country = NATIONAL.build(random.Random(SEED))
    loader = tallies.PostgresLoader(empty)
    loader.insert("unit", tallies.UNIT_COLUMNS, country.units)
    loader.insert("member", tallies.MEMBER_COLUMNS, country.members)
    for table in ("unit", "member"):
        loader.execute(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608
            f"(SELECT max(id) FROM {table}))"
        )
    loader.close()
    query(empty, "VACUUM ANALYZE")
    return empty


@dataclass
class Ingest:
    results: dict[tuple[str, str], list[RunResult]]
    http: dict[str, list[float]]
    labels: dict[tuple[int, int], str]


def measure_ingest(
    urls: dict[str, str], worlds: dict[str, World], tmp: Path, chosen: dict[str, int]
) -> Ingest:
    """Round-robin over (database, case), INGEST_RUNS times; the tally page over HTTP first."""
    from bench.sync_ingest import clients, run_case, server_env
    from tests.live_server import gunicorn_server

    workers = len(os.sched_getaffinity(0))
    labels = {
        case: f"batch {case[0]}, {case[1]} client{'s' if case[1] > 1 else ''}"
        for case in INGEST_CASES
    }
    results: dict[tuple[str, str], list[RunResult]] = {
        (name, label): [] for name in urls for label in labels.values()
    }
    most = max(count for _batch, count in INGEST_CASES)
    with ExitStack() as stack:
        pipes = {}
        http: dict[str, list[float]] = {}
        for name, url in urls.items():
            where = tmp / name.replace(" ", "-")
            where.mkdir(parents=True, exist_ok=True)
            server = stack.enter_context(
                gunicorn_server(
                    server_env(url, where), workers=workers, log_path=where / "gunicorn.log"
                )
            )
            if name == "loaded":
                http = http_pages(server.port, chosen)
            pipes[name] = stack.enter_context(clients(server.port, worlds[name], most))
            # Warm-up (imports, connection pools), then ANALYZE: on a database whose activity
            # table was analyzed empty, the planner keeps scanning it sequentially until
            # autovacuum analyzes it (seen here: 2× slower pushes), which is no fair baseline.
            run_case(pipes[name], 50, most)
            query(url, "ANALYZE activity, participation, tally_month")
        for _ in range(INGEST_RUNS):
            for name in urls:
                for (batch, count), label in labels.items():
                    results[(name, label)].append(run_case(pipes[name], batch, count))
    return Ingest(results, http, labels)


def ingest_table(ingest: Ingest) -> str:
    lines = [
        "| case | database | activities/s | p50 ms | p99 ms | runs | not created |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for (name, label), runs in ingest.results.items():
        rate = statistics.median(r.rate for r in runs)
        p50 = statistics.median(r.percentile(0.50) for r in runs)
        p99 = statistics.median(r.percentile(0.99) for r in runs)
        errors = sum(r.errors for r in runs)
        lines.append(
            f"| {label} | {name} | {rate:,.0f} | {p50:.1f} | {p99:.1f} | {len(runs)} | {errors} |"
        )
    return "\n".join(lines)


def check_after_ingest(app: Flask, commune: int) -> tuple[str, ...]:
    """The pushed commune's rollup against its raw rows, over every month up to today's."""
    from webapp.clock import local_today
    from webapp.extensions import db
    from webapp.models import Unit
    from webapp.tallies.months import add_months
    from webapp.tallies.query import tally

    first = add_months(LAST_MONTH, -(MONTHS - 1))
    with app.app_context():
        today = local_today()
        last = today.year * 100 + today.month
        view = tally(db.session.get_one(Unit, commune), first, last)
        expected = tallies.raw_page(commune, first, last)
        db.session.remove()
    return tuple(tallies.differences(tallies.page_of(view), expected))


# --- main ---------------------------------------------------------------------------------------


def main() -> None:
    from bench.sync_ingest import make_app

    print(machine_line(), flush=True)
    print(
        f"scale: {ACTIVITIES:,} activities ({NATIONAL.confirmed:,} confirmed; submitted and "
        f"returned on top) over {MONTHS} months to {LAST_MONTH}; PostgreSQL"
        + (f"; reusing the loaded server in {REUSE}" if REUSE else ""),
        flush=True,
    )
    started = time.perf_counter()
    phases: dict[str, float] = {}
    with (
        tempfile.TemporaryDirectory(prefix="bench-national-") as tmp_name,
        national_server() as url,
    ):
        tmp = Path(tmp_name)
        if not REUSE:
            tallies.tune_postgres(url)
            clock = time.perf_counter()
            report = tallies.load("postgresql", url, tmp, None, NATIONAL)
            phases["1. load"] = time.perf_counter() - clock
            print_load(report, database_size(url))
            clock = time.perf_counter()
            print(f"\n{machine_line()} (before the rebuild)", flush=True)
            rebuilt = run_rebuild(url, tmp)
            analyze_started = time.perf_counter()
            query(url, "VACUUM ANALYZE")
            rebuilt.analyze_seconds = time.perf_counter() - analyze_started
            phases["2. rebuild"] = time.perf_counter() - clock
            print_rebuild(rebuilt, url)
            if KEEP:
                (Path(KEEP) / LOADED_MARK).touch()
        size = database_size(url)
        print(f"\nDatabase size with the rollup: {gib(size)} (pg_database_size)\n")
        print(size_table(url), flush=True)

        clock = time.perf_counter()
        chosen = pick_units(url)
        labels = {level: unit_label(url, level, chosen[level]) for level in LEVELS}
        print("\n### 3. The tally page (`query.tally`, as the page calls it)\n")
        start_line = machine_line()
        print(start_line, flush=True)
        app = make_app(url, tmp)
        cases, traced, pages = measure_pages(url, app, chosen)
        end_line = machine_line().replace("at start", "at end")
        print(f"\n{page_table(cases, labels)}\n\n{end_line}")
        slowest = max(cases, key=lambda c: c.p95)
        for case in cases:
            if case.p95 <= TARGET_P95_MS and case is not slowest:
                continue
            print(
                f"\nStatements of the page: {case.level}, {case.months} months (p50 "
                f"{case.p50:.1f} ms, p95 {case.p95:.1f} ms):\n\n{statement_table(traced[case])}"
            )
            if case.p95 > TARGET_P95_MS:
                print(f"\nEXPLAIN (ANALYZE, BUFFERS):\n```\n{explain(app, traced[case])}\n```")
        for case in sorted(cases, key=lambda c: -c.p95)[:2]:
            with app.app_context():
                profile = page_profile(app, pages[case])
            print(f"\nThe page {case.level}, {case.months} months: {profile}")
        phases["3. tally page"] = time.perf_counter() - clock

        clock = time.perf_counter()
        print("\n### 4. Push ingest (POST /api/v1/sync/push through gunicorn)\n", flush=True)
        commune, cell = ingest_units(url, chosen["province"])
        empty = prepare_empty(url, tmp)
        urls = {"empty (same units, no activities)": empty, "loaded": url}
        worlds = {name: make_logins(u, tmp, commune, cell) for name, u in urls.items()}
        print(machine_line(), flush=True)
        ingest = measure_ingest(urls, worlds, tmp, chosen)
        print(f"\n{ingest_table(ingest)}\n")
        print(
            f"into cell #{cell} of commune #{commune} ({len(worlds['loaded'].member_ids)} "
            f"members); gunicorn, {len(os.sched_getaffinity(0))} sync workers per database; "
            f"{INGEST_RUNS} runs × 4 s per case, round-robin"
        )
        mismatches = check_after_ingest(app, commune)
        print(
            f"after the pushes, commune #{commune}'s rollup against raw rows: "
            + ("figures agree" if not mismatches else f"{len(mismatches)} DIFFER")
        )
        print(f"\nGET /tallies/ through gunicorn, last {HTTP_MONTHS} months, signed in as staff:")
        print("\n| unit | runs | p50 ms | p95 ms |\n|---|---:|---:|---:|")
        for level, samples in ingest.http.items():
            print(
                f"| {labels[level]} | {len(samples)} | {statistics.median(samples):.1f} "
                f"| {percentile(samples, 0.95):.1f} |"
            )
        print(f"\n{machine_line().replace('at start', 'at end')}")
        phases["4. ingest"] = time.perf_counter() - clock
        with app.app_context():
            from webapp.extensions import db

            db.engine.dispose()

        print("\n### 5. Verdicts\n")
        verdicts(cases, ingest, mismatches)
        print("\n| phase | s |\n|---|---:|")
        for phase, seconds in phases.items():
            print(f"| {phase} | {seconds:,.0f} |")
    print(f"\n{machine_line().replace('at start', 'at end')}")
    print(f"bench took {time.perf_counter() - started:,.0f} s")
    failed = [c for c in cases if c.mismatches] or mismatches
    if failed:
        raise AssertionError("the rollup and the raw rows disagree (see above)")


def verdicts(cases: list[PageCase], ingest: Ingest, after_ingest: tuple[str, ...]) -> None:
    for case in cases:
        if case.p95 > TARGET_P95_MS:
            print(
                f"- tally page MISSED ≤ {TARGET_P95_MS:.0f} ms: {case.level}, {case.months} "
                f"months, p95 {case.p95:.1f} ms"
            )
    worst = max(cases, key=lambda c: c.p95)
    ok = worst.p95 <= TARGET_P95_MS
    print(
        f"- tally page, worst p95 {worst.p95:.1f} ms ({worst.level}, {worst.months} months): "
        f"goal ≤ {TARGET_P95_MS:.0f} ms {'met' if ok else 'MISSED'}"
    )
    compared = [c for c in cases if c.mismatches is not None]
    differ = [c for c in compared if c.mismatches]
    print(
        f"- rollup against raw rows: {len(compared)} cases compared, "
        + ("all agree" if not differ and not after_ingest else "SOME DIFFER")
    )
    for label in ingest.labels.values():
        rates = {
            name: statistics.median(r.rate for r in runs)
            for (name, case), runs in ingest.results.items()
            if case == label
        }
        p50s = {
            name: statistics.median(r.percentile(0.5) for r in runs)
            for (name, case), runs in ingest.results.items()
            if case == label
        }
        (empty_name,) = (n for n in rates if n != "loaded")
        print(
            f"- ingest, {label}: {rates['loaded']:,.0f} activities/s loaded vs "
            f"{rates[empty_name]:,.0f} empty ({rates['loaded'] / rates[empty_name]:.0%}); "
            f"p50 {p50s['loaded']:.1f} ms vs {p50s[empty_name]:.1f} ms"
        )


if __name__ == "__main__":
    main()
