"""Backups that restore: the database and the photo store into one folder, and back.

`flask backup create DIR` writes
- `database.dump` (PostgreSQL: `pg_dump --format=custom`, a consistent snapshot taken while the
  app runs) or `database.sqlite3` (SQLite's online backup API);
- `photos/<key>` for every object of the photo store (folder or S3 bucket). Keys are
  content-addressed, so a key already in DIR is not copied again: running `create` into the
  same folder every night only copies the new photos;
- `manifest.json`: when, the schema revision, the rows per table, the photo keys and sizes.

`flask backup restore DIR` loads them into an *empty* database and photo store (the ones the
configuration names), then checks: rows per table equal to the manifest, the tallies exact
(`verify`), every photo a row names readable. It refuses to restore over existing data.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flask import current_app
from sqlalchemy import func, inspect, select, text

from webapp.extensions import db
from webapp.models import Base, Photo
from webapp.photos.storage import ObjectNotFound, PhotoStorage, storage_from_config

MANIFEST = "manifest.json"
PG_DUMP_FILE = "database.dump"
SQLITE_FILE = "database.sqlite3"
PHOTO_DIR = "photos"


class BackupError(RuntimeError):
    """The backup or the restore cannot go on; the message says why."""


@dataclass
class Report:
    tables: dict[str, int] = field(default_factory=dict)
    photos_copied: int = 0
    photos_total: int = 0
    problems: list[str] = field(default_factory=list)


def _pg_tool(name: str) -> str:
    """pg_dump / pg_restore: PG_BIN if set, else the newest server's, else the PATH's."""
    explicit = os.environ.get("PG_BIN")
    candidates = [Path(explicit) / name] if explicit else []
    candidates += sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), reverse=True)
    for candidate in candidates:
        if candidate.exists():
            return str(candidate)
    found = shutil.which(name)
    if not found:
        raise BackupError(f"{name} not found (install postgresql-client or set PG_BIN)")
    return found


def _libpq_url() -> str:
    """The database URL as libpq tools take it (no SQLAlchemy driver suffix)."""
    url = db.engine.url
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def table_counts() -> dict[str, int]:
    counts = {}
    for table in Base.metadata.sorted_tables:
        counts[table.name] = db.session.scalar(select(func.count()).select_from(table)) or 0
    return counts


def _schema_revision() -> str | None:
    if not inspect(db.engine).has_table("alembic_version"):
        return None
    return db.session.scalar(text("SELECT version_num FROM alembic_version"))


def create(target: Path) -> Report:
    target.mkdir(parents=True, exist_ok=True)
    report = Report()
    started = datetime.now(UTC)
    dialect = db.engine.dialect.name
    db.session.rollback()
    if dialect == "postgresql":
        temp = target / (PG_DUMP_FILE + ".part")
        subprocess.run(  # noqa: S603 (our own arguments)
            [_pg_tool("pg_dump"), "--format=custom", "--no-owner", "--file", str(temp),
             "--dbname", _libpq_url()],
            check=True, capture_output=True,
        )  # fmt: skip
        temp.replace(target / PG_DUMP_FILE)
    else:
        source = db.engine.url.database
        if not source:
            raise BackupError("an in-memory SQLite database cannot be backed up")
        temp = target / (SQLITE_FILE + ".part")
        with sqlite3.connect(source) as live, sqlite3.connect(temp) as copy:
            live.backup(copy)
        copy.close()
        temp.replace(target / SQLITE_FILE)
    # Counted after the snapshot: photos written meanwhile are in the store but not in the
    # dump, which is harmless (an unreferenced object); the reverse cannot happen.
    report.tables = table_counts()
    store = storage_from_config(current_app.config)
    photos = target / PHOTO_DIR
    sizes: dict[str, int] = {}
    for key in store.list_keys():
        path = photos.joinpath(*key.split("/"))
        if not path.exists():
            data = store.get(key)
            path.parent.mkdir(parents=True, exist_ok=True)
            part = path.with_name(path.name + ".part")
            part.write_bytes(data)
            part.replace(path)
            report.photos_copied += 1
        sizes[key] = path.stat().st_size
    report.photos_total = len(sizes)
    manifest = {
        "format": "nhatky-coso/backup",
        "version": 1,
        "started_at": started.isoformat(),
        "finished_at": datetime.now(UTC).isoformat(),
        "database": dialect,
        "schema_revision": _schema_revision(),
        "tables": report.tables,
        "photos": sizes,
    }
    (target / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True))
    return report


def _read_manifest(source: Path) -> dict[str, Any]:
    try:
        manifest: dict[str, Any] = json.loads((source / MANIFEST).read_text())
    except (OSError, ValueError) as exc:
        raise BackupError(f"{source} holds no readable {MANIFEST}: {exc}") from exc
    if manifest.get("format") != "nhatky-coso/backup":
        raise BackupError(f"{source / MANIFEST} is not a backup of this app")
    return manifest


def _database_is_empty() -> bool:
    tables = set(inspect(db.engine).get_table_names())
    if not tables - {"alembic_version"}:
        return True
    return all(count == 0 for count in table_counts().values())


def restore(source: Path) -> Report:
    manifest = _read_manifest(source)
    dialect = db.engine.dialect.name
    if manifest["database"] != dialect:
        raise BackupError(f"a {manifest['database']} backup cannot go into {dialect}")
    if not _database_is_empty():
        raise BackupError("the database is not empty: restore only into a new, empty one")
    store = storage_from_config(current_app.config)
    if store.list_keys():
        raise BackupError("the photo store is not empty: restore only into a new, empty one")
    db.session.rollback()
    if dialect == "postgresql":
        db.engine.dispose()
        subprocess.run(  # noqa: S603 (our own arguments)
            [_pg_tool("pg_restore"), "--no-owner", "--exit-on-error", "--clean", "--if-exists",
             "--dbname", _libpq_url(), str(source / PG_DUMP_FILE)],
            check=True, capture_output=True,
        )  # fmt: skip
    else:
        target = db.engine.url.database
        if not target:
            raise BackupError("cannot restore into an in-memory SQLite database")
        db.engine.dispose()
        with sqlite3.connect(source / SQLITE_FILE) as copy, sqlite3.connect(target) as live:
            copy.backup(live)
        live.close()
    report = Report()
    for key in manifest["photos"]:
        path = (source / PHOTO_DIR).joinpath(*key.split("/"))
        store.put(key, path.read_bytes(), "image/jpeg")
        report.photos_copied += 1
    report.photos_total = len(manifest["photos"])
    report.tables = table_counts()
    for table, expected in manifest["tables"].items():
        if report.tables.get(table) != expected:
            report.problems.append(
                f"{table}: {report.tables.get(table)} rows, backup had {expected}"
            )
    report.problems.extend(unreadable_photos(store))
    return report


def unreadable_photos(store: PhotoStorage) -> list[str]:
    """Every photo a row names, read back from the store; what failed."""
    problems = []
    for photo_id, display, thumb in db.session.execute(
        select(Photo.id, Photo.display_key, Photo.thumb_key)
    ):
        for key in (display, thumb):
            try:
                if not store.get(key).startswith(b"\xff\xd8"):
                    problems.append(f"photo {photo_id}: {key} is not a JPEG")
            except ObjectNotFound:
                problems.append(f"photo {photo_id}: {key} missing")
    return problems
