"""`flask backup create DIR` / `flask backup restore DIR` (webapp/backup.py; docs/DEPLOY.md)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import click
from flask.cli import AppGroup

from webapp import backup
from webapp.extensions import db
from webapp.tallies import rebuild as tallies

backup_cli = AppGroup("backup", help="Back up the database and the photos; restore them.")


def _run(action: str, work: object) -> backup.Report:
    try:
        return work()  # type: ignore[operator]
    except backup.BackupError as exc:
        raise click.ClickException(str(exc)) from None
    except subprocess.CalledProcessError as exc:
        detail = (exc.stderr or b"").decode(errors="replace").strip()
        raise click.ClickException(f"{action} failed: {detail or exc}") from None


@backup_cli.command("create")
@click.argument("target", type=click.Path(file_okay=False, path_type=Path))
def create_command(target: Path) -> None:
    """Write the database and every photo into TARGET (photos already there are kept)."""
    report = _run("the backup", lambda: backup.create(target))
    rows = sum(report.tables.values())
    click.echo(
        f"backup in {target}: {rows:,} rows in {len(report.tables)} tables, "
        f"{report.photos_total:,} photo files ({report.photos_copied:,} new)"
    )


@backup_cli.command("restore")
@click.argument("source", type=click.Path(exists=True, file_okay=False, path_type=Path))
def restore_command(source: Path) -> None:
    """Load SOURCE into the configured (empty) database and photo store, then check it."""
    report = _run("the restore", lambda: backup.restore(source))
    drift = tallies.verify()
    db.session.rollback()
    if drift.total:
        report.problems.append(f"tallies: {drift.total} rows differ from the raw rows")
    rows = sum(report.tables.values())
    click.echo(
        f"restored from {source}: {rows:,} rows in {len(report.tables)} tables, "
        f"{report.photos_copied:,} photo files; tallies exact: {'yes' if not drift.total else 'NO'}"
    )
    for problem in report.problems:
        click.echo(f"  problem: {problem}")
    if report.problems:
        sys.exit(1)
