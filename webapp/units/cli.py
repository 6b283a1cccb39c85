"""`flask units ...`: build the unit tree from the official divisions or a spreadsheet."""

from __future__ import annotations

from typing import IO

import click
from flask.cli import AppGroup
from flask_babel import gettext as _

from webapp.csv_import import echo_counts, in_cli_language, run_cli_import
from webapp.database import begin_write
from webapp.extensions import db
from webapp.units.divisions import UnknownProvince, find_province, import_divisions
from webapp.units.services import UNIT_COLUMNS, import_units, unit_label

units_cli = AppGroup("units", help="The organisation tree.")


@units_cli.command("import-divisions")
@click.option(
    "--province",
    "province_name",
    metavar="NAME",
    help="Province name, e.g. “Tuyên Quang” (diacritics and “Tỉnh” optional).",
)
@click.option("--code", "province_code", metavar="NN", help="Official province code, e.g. 08.")
@in_cli_language
def import_divisions_command(province_name: str | None, province_code: str | None) -> None:
    """Create a province and its communes and wards from the official list.

    Running it again changes nothing except names that were officially changed.
    """
    if not province_name and not province_code:
        raise click.UsageError(_("Give --province NAME or --code NN."))
    try:
        province = find_province(name=province_name, code=province_code)
    except UnknownProvince as exc:
        raise click.ClickException(exc.message()) from None
    try:
        begin_write()
        root, counts = import_divisions(province)
        label = unit_label(root)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    click.echo(_("%(province)s (code %(code)s):", province=label, code=root.division_code))
    echo_counts(counts)


@units_cli.command("import-csv")
@click.argument("file", type=click.File("rb"))
@click.option("--dry-run", is_flag=True, help="Check the file and report, but save nothing.")
@in_cli_language
def import_csv_command(file: IO[bytes], dry_run: bool) -> None:
    """Create units from a CSV file (UTF-8) with columns name,kind,parent,division_code.

    PARENT is a division code or a name path such as “Tuyên Quang / Xã Lâm Bình”; it may name
    a unit from an earlier row. If any row is wrong, every problem is listed and nothing is saved.
    """
    run_cli_import(file, UNIT_COLUMNS, import_units, dry_run=dry_run)
