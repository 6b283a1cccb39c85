"""Two app nodes behind nginx, one killed mid-run: nothing lost, nothing doubled.

Starts, all on 127.0.0.1: a throwaway PostgreSQL, Redis (sign-in limits), an S3-compatible
server (moto; photos), two app nodes (`gunicorn wsgi:app` with gunicorn.conf.py, one worker
each) and nginx in front of both with the production proxy settings (deploy/nginx/). Then 50
simulated phones, each with its own account, log entries through nginx the way the field app
does: push the entries (each with a phone-made UUID), then PUT each photo by its UUID; any
failure (no answer, a 5xx) is retried with backoff, the same request with the same ids. A
secretary confirms entries as they arrive. When 40 % of the phones' work is done, one node is
killed (SIGKILL, the whole process group: no graceful stop).

Checked at the end: every entry and photo the phones made is on the server exactly once
(0 lost, 0 doubled; photo objects in the bucket), `flask tallies verify` exits 0, and the only
5xx answers (nginx's access log) are those of requests the killed node had in flight.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.common import machine_line

PHONES = 50
ENTRIES_PER_PHONE = 6
PHOTOS_PER_ENTRY = (1, 2)
PHOTO_BYTES = 60 * 1024
KILL_AT = 0.4  # share of the phones' requests done when a node is killed
SECRET = "two-nodes-" + uuid.uuid4().hex
BUCKET = "nhatky-photos"


@dataclass
class Ledger:
    """What every phone made and what the server answered, shared by the threads."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    entries: set[str] = field(default_factory=set)
    photos: dict[str, str] = field(default_factory=dict)  # photo id -> sha256
    statuses: Counter[int] = field(default_factory=Counter)
    failures: Counter[str] = field(default_factory=Counter)  # no answer, by kind
    done_requests: int = 0
    planned_requests: int = 0

    def answered(self, status: int) -> None:
        with self.lock:
            self.statuses[status] += 1

    def failed(self, kind: str) -> None:
        with self.lock:
            self.failures[kind] += 1

    def progress(self) -> float:
        with self.lock:
            return self.done_requests / max(1, self.planned_requests)

    def step(self) -> None:
        with self.lock:
            self.done_requests += 1


def environment(pg_url: str, redis_url: str, s3_endpoint: str, tmp: Path) -> dict[str, str]:
    from tests.s3_server import S3Server

    return {
        **S3Server.environment(),
        "DATABASE_URL": pg_url,
        "SECRET_KEY": SECRET,
        "APP_ENV": "production",
        "SESSION_COOKIE_SECURE": "0",  # no TLS on loopback; production has it
        "TRUSTED_PROXIES": "1",
        "RATELIMIT_STORAGE_URI": redis_url,
        "LOGIN_LIMIT_PER_ADDRESS": "10000 per minute",  # 50 phones share 127.0.0.1
        "PHOTO_STORAGE": f"s3://{BUCKET}/photos",
        "S3_ENDPOINT_URL": s3_endpoint,
        "GUNICORN_WORKERS": "1",
        "GUNICORN_THREADS": "8",
        "LOG_REQUESTS": "0",
        "PHOTO_DIR": str(tmp / "unused"),
    }


def prepare(env: dict[str, str]) -> tuple[int, int, list[int]]:
    """Migrate; the world plus one cadre account per phone. (kind, unit, member ids)"""
    from flask_migrate import upgrade

    from tests.factories import build_world, make_member, make_user
    from webapp import create_app
    from webapp.extensions import db

    saved = {name: os.environ.get(name) for name in env}
    os.environ.update(env)
    try:
        app = create_app()
        with app.app_context():
            upgrade()
            world = build_world()
            members = []
            for n in range(PHONES):
                member = make_member(world.cell_x, f"Đảng viên {n:02d}")
                make_user(f"phone{n:02d}", "cadre", world.cell_x, member=member)
                members.append(member.id)
            db.session.commit()
            ids = world.kind.id, world.cell_x.id, members
            db.session.remove()
            db.engine.dispose()
            return ids
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def retrying(ledger: Ledger, send: Any, ok: tuple[int, ...], *, session: Any = None) -> Any:
    """Send until the server answers with one of `ok`: the same request, the same ids."""
    from tests.live_server import Reply

    delay = 0.1
    for _ in range(60):
        try:
            reply: Reply = send()
        except OSError as error:  # reset, refused, the node died under it
            ledger.failed(type(error).__name__)
        else:
            ledger.answered(reply.status)
            if reply.status in ok:
                return reply
            if (reply.status == 401 and session is not None) or (
                reply.status == 400 and session is not None
            ):
                session.refresh_csrf()
            elif reply.status < 500:
                raise AssertionError(f"refused: {reply.status} {reply.text[:300]}")
        time.sleep(delay + random.random() * delay)
        delay = min(delay * 2, 2.0)
    raise AssertionError("still failing after 60 attempts")


def phone(
    n: int, host: str, port: int, world: tuple[int, int, list[int]], photo: bytes, ledger: Ledger
) -> None:
    from tests.live_server import HttpSession

    kind_id, unit_id, members = world
    rng = random.Random(n)
    session = HttpSession(host, port, timeout=30)
    retrying(ledger, lambda: _login(session, f"phone{n:02d}"), (200,))
    entries = []
    for e in range(ENTRIES_PER_PHONE):
        entry_id = str(uuid.uuid4())
        count = rng.choice(PHOTOS_PER_ENTRY)
        entries.append(
            (
                {
                    "id": entry_id,
                    "unit_id": unit_id,
                    "kind_id": kind_id,
                    "occurred_on": f"2026-11-{1 + rng.randrange(28):02d}",
                    "summary": f"Điện thoại {n:02d}, mục {e}: thăm hộ gia đình",
                    "participant_ids": [members[n], rng.choice(members)],
                    "people_reached": rng.randrange(1, 30),
                    "households_reached": rng.randrange(1, 8),
                    "photos_expected": count,
                },
                # Each photo its own bytes (the server keeps one copy per content).
                [photo + uuid.uuid4().bytes for _ in range(count)],
            )
        )
    for batch_start in range(0, len(entries), 3):
        batch = [item for item, _ in entries[batch_start : batch_start + 3]]
        reply = retrying(ledger, lambda b=batch: session.push(b), (200,), session=session)
        statuses = {r["status"] for r in reply.json()["results"]}
        assert statuses <= {"created", "unchanged"}, reply.text[:300]
        with ledger.lock:
            ledger.entries.update(item["id"] for item in batch)
        ledger.step()
    for item, photos in entries:
        for data in photos:
            photo_id = str(uuid.uuid4())
            sha = hashlib.sha256(data).hexdigest()
            retrying(
                ledger,
                lambda p=photo_id, d=data, s=sha, a=item["id"]: session.put_photo(p, a, d, s),
                (200, 201),
                session=session,
            )
            with ledger.lock:
                ledger.photos[photo_id] = sha
            ledger.step()
    session.close()


def _login(session: Any, login: str) -> Any:
    from tests.live_server import Reply

    session.login(login)
    return Reply(200, None, b"")  # type: ignore[arg-type]


def secretary(host: str, port: int, ledger: Ledger, stop: threading.Event) -> int:
    """Confirms what has arrived, one entry at a time, until the phones are done."""
    from tests.live_server import HttpSession

    session = HttpSession(host, port, timeout=30)
    retrying(ledger, lambda: _login(session, "bithu.x"), (200,))
    confirmed: set[str] = set()
    while True:
        finished = stop.is_set()  # read first: whatever arrived before it is confirmed below
        with ledger.lock:
            waiting = sorted(ledger.entries - confirmed)[:10]
        if finished and not waiting:
            break
        for entry_id in waiting:
            retrying(
                ledger,
                lambda e=entry_id: session.request(
                    "POST",
                    f"/api/v1/review/{e}",
                    json_body={"action": "confirm"},
                    headers=session.api_headers(),
                ),
                (200, 409),  # 409: confirmed already (an answer lost with the node)
                session=session,
            )
            confirmed.add(entry_id)
        if not waiting:
            time.sleep(0.2)
    session.close()
    return len(confirmed)


def kill_group(process: subprocess.Popen[bytes]) -> None:
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def verify_tallies(env: dict[str, str]) -> tuple[int, str]:
    flask = Path(sys.executable).with_name("flask")
    done = subprocess.run(
        [str(flask), "tallies", "verify"],
        env={**os.environ, **env, "FLASK_APP": "webapp"},
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parent.parent,
    )
    return done.returncode, (done.stdout + done.stderr).strip().splitlines()[-1]


def server_rows(env: dict[str, str], ledger: Ledger) -> dict[str, int]:
    import psycopg

    url = env["DATABASE_URL"].replace("postgresql+psycopg", "postgresql")
    with psycopg.connect(url) as conn:
        ids = list(ledger.entries)
        photo_ids = list(ledger.photos)
        found = conn.execute(
            "SELECT count(*), count(DISTINCT id) FROM activity WHERE id = ANY(%s::uuid[])", (ids,)
        ).fetchone()
        total = conn.execute("SELECT count(*) FROM activity").fetchone()
        by_summary = conn.execute(
            "SELECT count(*) FROM (SELECT summary FROM activity GROUP BY summary "
            "HAVING count(*) > 1) AS doubled"
        ).fetchone()
        photos = conn.execute(
            "SELECT count(*) FROM photo WHERE id = ANY(%s::uuid[])", (photo_ids,)
        ).fetchone()
        all_photos = conn.execute("SELECT count(*) FROM photo").fetchone()
        confirmed = conn.execute(
            "SELECT count(*) FROM activity WHERE status = 'confirmed'"
        ).fetchone()
    return {
        "entries made": len(ids),
        "entries found": found[0],
        "entries in the database": total[0],
        "summaries stored twice": by_summary[0],
        "photos made": len(photo_ids),
        "photos found": photos[0],
        "photos in the database": all_photos[0],
        "confirmed": confirmed[0],
    }


def bucket_objects(s3: Any) -> int:
    listed = s3.client().list_objects_v2(Bucket=BUCKET, Prefix="photos/", MaxKeys=10000)
    return int(listed.get("KeyCount", 0))


@contextlib.contextmanager
def cluster(tmp: Path) -> Iterator[dict[str, Any]]:
    from tests.live_server import gunicorn_production
    from tests.nginx_server import nginx_proxy
    from tests.pg_server import postgres_server
    from tests.redis_server import redis_server
    from tests.s3_server import s3_server

    with (
        postgres_server() as pg_url,
        redis_server() as redis_url,
        s3_server() as s3,
    ):
        s3.create_bucket(BUCKET)
        env = environment(pg_url, redis_url, s3.endpoint, tmp)
        world = prepare(env)
        with (
            gunicorn_production(env, log_path=tmp / "node-a.log") as node_a,
            gunicorn_production(env, log_path=tmp / "node-b.log") as node_b,
            nginx_proxy([(node_a.host, node_a.port), (node_b.host, node_b.port)]) as proxy,
        ):
            yield {"env": env, "world": world, "s3": s3, "nodes": (node_a, node_b), "proxy": proxy}


def main() -> None:
    from bench.slow_clients import photo_of_size

    print(machine_line(), flush=True)
    started = time.perf_counter()
    photo = photo_of_size(PHOTO_BYTES)
    with (
        tempfile.TemporaryDirectory(prefix="bench-two-nodes-") as tmp_name,
        cluster(Path(tmp_name)) as parts,
    ):
        proxy, (node_a, _node_b) = parts["proxy"], parts["nodes"]
        ledger = Ledger()
        # Per phone: 2 pushes (3 entries each) and ~1.5 photos per entry.
        ledger.planned_requests = PHONES * (2 + int(ENTRIES_PER_PHONE * 1.5))
        stop = threading.Event()
        reviewer_result: list[int] = []
        reviewer = threading.Thread(
            target=lambda: reviewer_result.append(secretary(proxy.host, proxy.port, ledger, stop))
        )
        phones = [
            threading.Thread(
                target=phone, args=(n, proxy.host, proxy.port, parts["world"], photo, ledger)
            )
            for n in range(PHONES)
        ]
        run_started = time.perf_counter()
        reviewer.start()
        for thread in phones:
            thread.start()
        while ledger.progress() < KILL_AT:
            time.sleep(0.05)
        killed_at = time.time()
        kill_group(node_a.process)
        print(
            f"killed node A (127.0.0.1:{node_a.port}) at {ledger.progress():.0%} of the work, "
            f"{time.perf_counter() - run_started:.1f} s in",
            flush=True,
        )
        for thread in phones:
            thread.join()
        stop.set()
        reviewer.join()
        run_seconds = time.perf_counter() - run_started
        rows = server_rows(parts["env"], ledger)
        objects = bucket_objects(parts["s3"])
        code, said = verify_tallies(parts["env"])
        log = proxy.access_log()
        errors = [line for line in log if int(line["status"]) >= 500]
        node_a_address = f"127.0.0.1:{node_a.port}"
        other = [line for line in errors if node_a_address not in str(line["upstream"])]
    print(
        f"\n{PHONES} phones, {ENTRIES_PER_PHONE} entries each, 1–2 photos per entry; "
        f"the run took {run_seconds:.1f} s\n"
    )
    print("| figure | value |\n|---|---:|")
    for name, value in rows.items():
        print(f"| {name} | {value:,} |")
    lost = rows["entries made"] - rows["entries found"]
    lost_photos = rows["photos made"] - rows["photos found"]
    doubled = rows["entries in the database"] - rows["entries made"]
    print(f"| photo objects in the bucket (display + thumbnail) | {objects:,} |")
    print(f"| requests through nginx | {len(log):,} |")
    killed = len(errors) - len(other)
    print(f"| 5xx answers, all from the killed node's in-flight requests | {killed} |")
    print(f"| 5xx answers from anything else | {len(other)} |")
    moved = [line for line in log if "," in str(line["upstream"])]
    print(
        f"| requests nginx passed on to the other node (GET, PUT, or not yet sent) | {len(moved)} |"
    )
    print(f"| requests the phones saw fail without an answer | {sum(ledger.failures.values())} |")
    print(f"| answers by status (phones and secretary) | {dict(sorted(ledger.statuses.items()))} |")
    print(f"| entries confirmed (reviewer threads) | {rows['confirmed']:,} |")
    print(f"| `flask tallies verify` | exit {code}: {said} |")
    print()
    verdicts = {
        "0 entries lost": lost == 0,
        "0 photos lost": lost_photos == 0,
        "0 entries doubled": doubled == 0 and rows["summaries stored twice"] == 0,
        "every photo in the bucket": objects == 2 * rows["photos made"],
        "tallies exact": code == 0,
        "no 5xx but the killed node's": not other,
        "all confirmed": rows["confirmed"] == rows["entries made"],
    }
    for name, ok in verdicts.items():
        print(f"- {name}: {'yes' if ok else 'NO'}")
    print(
        f"  (5xx at {[line['time'] for line in errors][:5]}; kill at "
        f"{time.strftime('%H:%M:%S', time.gmtime(killed_at))}; the secretary confirmed "
        f"{reviewer_result[0] if reviewer_result else 0})"
    )
    print(f"\n{machine_line().replace('at start', 'at end')}")
    print(f"bench took {time.perf_counter() - started:.0f} s")
    if not all(verdicts.values()):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
