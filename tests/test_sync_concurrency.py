"""Many copies of one entry or photo arriving at once, over real connections (DESIGN.md §5).

A phone on a bad network retries while its first attempt is still on the wire, and several
workers serve those copies at the same moment. Each test signs in 16 HTTP sessions as the same
cadre, holds them at a barrier, and releases them together against a threaded live server
(its own engine and pool), so the database, not the test's timing, has to decide who wins.
"""

from __future__ import annotations

import hashlib
import io
import random
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from threading import Barrier
from typing import Any, TypeVar

import pytest
from PIL import Image, ImageDraw
from sqlalchemy import func, select

from tests.factories import PASSWORD, World
from tests.live_server import CSRF_FIELD_RE, HttpSession, LiveServer, Reply, serve_app
from tests.sync_helpers import activity_payload
from webapp.extensions import db
from webapp.models import Activity, Participation, Photo
from webapp.sync import limits

CLIENTS = 16
ROUNDS = 3

T = TypeVar("T")


@pytest.fixture
def live(app, database_url: str, tmp_path: Path) -> Iterator[LiveServer]:
    with serve_app(database_url, tmp_path) as server:
        yield server


class Crowd:
    """16 separate connections, each signed in (through the real form) as the same cadre."""

    def __init__(self, live: LiveServer, login: str) -> None:
        self.live = live
        self.sessions = [live.signed_in(login) for _ in range(CLIENTS)]

    def push(self, items: list[dict[str, Any]]) -> Reply:
        """One push on the first connection, before or after a race."""
        reply = self.sessions[0].push(items)
        db.session.commit()  # a fresh snapshot for the test's checks
        return reply

    def at_once(self, action: Callable[[int, HttpSession], T]) -> list[T]:
        """Run `action(i, session)` on every session in its own thread, released together."""
        barrier = Barrier(len(self.sessions))

        def run(index: int) -> T:
            session = self.sessions[index]
            session.connect()  # connected before the barrier: the requests leave together
            barrier.wait(timeout=60)
            return action(index, session)

        with ThreadPoolExecutor(max_workers=len(self.sessions)) as pool:
            futures = [pool.submit(run, i) for i in range(len(self.sessions))]
            results = [future.result(timeout=180) for future in futures]
        db.session.commit()  # a fresh snapshot for the checks that follow (SQLite too)
        assert not self.live.errors, "the app failed:\n" + "\n".join(self.live.errors)
        return results

    def close(self) -> None:
        for session in self.sessions:
            session.close()


@pytest.fixture
def crowd(world: World, live: LiveServer) -> Iterator[Crowd]:
    db.session.commit()  # end the test's read transaction: the server writes next
    crowd = Crowd(live, "canbo")
    yield crowd
    crowd.close()


def count(model: Any, *where: Any) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where)) or 0


def statuses(replies: list[Reply]) -> list[str]:
    return [result["status"] for reply in replies for result in reply.json()["results"]]


def assert_all_ok(replies: list[Reply], status: int = 200) -> None:
    bad = [(r.status, r.text[:300]) for r in replies if r.status != status]
    assert not bad, f"{len(bad)} of {len(replies)} requests failed: {bad[:3]}"


def test_same_entry_pushed_by_16_connections_at_once_is_stored_once(world, crowd):
    members = [world.members["an"].id, world.members["binh"].id]
    for round_no in range(1, ROUNDS + 1):
        item = activity_payload(world, participant_ids=members)
        replies = crowd.at_once(lambda _i, s, item=item: s.push([item]))
        assert_all_ok(replies)
        assert Counter(statuses(replies)) == {"created": 1, "unchanged": CLIENTS - 1}
        results = [r.json()["results"][0] for r in replies]
        assert {(r["id"], r["revision"], r["server_status"]) for r in results} == {
            (item["id"], 1, "submitted")
        }
        activity_id = uuid.UUID(item["id"])
        assert count(Activity, Activity.id == activity_id) == 1
        assert count(Participation, Participation.activity_id == activity_id) == len(members)
        assert count(Activity) == round_no
        assert count(Participation) == round_no * len(members)


def test_same_edit_pushed_at_once_updates_once_and_stale_copies_conflict(world, crowd):
    item = activity_payload(world)
    assert statuses([crowd.push([item])]) == ["created"]
    # The same edit 16 times: one applies it; the rest find it already there.
    edit = {**item, "summary": "Đã sửa: thêm hộ ông Ma Văn Sáng", "base_revision": 1}
    replies = crowd.at_once(lambda _i, s: s.push([edit]))
    assert_all_ok(replies)
    assert Counter(statuses(replies)) == {"updated": 1, "unchanged": CLIENTS - 1}
    assert {r.json()["results"][0]["revision"] for r in replies} == {2}
    # 16 different edits on the same revision: exactly one wins, the rest conflict.
    edits = [
        {**item, "summary": f"Bản sửa số {i}", "base_revision": 2, "participant_ids": [m]}
        for i, m in enumerate([world.members["an"].id, world.members["binh"].id] * (CLIENTS // 2))
    ]
    replies = crowd.at_once(lambda i, s: s.push([edits[i]]))
    assert_all_ok(replies)
    assert Counter(statuses(replies)) == {"updated": 1, "conflict": CLIENTS - 1}
    winner = next(i for i, r in enumerate(replies) if statuses([r]) == ["updated"])
    stored = db.session.get(Activity, uuid.UUID(item["id"]))
    assert (stored.revision, stored.summary) == (3, edits[winner]["summary"])
    assert [p.member_id for p in stored.participations] == edits[winner]["participant_ids"]


def test_mixed_batches_race_counts_are_exact(world, crowd):
    """8 entries; half the connections send one each, the other half all 8 in their own order.

    Different orders of the same ids deadlocked on PostgreSQL until rows were inserted and
    locked in id order.
    """
    members = [world.members["an"].id, world.members["binh"].id]
    items = [activity_payload(world, summary=f"Hoạt động {i}") for i in range(8)]
    batches = [[items[i]] for i in range(8)] + [
        random.Random(seed).sample(items, len(items)) for seed in range(CLIENTS - 8)
    ]
    replies = crowd.at_once(lambda i, s: s.push(batches[i]))
    assert_all_ok(replies)
    for reply, batch in zip(replies, batches, strict=True):
        assert [r["id"] for r in reply.json()["results"]] == [i["id"] for i in batch]
    per_id = Counter(
        (result["id"], result["status"]) for reply in replies for result in reply.json()["results"]
    )
    copies = Counter(item["id"] for batch in batches for item in batch)
    for item in items:
        assert per_id[(item["id"], "created")] == 1, per_id
        assert per_id[(item["id"], "unchanged")] == copies[item["id"]] - 1, per_id
    assert count(Activity) == len(items)
    assert count(Participation) == len(items) * len(members)


def small_jpeg(seed: int) -> bytes:
    """A small photo whose bytes differ per seed."""
    rng = random.Random(seed)
    image = Image.new("RGB", (160, 120), tuple(rng.randrange(256) for _ in range(3)))
    ImageDraw.Draw(image).ellipse((20, 10, 140, 110), fill=(rng.randrange(256), 40, 90))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    return out.getvalue()


def test_same_photo_uploaded_by_16_connections_at_once_is_stored_once(world, crowd):
    item = activity_payload(world, photos_expected=2)
    assert statuses([crowd.push([item])]) == ["created"]
    for round_no in range(1, ROUNDS + 1):
        data = small_jpeg(round_no)
        sha256 = hashlib.sha256(data).hexdigest()
        photo_id = str(uuid.uuid4())
        replies = crowd.at_once(
            lambda _i, s, d=data, h=sha256, p=photo_id: s.put_photo(p, item["id"], d, h)
        )
        codes = Counter(r.status for r in replies)
        assert codes == {201: 1, 200: CLIENTS - 1}, [(r.status, r.text[:200]) for r in replies]
        assert Counter(r.json()["status"] for r in replies) == {
            "created": 1,
            "unchanged": CLIENTS - 1,
        }
        assert count(Photo, Photo.id == uuid.UUID(photo_id)) == 1
        assert count(Photo) == round_no


def test_photos_of_one_entry_arriving_at_once_never_exceed_the_limit(world, crowd):
    """The count of an entry's photos is checked under a lock on the entry (PostgreSQL too)."""
    item = activity_payload(world, photos_expected=limits.MAX_PHOTOS)
    assert statuses([crowd.push([item])]) == ["created"]
    photos = [small_jpeg(100 + i) for i in range(CLIENTS)]

    def upload(index: int, session: HttpSession) -> Reply:
        data = photos[index]
        return session.put_photo(
            str(uuid.uuid4()), item["id"], data, hashlib.sha256(data).hexdigest()
        )

    replies = crowd.at_once(upload)
    codes = Counter(r.status for r in replies)
    assert codes == {201: limits.MAX_PHOTOS, 422: CLIENTS - limits.MAX_PHOTOS}, codes
    assert count(Photo) == limits.MAX_PHOTOS


def test_16_sign_ins_at_once_all_succeed(world, live):
    """Every phone signs in again after a password change or a lost session, often together."""
    db.session.commit()
    sessions = [live.session() for _ in range(CLIENTS)]
    tokens = []
    for session in sessions:
        form = CSRF_FIELD_RE.search(session.get("/login").text)
        assert form
        tokens.append(form[1])
    barrier = Barrier(CLIENTS)

    def sign_in(index: int) -> int:
        barrier.wait(timeout=60)
        form = {"login": "canbo", "password": PASSWORD, "csrf_token": tokens[index]}
        return sessions[index].request("POST", "/login", form=form).status

    with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
        codes = Counter(pool.map(sign_in, range(CLIENTS)))
    for session in sessions:
        session.close()
    assert codes == {302: CLIENTS}, (codes, live.errors[:1])
