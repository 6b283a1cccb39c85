"""The tally page as a file: exactly what is on screen, as an Excel workbook or a CSV file.

Both formats are built from the same tables (`_tables`): the unit and one row per child, the
monthly series, and the targets when the page shows them. Pending figures have columns of their
own and are never added in (DESIGN.md §7).

Call these inside the request that shows the page: headers and names follow its locale.
"""

from __future__ import annotations

import csv
import io
import re
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from flask import Response, send_file, stream_with_context
from flask_babel import get_locale
from flask_babel import gettext as _
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter

from webapp.extensions import db
from webapp.i18n import fmt_month
from webapp.models import ActivityKind, Program, Unit
from webapp.tallies.months import first_day
from webapp.tallies.query import Figures, TallyView
from webapp.text import fold
from webapp.units.services import unit_label

if TYPE_CHECKING:
    from webapp.tallies.targets import TargetReport

XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_MIMETYPE = "text/csv; charset=utf-8"

_COUNT_FORMAT = "#,##0"
_DECIMAL_FORMAT = "#,##0.0"
_SHARE_FORMAT = "0.0%"
_MONTH_FORMATS = {"vi": "mm/yyyy", "en": "mmm yyyy"}
_SPOOL_BYTES = 2 * 1024 * 1024  # a workbook larger than this goes to disk while it is sent
_CSV_CHUNK = 64 * 1024
# Cells a spreadsheet would read as a formula (CSV injection): shown as text instead.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class _Share(float):
    """A share as a fraction (0.25): a percentage cell in Excel, 25.0 in CSV."""


@dataclass(frozen=True)
class _Column:
    header: str
    width: float
    percent: bool = False  # CSV writes shares as 25.0; its header then says "(%)"


@dataclass
class _Table:
    sheet: str
    title: str
    subtitle: str
    columns: list[_Column]
    rows: Iterable[tuple[list[Any], bool]]  # (values, emphasised)
    freeze: str
    csv_heading: bool = False  # CSV repeats title and subtitle above the header (targets)


def tally_xlsx(view: TallyView, targets: TargetReport | None) -> Response:
    """The page as an .xlsx workbook: one sheet per table, streamed from a temporary file."""
    lang = _lang()
    spool = tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES)  # noqa: SIM115 (closed by the response)
    try:
        workbook = Workbook(write_only=True)
        for table in _tables(view, targets, _text(unit_label(view.unit)), lang):
            _write_sheet(workbook, table, lang)
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
        download_name="export.xlsx",  # replaced by _set_filename
        conditional=False,
        etag=False,
    )
    response.content_length = size
    _set_filename(response, view, "xlsx")
    return response


def tally_csv(view: TallyView, targets: TargetReport | None) -> Response:
    """The page as one UTF-8 CSV file (with a BOM, for Excel): the tables one after another."""
    lang = _lang()
    label = _text(unit_label(view.unit))
    tables = _tables(view, targets, label, lang)
    title = [label, _period(view.first, view.last), tables[0].subtitle]  # subtitle: the filters
    response = Response(stream_with_context(_csv_chunks(title, tables)), mimetype=CSV_MIMETYPE)
    response.cache_control.no_cache = True
    _set_filename(response, view, "csv")
    return response


# -- the tables -------------------------------------------------------------------------------


def _figure_columns(*, units: bool) -> list[tuple[_Column, Callable[[Figures], Any]]]:
    """The page's figures, labelled as on the page; then the pending ones, never added in."""
    columns: list[tuple[_Column, Callable[[Figures], Any]]] = [
        (_Column(_("Activities"), 12), lambda f: f.activities),
        (_Column(_("Cell and committee activities"), 14), lambda f: f.unit_activities),
        (_Column(_("Member participations"), 14), lambda f: f.participations),
        (_Column(_("Members engaged"), 14), lambda f: f.members_engaged),
        (_Column(_("People reached"), 14), lambda f: f.people_reached),
        (_Column(_("Households reached"), 12), lambda f: f.households_reached),
        (_Column(_("Active units"), 12), lambda f: f.active_units),
    ]
    if units:  # the page's "3/4": active units of how many that hold activities
        columns.append((_Column(_("Grassroots units"), 12), lambda f: f.holding_units))
    return [
        *columns,
        (_Column(_("Share of units active"), 12, percent=True), lambda f: _share(f.active_share)),
        (_Column(_("Waiting for review: activities"), 14), lambda f: f.pending_activities),
        (
            _Column(_("Waiting for review: member participations"), 16),
            lambda f: f.pending_participations,
        ),
        (_Column(_("Waiting for review: people reached"), 16), lambda f: f.pending_people_reached),
        (
            _Column(_("Waiting for review: households reached"), 14),
            lambda f: f.pending_households_reached,
        ),
    ]


def _tables(view: TallyView, targets: TargetReport | None, label: str, lang: str) -> list[_Table]:
    title = f"{label} — {_period(view.first, view.last)}"
    subtitle = _filters(view, lang)

    overview = _figure_columns(units=True)
    total = _("Total for the unit")
    names = [total, *(child.name for child, _figures in view.children)]
    name_width = min(max(20, *(len(name) + 2 for name in names)), 60)

    def overview_rows() -> Iterator[tuple[list[Any], bool]]:
        yield [total, *(get(view.total) for _c, get in overview)], True
        for child, figures in view.children:
            yield [child.name, *(get(figures) for _c, get in overview)], False

    monthly = _figure_columns(units=False)

    def monthly_rows() -> Iterator[tuple[list[Any], bool]]:
        for month, figures in view.monthly:
            yield [first_day(month), *(get(figures) for _c, get in monthly)], False

    tables = [
        _Table(
            _("Overview"),
            title,
            subtitle,
            [_Column(_("Unit"), name_width), *(c for c, _get in overview)],
            overview_rows(),
            "B4",
        ),
        _Table(
            _("By month"),
            title,
            subtitle,
            [_Column(_("Month"), 12), *(c for c, _get in monthly)],
            monthly_rows(),
            "B4",
        ),
    ]
    if targets is not None:
        tables.append(_targets_table(label, targets, lang))
    return tables


def _targets_table(label: str, report: TargetReport, lang: str) -> _Table:
    """As on the page (tallies/_targets.html), one row per indicator with its group beside."""
    title = _(
        "Targets for %(year)s (through month %(month)s)",
        year=report.year,
        month=report.through_month % 100,
    )
    subtitle = _(
        "%(met)s / %(total)s indicator groups met", met=report.met_count, total=report.group_count
    )
    per = {"year": _("per year"), "quarter": _("per quarter"), "month": _("per month")}

    def rows() -> Iterator[tuple[list[Any], bool]]:
        for result in report.groups:
            group = result.group.name(lang)
            met = _("Met") if result.met else _("Not met")
            for item in result.indicators:
                indicator = item.indicator
                share = indicator.metric.endswith("_share")
                values = [
                    group,
                    indicator.name(lang),
                    _target_value(item.target, share),
                    None if share else per.get(indicator.period, indicator.period),
                    _target_value(item.actual, share),
                    None if item.percent is None else _Share(item.percent / 100),
                    _("Reached") if item.reached else _("Not reached"),
                    met,
                ]
                yield values, False

    columns = [
        _Column(_("Indicator group"), 30),
        _Column(_("Indicator"), 40),
        _Column(_("Target"), 12),
        _Column(_("Period"), 12),
        _Column(_("Actual"), 12),
        _Column(_("%% of target") % {}, 12),  # the page's msgid; %% is a literal %
        _Column(_("Result"), 14),
        _Column(_("Group result"), 14),
    ]
    return _Table(
        _("Targets"), f"{label} — {title}", subtitle, columns, rows(), "C4", csv_heading=True
    )


def _target_value(value: float | None, share: bool) -> Any:
    """Targets and actuals of share metrics are percentages (80 = 80 %); counts stay numbers."""
    if value is None:
        return None
    if share:
        return _Share(value / 100)
    return int(value) if float(value).is_integer() else float(value)


def _share(value: float | None) -> _Share | None:
    return None if value is None else _Share(value)


def _period(first: int, last: int) -> str:
    if first == last:
        return _("Month %(month)s", month=fmt_month(first_day(first)))
    return _(
        "Months %(first)s – %(last)s",
        first=fmt_month(first_day(first)),
        last=fmt_month(first_day(last)),
    )


def _filters(view: TallyView, lang: str) -> str:
    """'Kind of activity: Home visit; All programmes': the filters the page applies."""
    filters = view.filters
    if filters.kind_id is None:
        kind = _("All kinds")
    else:
        found = db.session.get(ActivityKind, filters.kind_id)
        kind = _label(_("Kind of activity"), found.name(lang) if found else f"#{filters.kind_id}")
    if filters.program_id is None:
        program = _("All programmes")
    elif filters.program_id == 0:
        program = _label(_("Programme"), _("No programme"))
    else:
        found_program = db.session.get(Program, filters.program_id)
        name = found_program.name(lang) if found_program else f"#{filters.program_id}"
        program = _label(_("Programme"), name)
    return _text(f"{kind}; {program}")


def _label(label: str, value: str) -> str:
    return f"{label}: {value}"


def _lang() -> str:
    return str(get_locale() or "vi").split("_")[0]


def _text(value: str) -> str:
    """Drop the control characters a workbook cannot hold."""
    return ILLEGAL_CHARACTERS_RE.sub("", value)


# -- XLSX -------------------------------------------------------------------------------------

_BOLD = Font(bold=True)
_TITLE_FONT = Font(bold=True, size=13)
_HEADER_ALIGNMENT = Alignment(wrap_text=True, vertical="top")


def _write_sheet(workbook: Workbook, table: _Table, lang: str) -> None:
    sheet = workbook.create_sheet(table.sheet[:31])
    # Write-only sheets take their layout before the first row.
    sheet.freeze_panes = table.freeze
    for index, column in enumerate(table.columns, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = column.width
    month_format = _MONTH_FORMATS.get(lang, "mmm yyyy")

    def cell(value: Any, bold: bool = False) -> Any:
        if value is None:
            return None
        if isinstance(value, str):
            value = _text(value)
            if not bold and not value.startswith("="):
                return value  # plain text needs no cell object (they are slow to write)
        item = WriteOnlyCell(sheet, value)
        if isinstance(value, str):
            item.data_type = "s"  # never a formula, whatever the text starts with
        if isinstance(value, _Share):
            item.number_format = _SHARE_FORMAT
        elif isinstance(value, int):
            item.number_format = _COUNT_FORMAT
        elif isinstance(value, float):
            item.number_format = _DECIMAL_FORMAT
        elif isinstance(value, date):
            item.number_format = month_format
        if bold:
            item.font = _BOLD
        return item

    title = cell(table.title, bold=True)
    title.font = _TITLE_FONT
    sheet.append([title])
    sheet.append([cell(table.subtitle)])
    headers = []
    for column in table.columns:
        header = cell(column.header, bold=True)
        header.alignment = _HEADER_ALIGNMENT
        headers.append(header)
    sheet.append(headers)
    for values, emphasised in table.rows:
        sheet.append([cell(value, emphasised) for value in values])


# -- CSV --------------------------------------------------------------------------------------


def _csv_chunks(title: list[str], tables: list[_Table]) -> Iterator[bytes]:
    """UTF-8 with a BOM, in chunks of about 64 KiB."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write("\ufeff")
    writer.writerow([_csv_text(v) for v in title])
    for table in tables:
        writer.writerow([])
        if table.csv_heading:
            writer.writerow([_csv_text(table.title), _csv_text(table.subtitle)])
        writer.writerow(
            [_csv_text(c.header + (" (%)" if c.percent else "")) for c in table.columns]
        )
        for values, _emphasised in table.rows:
            writer.writerow([_csv_value(value) for value in values])
            if buffer.tell() >= _CSV_CHUNK:
                yield buffer.getvalue().encode("utf-8")
                buffer.seek(0)
                buffer.truncate()
    yield buffer.getvalue().encode("utf-8")


def _csv_value(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, _Share):
        return round(value * 100, 1)
    if isinstance(value, str):
        return _csv_text(value)
    if isinstance(value, date):
        return value.strftime("%Y-%m")
    if isinstance(value, float):
        return round(value, 2)
    return value


def _csv_text(value: str) -> str:
    return "'" + value if value.startswith(_FORMULA_START) else value


# -- the file name ----------------------------------------------------------------------------

_NOT_SLUG = re.compile(r"[^a-z0-9]+")
_NOT_IN_FILENAME = re.compile(r'[\x00-\x1f\x7f/\\:*?"<>|]+')


def _set_filename(response: Response, view: TallyView, extension: str) -> None:
    """so-lieu-xa-lam-binh-202601-202611.xlsx, and the Vietnamese name as RFC 5987 filename*."""
    unit: Unit = view.unit
    months = f"{view.first}-{view.last}"
    slug = _NOT_SLUG.sub("-", fold(unit.name)).strip("-")[:60].strip("-") or "don-vi"
    ascii_name = f"so-lieu-{slug}-{months}.{extension}"
    name = _NOT_IN_FILENAME.sub(" ", unit.name).strip()[:100] or slug
    full_name = f"Số liệu {name} {months}.{extension}"
    response.headers.set(
        "Content-Disposition",
        "attachment",
        filename=ascii_name,
        **{"filename*": "UTF-8''" + quote(full_name, safe="!#$&+-.^_`|~")},
    )
