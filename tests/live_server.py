"""The real app behind a real HTTP server, and a client that signs in like a browser.

`serve_app()` runs a second app instance (its own engine and connection pool) in Werkzeug's
threaded server on 127.0.0.1:<free port>, against the database the test's `app` fixture set
up, so many requests really run at once. `gunicorn_server()` runs gunicorn in a subprocess,
as in production (the benchmark uses it). `HttpSession` is one HTTP/1.1 connection (stdlib
`http.client`) with a cookie jar: it signs in through the login form and fetches the API's
CSRF token from GET /api/v1/session, as the phone does.

Use in a test module:

    @pytest.fixture
    def live(app, database_url, tmp_path):
        with serve_app(database_url, tmp_path) as server:
            yield server

`app` must come first: it creates the schema, and tears the data down after the server stops.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from email.message import Message
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from flask import Flask, got_request_exception
from werkzeug.serving import WSGIRequestHandler, make_server

from tests.conftest import make_config
from tests.factories import PASSWORD
from webapp import create_app
from webapp.extensions import db

ROOT = Path(__file__).resolve().parent.parent
CSRF_FIELD_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Reply:
    status: int
    headers: Message
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


class HttpSession:
    """One keep-alive connection and its cookies; reconnects when the server closed it."""

    def __init__(self, host: str, port: int, *, timeout: float = 120) -> None:
        self.host = host
        self.port = port
        self.timeout = timeout
        self.cookies: dict[str, str] = {}
        self.csrf_token: str | None = None
        self._conn: http.client.HTTPConnection | None = None

    def connect(self) -> None:
        """Open the TCP connection now (so a later request does not pay for it)."""
        if self._conn is None:
            self._conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        if self._conn.sock is None:
            self._conn.connect()

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __enter__(self) -> HttpSession:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        json_body: Any = None,
        form: Mapping[str, str] | None = None,
    ) -> Reply:
        sent = dict(headers or {})
        if json_body is not None:
            body = json.dumps(json_body).encode()  # ASCII: lone surrogates survive as escapes
            sent.setdefault("Content-Type", "application/json")
        elif form is not None:
            body = urlencode(form).encode()
            sent.setdefault("Content-Type", "application/x-www-form-urlencoded")
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        for attempt in (1, 2):
            self.connect()
            assert self._conn is not None
            try:
                self._conn.request(method, path, body=body, headers=sent)
                response = self._conn.getresponse()
                data = response.read()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                # A kept-alive connection the server had already closed: retry once on a new one.
                self.close()
                if attempt == 2:
                    raise
                continue
            self._remember_cookies(response.headers)
            if response.will_close:
                self.close()
            return Reply(response.status, response.headers, data)
        raise AssertionError("unreachable")

    def _remember_cookies(self, headers: Message) -> None:
        for header in headers.get_all("Set-Cookie") or []:
            jar: SimpleCookie = SimpleCookie()
            jar.load(header)
            for name, morsel in jar.items():
                expired = morsel["max-age"] == "0" or "1970" in morsel["expires"]
                if expired or not morsel.value:
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value

    def get(self, path: str, **kwargs: Any) -> Reply:
        return self.request("GET", path, **kwargs)

    def login(self, login: str, password: str = PASSWORD) -> None:
        """Sign in through the form, then fetch the API's CSRF token, as the phone does."""
        page = self.get("/login")
        match = CSRF_FIELD_RE.search(page.text)
        assert page.status == 200 and match, f"no sign-in form: {page.status} {page.text[:200]}"
        answer = self.request(
            "POST",
            "/login",
            form={"login": login, "password": password, "csrf_token": match.group(1)},
        )
        assert answer.status == 302, f"sign-in as {login} failed: {answer.status}"
        self.refresh_csrf()

    def refresh_csrf(self) -> str:
        reply = self.get("/api/v1/session")
        assert reply.status == 200, f"GET /api/v1/session: {reply.status} {reply.text[:200]}"
        token: str = reply.json()["csrf_token"]
        self.csrf_token = token
        return token

    def api_headers(self) -> dict[str, str]:
        assert self.csrf_token, "sign in first"
        return {"X-CSRFToken": self.csrf_token, "Accept-Language": "vi"}

    def push(self, items: list[dict[str, Any]], device_id: str | None = "live-phone") -> Reply:
        return self.request(
            "POST",
            "/api/v1/sync/push",
            json_body={"device_id": device_id, "activities": items},
            headers=self.api_headers(),
        )

    def put_photo(self, photo_id: str, activity_id: str, data: bytes, sha256: str) -> Reply:
        query = urlencode({"activity_id": activity_id, "sha256": sha256})
        return self.request(
            "PUT",
            f"/api/v1/photos/{photo_id}?{query}",
            body=data,
            headers={**self.api_headers(), "Content-Type": "image/jpeg"},
        )


@dataclass
class LiveServer:
    host: str
    port: int
    app: Flask | None = None
    # Tracebacks of exceptions the app did not handle (they answered 500); threaded server only.
    errors: list[str] = field(default_factory=list)
    # The server's process (gunicorn's master), for tests that stop or kill a node.
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def session(self) -> HttpSession:
        return HttpSession(self.host, self.port)

    def signed_in(self, login: str, password: str = PASSWORD) -> HttpSession:
        session = self.session()
        session.login(login, password)
        return session


class _QuietHandler(WSGIRequestHandler):
    """No access log: hundreds of lines per test are noise. Errors still reach `errors`."""

    def log_request(self, *_args: Any, **_kwargs: Any) -> None:
        return


@contextlib.contextmanager
def serve_app(database_url: str, tmp_path: Path, **config: object) -> Iterator[LiveServer]:
    """A second app instance on a threaded Werkzeug server; stopped and disposed on exit."""
    live_app = create_app(
        make_config(
            database_url,
            tmp_path,
            # Let the app's own 500 handler answer (JSON, rollback), as in production.
            PROPAGATE_EXCEPTIONS=False,
            **config,
        )
    )
    server = LiveServer("127.0.0.1", 0, live_app)

    def remember(_sender: Flask, exception: BaseException, **_extra: object) -> None:
        server.errors.append("".join(traceback.format_exception(exception)))

    got_request_exception.connect(remember, live_app, weak=False)
    httpd = make_server("127.0.0.1", 0, live_app, threaded=True, request_handler=_QuietHandler)
    server.port = httpd.server_port
    thread = threading.Thread(
        target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield server
    finally:
        httpd.shutdown()
        thread.join(timeout=10)
        httpd.server_close()
        got_request_exception.disconnect(remember, live_app)
        with live_app.app_context():
            db.engine.dispose()


def wait_until_serving(
    host: str,
    port: int,
    *,
    timeout: float = 30,
    path: str = "/login",
    alive: Callable[[], bool] = lambda: True,
) -> None:
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        if not alive():
            raise RuntimeError(f"the server on port {port} exited before it answered")
        # One request at a time, given time to be answered: a booting worker takes a while for
        # its first one, and every abandoned request would queue in front of the next.
        conn = http.client.HTTPConnection(host, port, timeout=max(1.0, deadline - time.monotonic()))
        try:
            conn.request("GET", path)
            if conn.getresponse().status < 500:
                return
        except OSError as exc:
            last = exc
        finally:
            conn.close()
        time.sleep(0.1)
    raise TimeoutError(f"nothing answered on {host}:{port}{path} within {timeout}s: {last}")


@contextlib.contextmanager
def gunicorn_server(
    env: Mapping[str, str],
    *,
    workers: int = 2,
    threads: int = 1,
    log_path: Path | None = None,
    extra_args: tuple[str, ...] = (),
) -> Iterator[LiveServer]:
    """`gunicorn 'webapp:create_app()'` in a subprocess, configured by `env` (DATABASE_URL, ...).

    Sync workers unless `threads` > 1 (then gthread); the settings given here override
    gunicorn.conf.py's. Stopped with SIGTERM on exit.
    """
    port = free_port()
    gunicorn = Path(sys.executable).with_name("gunicorn")
    args = [
        str(gunicorn),
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--threads",
        str(threads),
        "--worker-class",
        "gthread" if threads > 1 else "sync",
        "--graceful-timeout",
        "5",
        "--log-level",
        "warning",
        *extra_args,
        "webapp:create_app()",
    ]
    with _running(args, env, port, log_path) as server:
        yield server


@contextlib.contextmanager
def gunicorn_production(
    env: Mapping[str, str], *, port: int | None = None, log_path: Path | None = None
) -> Iterator[LiveServer]:
    """The documented production command, `gunicorn wsgi:app` in the project folder: every
    setting from gunicorn.conf.py, the address from GUNICORN_BIND."""
    port = port or free_port()
    gunicorn = Path(sys.executable).with_name("gunicorn")
    env = {**env, "GUNICORN_BIND": f"127.0.0.1:{port}"}
    with _running([str(gunicorn), "wsgi:app"], env, port, log_path) as server:
        yield server


@contextlib.contextmanager
def _running(
    args: list[str], env: Mapping[str, str], port: int, log_path: Path | None
) -> Iterator[LiveServer]:
    log = open(log_path or os.devnull, "ab")  # noqa: SIM115 (closed below)
    process = subprocess.Popen(
        args,
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        try:
            wait_until_serving("127.0.0.1", port, alive=lambda: process.poll() is None)
        except (RuntimeError, TimeoutError) as exc:
            log.flush()
            tail = log_path.read_text(errors="replace")[-3000:] if log_path else ""
            raise RuntimeError(f"gunicorn did not start: {exc}\n{tail}") from exc
        yield LiveServer("127.0.0.1", port, process=process)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
