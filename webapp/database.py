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

from flask import g, has_request_context
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

    Anything read so far was read-only; that transaction ends here, and what it read is
    expired (a row read before must be read again under the write lock) — except the signed-in
    user and their scope unit, which the request was authorised with at its start: reading
    them again would cost two queries on every write and decide nothing new.
    """
    session = db.session()
    if session.new or session.dirty or session.deleted:
        raise RuntimeError("begin_write() called with unflushed changes in the session")
    if session.in_transaction():
        user = g.get("_login_user") if has_request_context() else None
        keep = {id(user), id(user.__dict__.get("scope_unit"))} if user is not None else set()
        session.expire_on_commit = False
        try:
            session.commit()
        finally:
            session.expire_on_commit = True
        for obj in list(session.identity_map.values()):
            if id(obj) not in keep:
                session.expire(obj)
    session.connection(execution_options={"sqlite_begin": "IMMEDIATE"})
