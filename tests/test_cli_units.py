"""`flask units import-divisions` and `flask units import-csv`."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask.testing import FlaskCliRunner
from sqlalchemy import func, select

from webapp.extensions import db
from webapp.models import Unit
from webapp.units.divisions import find_province, province_key

ENGLISH = {"LC_ALL": "en_US.UTF-8"}
TUYEN_QUANG_UNITS = 1 + 124  # the province and its communes, wards and special zones


def invoke(runner: FlaskCliRunner, *args: str):
    return runner.invoke(args=["units", *args], env=ENGLISH)


def unit_count() -> int:
    return db.session.scalar(select(func.count(Unit.id))) or 0


def by_code(code: str) -> Unit:
    return db.session.scalars(select(Unit).where(Unit.division_code == code)).one()


def write_csv(tmp_path: Path, text: str, *, bom: bool = False, name: str = "units.csv") -> str:
    path = tmp_path / name
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode())
    return str(path)


# -- import-divisions ----------------------------------------------------------------------


def test_import_divisions_twice_creates_then_changes_nothing(runner):
    first = invoke(runner, "import-divisions", "--province", "Tuyên Quang")
    assert first.exit_code == 0, first.output
    assert f"created: {TUYEN_QUANG_UNITS}, updated: 0, unchanged: 0" in first.output
    second = invoke(runner, "import-divisions", "--province", "Tuyên Quang")
    assert second.exit_code == 0, second.output
    assert f"created: 0, updated: 0, unchanged: {TUYEN_QUANG_UNITS}" in second.output
    assert unit_count() == TUYEN_QUANG_UNITS

    province = by_code("08")
    assert (province.name, province.kind, province.parent_id) == ("Tuyên Quang", "province", None)
    commune = by_code("02269")
    assert (commune.name, commune.kind, commune.parent_id) == (
        "Xã Thượng Lâm",
        "commune",
        province.id,
    )
    assert commune.path == f"{province.path}{commune.id}/"
    codes = db.session.scalars(select(Unit.division_code).where(Unit.kind == "commune")).all()
    assert all(len(code) == 5 and code.isdigit() for code in codes)


@pytest.mark.parametrize(
    "name", ["Tuyên Quang", "tuyen quang", "  TỈNH Tuyên  Quang ", "Tinh Tuyen Quang"]
)
def test_province_found_by_folded_name(name):
    assert find_province(name=name).name == "Tuyên Quang"


@pytest.mark.parametrize("code", ["08", "8"])
def test_province_found_by_code(code):
    assert find_province(code=code).name == "Tuyên Quang"


def test_import_divisions_by_code(runner):
    result = invoke(runner, "import-divisions", "--code", "08")
    assert result.exit_code == 0, result.output
    assert by_code("08").name == "Tuyên Quang"


def test_city_prefix_is_optional():
    assert find_province("Hà Nội").name == "Thành phố Hà Nội"
    assert find_province("thanh pho ha noi").name == "Thành phố Hà Nội"
    assert province_key("TP. Hồ Chí Minh") == "ho chi minh"


def test_existing_units_are_matched_by_code_and_renames_picked_up(runner, world):
    world.commune_x.name = "Xã Cũ"
    db.session.commit()
    result = invoke(runner, "import-divisions", "--code", "08")
    assert result.exit_code == 0, result.output
    assert f"created: {TUYEN_QUANG_UNITS - 3}, updated: 1, unchanged: 2" in result.output
    db.session.expire_all()
    assert by_code("02266").name == "Xã Lâm Bình"
    assert by_code("02266").id == world.commune_x.id
    # the cells under it stay where they were
    assert unit_count() == TUYEN_QUANG_UNITS + 2


def test_unknown_province_fails_with_close_matches(runner):
    result = invoke(runner, "import-divisions", "--province", "Tuyen Quag")
    assert result.exit_code == 1
    assert "No province “Tuyen Quag”" in result.output
    assert "Did you mean: Tuyên Quang" in result.output
    assert unit_count() == 0


def test_unknown_province_lists_at_most_five(runner):
    result = invoke(runner, "import-divisions", "--province", "Quang")
    assert result.exit_code == 1
    suggestions = result.output.split("Did you mean: ")[1].rstrip("?\n").split("; ")
    assert 1 < len(suggestions) <= 5
    assert "Quảng Ninh" in suggestions


def test_province_or_code_is_required(runner):
    assert invoke(runner, "import-divisions").exit_code == 2
    assert invoke(runner, "import-divisions", "--code", "99").exit_code == 1


# -- import-csv ----------------------------------------------------------------------------

GOOD = """name,kind,parent,division_code
Tuyên Quang,province,,08
Xã Lâm Bình,commune,Tuyên Quang,02266
Chi bộ thôn Nà Va,cell,Tuyên Quang / Xã Lâm Bình,
Chi bộ thôn Bản Khiển,cell,02266,
Chi hội Phụ nữ thôn Nà Va,association,Tuyen Quang / Xa Lam Binh / Chi bo thon Na Va,
"""


@pytest.mark.parametrize("bom", [False, True])
def test_import_csv_creates_in_order_then_is_idempotent(runner, tmp_path, bom):
    path = write_csv(tmp_path, GOOD, bom=bom)
    first = invoke(runner, "import-csv", path)
    assert first.exit_code == 0, first.output
    assert "created: 5, updated: 0, unchanged: 0" in first.output
    second = invoke(runner, "import-csv", path)
    assert second.exit_code == 0, second.output
    assert "created: 0, updated: 0, unchanged: 5" in second.output

    province = by_code("08")
    cell = db.session.scalars(select(Unit).where(Unit.name == "Chi bộ thôn Nà Va")).one()
    association = db.session.scalars(select(Unit).where(Unit.kind == "association")).one()
    assert cell.parent_id == by_code("02266").id
    assert association.parent_id == cell.id
    assert association.path.startswith(province.path)
    assert association.path == f"{cell.path}{association.id}/"


def test_import_csv_updates_kind_and_fills_in_a_code(runner, tmp_path, world):
    path = write_csv(
        tmp_path, "name,kind,parent,division_code\nChi bộ thôn Nà Va,committee,02266,77001\n"
    )
    result = invoke(runner, "import-csv", path)
    assert result.exit_code == 0, result.output
    assert "created: 0, updated: 1, unchanged: 0" in result.output
    db.session.expire_all()
    assert (world.cell_x.kind, world.cell_x.division_code) == ("committee", "77001")


BAD = """name,kind,parent,division_code
,cell,02266,
Thôn X,planet,02266,
Chi bộ A,cell,Nowhere / Else,
Chi bộ B,cell,Nowhere / Else / Chi bộ A,
Chi bộ thôn Nà Va,cell,Tuyên Quang / Xã Lâm Bình,
Chi bộ C,cell,02266,02269
Chi bộ D,cell,02266,123456
Chi bộ E,cell,02266,123456
Chi bộ F,cell,02266,12a
Chi bộ G,cell,02266,
Chi bộ G,cell,02266,
{long},cell,02266,
Xã Thượng Lâm,commune,Tuyên Quang,99999
"""


def test_import_csv_reports_every_bad_row_and_changes_nothing(runner, tmp_path, world):
    before = unit_count()
    path = write_csv(tmp_path, BAD.format(long="x" * 161))
    result = invoke(runner, "import-csv", path)
    assert result.exit_code == 1
    out = result.output
    expected = [
        "line 2, column name: the name is empty",
        "line 3, column kind: unknown kind “planet”",
        "line 4, column parent: no unit “Nowhere / Else”",
        "line 5, column parent: the parent unit is on line 4, which has errors",
        "line 7, column division_code: division code 02269 already belongs to "
        "“Tuyên Quang / Xã Thượng Lâm”",
        "line 9, column division_code: division code 123456 is also on line 8",
        "line 10, column division_code: a division code is digits only",
        "line 12, column name: the same unit is already on line 11",
        "line 13, column name: the name is longer than 160 characters",
        "line 14, column division_code: “Tuyên Quang / Xã Thượng Lâm” already has division "
        "code 02269",
    ]
    for message in expected:
        assert message in out, message
    assert "line 6" not in out  # an existing identical unit is fine
    assert "10 problems found; nothing was imported." in out
    db.session.expire_all()
    assert unit_count() == before
    assert db.session.scalars(select(Unit).where(Unit.name == "Chi bộ D")).first() is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name,kind,parent\nA,cell,\n", "line 1: missing columns: division_code"),
        ("name,kind,parent,division_code,extra\n", "line 1: unknown columns: extra"),
        ("", "line 1: the file is empty"),
        (
            "name,kind,parent,division_code\nA,province,,,surplus\n",
            "line 2: 5 values but the header",
        ),
    ],
)
def test_import_csv_refuses_a_malformed_file(runner, tmp_path, text, message):
    result = invoke(runner, "import-csv", write_csv(tmp_path, text))
    assert result.exit_code == 1
    assert message in result.output
    assert unit_count() == 0


def test_import_csv_refuses_a_file_that_is_not_utf8(runner, tmp_path):
    path = tmp_path / "legacy.csv"
    path.write_bytes("name,kind,parent,division_code\nTuyên Quang,province,,08\n".encode("cp1258"))
    result = invoke(runner, "import-csv", str(path))
    assert result.exit_code == 1
    assert "line 2: the file is not UTF-8 text" in result.output
    assert unit_count() == 0


def test_import_csv_dry_run_saves_nothing(runner, tmp_path):
    result = invoke(runner, "import-csv", "--dry-run", write_csv(tmp_path, GOOD))
    assert result.exit_code == 0, result.output
    assert "Dry run" in result.output
    assert "created: 5" in result.output
    assert unit_count() == 0
