"""Limits shared by several app processes (issue 11, item 3): the failed sign-ins of one account
are counted in Redis, so two gunicorn processes behind one address enforce one limit. With the
per-process default (`memory://`) each process counts alone, as the control case shows."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tests.live_server import LiveServer, gunicorn_server
from tests.redis_server import RedisUnavailable, redis_server

IN_CI = os.environ.get("CI", "").lower() == "true"
WRONG = "sai-mat-khau"


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    try:
        with redis_server() as url:
            yield url
    except RedisUnavailable as exc:
        if IN_CI:
            pytest.fail(f"Redis is required under CI=true: {exc}")
        pytest.skip(f"Redis tests skipped: {exc}")


@pytest.fixture
def redis_empty(redis_url: str) -> str:
    """The shared Redis, emptied: counts left by another test (or database) do not count."""
    redis.Redis.from_url(redis_url).flushall()
    return redis_url


@contextlib.contextmanager
def two_processes(
    database_url: str, tmp_path: Path, limits: str
) -> Iterator[tuple[LiveServer, LiveServer]]:
    env = {
        "DATABASE_URL": database_url,
        "SECRET_KEY": "shared-limits-test",
        "APP_ENV": "production",
        "SESSION_COOKIE_SECURE": "0",
        "PHOTO_DIR": str(tmp_path / "photos"),
        "RATELIMIT_STORAGE_URI": limits,
        "LOGIN_LIMIT_PER_ACCOUNT": "5 per 15 minutes",
        "LOG_REQUESTS": "0",
    }
    with (
        gunicorn_server(env, workers=1, log_path=tmp_path / "a.log") as first,
        gunicorn_server(env, workers=1, log_path=tmp_path / "b.log") as second,
    ):
        yield first, second


def wrong_sign_in(server: LiveServer, login: str = "canbo", password: str = WRONG) -> int:
    session = server.session()
    page = session.get("/login")
    token = page.text.split('name="csrf_token" type="hidden" value="', 1)[1].split('"', 1)[0]
    answer = session.request(
        "POST", "/login", form={"login": login, "password": password, "csrf_token": token}
    )
    session.close()
    return answer.status


def test_the_per_account_limit_holds_across_two_app_processes(
    app, world, database_url: str, tmp_path: Path, redis_empty: str
) -> None:
    with two_processes(database_url, tmp_path, redis_empty) as (first, second):
        answers = [wrong_sign_in(first if n % 2 == 0 else second) for n in range(5)]
        assert answers == [401] * 5
        # The sixth try is refused by either process, even with the right password.
        assert wrong_sign_in(first) == 429
        assert wrong_sign_in(second, password="mat-khau-thu-nghiem") == 429
        # Another account is not affected.
        assert wrong_sign_in(second, login="bithu.x") == 401


def test_control_each_process_counts_alone_without_a_shared_store(
    app, world, database_url: str, tmp_path: Path
) -> None:
    with two_processes(database_url, tmp_path, "memory://") as (first, second):
        answers = [wrong_sign_in(first if n % 2 == 0 else second) for n in range(8)]
        assert answers == [401] * 8  # 4 failures in each process: under 5 in both
