"""The site under test: one app on a SQLite file, its data, and server-side checks."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from tests import factories
from tests.browser.server import Controlled, LiveServer
from tests.conftest import make_config
from webapp import create_app
from webapp.database import begin_write
from webapp.extensions import db
from webapp.models import Activity, Base

T = TypeVar("T")

# More people on the cadre's roster, so search has something to find.
ROSTER = ("Nguyễn Văn Bảo", "Hoàng Thị Đào", "Lý Văn Đức", "Nguyễn Thị Hoa", "Ma Văn Sáng")


@dataclass
class Site:
    url: str
    app: Flask
    controlled: Controlled
    database_url: str
    tmp: Path
    ids: dict[str, int] = field(default_factory=dict)

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self.app.app_context():
            try:
                yield db.session
            finally:
                db.session.remove()

    @contextmanager
    def writing(self) -> Iterator[Session]:
        """A write transaction that holds SQLite's write lock from the start, as the app's
        own write paths do (webapp/database.py): the live server may be writing meanwhile."""
        with self.session() as session:
            begin_write()
            yield session
            session.commit()

    def activities(self, summary_prefix: str) -> list[Activity]:
        """The server's rows for entries whose summary starts with the prefix, photos loaded."""
        with self.session() as session:
            rows = session.scalars(
                select(Activity)
                .where(Activity.summary.startswith(summary_prefix))
                .options(selectinload(Activity.photos), selectinload(Activity.participations))
            ).all()
            session.expunge_all()
            return list(rows)

    def new_app(self, **config: object) -> Flask:
        """Another process of the same deployment (same database, photos and secret)."""
        return create_app(make_config(self.database_url, self.tmp, **config))


def wait_for(check: Callable[[], T], timeout: float = 20.0, interval: float = 0.1) -> T:
    """Poll until `check()` returns something truthy; fail with its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"still {value!r} after {timeout} s")
        time.sleep(interval)


def _populate() -> dict[str, int]:
    world = factories.build_world()
    roster = {name: factories.make_member(world.cell_x, name) for name in ROSTER}
    # More cadres, for tests that change the account's language or end its sessions.
    english = factories.make_user(
        "canbo.en", "cadre", world.cell_x, member=world.members["binh"], full_name="Trần Thị Bình"
    )
    expiring = factories.make_user(
        "canbo.dao", "cadre", world.cell_x, member=roster["Hoàng Thị Đào"]
    )
    # A phone shared by two cadres: tests that sign out use these, never "canbo".
    shared = factories.make_user("canbo.chung", "cadre", world.cell_x, member=roster["Lý Văn Đức"])
    second = factories.make_user(
        "canbo.hoa", "cadre", world.cell_x, member=roster["Nguyễn Thị Hoa"]
    )
    spare = factories.make_kind("dialogue", "Đối thoại với nhân dân", "Dialogue with the people")
    # Retired by some tests while entries of this kind wait on the phone.
    doomed = factories.make_kind("outreach", "Tuyên truyền lưu động", "Mobile outreach")
    db.session.commit()
    return {
        "kind": world.kind.id,
        "spare_kind": spare.id,
        "doomed_kind": doomed.id,
        "program": world.program.id,
        "cell_x": world.cell_x.id,
        "commune_x": world.commune_x.id,
        "member_an": world.members["an"].id,
        "member_binh": world.members["binh"].id,
        "cadre": world.users["cadre"].id,
        "cadre_en": english.id,
        "cadre_expiring": expiring.id,
        "cadre_shared": shared.id,
        "cadre_second": second.id,
        "secretary_x": world.users["secretary_x"].id,
    }


@contextmanager
def build_site(tmp: Path, **config: Any) -> Iterator[Site]:
    database_url = f"sqlite:///{tmp / 'browser.sqlite3'}"
    app = create_app(make_config(database_url, tmp, **config))
    with app.app_context():
        Base.metadata.create_all(db.engine)
        ids = _populate()
        db.session.remove()
    with LiveServer(app) as live:
        yield Site(live.url, app, live.controlled, database_url, tmp, ids)
    with app.app_context():
        db.engine.dispose()
