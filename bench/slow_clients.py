"""Slow phones and everybody else: does a 2G upload hold the server?

20 phones upload a 300 KB photo each at 30 KB/s (2G: ~10 s per upload, starts spread over the
first 2 s) while a second client asks, one request after the other, for GET /api/v1/session
(a phone starting a sync) and the secretary's review page. Its latencies during the uploads are
the figure; the setups run in turn in the same run, on the same PostgreSQL:

- old: the README's former production command, `gunicorn -w 2` (sync workers), nothing in front;
- gthread, no proxy: gunicorn.conf.py's threaded workers (2 × 8 threads), phones straight in;
- nginx + gthread: the documented setup (deploy/nginx/nhatky-proxy.conf in front of
  `gunicorn wsgi:app` with gunicorn.conf.py): nginx takes each upload whole, then passes it on.

Goal (issue 11): p95 ≤ 100 ms during the uploads with the documented setup. Every upload must
end 201; the bench says so if one does not.
"""

from __future__ import annotations

import http.client
import io
import random
import socket
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

from bench.common import machine_line

PHONES = 20
PHOTO_BYTES = 300 * 1024
RATE = 30 * 1024  # bytes per second, 2G
CHUNK = 3 * 1024
START_SPREAD_S = 2.0
PROBE_GAP_S = 0.05
ROUNDS = 2
TARGET_P95_MS = 100.0
SECRET = "bench-" + uuid.uuid4().hex


@dataclass(frozen=True)
class Phone:
    cookie: str
    token: str
    activity_ids: tuple[str, ...]


@dataclass
class Outcome:
    setup: str
    session_ms: list[float]
    review_ms: list[float]
    upload_status: list[int]
    upload_s: list[float]

    def all_ms(self) -> list[float]:
        return self.session_ms + self.review_ms


def photo_of_size(size: int) -> bytes:
    """A camera-like JPEG of about `size` bytes, 1600 px on its long edge (as phones send)."""
    from PIL import Image

    from tests.hostile_images import realistic_jpeg

    image = Image.open(io.BytesIO(realistic_jpeg()))
    image.draft("RGB", (1600, 1200))
    image = image.convert("RGB").resize((1600, 1200))
    best = b""
    for quality in range(95, 30, -5):
        out = io.BytesIO()
        image.save(out, "JPEG", quality=quality)
        best = out.getvalue()
        if len(best) <= size:
            break
    return best


def server_env(url: str, tmp: Path) -> dict[str, str]:
    return {
        "DATABASE_URL": url,
        "SECRET_KEY": SECRET,
        "APP_ENV": "production",
        "SESSION_COOKIE_SECURE": "0",
        "PHOTO_DIR": str(tmp / "photos"),
        "TRUSTED_PROXIES": "1",
        "LOG_REQUESTS": "0",
        # Many phones of one cell sign in from one address here.
        "LOGIN_LIMIT_PER_ADDRESS": "10000 per minute",
    }


def prepare(url: str, tmp: Path) -> None:
    """Schema and a small world: the cadre, the secretary of the commune, a roster."""
    from flask_migrate import upgrade

    from bench.sync_ingest import make_app
    from tests.factories import build_world
    from webapp.extensions import db

    (tmp / "photos").mkdir(parents=True, exist_ok=True)
    app = make_app(url, tmp)
    with app.app_context():
        upgrade()
        build_world()
        db.session.commit()
        db.session.remove()
        db.engine.dispose()


def signed_in(host: str, port: int, login: str) -> tuple[str, str]:
    """Sign in through the form; the session cookie and an API token."""
    from tests.live_server import HttpSession

    with HttpSession(host, port) as session:
        session.login(login)
        cookie = "; ".join(f"{k}={v}" for k, v in session.cookies.items())
        return cookie, session.csrf_token or ""


def push_entries(host: str, port: int, count: int, round_no: int) -> Phone:
    """The cadre's entries the photos belong to, one per phone."""
    from tests.live_server import HttpSession

    ids = []
    with HttpSession(host, port) as session:
        session.login("canbo")
        items = []
        for n in range(count):
            activity_id = str(uuid.uuid4())
            ids.append(activity_id)
            items.append(
                {
                    "id": activity_id,
                    "unit_id": 4,
                    "kind_id": 1,
                    "occurred_on": "2026-11-20",
                    "summary": f"Thăm hộ gia đình, vòng {round_no}, ảnh {n}",
                    "participant_ids": [1],
                    "photos_expected": 1,
                }
            )
        reply = session.push(items)
        assert reply.status == 200, reply.text[:300]
        statuses = {r["status"] for r in reply.json()["results"]}
        assert statuses == {"created"}, reply.text[:500]
        cookie = "; ".join(f"{k}={v}" for k, v in session.cookies.items())
        return Phone(cookie, session.csrf_token or "", tuple(ids))


def slow_upload(
    host: str, port: int, phone: Phone, activity_id: str, photo: bytes, sha256: str
) -> tuple[int, float]:
    """PUT the photo at RATE bytes/s, as a phone on 2G sends it; (status, seconds)."""
    query = urlencode({"activity_id": activity_id, "sha256": sha256})
    head = (
        f"PUT /api/v1/photos/{uuid.uuid4()}?{query} HTTP/1.1\r\n"
        f"Host: {host}:{port}\r\nCookie: {phone.cookie}\r\nX-CSRFToken: {phone.token}\r\n"
        f"Content-Type: image/jpeg\r\nContent-Length: {len(photo)}\r\nConnection: close\r\n\r\n"
    ).encode()
    started = time.perf_counter()
    with socket.create_connection((host, port), timeout=120) as sock:
        sock.sendall(head)
        for offset in range(0, len(photo), CHUNK):
            sock.sendall(photo[offset : offset + CHUNK])
            time.sleep(CHUNK / RATE)
        response = http.client.HTTPResponse(sock)
        response.begin()
        response.read()
        return response.status, time.perf_counter() - started


def probe(host: str, port: int, path: str, cookie: str) -> float:
    connection = http.client.HTTPConnection(host, port, timeout=60)
    started = time.perf_counter()
    connection.request("GET", path, headers={"Cookie": cookie, "Accept-Encoding": "gzip"})
    response = connection.getresponse()
    response.read()
    elapsed = (time.perf_counter() - started) * 1000
    connection.close()
    assert response.status == 200, f"{path}: {response.status}"
    return elapsed


def run_round(setup: str, host: str, port: int, photo: bytes, round_no: int) -> Outcome:
    import hashlib

    sha256 = hashlib.sha256(photo).hexdigest()
    phone = push_entries(host, port, PHONES, round_no)
    secretary, _ = signed_in(host, port, "bithu.x")
    outcome = Outcome(setup, [], [], [], [])
    rng = random.Random(round_no)
    done = threading.Event()
    lock = threading.Lock()

    def upload(activity_id: str, delay: float) -> None:
        time.sleep(delay)
        status, seconds = slow_upload(host, port, phone, activity_id, photo, sha256)
        with lock:
            outcome.upload_status.append(status)
            outcome.upload_s.append(seconds)

    threads = [
        threading.Thread(target=upload, args=(activity_id, rng.uniform(0, START_SPREAD_S)))
        for activity_id in phone.activity_ids
    ]
    for thread in threads:
        thread.start()
    time.sleep(START_SPREAD_S / 2)  # most uploads are under way
    while any(thread.is_alive() for thread in threads):
        outcome.session_ms.append(probe(host, port, "/api/v1/session", phone.cookie))
        outcome.review_ms.append(probe(host, port, "/review/", secretary))
        time.sleep(PROBE_GAP_S)
    done.set()
    for thread in threads:
        thread.join()
    return outcome


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


@contextmanager
def old_setup(url: str, tmp: Path) -> Iterator[tuple[str, int]]:
    from tests.live_server import gunicorn_server

    # Nothing from gunicorn.conf.py: the former command line, word for word.
    empty = tmp / "no-config.py"
    empty.write_text("")
    with gunicorn_server(
        server_env(url, tmp),
        workers=2,
        log_path=tmp / "old.log",
        extra_args=("--config", str(empty)),
    ) as server:
        yield server.host, server.port


@contextmanager
def gthread_setup(url: str, tmp: Path) -> Iterator[tuple[str, int]]:
    from tests.live_server import gunicorn_production

    with gunicorn_production(server_env(url, tmp), log_path=tmp / "gthread.log") as server:
        yield server.host, server.port


@contextmanager
def nginx_setup(url: str, tmp: Path) -> Iterator[tuple[str, int]]:
    from tests.live_server import gunicorn_production
    from tests.nginx_server import nginx_proxy

    with (
        gunicorn_production(server_env(url, tmp), log_path=tmp / "nginx-app.log") as app,
        nginx_proxy([(app.host, app.port)]) as proxy,
    ):
        yield proxy.host, proxy.port


SETUPS: dict[str, Callable[[str, Path], AbstractContextManager[tuple[str, int]]]] = {
    "old: gunicorn -w 2 (sync), no proxy": old_setup,
    "gthread 2 × 8, no proxy": gthread_setup,
    "nginx + gthread 2 × 8 (documented)": nginx_setup,
}


def table(outcomes: dict[str, list[Outcome]]) -> str:
    lines = [
        "| setup | requests | p50 ms | p95 ms | p99 ms | max ms | session p95 | review p95 |"
        " uploads 201 | upload s (median) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for setup, runs in outcomes.items():
        every = [ms for run in runs for ms in run.all_ms()]
        session = [ms for run in runs for ms in run.session_ms]
        review = [ms for run in runs for ms in run.review_ms]
        statuses = [s for run in runs for s in run.upload_status]
        seconds = [s for run in runs for s in run.upload_s]
        lines.append(
            f"| {setup} | {len(every)} | {statistics.median(every):.1f} | "
            f"{percentile(every, 0.95):.1f} | {percentile(every, 0.99):.1f} | {max(every):.1f} | "
            f"{percentile(session, 0.95):.1f} | {percentile(review, 0.95):.1f} | "
            f"{statuses.count(201)}/{len(statuses)} | {statistics.median(seconds):.1f} |"
        )
    return "\n".join(lines)


def main() -> None:
    from tests.pg_server import postgres_server

    print(machine_line(), flush=True)
    started = time.perf_counter()
    photo = photo_of_size(PHOTO_BYTES)
    print(
        f"{PHONES} phones × one {len(photo) / 1024:.0f} KiB photo at {RATE // 1024} KB/s, "
        f"{ROUNDS} rounds per setup (round-robin); the probe alternates GET /api/v1/session "
        "and GET /review/ (secretary) during the uploads",
        flush=True,
    )
    outcomes: dict[str, list[Outcome]] = {name: [] for name in SETUPS}
    with tempfile.TemporaryDirectory(prefix="bench-slow-") as tmp_name, postgres_server() as url:
        tmp = Path(tmp_name)
        prepare(url, tmp)
        for round_no in range(ROUNDS):
            for name, setup in SETUPS.items():
                with setup(url, tmp) as (host, port):
                    outcomes[name].append(run_round(name, host, port, photo, round_no))
                print(f"  round {round_no + 1}: {name} done", flush=True)
    print(f"\n{table(outcomes)}\n")
    documented = [
        ms for run in outcomes["nginx + gthread 2 × 8 (documented)"] for ms in run.all_ms()
    ]
    p95 = percentile(documented, 0.95)
    verdict = "met" if p95 <= TARGET_P95_MS else "MISSED"
    print(f"- documented setup, p95 during the uploads: {p95:.1f} ms (target ≤ 100 ms: {verdict})")
    failed = [
        (run.setup, s) for runs in outcomes.values() for run in runs for s in run.upload_status
    ]
    failed = [f for f in failed if f[1] != 201]
    if failed:
        print(f"- uploads that did not end 201: {failed}")
    print(f"\n{machine_line().replace('at start', 'at end')}")
    print(f"bench took {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
