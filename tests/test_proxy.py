"""nginx in front (deploy/nginx/nhatky-proxy.conf, as installed by docs/DEPLOY.md): a phone
that sends slowly never holds the app. With the app given a single thread, a request that
arrives while an upload is still under way is answered at once behind nginx, and waits for the
upload without it (the control case)."""

from __future__ import annotations

import contextlib
import http.client
import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.live_server import LiveServer, gunicorn_server
from tests.nginx_server import NginxUnavailable, nginx_proxy

IN_CI = os.environ.get("CI", "").lower() == "true"


@contextlib.contextmanager
def one_thread_app(database_url: str, tmp_path: Path) -> Iterator[LiveServer]:
    (tmp_path / "photos").mkdir(exist_ok=True)
    env = {
        "DATABASE_URL": database_url,
        "SECRET_KEY": "proxy-test",
        "APP_ENV": "production",
        "SESSION_COOKIE_SECURE": "0",
        "PHOTO_DIR": str(tmp_path / "photos"),
        "TRUSTED_PROXIES": "1",
    }
    with gunicorn_server(env, workers=1, threads=1, log_path=tmp_path / "app.log") as app:
        yield app


@contextlib.contextmanager
def proxied(app: LiveServer) -> Iterator[tuple[str, int]]:
    try:
        with nginx_proxy([(app.host, app.port)]) as proxy:
            yield proxy.host, proxy.port
    except NginxUnavailable as exc:
        if IN_CI:
            pytest.fail(f"nginx is required under CI=true: {exc}")
        pytest.skip(f"nginx tests skipped: {exc}")


@contextlib.contextmanager
def upload_under_way(server: LiveServer, host: str, port: int) -> Iterator[None]:
    """A signed-in phone's photo upload whose headers and first kilobytes are sent, the rest
    not yet (a phone on 2G): the app, once it has the request, reads the body to the end."""
    with server.signed_in("canbo") as phone:
        cookie = "; ".join(f"{k}={v}" for k, v in phone.cookies.items())
        token = phone.csrf_token or ""
    query = f"activity_id={uuid.uuid4()}&sha256={'0' * 64}"
    sock = socket.create_connection((host, port))
    sock.sendall(
        f"PUT /api/v1/photos/{uuid.uuid4()}?{query} HTTP/1.1\r\nHost: phone\r\n"
        f"Cookie: {cookie}\r\nX-CSRFToken: {token}\r\nContent-Type: image/jpeg\r\n"
        "Content-Length: 300000\r\n\r\n".encode()
        + b"\xff\xd8" * 2000
    )
    try:
        yield
    finally:
        sock.close()


def healthz(host: str, port: int, timeout: float) -> int:
    connection = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        connection.request("GET", "/healthz", headers={"X-Request-ID": "t-1"})
        return connection.getresponse().status
    finally:
        connection.close()


def test_a_slow_upload_does_not_hold_the_app_behind_nginx(
    app, world, database_url: str, tmp_path: Path
) -> None:
    with (
        one_thread_app(database_url, tmp_path) as server,
        proxied(server) as (host, port),
        upload_under_way(server, host, port),
    ):
        assert healthz(host, port, timeout=10) == 200


def test_control_without_nginx_the_slow_upload_holds_the_only_thread(
    app, world, database_url: str, tmp_path: Path
) -> None:
    with one_thread_app(database_url, tmp_path) as server:
        with upload_under_way(server, server.host, server.port), pytest.raises(TimeoutError):
            healthz(server.host, server.port, timeout=3)
        assert healthz(server.host, server.port, timeout=10) == 200  # free again after


def test_nginx_passes_the_request_id_and_logs_json(app, database_url: str, tmp_path: Path) -> None:
    with (
        one_thread_app(database_url, tmp_path) as server,
        nginx_proxy([(server.host, server.port)]) as proxy,
    ):
        assert healthz(proxy.host, proxy.port, timeout=10) == 200
        [line] = [entry for entry in proxy.access_log() if entry["uri"] == "/healthz"]
        assert line["status"] == 200 and line["upstream"] == f"{server.host}:{server.port}"
        assert len(line["request_id"]) == 32
        logged = (tmp_path / "app.log").read_text()
        assert line["request_id"] in logged  # the app's line carries nginx's id
