"""`flask tallies verify|rebuild`: the rollup checked against, and rebuilt from, raw rows."""

from __future__ import annotations

import sys
import time

import click
from flask.cli import AppGroup

from webapp.database import begin_write
from webapp.extensions import db
from webapp.tallies import rebuild as recompute

tallies_cli = AppGroup("tallies", help="Check and repair the monthly tallies.")


@tallies_cli.command("verify")
def verify() -> None:
    """Recompute every tally from raw rows; exit 1 on any difference."""
    started = time.perf_counter()
    drift = recompute.verify()
    db.session.rollback()
    elapsed = time.perf_counter() - started
    if not drift.total:
        click.echo(f"tallies: no drift ({elapsed:.1f} s)")
        return
    for table, key, expected, stored in drift.samples:
        click.echo(f"  {table} {key}: expected {expected}, stored {stored}")
    summary = ", ".join(f"{table}: {n}" for table, n in drift.counts.items())
    click.echo(f"tallies: DRIFT in {drift.total} rows ({summary}); run `flask tallies rebuild`")
    sys.exit(1)


@tallies_cli.command("rebuild")
def rebuild() -> None:
    """Replace the tallies by what the raw rows say."""
    started = time.perf_counter()
    begin_write()
    counts = recompute.rebuild()
    db.session.commit()
    rows = ", ".join(f"{table}: {n}" for table, n in counts.items())
    click.echo(f"tallies rebuilt in {time.perf_counter() - started:.1f} s ({rows})")
