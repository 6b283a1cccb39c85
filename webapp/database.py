"""Engine-level behaviour shared by SQLite and PostgreSQL.

SQLite: foreign keys on, WAL so readers and one writer work at once, and transactions begun
by us (the pysqlite driver's own BEGIN handling breaks SAVEPOINT). A write path calls
`begin_write()` so that on SQLite it holds the write lock from its first statement
(BEGIN IMMEDIATE): concurrent writers then queue on the busy timeout instead of failing with
"database is locked" when a read transaction tries to become a write transaction.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

from webapp.extensions import db


@event.listens_for(Engine, "connect")
def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    if isinstance(dbapi_connection, sqlite3.Connection):
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves, below
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()


@event.listens_for(Engine, "begin")
def _sqlite_begin(conn: Connection) -> None:
    if conn.dialect.name == "sqlite":
        mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")


def dialect_name() -> str:
    return db.engine.dialect.name


def begin_write() -> None:
    """Start this request's write transaction (see the module docstring).

    Anything read so far (the signed-in user) was read-only; that transaction ends here.
    """
    if db.session.new or db.session.dirty or db.session.deleted:
        raise RuntimeError("begin_write() called with unflushed changes in the session")
    if db.session().in_transaction():
        db.session.commit()
    db.session.connection(execution_options={"sqlite_begin": "IMMEDIATE"})
