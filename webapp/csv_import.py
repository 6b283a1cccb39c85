"""Spreadsheet imports: reading CSV files and reporting problems row by row.

An import is all-or-nothing: services check every row, collect a `RowError` for each problem
(line number, column, reason) and raise `ImportFailed` with all of them at the end; the caller
(a command or an admin page) shows the list and rolls back. `rows_from_records` is the part
every file format shares (header, aliases, values by column); `webapp.spreadsheet_import` adds
Excel workbooks. The command-line helpers at the end run an import in one transaction and
print its outcome.
"""

from __future__ import annotations

import csv
import functools
import io
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO, ParamSpec, TypeVar

import click
from flask import current_app
from flask_babel import force_locale, ngettext
from flask_babel import gettext as _

from webapp.database import begin_write
from webapp.extensions import db
from webapp.text import fold

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


def header_key(name: str) -> str:
    """How a header cell is compared: 'Họ và tên' -> 'ho va ten', 'full_name' -> 'full name'."""
    return fold(name).replace("_", " ")


HEADER_SEARCH = 10  # a header may sit below a title: look this many non-blank rows down


class CellProblem(str):
    """A cell a reader could not turn into text (a formula without a saved value, say): an
    empty value that carries the reason, reported with its column once the header is known."""

    message: str

    def __new__(cls, message: str) -> CellProblem:
        cell = super().__new__(cls, "")
        cell.message = message
        return cell


def read_rows(
    source: IO[bytes] | bytes,
    columns: Sequence[str],
    *,
    optional: Sequence[str] = (),
    aliases: Mapping[str, str] | None = None,
) -> list[Row]:
    """The rows of a UTF-8 CSV file (with or without a byte-order mark) with these columns.

    Values are stripped; blank lines are skipped; unknown extra columns are an error so a
    misspelt header is not silently ignored. Headers are matched ignoring case and diacritics;
    `aliases` maps other headers people write ('Họ và tên') to a column ('full_name');
    `optional` columns may be left out. Raises `ImportFailed` for a file it cannot read.
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

    def records() -> Iterator[tuple[int, list[str]]]:
        line = 0
        for record in reader:
            start, line = line + 1, reader.line_num
            yield start, record

    try:
        return rows_from_records(records(), columns, optional=optional, aliases=aliases)
    except csv.Error as exc:
        raise ImportFailed([RowError(reader.line_num, None, str(exc))]) from exc


def rows_from_records(
    records: Iterable[tuple[int, Sequence[str]]],
    columns: Sequence[str],
    *,
    optional: Sequence[str] = (),
    aliases: Mapping[str, str] | None = None,
) -> list[Row]:
    """Rows from (line, cells) records of any file format: find the header, check it, and
    name every value by its column. Blank records are skipped."""
    known = {header_key(name): name for name in (*columns, *optional)}
    known.update({header_key(alias): name for alias, name in (aliases or {}).items()})
    records = iter(records)
    header_line, header = _find_header(records, columns, known)
    _check_header(header, columns, optional, header_line)
    width = len(header)
    rows: list[Row] = []
    problems = ErrorList()
    for line, record in records:
        if not any(cell.strip() for cell in record):
            continue
        used = len(record)
        while used > width and not record[used - 1].strip():
            used -= 1  # empty cells after the last column are no values
        if used > width:
            raise ImportFailed(
                [
                    RowError(
                        line,
                        None,
                        _(
                            "%(found)d values but the header has %(expected)d columns",
                            found=used,
                            expected=width,
                        ),
                    )
                ]
            )
        values: dict[str, str] = {}
        for name, cell in zip(header, record, strict=False):
            if isinstance(cell, CellProblem):
                problems.add(line, name or None, cell.message)
            if name:
                values[name] = cell.strip()
            elif cell.strip():
                problems.add(line, None, _("a value in a column without a header"))
        rows.append(Row(line, values))
    problems.raise_if_any()
    return rows


def _find_header(
    records: Iterator[tuple[int, Sequence[str]]], columns: Sequence[str], known: Mapping[str, str]
) -> tuple[int, list[str]]:
    """The first record that names every required column, within the first few non-blank
    ones; else the first non-blank record (so its problems are the ones reported)."""
    first: tuple[int, list[str]] | None = None
    for _index, (line, record) in zip(range(HEADER_SEARCH), _non_blank(records), strict=False):
        header = [_column_name(cell, known) for cell in record]
        if first is None:
            first = (line, header)
        if all(name in header for name in columns):
            return line, header
    if first is None:
        raise ImportFailed([RowError(1, None, _("the file is empty"))])
    return first


def _non_blank(
    records: Iterator[tuple[int, Sequence[str]]],
) -> Iterator[tuple[int, Sequence[str]]]:
    for line, record in records:
        if any(cell.strip() for cell in record):
            yield line, record


def _column_name(cell: str, known: Mapping[str, str]) -> str:
    """The column a header cell names; an unknown one as written (lower case) for the report."""
    return known.get(header_key(cell), cell.strip().lower())


def _check_header(
    header: Sequence[str],
    columns: Sequence[str],
    optional: Sequence[str],
    line: int,
) -> None:
    allowed = (*columns, *optional)
    missing = [name for name in columns if name not in header]
    unknown = [name for name in header if name and name not in allowed]
    twice = sorted({name for name in header if name and header.count(name) > 1})
    errors = []
    if missing:
        errors.append(
            RowError(
                line,
                None,
                _(
                    "missing columns: %(names)s; expected: %(expected)s",
                    names=", ".join(missing),
                    expected=",".join(allowed),
                ),
            )
        )
    if unknown:
        errors.append(
            RowError(
                line,
                None,
                _(
                    "unknown columns: %(names)s; expected: %(expected)s",
                    names=", ".join(unknown),
                    expected=",".join(allowed),
                ),
            )
        )
    if twice:
        errors.append(
            RowError(
                line,
                None,
                _("columns given twice: %(names)s", names=", ".join(twice)),
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
    optional: Sequence[str] = (),
    aliases: Mapping[str, str] | None = None,
) -> ImportCounts:
    """Read, import, commit once (or roll back on any problem) and print the counts."""
    try:
        rows = read_rows(source, columns, optional=optional, aliases=aliases)
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
