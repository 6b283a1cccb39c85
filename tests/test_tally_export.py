"""The tally page exported: what is on screen, as .xlsx and as .csv, in the reader's language."""

from __future__ import annotations

import csv
import io
import time
import tracemalloc
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import unquote

import pytest
from flask import Flask, Response
from flask_babel import gettext
from openpyxl import load_workbook

from tests.factories import World
from webapp.models import Indicator, IndicatorGroup, Unit
from webapp.tallies.export import XLSX_MIMETYPE, tally_csv, tally_xlsx
from webapp.tallies.query import Figures, Filters, TallyView

VI = {"Accept-Language": "vi"}
EN = {"Accept-Language": "en"}


# Shaped like webapp.tallies.targets (TargetReport and its parts).
@dataclass
class IndicatorResult:
    indicator: Indicator
    target: float
    actual: float
    percent: float | None

    @property
    def reached(self) -> bool:
        return self.percent is None or self.percent >= 100


@dataclass
class GroupResult:
    group: IndicatorGroup
    met: bool
    indicators: list[IndicatorResult] = field(default_factory=list)


@dataclass
class TargetReport:
    year: int
    through_month: int
    groups: list[GroupResult]
    met_count: int
    group_count: int


def make_view(world: World, filters: Filters | None = None) -> TallyView:
    view = TallyView(world.province, 202601, 202611, filters or Filters())
    view.total = Figures(
        activities=1234,
        unit_activities=40,
        participations=5678,
        people_reached=10500,
        households_reached=321,
        members_engaged=77,
        active_units=3,
        active_every_month=1,
        holding_units=4,
        pending_activities=5,
        pending_participations=6,
        pending_people_reached=7,
        pending_households_reached=8,
    )
    view.children = [
        (world.commune_x, Figures(activities=1000, active_units=2, holding_units=2)),
        (world.commune_y, Figures(activities=234, pending_activities=5)),  # no holding units
    ]
    view.monthly = [
        (month, Figures(activities=100 + month % 100, active_units=2, holding_units=4))
        for month in range(202601, 202612)
    ]
    return view


def make_targets() -> TargetReport:
    reach = IndicatorGroup(code="reach", name_vi="Tiếp cận người dân", name_en="Reaching people")
    share = IndicatorGroup(code="units", name_vi="Đơn vị hoạt động", name_en="Active units")
    visits = Indicator(
        code="visits", name_vi="Lượt thăm hộ", name_en="Visits", metric="activities", period="year"
    )
    active = Indicator(
        code="active",
        name_vi="Tỷ lệ chi bộ có hoạt động",
        name_en="Share of active cells",
        metric="active_units_share",
        period="month",
    )
    return TargetReport(
        year=2026,
        through_month=202611,
        groups=[
            GroupResult(reach, True, [IndicatorResult(visits, 1000, 1234, 123.4)]),
            GroupResult(share, False, [IndicatorResult(active, 80, 75, 93.75)]),
        ],
        met_count=1,
        group_count=2,
    )


def body(response: Response) -> bytes:
    try:
        return b"".join(response.response)  # type: ignore[arg-type]
    finally:
        response.close()


def workbook_of(response: Response):
    return load_workbook(io.BytesIO(body(response)))


def row_values(sheet, row: int) -> list:
    return [c.value for c in sheet[row]]


# -- XLSX -------------------------------------------------------------------------------------


def targets_header() -> list[str]:
    """The targets table's header: the page's own labels (tallies/_targets.html) and ours."""
    return [
        "Nhóm chỉ tiêu",
        gettext("Indicator"),
        gettext("Target"),
        "Kỳ",
        gettext("Actual"),
        gettext("%% of target") % {},
        gettext("Result"),
        "Kết quả của nhóm",
    ]


def page_labels() -> dict:
    """What tallies/_targets.html shows, in the current language (the page owns these)."""
    return {
        "targets": gettext("Targets"),
        "header": targets_header(),
        "title": gettext("Targets for %(year)s (through month %(month)s)", year=2026, month=11),
        "groups": gettext("%(met)s / %(total)s indicator groups met", met=1, total=2),
        "per_year": gettext("per year"),
        "reached": gettext("Reached"),
        "not_reached": gettext("Not reached"),
        "met": gettext("Met"),
        "not_met": gettext("Not met"),
    }


def test_xlsx_in_vietnamese_has_every_table_with_titles_headers_and_formats(
    app: Flask, world: World
):
    view = make_view(world, Filters(kind_id=world.kind.id))
    with app.test_request_context("/", headers=VI):
        response = tally_xlsx(view, make_targets())
        on_page = page_labels()
    assert response.mimetype == XLSX_MIMETYPE
    assert response.headers["Content-Length"]
    book = workbook_of(response)
    assert book.sheetnames == ["Tổng hợp", "Theo tháng", on_page["targets"]]

    overview = book["Tổng hợp"]
    assert overview["A1"].value == "Tuyên Quang — Tháng 01/2026 – 11/2026"
    assert overview["A1"].font.bold
    assert overview["A2"].value == "Loại hoạt động: Thăm hộ gia đình; Tất cả phong trào, đề án"
    assert row_values(overview, 3) == [
        "Đơn vị",
        "Lượt hoạt động",
        "Lượt chi bộ, đảng bộ cơ sở",
        "Lượt cán bộ, đảng viên tham gia",
        "Số cán bộ, đảng viên tham gia",
        "Số người dân được tiếp cận",
        "Số hộ được tiếp cận",
        "Đơn vị có hoạt động",
        "Số đơn vị cơ sở",
        "Tỷ lệ đơn vị có hoạt động",
        "Chờ xác nhận: lượt hoạt động",
        "Chờ xác nhận: lượt cán bộ, đảng viên tham gia",
        "Chờ xác nhận: số người dân được tiếp cận",
        "Chờ xác nhận: số hộ được tiếp cận",
    ]
    assert overview.freeze_panes == "B4"
    assert overview.column_dimensions["A"].width >= 20
    # The whole unit first (as the page's total row), then one row per child; pending beside.
    assert row_values(overview, 4) == [
        "Cộng toàn đơn vị", 1234, 40, 5678, 77, 10500, 321, 3, 4, 0.75, 5, 6, 7, 8
    ]  # fmt: skip
    assert overview["A4"].font.bold
    assert overview["B4"].number_format == "#,##0"
    assert overview["J4"].number_format == "0.0%"
    assert row_values(overview, 5)[:3] == ["Xã Lâm Bình", 1000, 0]
    assert overview["J5"].value == 1.0
    assert row_values(overview, 6)[:2] == ["Xã Thượng Lâm", 234]
    assert overview["J6"].value is None  # no share without grassroots units
    assert overview["K6"].value == 5
    assert overview.max_row == 6

    monthly = book["Theo tháng"]
    assert monthly["A1"].value == overview["A1"].value
    assert monthly["A2"].value == overview["A2"].value
    assert row_values(monthly, 3)[:2] == ["Tháng", "Lượt hoạt động"]
    assert "Số đơn vị cơ sở" not in row_values(monthly, 3)
    assert monthly.freeze_panes == "B4"
    assert monthly["A4"].value == datetime(2026, 1, 1)
    assert monthly["A4"].number_format == "mm/yyyy"
    assert monthly["B4"].value == 101
    assert monthly["I4"].value == 0.5
    assert monthly["I4"].number_format == "0.0%"
    assert monthly.max_row == 3 + 11

    targets = book[on_page["targets"]]
    assert targets["A1"].value == f"Tuyên Quang — {on_page['title']}"
    assert targets["A2"].value == on_page["groups"]
    assert row_values(targets, 3) == on_page["header"]
    assert targets.freeze_panes == "C4"
    assert row_values(targets, 4) == [
        "Tiếp cận người dân",
        "Lượt thăm hộ",
        1000,
        on_page["per_year"],
        1234,
        pytest.approx(1.234),
        on_page["reached"],
        on_page["met"],
    ]
    assert targets["C4"].number_format == "#,##0"
    assert targets["F4"].number_format == "0.0%"
    # A share indicator: target and actual are percentages too, and have no period.
    assert row_values(targets, 5) == [
        "Đơn vị hoạt động",
        "Tỷ lệ chi bộ có hoạt động",
        pytest.approx(0.8),
        None,
        pytest.approx(0.75),
        pytest.approx(0.9375),
        on_page["not_reached"],
        on_page["not_met"],
    ]
    assert targets["C5"].number_format == "0.0%"
    assert targets["E5"].number_format == "0.0%"


def test_xlsx_in_english_and_without_targets(app: Flask, world: World):
    view = make_view(world, Filters(program_id=world.program.id))
    with app.test_request_context("/", headers=EN):
        book = workbook_of(tally_xlsx(view, None))
    assert book.sheetnames == ["Overview", "By month"]
    sheet = book["Overview"]
    assert sheet["A1"].value == "Tuyên Quang — Months January 2026 – November 2026"
    assert sheet["A2"].value == "All kinds; Programme: Replacing makeshift houses"
    assert row_values(sheet, 3)[:2] == ["Unit", "Activities"]
    assert "Waiting for review: activities" in row_values(sheet, 3)
    assert book["By month"]["A4"].number_format == "mmm yyyy"


def test_xlsx_filename_is_ascii_with_the_vietnamese_name_beside(app: Flask, world: World):
    view = make_view(world)
    view.unit = world.commune_x
    with app.test_request_context("/", headers=VI):
        response = tally_xlsx(view, None)
    response.close()
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment; ")
    assert "filename=so-lieu-xa-lam-binh-202601-202611.xlsx" in disposition
    disposition.encode("ascii")
    encoded = disposition.split("filename*=UTF-8''")[1]
    assert unquote(encoded) == "Số liệu Xã Lâm Bình 202601-202611.xlsx"


def test_text_that_looks_like_a_formula_stays_text(app: Flask, world: World):
    view = make_view(world)
    view.children = [(Unit(id=9001, name='=HYPERLINK("http://x.example","y")'), Figures())]
    with app.test_request_context("/", headers=VI):
        book = workbook_of(tally_xlsx(view, None))
        text = body(tally_csv(view, None)).decode("utf-8-sig")
    cell = book.worksheets[0]["A5"]
    assert cell.data_type == "s"
    assert cell.value == '=HYPERLINK("http://x.example","y")'
    assert """'=HYPERLINK(""http://x.example"",""y"")""" in text


def test_single_month_and_entries_without_a_programme(app: Flask, world: World):
    view = make_view(world, Filters(program_id=0))
    view.first = view.last = 202603
    with app.test_request_context("/", headers=VI):
        sheet = workbook_of(tally_xlsx(view, None))["Tổng hợp"]
    assert sheet["A1"].value == "Tuyên Quang — Tháng 03/2026"
    assert sheet["A2"].value == (
        "Tất cả các loại; Phong trào, đề án: Không thuộc phong trào, đề án nào"
    )


# -- CSV --------------------------------------------------------------------------------------


def test_csv_has_a_bom_and_the_tables_one_after_another(app: Flask, world: World):
    view = make_view(world, Filters(kind_id=world.kind.id))
    with app.test_request_context("/", headers=VI):
        response = tally_csv(view, make_targets())
        assert response.mimetype == "text/csv"
        assert response.mimetype_params["charset"] == "utf-8"
        raw = body(response)
        on_page = page_labels()
    assert raw.startswith(b"\xef\xbb\xbf")
    assert (
        "filename=so-lieu-tuyen-quang-202601-202611.csv"
        in (response.headers["Content-Disposition"])
    )
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert rows[0] == [
        "Tuyên Quang",
        "Tháng 01/2026 – 11/2026",
        "Loại hoạt động: Thăm hộ gia đình; Tất cả phong trào, đề án",
    ]
    assert rows[1] == []
    header = rows[2]
    assert header[:2] == ["Đơn vị", "Lượt hoạt động"]
    assert header[9] == "Tỷ lệ đơn vị có hoạt động (%)"
    assert header[10] == "Chờ xác nhận: lượt hoạt động"
    # Plain numbers: no thousands separators, shares as percentages.
    assert rows[3] == [
        "Cộng toàn đơn vị", "1234", "40", "5678", "77", "10500", "321", "3", "4", "75.0",
        "5", "6", "7", "8",
    ]  # fmt: skip
    assert rows[4][:2] == ["Xã Lâm Bình", "1000"]
    assert rows[5][9] == ""
    assert rows[6] == []
    assert rows[7][:2] == ["Tháng", "Lượt hoạt động"]
    assert rows[8][:2] == ["2026-01", "101"]
    assert rows[18][:2] == ["2026-11", "111"]
    assert rows[19] == []
    assert rows[20] == [f"Tuyên Quang — {on_page['title']}", on_page["groups"]]
    assert rows[21] == on_page["header"]
    assert rows[22] == [
        "Tiếp cận người dân", "Lượt thăm hộ", "1000", on_page["per_year"], "1234", "123.4",
        on_page["reached"], on_page["met"],
    ]  # fmt: skip
    assert rows[23] == [
        "Đơn vị hoạt động", "Tỷ lệ chi bộ có hoạt động", "80.0", "", "75.0", "93.8",
        on_page["not_reached"], on_page["not_met"],
    ]  # fmt: skip
    assert len(rows) == 24


# -- large exports ----------------------------------------------------------------------------


@pytest.mark.slow
def test_a_large_export_streams_in_chunks_with_little_memory(
    app: Flask, world: World, is_postgres: bool
):
    if is_postgres:
        pytest.skip("the database plays no part in writing the file")
    view = make_view(world)
    view.children = [
        (
            Unit(id=100_000 + n, name=f"Chi bộ thôn số {n}"),
            Figures(activities=n, participations=2 * n, active_units=1, holding_units=1),
        )
        for n in range(5000)
    ]
    for export in (tally_csv, tally_xlsx):
        with app.test_request_context("/", headers=VI):
            started = time.perf_counter()
            tracemalloc.start()
            try:
                response = export(view, make_targets())
                sizes = [len(chunk) for chunk in response.response]
                response.close()
                _current, peak = tracemalloc.get_traced_memory()
            finally:
                tracemalloc.stop()
            elapsed = time.perf_counter() - started
        # ~300 KB either way: a CSV in chunks of 64 KiB, a workbook in blocks of 8 KiB.
        assert len(sizes) >= 4, export.__name__
        assert sum(sizes) > 200_000, export.__name__
        assert max(sizes) <= 128 * 1024, export.__name__
        # The rows are never all held at once (a workbook held in memory needs ~20 MB).
        assert peak < 8 * 1024 * 1024, f"{export.__name__}: peak {peak / 1e6:.1f} MB"
        # Traced, the workbook takes ~13 s on one free core (~4 s untraced); this only
        # catches a blow-up, not a busy machine.
        assert elapsed < 180, f"{export.__name__}: {elapsed:.1f} s"
