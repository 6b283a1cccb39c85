"""A real HTTP server for the browser tests, and the knobs the tests turn on it.

The app runs under werkzeug's threaded server on 127.0.0.1 (a secure context, so service
workers and crypto.subtle work without TLS). Between the socket and the app sits `Controlled`,
a WSGI middleware that only tests use: it logs every request, answers chosen requests with an
error, and swaps the app for a newly created one to simulate a deployment.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from flask import Flask
from werkzeug.serving import WSGIRequestHandler, make_server

StartResponse = Callable[..., Any]


@dataclass
class FailRule:
    method: str
    path_prefix: str
    remaining: int
    status: int
    # With `hold`, the request is not failed: the app answers at once, and the answer is held
    # back until the event is set (an answer slow to arrive, already decided by the server).
    hold: threading.Event | None = None


@dataclass
class Transfer:
    """One answer as it went on the wire: status line, headers and body, in bytes."""

    method: str
    path: str
    status: int = 0
    bytes: int = 0
    encoding: str = ""


class Controlled:
    """WSGI middleware: request log, injected failures, swappable app (a "deploy")."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self._lock = threading.Lock()
        self._log: list[tuple[str, str]] = []
        self._transfers: list[Transfer] = []
        self._rules: list[FailRule] = []

    def fail(self, method: str, path_prefix: str, times: int, status: int = 500) -> FailRule:
        rule = FailRule(method, path_prefix, times, status)
        with self._lock:
            self._rules.append(rule)
        return rule

    def hold(self, method: str, path_prefix: str, times: int = 1) -> threading.Event:
        """Hold back the answers to the next matching requests until the event is set."""
        release = threading.Event()
        with self._lock:
            self._rules.append(FailRule(method, path_prefix, times, 0, release))
        return release

    def stop_failing(self) -> None:
        with self._lock:
            self._rules.clear()

    def deploy(self, app: Flask) -> None:
        self.app = app

    def requests(self, method: str | None = None, path_prefix: str = "") -> list[tuple[str, str]]:
        with self._lock:
            return [
                (m, p)
                for m, p in self._log
                if (method is None or m == method) and p.startswith(path_prefix)
            ]

    def mark(self) -> int:
        """A position in the log; `since(mark)` lists what came after it."""
        with self._lock:
            return len(self._log)

    def since(self, mark: int) -> list[tuple[str, str]]:
        with self._lock:
            return list(self._log[mark:])

    def transfers_since(self, mark: int) -> list[Transfer]:
        """What the server sent for each request after `mark` (answers still being sent
        count what went so far)."""
        with self._lock:
            return list(self._transfers[mark:])

    def _failure_for(
        self, method: str, path: str, transfer: Transfer
    ) -> int | threading.Event | None:
        with self._lock:
            self._log.append((method, path))
            self._transfers.append(transfer)
            for rule in self._rules:
                if (
                    rule.remaining > 0
                    and method == rule.method
                    and path.startswith(rule.path_prefix)
                ):
                    rule.remaining -= 1
                    return rule.status if rule.hold is None else rule.hold
        return None

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        transfer = Transfer(environ["REQUEST_METHOD"], environ.get("PATH_INFO", ""))
        status = self._failure_for(transfer.method, transfer.path, transfer)
        if status is None:
            return _counted(self.app, environ, start_response, transfer)
        if isinstance(status, threading.Event):
            return _held(self.app, environ, start_response, status)
        body = json.dumps(
            {"error": {"status": status, "title": "Injected", "message": "injected by the test"}}
        ).encode()
        start_response(
            f"{status} INJECTED",
            [("Content-Type", "application/json"), ("Content-Length", str(len(body)))],
        )
        return [body]


def _counted(
    app: Any, environ: dict[str, Any], start_response: StartResponse, transfer: Transfer
) -> Iterable[bytes]:
    """Run the app, adding up the bytes of its answer into `transfer`."""

    def counting_start(status: str, headers: list[tuple[str, str]], *args: Any) -> Any:
        transfer.status = int(status.split(" ", 1)[0])
        # "HTTP/1.1 " + status + CRLF, each "Name: value" + CRLF, the blank line.
        transfer.bytes += 11 + len(status) + sum(len(k) + len(v) + 4 for k, v in headers) + 2
        transfer.encoding = next((v for k, v in headers if k.lower() == "content-encoding"), "")
        return start_response(status, headers, *args)

    body = app(environ, counting_start)
    try:
        for chunk in body:
            transfer.bytes += len(chunk)
            yield chunk
    finally:
        close = getattr(body, "close", None)
        if close is not None:
            close()


def _held(
    app: Any, environ: dict[str, Any], start_response: StartResponse, release: threading.Event
) -> Iterable[bytes]:
    """The app's whole answer now, delivered once `release` is set."""
    answered: list[Any] = []

    def keep(status: str, headers: list[tuple[str, str]], *args: Any) -> Any:
        answered.extend((status, headers))
        return lambda _data: None

    body = app(environ, keep)
    try:
        chunks = list(body)
    finally:
        close = getattr(body, "close", None)
        if close is not None:
            close()
    release.wait(timeout=60)
    start_response(*answered)
    return chunks


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass


class LiveServer:
    def __init__(self, app: Flask) -> None:
        self.controlled = Controlled(app)
        self._server = make_server(
            "127.0.0.1", 0, self.controlled, threaded=True, request_handler=_QuietHandler
        )
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> LiveServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
