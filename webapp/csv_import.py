"""Spreadsheet imports: reading CSV files and reporting problems row by row.

An import is all-or-nothing: services check every row, collect a `RowError` for each problem
(line number, column, reason) and raise `ImportFailed` with all of them at the end; the caller
(a command or, later, an admin page) shows the list and rolls back. The command-line helpers
at the end run an import in one transaction and print its outcome.
"""

from __future__ import annotations

import csv
import functools
import io
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import IO, ParamSpec, TypeVar

import click
from flask import current_app
from flask_babel import force_locale, ngettext
from flask_babel import gettext as _

from webapp.database import begin_write
from webapp.extensions import db

P = ParamSpec("P")
R = TypeVar("R")

TRUE_WORDS = frozenset({"1", "yes", "y", "true", "có", "co"})
FALSE_WORDS = frozenset({"0", "no", "n", "false", "không", "khong"})


@dataclass(frozen=True)
class RowError:
    """One problem in one cell of the file; `line` counts the header as line 1."""

    line: int
    column: str | None
    message: str

    def __str__(self) -> str:
        if self.column:
            return _(
                "line %(line)d, column %(column)s: %(message)s",
                line=self.line,
                column=self.column,
                message=self.message,
            )
        return _("line %(line)d: %(message)s", line=self.line, message=self.message)


class ImportFailed(Exception):
    """At least one row is wrong; nothing should be kept."""

    def __init__(self, errors: Sequence[RowError]) -> None:
        super().__init__(f"{len(errors)} row error(s)")
        self.errors = list(errors)


@dataclass
class Row:
    line: int
    values: dict[str, str]

    def __getitem__(self, column: str) -> str:
        return self.values.get(column, "")


@dataclass
class ImportCounts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0

    @property
    def total(self) -> int:
        return self.created + self.updated + self.unchanged


@dataclass
class ErrorList:
    """Collects row errors while an import checks its rows."""

    errors: list[RowError] = field(default_factory=list)

    def add(self, line: int, column: str | None, message: str) -> None:
        self.errors.append(RowError(line, column, message))

    def raise_if_any(self) -> None:
        if self.errors:
            raise ImportFailed(sorted(self.errors, key=lambda e: e.line))

    def __bool__(self) -> bool:
        return bool(self.errors)


def read_rows(source: IO[bytes] | bytes, columns: Sequence[str]) -> list[Row]:
    """The rows of a UTF-8 CSV file (with or without a byte-order mark) with these columns.

    Values are stripped; blank lines are skipped; unknown extra columns are an error so a
    misspelt header is not silently ignored. Raises `ImportFailed` for a file it cannot read.
    """
    raw = source if isinstance(source, bytes) else source.read()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ImportFailed(
            [
                RowError(
                    line,
                    None,
                    _("the file is not UTF-8 text; save it from the spreadsheet as “CSV UTF-8”"),
                )
            ]
        ) from exc
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [name.strip().lower() for name in next(reader)]
    except StopIteration:
        raise ImportFailed([RowError(1, None, _("the file is empty"))]) from None
    _check_header(header, columns)
    rows: list[Row] = []
    line = reader.line_num
    try:
        for record in reader:
            start, line = line + 1, reader.line_num
            if not any(cell.strip() for cell in record):
                continue
            if len(record) > len(header):
                raise ImportFailed(
                    [
                        RowError(
                            start,
                            None,
                            _(
                                "%(found)d values but the header has %(expected)d columns",
                                found=len(record),
                                expected=len(header),
                            ),
                        )
                    ]
                )
            values = {name: cell.strip() for name, cell in zip(header, record, strict=False)}
            rows.append(Row(start, values))
    except csv.Error as exc:
        raise ImportFailed([RowError(reader.line_num, None, str(exc))]) from exc
    return rows


def _check_header(header: Sequence[str], columns: Sequence[str]) -> None:
    missing = [name for name in columns if name not in header]
    unknown = [name for name in header if name not in columns]
    errors = []
    if missing:
        errors.append(
            RowError(
                1,
                None,
                _(
                    "missing columns: %(names)s; expected: %(expected)s",
                    names=", ".join(missing),
                    expected=",".join(columns),
                ),
            )
        )
    if unknown:
        errors.append(
            RowError(
                1,
                None,
                _(
                    "unknown columns: %(names)s; expected: %(expected)s",
                    names=", ".join(unknown),
                    expected=",".join(columns),
                ),
            )
        )
    if errors:
        raise ImportFailed(errors)


def parse_bool(value: str) -> bool | None:
    """1/0, yes/no, có/không, true/false (any case); None if it is none of those."""
    word = value.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    return None


def cli_language() -> str:
    """The language for command-line messages: the shell's locale if we speak it, else default.

    LC_ALL, LC_MESSAGES, LANG as POSIX tools read them ('en_US.UTF-8' -> 'en').
    """
    languages = current_app.config["LANGUAGES"]
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(name, "")
        if value:
            language = value.split(".")[0].split("_")[0].lower()
            if language in languages:
                return language
            break
    return str(current_app.config["BABEL_DEFAULT_LOCALE"])


def in_cli_language(command: Callable[P, R]) -> Callable[P, R]:
    """Run a command with gettext set to `cli_language()`; there is no request to choose one."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with force_locale(cli_language()):
            return command(*args, **kwargs)

    return wrapper


def run_cli_import(
    source: IO[bytes],
    columns: Sequence[str],
    importer: Callable[[list[Row]], ImportCounts],
    *,
    dry_run: bool = False,
) -> ImportCounts:
    """Read, import, commit once (or roll back on any problem) and print the counts."""
    try:
        rows = read_rows(source, columns)
        begin_write()
        counts = importer(rows)
    except ImportFailed as exc:
        db.session.rollback()
        for error in exc.errors:
            click.echo(str(error), err=True)
        raise click.ClickException(
            ngettext(
                "%(num)d problem found; nothing was imported.",
                "%(num)d problems found; nothing was imported.",
                len(exc.errors),
            )
        ) from None
    except BaseException:
        db.session.rollback()
        raise
    if dry_run:
        db.session.rollback()
        click.echo(_("Dry run: nothing was saved."))
    else:
        db.session.commit()
    echo_counts(counts)
    return counts


def echo_counts(counts: ImportCounts) -> None:
    click.echo(
        _(
            "created: %(created)d, updated: %(updated)d, unchanged: %(unchanged)d",
            created=counts.created,
            updated=counts.updated,
            unchanged=counts.unchanged,
        )
    )
