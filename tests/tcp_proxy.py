"""A TCP relay between the app and a real server, that a test can cut: the app meets real
network failures (refused or reset connections), not a mocked client.

    with TcpProxy("127.0.0.1", s3_port) as proxy:   # point the app at proxy.port
        proxy.cut()        # new connections are reset at once, open ones are dropped
        proxy.restore()
        proxy.cut_after(1) # the next connection works, the ones after it are reset
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from typing import Any


class TcpProxy:
    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._allowed: int | None = None  # connections still let through; None: all
        self._open: set[socket.socket] = set()
        self._closing = False
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self.connections = 0

    def __enter__(self) -> TcpProxy:
        self._thread.start()
        return self

    def __exit__(self, *_exc: Any) -> None:
        self._closing = True
        self._thread.join(timeout=5)
        self._listener.close()
        self._drop_open()

    def cut(self) -> None:
        self.cut_after(0)

    def cut_after(self, connections: int) -> None:
        with self._lock:
            self._allowed = connections
        if connections == 0:
            self._drop_open()

    def restore(self) -> None:
        with self._lock:
            self._allowed = None

    def _drop_open(self) -> None:
        with self._lock:
            sockets = list(self._open)
            self._open.clear()
        for sock in sockets:
            _reset(sock)

    def _accept(self) -> None:
        self._listener.settimeout(0.1)  # so that closing is noticed promptly
        while not self._closing:
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            client.settimeout(None)
            with self._lock:
                self.connections += 1
                allowed = self._allowed is None or self._allowed > 0
                if self._allowed is not None and self._allowed > 0:
                    self._allowed -= 1
            if not allowed:
                _reset(client)
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                _reset(client)
                continue
            with self._lock:
                self._open.update((client, upstream))
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                sink.shutdown(socket.SHUT_WR)


def _reset(sock: socket.socket) -> None:
    """Close with RST (SO_LINGER 0): the other side sees 'connection reset'."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        sock.close()
