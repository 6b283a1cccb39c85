"""Activities/s through POST /api/v1/sync/push under gunicorn, beside the raw driver's insert rate.

For each database (a throwaway PostgreSQL with fsync off, and a temporary SQLite file in WAL
mode) the schema is migrated, a small world is loaded (one cell with a roster of 30, a cadre),
and gunicorn serves the real app with sync workers = nproc. Load generators run in separate
processes, each with its own connection and its own sign-in; every activity has a fresh id and
3 participants. Each case runs for a fixed time, the cases round-robin, medians of the runs.
"The limit" is the same rows (activity + 3 participations) inserted straight through the driver
(`session.execute(insert(T), rows)`, one commit per 50), on one connection, no HTTP.
"""

from __future__ import annotations

import cProfile
import json
import multiprocessing
import os
import pstats
import random
import re
import statistics
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.common import machine_line

if TYPE_CHECKING:
    from flask import Flask

RUN_SECONDS = 4.0
RUNS = 3
CASES = ((1, 1), (1, 8), (50, 1), (50, 8))  # (activities per request, concurrent clients)
ROSTER = 30
PARTICIPANTS = 3
RAW_ACTIVITIES = 3000
TARGET_RATE = 3000  # activities/s, batches of 50, 8 clients, PostgreSQL
TARGET_SINGLE_P50_MS = 5.0  # issue 13
SECRET = "bench-" + uuid.uuid4().hex


@dataclass(frozen=True)
class World:
    unit_id: int
    kind_id: int
    program_id: int
    member_ids: tuple[int, ...]
    login: str


@dataclass(frozen=True)
class RunResult:
    activities: int
    seconds: float
    latencies_ms: tuple[float, ...]
    errors: int

    @property
    def rate(self) -> float:
        return self.activities / self.seconds

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


# --- setup -------------------------------------------------------------------------------------


def server_env(url: str, tmp: Path) -> dict[str, str]:
    """The environment gunicorn gets; in-process apps are built from the same."""
    return {
        "DATABASE_URL": url,
        "SECRET_KEY": SECRET,
        "APP_ENV": "production",
        "SESSION_COOKIE_SECURE": "0",
        "PHOTO_DIR": str(tmp / "photos"),
    }


def make_app(url: str, tmp: Path) -> Flask:
    """The production app, in this process (the environment is restored afterwards)."""
    from webapp import create_app

    env = server_env(url, tmp)
    saved = {name: os.environ.get(name) for name in env}
    os.environ.update(env)
    try:
        return create_app()
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def prepare_database(url: str, tmp: Path) -> World:
    """Migrate the schema and load one province, two communes, a cell of 30 and a cadre."""
    from flask_migrate import upgrade

    from tests.factories import build_world, make_member
    from webapp.extensions import db

    app = make_app(url, tmp)
    with app.app_context():
        upgrade()
        world = build_world()
        members = list(world.members.values())[:2]  # the two of cell_x
        members += [make_member(world.cell_x, f"Đảng viên số {i}") for i in range(ROSTER - 2)]
        db.session.commit()
        loaded = World(
            world.cell_x.id,
            world.kind.id,
            world.program.id,
            tuple(m.id for m in members),
            world.users["cadre"].username,
        )
        db.session.remove()
        db.engine.dispose()
    return loaded


def activity(world: World, rng: random.Random) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "unit_id": world.unit_id,
        "kind_id": world.kind_id,
        "program_id": world.program_id,
        "occurred_on": (date.today() - timedelta(days=rng.randrange(1, 60))).isoformat(),
        "division_code": "02266",
        "village": "Nà Va",
        "lat": 22.4,
        "lon": 105.2,
        "accuracy_m": 12.5,
        "summary": "Thăm hỏi, động viên gia đình ông Ma Văn Sáng",
        "notes": "Gia đình đề nghị hỗ trợ sửa mái nhà",
        "people_reached": rng.randrange(1, 20),
        "households_reached": 1,
        "participant_ids": rng.sample(world.member_ids, PARTICIPANTS),
        "photos_expected": 0,
        "captured_at": datetime.now(UTC).isoformat(),
    }


# --- load generators ---------------------------------------------------------------------------


def client_process(conn: Connection, port: int, world: World, seed: int) -> None:
    """One phone-like client: signs in once, then runs the parent's commands."""
    from tests.live_server import HttpSession

    rng = random.Random(seed)
    session = HttpSession("127.0.0.1", port)
    assert conn.recv() == "sign in"
    session.login(world.login)
    conn.send("signed in")
    while True:
        command = conn.recv()
        if command is None:
            break
        batch, seconds = command
        # Bodies built before the clock starts: the generator should cost the server's CPUs
        # as little as possible (they share the 2 cores).
        cap = max(50, int(seconds * (600 if batch == 1 else 12)))
        bodies = [
            json.dumps(
                {
                    "device_id": f"bench-{seed}",
                    "activities": [activity(world, rng) for _ in range(batch)],
                }
            ).encode()
            for _ in range(cap)
        ]
        headers = {**session.api_headers(), "Content-Type": "application/json"}
        conn.send("ready")
        start_at = conn.recv()
        time.sleep(max(0.0, start_at - time.time()))
        latencies: list[float] = []
        stored = errors = 0
        deadline = start_at + seconds
        for body in bodies:
            if time.time() >= deadline:
                break
            started = time.perf_counter()
            reply = session.request("POST", "/api/v1/sync/push", body=body, headers=headers)
            latencies.append((time.perf_counter() - started) * 1000)
            if reply.status != 200:
                errors += batch
                continue
            statuses = [r["status"] for r in reply.json()["results"]]
            stored += statuses.count("created")
            errors += len(statuses) - statuses.count("created")
        conn.send((stored, time.time(), latencies, errors, len(latencies) == len(bodies)))
    session.close()


@contextmanager
def clients(port: int, world: World, count: int) -> Iterator[list[Connection]]:
    context = multiprocessing.get_context("spawn")
    pipes, processes = [], []
    for seed in range(count):
        parent_end, child_end = context.Pipe()
        process = context.Process(
            target=client_process, args=(child_end, port, world, seed), daemon=True
        )
        process.start()
        pipes.append(parent_end)
        processes.append(process)
    try:
        for pipe in pipes:  # one at a time: concurrent sign-ins fail on SQLite (a bug, reported)
            pipe.send("sign in")
            assert pipe.recv() == "signed in"
        yield pipes
    finally:
        for pipe in pipes:
            pipe.send(None)
        for process in processes:
            process.join(timeout=10)
            if process.is_alive():
                process.terminate()


def run_case(pipes: list[Connection], batch: int, count: int) -> RunResult:
    active = pipes[:count]
    for pipe in active:
        pipe.send((batch, RUN_SECONDS))
    for pipe in active:
        assert pipe.recv() == "ready"
    start_at = time.time() + 0.2
    for pipe in active:
        pipe.send(start_at)
    stored = errors = 0
    ended = start_at
    latencies: list[float] = []
    for pipe in active:
        n, finished, lat, err, exhausted = pipe.recv()
        if exhausted:
            print(f"  (a client ran out of prepared bodies: batch {batch}, {count} clients)")
        stored += n
        errors += err
        ended = max(ended, finished)
        latencies.extend(lat)
    return RunResult(stored, ended - start_at, tuple(latencies), errors)


# --- the limit: the same rows through the driver -------------------------------------------------


def raw_insert(url: str, tmp: Path, world: World) -> list[RunResult]:
    from sqlalchemy import insert

    from webapp.extensions import db
    from webapp.models import Activity, Participation
    from webapp.sync.services import CONTENT_FIELDS

    app = make_app(url, tmp)
    rng = random.Random(7)
    results = []
    with app.app_context():
        user_id = db.session.execute(
            db.text("SELECT id FROM app_user WHERE username = :u"), {"u": world.login}
        ).scalar_one()
        db.session.commit()
        for _ in range(RUNS):
            rows, pairs = [], []
            for _ in range(RAW_ACTIVITIES):
                data = activity(world, rng)
                row = {name: data.get(name) for name in CONTENT_FIELDS}
                now = datetime.now(UTC)
                row.update(
                    id=uuid.UUID(data["id"]),
                    occurred_on=date.fromisoformat(data["occurred_on"]),
                    status="submitted",
                    revision=1,
                    content_hash=uuid.uuid4().hex * 2,
                    created_by_id=user_id,
                    device_id="raw",
                    captured_at=now,
                    received_at=now,
                    updated_at=now,
                )
                rows.append(row)
                pairs.append(
                    [{"activity_id": row["id"], "member_id": m} for m in data["participant_ids"]]
                )
            latencies = []
            started = time.perf_counter()
            for i in range(0, len(rows), 50):
                t0 = time.perf_counter()
                db.session.execute(insert(Activity), rows[i : i + 50])
                db.session.execute(
                    insert(Participation), [p for chunk in pairs[i : i + 50] for p in chunk]
                )
                db.session.commit()
                latencies.append((time.perf_counter() - t0) * 1000)
            elapsed = time.perf_counter() - started
            results.append(RunResult(len(rows), elapsed, tuple(latencies), 0))
        db.session.remove()
        db.engine.dispose()
    return results


# --- profile -------------------------------------------------------------------------------------


def profile_push(url: str, tmp: Path, world: World, batch: int, requests: int) -> str:
    """cProfile of the app in-process (Flask test client) for the same pushes: top functions."""
    from tests.conftest import CSRF_RE
    from tests.factories import PASSWORD
    from webapp.extensions import db

    app = make_app(url, tmp)
    client = app.test_client()
    token = CSRF_RE.search(client.get("/login").get_data(as_text=True))
    assert token
    client.post("/login", data={"login": world.login, "password": PASSWORD, "csrf_token": token[1]})
    api_token = client.get("/api/v1/session").get_json()["csrf_token"]
    rng = random.Random(11)
    bodies = [
        {"device_id": "profile", "activities": [activity(world, rng) for _ in range(batch)]}
        for _ in range(requests)
    ]
    profiler = cProfile.Profile()
    started = time.perf_counter()
    profiler.enable()
    for body in bodies:
        response = client.post("/api/v1/sync/push", json=body, headers={"X-CSRFToken": api_token})
        assert response.status_code == 200, response.get_data(as_text=True)[:200]
    profiler.disable()
    elapsed = time.perf_counter() - started
    with app.app_context():
        db.engine.dispose()
    return summarize(pstats.Stats(profiler), requests, elapsed, batch)


# Cumulative time of these (a regex on "file:function") is what the summary shows.
WATCHED = (
    r"webapp/.*|"
    r"marshmallow/schema\.py:(__init__|_do_load)|"
    r"flask_smorest/response\.py:_prepare_response_content|marshmallow/schema\.py:dump|"
    r"flask_login/utils\.py:_get_user|flask/sessions\.py:(open|save)_session|"
    r"flask_wtf/csrf\.py:protect|flask/wrappers\.py:get_json|"
    r"sqlalchemy/sql/compiler\.py:__init__|sqlalchemy/orm/bulk_persistence\.py:_get_multi_crud_kv_pairs|"
    r"psycopg/connection\.py:wait|sqlalchemy/pool/base\.py:_checkout|"
    r"(_psycopg_common|pysqlite)\.py:do_ping|sqlalchemy/engine/default\.py:do_(execute|executemany|commit)"
)


def _short(file: str, func: str) -> str:
    if "site-packages/" in file:
        file = file.split("site-packages/", 1)[1]
    elif "/webapp/" in file:
        file = "webapp/" + file.split("/webapp/", 1)[1]
    elif "/lib/python3" in file:
        file = Path(file).name  # the standard library
    return f"{file.removesuffix('.py')}:{func}"


def summarize(stats: pstats.Stats, requests: int, elapsed: float, batch: int) -> str:
    """Where one request's time goes: watched functions by cumulative time, then own time."""
    watched = re.compile(WATCHED)
    total = elapsed / requests * 1000
    rows = []
    entries = stats.stats  # type: ignore[attr-defined]  # undocumented, but stable for decades
    for (file, _line, func), (_cc, calls, own, cumulative, _callers) in entries.items():
        rows.append(
            (
                _short(file, func),
                calls / requests,
                own / requests * 1000,
                cumulative / requests * 1000,
                bool(watched.search(f"{file}:{func}")),
            )
        )
    lines = [
        f"in-process (Flask test client), {requests} pushes of {batch}: {total:.1f} ms per request "
        f"under the profiler ({batch * requests / elapsed:,.0f} activities/s, one thread)",
        "",
        "| cumulative: function | calls/request | ms/request | share |",
        "|---|---:|---:|---:|",
    ]
    seen: set[str] = set()
    by_cumulative = [
        r
        for r in sorted((r for r in rows if r[4]), key=lambda r: -r[3])
        if not (r[0] in seen or seen.add(r[0]))  # one line per name (e.g. two __init__)
    ][:22]
    lines += [
        f"| {n} | {c:.1f} | {cum:.2f} | {cum / total:.0%} |" for n, c, _o, cum, _w in by_cumulative
    ]
    lines += [
        "",
        "| own time: function | calls/request | ms/request | share |",
        "|---|---:|---:|---:|",
    ]
    by_own = sorted(rows, key=lambda r: -r[2])[:12]
    lines += [
        f"| {n} | {c:.1f} | {own:.2f} | {own / total:.0%} |" for n, c, own, _cum, _w in by_own
    ]
    return "\n".join(lines)


# --- report --------------------------------------------------------------------------------------


def queries_per_push(url: str, tmp: Path, world: World, batch: int) -> float:
    """SQL statements one push of `batch` new activities sends (in-process, counted by an
    engine event): the median over a few pushes, transaction control included."""
    from sqlalchemy import event

    from tests.conftest import CSRF_RE
    from tests.factories import PASSWORD
    from webapp.extensions import db

    app = make_app(url, tmp)
    client = app.test_client()
    token = CSRF_RE.search(client.get("/login").get_data(as_text=True))
    assert token
    client.post("/login", data={"login": world.login, "password": PASSWORD, "csrf_token": token[1]})
    api_token = client.get("/api/v1/session").get_json()["csrf_token"]
    with app.app_context():
        engine = db.engine
    counted: list[int] = []

    def count(*_args: Any) -> None:
        counted.append(1)

    event.listen(engine, "before_cursor_execute", count)
    rng = random.Random(5)
    per_push = []
    for _ in range(5):
        counted.clear()
        body = {"device_id": "count", "activities": [activity(world, rng) for _ in range(batch)]}
        client.post("/api/v1/sync/push", json=body, headers={"X-CSRFToken": api_token})
        per_push.append(len(counted))
    event.remove(engine, "before_cursor_execute", count)
    with app.app_context():
        db.engine.dispose()
    return statistics.median(per_push)


def table(
    name: str,
    results: dict[str, list[RunResult]],
    raw: list[RunResult],
    queries: dict[int, float] | None = None,
) -> str:
    lines = [
        f"| {name}: case | activities/s | p50 ms | p99 ms | SQL statements per request |",
        "|---|---:|---:|---:|---:|",
    ]
    queries = queries or {}
    for label, runs in results.items():
        rate = statistics.median(r.rate for r in runs)
        p50 = statistics.median(r.percentile(0.50) for r in runs)
        p99 = statistics.median(r.percentile(0.99) for r in runs)
        errors = sum(r.errors for r in runs)
        note = f" ({errors} not created)" if errors else ""
        batch = int(label.split()[1].rstrip(","))
        statements = f"{queries[batch]:.0f}" if batch in queries else ""
        lines.append(f"| {label}{note} | {rate:,.0f} | {p50:.1f} | {p99:.1f} | {statements} |")
    rate = statistics.median(r.rate for r in raw)
    p50 = statistics.median(r.percentile(0.50) for r in raw)
    p99 = statistics.median(r.percentile(0.99) for r in raw)
    lines.append(
        f"| the limit: driver executemany, commit per 50, 1 connection (ms per commit) "
        f"| {rate:,.0f} | {p50:.1f} | {p99:.1f} | |"
    )
    return "\n".join(lines)


def bench_database(name: str, url: str, tmp: Path) -> tuple[dict[str, list[RunResult]], World]:
    from tests.live_server import gunicorn_server

    tmp.mkdir(parents=True, exist_ok=True)
    world = prepare_database(url, tmp)
    workers = len(os.sched_getaffinity(0))
    env = server_env(url, tmp)
    labels = {
        case: f"batch {case[0]}, {case[1]} client{'s' if case[1] > 1 else ''}" for case in CASES
    }
    results: dict[str, list[RunResult]] = {label: [] for label in labels.values()}
    log = tmp / "gunicorn.log"
    most = max(count for _, count in CASES)
    with (
        gunicorn_server(env, workers=workers, log_path=log) as server,
        clients(server.port, world, most) as pipes,
    ):
        run_case(pipes, 1, 1)  # warm-up: imports, connection pools, first queries
        for _ in range(RUNS):  # round-robin, so load drifts hit every case alike
            for (batch, count), label in labels.items():
                results[label].append(run_case(pipes, batch, count))
    logged = log.read_text().splitlines()
    errors = [line for line in logged if any(w in line for w in ("Error", "Traceback", "CRIT"))]
    if errors:
        print(f"gunicorn log ({name}) has errors:\n" + "\n".join(errors[:20]))
    print(f"{name}: gunicorn, {workers} sync workers; {RUNS} runs × {RUN_SECONDS:.0f} s per case")
    return results, world


def verdict(what: str, value: float, ok: bool, target: str) -> str:
    return f"- {what}: {value:,.1f} (target {target}: {'met' if ok else 'MISSED'})"


def main() -> None:
    from tests.pg_server import postgres_server

    print(machine_line(), flush=True)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-sync-") as tmp_name, postgres_server() as pg_url:
        tmp = Path(tmp_name)
        databases = {
            "PostgreSQL": (pg_url, tmp / "pg"),
            "SQLite": (f"sqlite:///{tmp / 'bench.sqlite3'}", tmp / "sqlite"),
        }
        verdicts = []
        for name, (url, where) in databases.items():
            results, world = bench_database(name, url, where)
            raw = raw_insert(url, where, world)
            queries = {batch: queries_per_push(url, where, world, batch) for batch in (1, 50)}
            print(f"\n{table(name, results, raw, queries)}\n", flush=True)
            rate = statistics.median(r.rate for r in results["batch 50, 8 clients"])
            p50 = statistics.median(r.percentile(0.5) for r in results["batch 1, 1 client"])
            rate_ok = name != "PostgreSQL" or rate >= TARGET_RATE
            p50_ok = p50 <= TARGET_SINGLE_P50_MS
            if name == "PostgreSQL":
                verdicts.append(
                    verdict(f"{name}, batch 50 × 8 clients, activities/s", rate, rate_ok, "≥ 3,000")
                )
            verdicts.append(verdict(f"{name}, single-item push p50 ms", p50, p50_ok, "≤ 5"))
            profiles = [(50, 40)] if not rate_ok else []
            profiles += [(1, 300)] if not p50_ok else []
            if os.environ.get("BENCH_PROFILE"):
                profiles = [(50, 40), (1, 300)]
            for batch, requests in profiles:
                print(f"profile ({name}), batch {batch}:\n")
                print(profile_push(url, where, world, batch, requests), end="\n\n", flush=True)
        print("targets:")
        print("\n".join(verdicts))
    print(f"\n{machine_line().replace('at start', 'at end')}")
    print(f"bench took {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
