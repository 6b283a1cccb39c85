"""`flask members ...`: rosters from spreadsheets."""

from __future__ import annotations

from typing import IO

import click
from flask.cli import AppGroup

from webapp.csv_import import in_cli_language, run_cli_import
from webapp.members.services import (
    MEMBER_ALIASES,
    MEMBER_COLUMNS,
    MEMBER_OPTIONAL,
    import_members,
)

members_cli = AppGroup("members", help="Unit rosters.")


@members_cli.command("import-csv")
@click.argument("file", type=click.File("rb"))
@click.option("--dry-run", is_flag=True, help="Check the file and report, but save nothing.")
@in_cli_language
def import_csv_command(file: IO[bytes], dry_run: bool) -> None:
    """Add members from a CSV file (UTF-8) with columns
    unit,full_name,is_party_member,position,phone and optionally active (or the Vietnamese
    headers of the admin page's template: Đơn vị, Họ và tên, Đảng viên, Chức vụ, Số điện
    thoại, Đang hoạt động).

    UNIT is a division code or a name path such as “Tuyên Quang / Xã Lâm Bình / Chi bộ thôn
    Nà Va”. A member already on the roster (same unit, name and phone) is left as is. If any
    row is wrong, every problem is listed and nothing is saved.
    """
    run_cli_import(
        file,
        MEMBER_COLUMNS,
        import_members,
        dry_run=dry_run,
        optional=MEMBER_OPTIONAL,
        aliases=MEMBER_ALIASES,
    )
