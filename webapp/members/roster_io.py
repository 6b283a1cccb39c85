"""Roster files: importing a spreadsheet with a preview, exporting, and the blank template.

An upload is checked and imported inside a transaction the preview rolls back, so the preview
shows exactly what "Apply" will do; "Apply" runs the same import again and the view commits.
Between the two the file travels with the page (compressed, in hidden fields, with a signed
token binding it to the user and its checksum for an hour): no process memory and no local
disk, so any worker on any machine can take the second request (DESIGN.md §8).
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import re
import tempfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date

from flask import Response, current_app, send_file, stream_with_context
from flask_babel import gettext as _
from itsdangerous import BadSignature, URLSafeTimedSerializer
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation
from sqlalchemy import Select, select
from sqlalchemy.orm import contains_eager

from webapp.csv_import import ImportCounts, ImportFailed, RowError
from webapp.database import begin_write
from webapp.extensions import db
from webapp.i18n import fmt_date
from webapp.members.roster import RosterFilters, filtered, unit_names
from webapp.members.services import (
    MEMBER_ALIASES,
    MEMBER_COLUMNS,
    MEMBER_HEADERS_VI,
    MEMBER_OPTIONAL,
    RowOutcome,
    import_members,
)
from webapp.models import Member, Unit, User
from webapp.spreadsheet_import import MAX_UPLOAD_BYTES, NotASpreadsheet, read_table
from webapp.text import fold
from webapp.units.services import PATH_SEPARATOR

XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_MIMETYPE = "text/csv; charset=utf-8"
FILE_COLUMNS = (*MEMBER_COLUMNS, *MEMBER_OPTIONAL)
UPLOAD_MAX_AGE = 3600  # seconds between the preview and "Apply"
_CHUNK = 256 * 1024  # a hidden field's share of the file: each stays under the form limit
_SALT = "members.import"
_WIDTHS = {"unit": 48, "full_name": 28, "is_party_member": 11, "position": 30, "phone": 15}
_SPOOL_BYTES = 2 * 1024 * 1024
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_YES, _NO = "có", "không"


# -- import -----------------------------------------------------------------------------------


@dataclass
class ImportReport:
    """What an upload would do (preview) or did (apply)."""

    kind: str | None = None
    outcomes: list[RowOutcome] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    problem: str | None = None  # the file as a whole could not be read
    counts: ImportCounts = field(default_factory=ImportCounts)
    unit_names: dict[int, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.problem is None and not self.errors

    def rows(self, outcome: str) -> list[RowOutcome]:
        return [o for o in self.outcomes if o.outcome == outcome]


def run_import(user: User, data: bytes, filename: str, default_unit: Unit | None) -> ImportReport:
    """Read and import the file in a write transaction; the caller commits or rolls back.

    Units must lie in the user's scope (they may be named by their path below it).
    """
    report = ImportReport()
    try:
        report.kind, rows = read_table(
            data, filename, MEMBER_COLUMNS, optional=MEMBER_OPTIONAL, aliases=MEMBER_ALIASES
        )
    except NotASpreadsheet as exc:
        report.problem = exc.message
        return report
    except ImportFailed as exc:
        report.errors = exc.errors
        return report
    within = user.scope_unit
    begin_write()
    try:
        report.counts = import_members(
            rows,
            within=within,
            default_unit=default_unit,
            actor_id=user.id,
            outcomes=report.outcomes,
        )
    except ImportFailed as exc:
        report.errors = exc.errors
    report.unit_names = unit_names(within, {o.unit_id for o in report.outcomes})
    return report


@dataclass(frozen=True)
class Upload:
    data: bytes
    filename: str
    default_unit_id: int | None


def pack_upload(user: User, upload: Upload) -> tuple[list[str], str]:
    """(hidden-field chunks of the file, a signed token binding them to the user)."""
    encoded = base64.b64encode(zlib.compress(upload.data, 6)).decode("ascii")
    chunks = [encoded[i : i + _CHUNK] for i in range(0, len(encoded), _CHUNK)] or [""]
    token = _serializer().dumps(
        {
            "u": user.id,
            "h": hashlib.sha256(upload.data).hexdigest(),
            "n": upload.filename,
            "d": upload.default_unit_id,
        }
    )
    return chunks, token


def unpack_upload(user: User, chunks: list[str], token: str) -> Upload | None:
    """The upload the preview showed, or None if the token is not this user's, has expired,
    or the content is not what was signed."""
    try:
        claims = _serializer().loads(token, max_age=UPLOAD_MAX_AGE)
    except BadSignature:
        return None
    if not isinstance(claims, dict) or claims.get("u") != user.id:
        return None
    try:
        compressed = base64.b64decode("".join(chunks), validate=True)
        inflater = zlib.decompressobj()
        data = inflater.decompress(compressed, MAX_UPLOAD_BYTES + 1)
    except (ValueError, zlib.error):
        return None
    if len(data) > MAX_UPLOAD_BYTES or inflater.unconsumed_tail:
        return None
    if hashlib.sha256(data).hexdigest() != claims.get("h"):
        return None
    default = claims.get("d")
    return Upload(data, str(claims.get("n") or ""), default if isinstance(default, int) else None)


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key or "", salt=_SALT)


# -- export -----------------------------------------------------------------------------------


def _export_query(user: User, unit: Unit, filters: RosterFilters) -> Select[tuple[Member]]:
    return filtered(user, unit, filters).options(contains_eager(Member.unit))


class _Labels:
    """Full name paths of units ('Tuyên Quang / Xã Lâm Bình / Chi bộ …'), read as needed."""

    def __init__(self) -> None:
        self._names: dict[int, str] = {}
        self._labels: dict[int, str] = {}

    def __call__(self, unit: Unit) -> str:
        label = self._labels.get(unit.id)
        if label is None:
            ids = unit.ancestor_ids
            missing = [i for i in ids if i not in self._names]
            if missing:
                rows = db.session.execute(select(Unit.id, Unit.name).where(Unit.id.in_(missing)))
                self._names.update(dict(rows.all()))
            label = PATH_SEPARATOR.join(self._names[i] for i in ids if i in self._names)
            self._labels[unit.id] = label
        return label


def _member_values(member: Member, label: _Labels) -> list[str]:
    return [
        label(member.unit),
        member.full_name,
        _YES if member.is_party_member else _NO,
        member.position or "",
        member.phone or "",
        _YES if member.active else _NO,
    ]


def _title(unit: Unit) -> str:
    return _("Roster of party and association members") + " — " + _Labels()(unit)


def _subtitle(filters: RosterFilters) -> str:
    parts = [_("Exported on %(date)s", date=fmt_date(date.today()))]
    parts.append(
        {"active": _("Active members"), "inactive": _("Inactive members")}.get(
            filters.status, _("Active and inactive members")
        )
    )
    if filters.party:
        parts.append(_("Party members only") if filters.party == "yes" else _("Not party members"))
    if filters.q:
        parts.append(_("Name contains “%(q)s”", q=filters.q))
    return " · ".join(parts)


def export_xlsx(user: User, unit: Unit, filters: RosterFilters) -> Response:
    """The filtered roster as a workbook: title, filters, Vietnamese headers, frozen header."""
    spool = tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES)  # noqa: SIM115 (closed by the response)
    try:
        workbook = Workbook(write_only=True)
        sheet = workbook.create_sheet(_("Roster")[:31])
        sheet.freeze_panes = "A4"
        for index, column in enumerate(FILE_COLUMNS, start=1):
            sheet.column_dimensions[get_column_letter(index)].width = _WIDTHS.get(column, 14)
        title = _cell(sheet, _title(unit))
        title.font = Font(bold=True, size=13)
        sheet.append([title])
        sheet.append([_cell(sheet, _subtitle(filters))])
        headers = []
        for column in FILE_COLUMNS:
            header = _cell(sheet, MEMBER_HEADERS_VI[column])
            header.font = Font(bold=True)
            header.alignment = Alignment(wrap_text=True, vertical="top")
            headers.append(header)
        sheet.append(headers)
        label = _Labels()
        query = _export_query(user, unit, filters).execution_options(yield_per=500)
        for member in db.session.scalars(query):
            sheet.append([_cell(sheet, value) for value in _member_values(member, label)])
        workbook.save(spool)
        size = spool.tell()
        spool.seek(0)
    except BaseException:
        spool.close()
        raise
    response = send_file(
        spool,
        mimetype=XLSX_MIMETYPE,
        as_attachment=True,
        download_name=_filename(unit, "xlsx"),
        conditional=False,
        etag=False,
    )
    response.content_length = size
    return response


def _cell(sheet: object, value: str) -> WriteOnlyCell:
    cell = WriteOnlyCell(sheet, value=ILLEGAL_CHARACTERS_RE.sub("", value))
    cell.data_type = "s"  # text, whatever it starts with: a phone keeps its 0, '=' no formula
    return cell


def export_csv(user: User, unit: Unit, filters: RosterFilters) -> Response:
    """The filtered roster as UTF-8 CSV with a BOM (Excel reads it right), streamed."""

    def chunks() -> Iterator[bytes]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        buffer.write("\ufeff")
        writer.writerow([MEMBER_HEADERS_VI[c] for c in FILE_COLUMNS])
        label = _Labels()
        query = _export_query(user, unit, filters).execution_options(yield_per=500)
        for member in db.session.scalars(query):
            writer.writerow([_csv_text(v) for v in _member_values(member, label)])
            if buffer.tell() >= 64 * 1024:
                yield buffer.getvalue().encode("utf-8")
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue().encode("utf-8")

    response = Response(stream_with_context(chunks()), mimetype=CSV_MIMETYPE)
    response.headers["Content-Disposition"] = f'attachment; filename="{_filename(unit, "csv")}"'
    response.cache_control.no_cache = True
    return response


def _csv_text(value: str) -> str:
    """A cell a spreadsheet would run as a formula gets a quote (the import takes it off)."""
    return "'" + value if value.startswith(_FORMULA_START) else value


_NOT_SLUG = re.compile(r"[^a-z0-9]+")


def _filename(unit: Unit, extension: str) -> str:
    slug = _NOT_SLUG.sub("-", fold(unit.name)).strip("-")[:60].strip("-") or "don-vi"
    return f"danh-sach-{slug}-{date.today():%Y%m%d}.{extension}"


# -- templates --------------------------------------------------------------------------------


def template_xlsx() -> Response:
    """A blank roster workbook: the headers, phone cells as text, yes/no lists, a help sheet."""
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = _("Roster")[:31]
    sheet.append([MEMBER_HEADERS_VI[c] for c in FILE_COLUMNS])
    sheet.freeze_panes = "A2"
    for index, column in enumerate(FILE_COLUMNS, start=1):
        letter = get_column_letter(index)
        sheet.column_dimensions[letter].width = _WIDTHS.get(column, 14)
        sheet.cell(row=1, column=index).font = Font(bold=True)
        if column == "phone":
            for row in range(2, 1001):  # typed as text: Excel keeps the leading 0
                sheet.cell(row=row, column=index).number_format = "@"
        if column in ("is_party_member", "active"):
            choice = DataValidation(type="list", formula1=f'"{_YES},{_NO}"', allow_blank=True)
            choice.add(f"{letter}2:{letter}5000")
            sheet.add_data_validation(choice)
    help_sheet = workbook.create_sheet(_("Instructions")[:31])
    help_sheet.column_dimensions["A"].width = 110
    for line in template_help():
        help_sheet.append([line])
    buffer = io.BytesIO()
    workbook.save(buffer)
    buffer.seek(0)
    return send_file(
        buffer, mimetype=XLSX_MIMETYPE, as_attachment=True, download_name="mau-danh-sach.xlsx"
    )


def template_csv() -> Response:
    buffer = io.StringIO()
    buffer.write("\ufeff")
    csv.writer(buffer).writerow([MEMBER_HEADERS_VI[c] for c in FILE_COLUMNS])
    response = Response(buffer.getvalue().encode("utf-8"), mimetype=CSV_MIMETYPE)
    response.headers["Content-Disposition"] = 'attachment; filename="mau-danh-sach.csv"'
    return response


def template_help() -> list[str]:
    """How to fill the template: on its second sheet and on the import page."""
    return [
        _("One member per row, on the first sheet. Keep the header row."),
        _(
            "%(unit)s: the unit's name path from the top, such as “Tuyên Quang / Xã Lâm Bình / "
            "Chi bộ thôn Nà Va”, its path below your unit, or its division code. It may be left "
            "empty if you choose a unit for such rows when you upload.",
            unit=MEMBER_HEADERS_VI["unit"],
        ),
        _("%(name)s: required.", name=MEMBER_HEADERS_VI["full_name"]),
        _(
            "%(party)s and %(active)s: có or không (also 1/0, yes/no); empty means có for a "
            "new member and no change for one already on the roster.",
            party=MEMBER_HEADERS_VI["is_party_member"],
            active=MEMBER_HEADERS_VI["active"],
        ),
        _(
            "%(phone)s: optional, 10 or 11 digits starting with 0.",
            phone=MEMBER_HEADERS_VI["phone"],
        ),
        _(
            "A member already on the roster (same unit, same name, same phone) is updated, not "
            "added twice: importing the same file again changes nothing."
        ),
    ]
