"""Reading an uploaded spreadsheet: an Excel workbook (.xlsx) or a CSV file.

The kind of file is told from its content, never from its name: a workbook is a ZIP archive
holding `xl/workbook.xml`; anything else must be UTF-8 text. The name only picks the clearer
message when a file is not what it claims to be. Workbooks are read with openpyxl in
read-only mode, the first sheet only; a header may sit below a title row (as in our exports).
Cells that are not text (numbers, dates, booleans, formulas) become the text a person would
type; a formula gives its saved value.
"""

from __future__ import annotations

import io
import warnings
import zipfile
from collections.abc import Mapping, Sequence
from datetime import date, datetime, time
from itertools import zip_longest
from typing import Any
from xml.etree.ElementTree import ParseError

from flask_babel import gettext as _
from openpyxl import load_workbook
from openpyxl.utils.exceptions import InvalidFileException

from webapp.csv_import import CellProblem, Row, read_rows, rows_from_records

XLSX = "xlsx"
CSV = "csv"
MAX_UPLOAD_BYTES = 2 * 1024 * 1024
MAX_LINES = 20_000  # rows a sheet or file may have, blank ones included
_MAX_UNPACKED_BYTES = 64 * 1024 * 1024  # a 2 MB workbook never holds more: a zip bomb does
_MAX_ZIP_ENTRIES = 2_000
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # .xls, and workbooks with a password
_ZIP_MAGIC = b"PK\x03\x04"


class NotASpreadsheet(ValueError):
    """The file as a whole cannot be read; `message` says why, in the user's language."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def read_table(
    data: bytes,
    filename: str,
    columns: Sequence[str],
    *,
    optional: Sequence[str] = (),
    aliases: Mapping[str, str] | None = None,
) -> tuple[str, list[Row]]:
    """(XLSX or CSV, the rows) of an uploaded file.

    Raises `NotASpreadsheet` for a file that is not a readable workbook or text, and
    `ImportFailed` for problems in its header or cells (with their lines).
    """
    if len(data) > MAX_UPLOAD_BYTES:
        raise NotASpreadsheet(
            _("The file is larger than %(size)s MB.", size=MAX_UPLOAD_BYTES // (1024 * 1024))
        )
    kind = sniff(data, filename)
    if kind == XLSX:
        rows = rows_from_records(_xlsx_records(data), columns, optional=optional, aliases=aliases)
    else:
        if data.count(b"\n") > MAX_LINES:
            raise _too_long()
        rows = read_rows(data, columns, optional=optional, aliases=aliases)
    return kind, rows


def sniff(data: bytes, filename: str = "") -> str:
    """XLSX or CSV, from the bytes; `NotASpreadsheet` for anything else."""
    name = filename.lower()
    if not data:
        raise NotASpreadsheet(_("The file is empty."))
    if data.startswith(_ZIP_MAGIC):
        if _is_workbook(data):
            return XLSX
        raise NotASpreadsheet(
            _(
                "The file is a ZIP archive but not an Excel workbook. Save it from the "
                "spreadsheet as “Excel Workbook (.xlsx)” or “CSV UTF-8”."
            )
        )
    if data.startswith(_OLE_MAGIC):
        raise NotASpreadsheet(
            _(
                "This is an old Excel file (.xls) or a workbook with a password. Save it from "
                "the spreadsheet as “Excel Workbook (.xlsx)” without a password, or as "
                "“CSV UTF-8”."
            )
        )
    if name.endswith((".xlsx", ".xlsm", ".xls", ".ods")):
        raise NotASpreadsheet(
            _(
                "“%(name)s” is not an Excel workbook: its content is something else, whatever "
                "its name says. Save it from the spreadsheet as “Excel Workbook (.xlsx)” or "
                "“CSV UTF-8”.",
                name=filename,
            )
        )
    if b"\x00" in data[:8192]:
        raise NotASpreadsheet(
            _("The file is not a spreadsheet. Upload an Excel workbook (.xlsx) or a CSV file.")
        )
    return CSV


def _is_workbook(data: bytes) -> bool:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            entries = archive.infolist()
    except (zipfile.BadZipFile, ValueError, OSError):
        return False
    if len(entries) > _MAX_ZIP_ENTRIES or sum(e.file_size for e in entries) > _MAX_UNPACKED_BYTES:
        return False
    return any(entry.filename == "xl/workbook.xml" for entry in entries)


def _too_long() -> NotASpreadsheet:
    return NotASpreadsheet(
        _("The file has more than %(max)d rows; split it into smaller files.", max=MAX_LINES)
    )


def _xlsx_records(data: bytes) -> list[tuple[int, list[str]]]:
    """(sheet row number, cell texts) of the first sheet.

    Two read-only passes walk the sheet in step: one gives the saved values, the other tells
    which cells hold formulas (a formula nobody calculated has no saved value).
    """
    records: list[tuple[int, list[str]]] = []
    books = []
    try:
        with warnings.catch_warnings():
            # openpyxl warns about workbook features it skips (styles, extensions): harmless.
            warnings.simplefilter("ignore")
            for data_only in (True, False):
                books.append(load_workbook(io.BytesIO(data), read_only=True, data_only=data_only))
            values_book, formulas_book = books
            if not values_book.worksheets:
                raise NotASpreadsheet(_("The workbook has no sheet."))
            values, formulas = values_book.worksheets[0], formulas_book.worksheets[0]
            values.reset_dimensions()  # some programs write a wrong size; read every cell
            formulas.reset_dimensions()
            pairs = zip_longest(values.iter_rows(), formulas.iter_rows(), fillvalue=())
            for line, (value_row, formula_row) in enumerate(pairs, start=1):
                if line > MAX_LINES:
                    raise _too_long()
                records.append((line, _row_texts(value_row, formula_row)))
    # A damaged workbook fails deep inside openpyxl or zipfile with any of these.
    except (
        InvalidFileException,
        zipfile.BadZipFile,
        ParseError,
        KeyError,
        ValueError,
        TypeError,
        IndexError,
        EOFError,
        OSError,
    ) as exc:
        if isinstance(exc, NotASpreadsheet):
            raise
        raise NotASpreadsheet(
            _(
                "The workbook could not be read. Open it in the spreadsheet, save it again as "
                "“Excel Workbook (.xlsx)” and upload it again."
            )
        ) from exc
    finally:
        for book in books:
            book.close()
    return records


def _row_texts(value_row: Sequence[Any], formula_row: Sequence[Any]) -> list[str]:
    texts: list[str] = []
    for index in range(max(len(value_row), len(formula_row))):
        value = value_row[index].value if index < len(value_row) else None
        is_formula = index < len(formula_row) and formula_row[index].data_type == "f"
        if is_formula and value is None:
            texts.append(
                CellProblem(
                    _(
                        "the cell holds a formula without a saved value; open the file in the "
                        "spreadsheet and save it again, or paste the values instead"
                    )
                )
            )
        else:
            texts.append(cell_text(value))
    return texts


def cell_text(value: Any) -> str:
    """A cell's value as the text a person would have typed: 912345678.0 -> '912345678'."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return format(value, ".15g")
    if isinstance(value, datetime):
        if value.time() == time(0):
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, date | time):
        return value.isoformat()
    return str(value)
