"""Fixtures: every test that uses `app` runs once on SQLite and once on a real PostgreSQL."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import text
from werkzeug.test import TestResponse

from tests import factories
from tests.pg_server import PostgresUnavailable, postgres_server
from webapp import create_app
from webapp.extensions import db, limiter
from webapp.models import Base
from webapp.tallies import rebuild as tally_rebuild

IN_CI = os.environ.get("CI", "").lower() == "true"


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    try:
        with postgres_server() as url:
            yield url
    except PostgresUnavailable as exc:
        if IN_CI:
            pytest.fail(f"PostgreSQL is required under CI=true: {exc}")
        pytest.skip(f"PostgreSQL tests skipped: {exc}")


@pytest.fixture(scope="session")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'test.sqlite3'}"


_URL_FIXTURES = {"sqlite": "sqlite_url", "postgresql": "pg_url"}


@pytest.fixture(scope="session", params=list(_URL_FIXTURES))
def database_url(request: pytest.FixtureRequest) -> str:
    url: str = request.getfixturevalue(_URL_FIXTURES[request.param])
    return url


_schema_ready: set[str] = set()


def make_config(database_url: str, tmp_path: Path, **extra: object) -> dict[str, object]:
    return {
        "APP_ENV": "testing",
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SECRET_KEY": "test-secret",
        "PHOTO_DIR": str(tmp_path / "photos"),
        "RATELIMIT_STORAGE_URI": "memory://",
        # Real scrypt, low cost: the suite signs in hundreds of times.
        "PASSWORD_HASH_METHOD": "scrypt:1024:8:1",
        **extra,
    }


def _empty_all_tables(url: str) -> None:
    tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
    with db.engine.begin() as conn:
        if url.startswith("postgresql"):
            conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                conn.execute(text(f"DELETE FROM {table}"))  # noqa: S608 (names from metadata)


def _assert_no_tally_drift() -> None:
    """Every test doubles as a check that its writes kept the rollup exact (DESIGN.md §7)."""
    db.session.rollback()
    drift = tally_rebuild.verify()
    db.session.rollback()
    assert drift.total == 0, f"tally drift {drift.counts}: {drift.samples[:5]}"


class IsolatedClient(FlaskClient):
    """Each request gets its own app context, as in production.

    The `app` fixture keeps an app context open for the test body; without this, requests
    would reuse it and share `g` (Flask-Login's user, Flask-Babel's locale) and the session.
    """

    def open(self, *args: Any, **kwargs: Any) -> TestResponse:
        # End the test's own transaction: the request sees what the test set up, and the
        # test's next read (a new snapshot, on SQLite too) sees what the request wrote.
        db.session.commit()
        with self.application.app_context():
            return super().open(*args, **kwargs)


_shared_apps: dict[str, Flask] = {}


def _new_app(database_url: str, photo_root: Path) -> Flask:
    app = create_app(make_config(database_url, photo_root))
    app.test_client_class = IsolatedClient
    return app


@pytest.fixture
def app(
    request: pytest.FixtureRequest, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Flask]:
    """The app on an empty database, inside an app context.

    One app per database serves every test (building one costs ~150 ms, mostly the OpenAPI
    spec); its config is restored after each test. A test that must change the app itself
    (add routes) asks for its own with `@pytest.mark.fresh_app`.
    """
    fresh = request.node.get_closest_marker("fresh_app") is not None
    if fresh:
        app = _new_app(database_url, tmp_path_factory.mktemp("photos"))
    else:
        if database_url not in _shared_apps:
            _shared_apps[database_url] = _new_app(database_url, tmp_path_factory.mktemp("photos"))
        app = _shared_apps[database_url]
    saved_config = dict(app.config)
    with app.app_context():
        if database_url not in _schema_ready:
            Base.metadata.drop_all(db.engine)
            Base.metadata.create_all(db.engine)
            _schema_ready.add(database_url)
        limiter.reset()
        try:
            yield app
            if request.node.get_closest_marker("tally_drift") is None:
                _assert_no_tally_drift()
        finally:
            db.session.remove()
            _empty_all_tables(database_url)
            if fresh:
                db.engine.dispose()
    app.config.clear()
    app.config.update(saved_config)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    return app.test_cli_runner()


@pytest.fixture
def is_postgres(database_url: str) -> bool:
    return database_url.startswith("postgresql")


CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def csrf_token_from(client: FlaskClient, path: str = "/login") -> str:
    html = client.get(path).get_data(as_text=True)
    match = CSRF_RE.search(html)
    assert match, f"no CSRF token on {path}"
    return match.group(1)


class Auth:
    """Sign in and out through the real form, CSRF token included."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client

    def login(self, login: str, password: str = factories.PASSWORD):
        token = csrf_token_from(self.client, "/login")
        return self.client.post(
            "/login", data={"login": login, "password": password, "csrf_token": token}
        )

    def logout(self):
        token = csrf_token_from(self.client, "/")
        return self.client.post("/logout", data={"csrf_token": token})


@pytest.fixture
def auth(client: FlaskClient) -> Auth:
    return Auth(client)


@pytest.fixture
def world(app: Flask) -> factories.World:
    """Two communes in one province, a cell in each, one user per role, some reference data."""
    return factories.build_world()
