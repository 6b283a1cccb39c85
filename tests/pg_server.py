"""A throwaway PostgreSQL server for the test run.

PostgreSQL refuses to run as root, so when the tests run as root the server runs as the
`postgres` OS user, in a directory under /tmp that user owns. Random free port, fsync off,
removed when the run ends.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

PG_BIN_CANDIDATES = (
    "/usr/lib/postgresql/17/bin",
    "/usr/lib/postgresql/16/bin",
    "/usr/lib/postgresql/15/bin",
)


class PostgresUnavailable(RuntimeError):
    pass


def find_pg_bin() -> Path:
    explicit = os.environ.get("PG_BIN")
    candidates = ([explicit] if explicit else []) + list(PG_BIN_CANDIDATES)
    for candidate in candidates:
        if candidate and (Path(candidate) / "pg_ctl").exists():
            return Path(candidate)
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).parent
    raise PostgresUnavailable(
        "PostgreSQL server binaries (initdb, pg_ctl) not found; install Debian's 'postgresql' "
        "package or set PG_BIN"
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _as_postgres(args: list[str]) -> list[str]:
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *args]
    return args


def _run(args: list[str], **kwargs: object) -> None:
    subprocess.run(_as_postgres(args), check=True, capture_output=True, **kwargs)


@contextlib.contextmanager
def postgres_server() -> Iterator[str]:
    """Start a server, yield the URL of an empty database `nhatky_test`, stop and remove it."""
    pg_bin = find_pg_bin()
    base = Path(tempfile.mkdtemp(prefix="nhatky-pg-", dir="/tmp"))
    if os.geteuid() == 0:
        shutil.chown(base, user="postgres", group="postgres")
    data = base / "data"
    port = _free_port()
    try:
        _run(
            [
                str(pg_bin / "initdb"),
                "-D",
                str(data),
                "-A",
                "trust",
                "-U",
                "postgres",
                "--no-sync",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
            ]
        )
        options = (
            f"-p {port} -c listen_addresses=127.0.0.1 -k {base} -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        _run(
            [
                str(pg_bin / "pg_ctl"),
                "-D",
                str(data),
                "-w",
                "-l",
                str(base / "log"),
                "-o",
                options,
                "start",
            ]
        )
        try:
            _run(
                [
                    str(pg_bin / "createdb"),
                    "-h",
                    "127.0.0.1",
                    "-p",
                    str(port),
                    "-U",
                    "postgres",
                    "nhatky_test",
                ]
            )
            yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/nhatky_test"
        finally:
            _run([str(pg_bin / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"])
    finally:
        shutil.rmtree(base, ignore_errors=True)


def create_database(url: str, name: str) -> str:
    """Another empty database on the same server (for migration tests)."""
    import psycopg

    base, _, _ = url.rpartition("/")
    with psycopg.connect(url.replace("postgresql+psycopg", "postgresql"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"{base}/{name}"
