"""`flask tallies verify|rebuild`: the rollup checked against, and rebuilt from, raw rows;
`flask tallies import-targets`: targets from a spreadsheet."""

from __future__ import annotations

import functools
import sys
import time
from typing import IO

import click
from flask.cli import AppGroup
from flask_babel import gettext as _

from webapp.csv_import import in_cli_language, run_cli_import
from webapp.database import begin_write
from webapp.extensions import db
from webapp.tallies import rebuild as recompute
from webapp.tallies.targets_import import TARGET_COLUMNS, import_targets
from webapp.users.services import find_by_username

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


@tallies_cli.command("import-targets")
@click.argument("file", type=click.File("rb"))
@click.option("--dry-run", is_flag=True, help="Check the file and report, but save nothing.")
@click.option("--as", "username", required=True, help="the administrator importing the file")
@in_cli_language
def import_targets_command(file: IO[bytes], dry_run: bool, username: str) -> None:
    """Set targets from a CSV file (UTF-8) with columns indicator,unit,year,value.

    INDICATOR is an indicator's code; UNIT a division code or a name path such as “Tuyên Quang /
    Xã Lâm Bình”; VALUE a plain number (a percentage for share indicators). Only units inside
    the --as administrator's scope are accepted. A target that already has the value is left as
    is. If any row is wrong, every problem is listed and nothing is saved.
    """
    actor = find_by_username(username)
    if actor is None or not actor.active or not actor.has_role("admin"):
        raise click.ClickException(
            _("“%(username)s” is not an active administrator account.", username=username)
        )
    importer = functools.partial(import_targets, actor=actor)
    run_cli_import(file, TARGET_COLUMNS, importer, dry_run=dry_run)
