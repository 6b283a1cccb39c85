"""`flask members import-csv`."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask.testing import FlaskCliRunner
from sqlalchemy import func, select

from webapp.extensions import db
from webapp.models import Member

ENGLISH = {"LC_ALL": "en_US.UTF-8"}
HEADER = "unit,full_name,is_party_member,position,phone\n"
CELL_X = "Tuyên Quang / Xã Lâm Bình / Chi bộ thôn Nà Va"


def import_csv(runner: FlaskCliRunner, tmp_path: Path, text: str, *, bom: bool = False):
    path = tmp_path / "members.csv"
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode())
    return runner.invoke(args=["members", "import-csv", str(path)], env=ENGLISH)


def member_count() -> int:
    return db.session.scalar(select(func.count(Member.id))) or 0


def member_named(name: str) -> Member:
    return db.session.scalars(select(Member).where(Member.full_name == name)).one()


GOOD = (
    HEADER
    + f"""{CELL_X},Hoàng Thị Lan,có,Chi hội trưởng Hội Phụ nữ,+84 987 654 321
{CELL_X},Ma Văn Sáng,không,,
02269,Triệu Thị Hoa,1,Đảng viên,0987.111.222
02269,Nông Văn Khánh,yes,,
02269,Quan Văn Tài,FALSE,,
02269,Chẩu Thị Mai,Không,,
Tuyen Quang / Xa Thuong Lam / Chi bo thon Ban Khien,Lý Văn Hùng,true,,0214 3822 123
"""
)


@pytest.mark.parametrize("bom", [False, True])
def test_import_members_then_again_changes_nothing(runner, tmp_path, world, bom):
    before = member_count()
    first = import_csv(runner, tmp_path, GOOD, bom=bom)
    assert first.exit_code == 0, first.output
    assert "created: 7, updated: 0, unchanged: 0" in first.output
    second = import_csv(runner, tmp_path, GOOD, bom=bom)
    assert second.exit_code == 0, second.output
    assert "created: 0, updated: 0, unchanged: 7" in second.output
    assert member_count() == before + 7

    lan = member_named("Hoàng Thị Lan")
    assert (lan.unit_id, lan.is_party_member, lan.phone) == (world.cell_x.id, True, "0987654321")
    assert lan.position == "Chi hội trưởng Hội Phụ nữ"
    assert lan.search_name == "hoang thi lan"
    assert member_named("Ma Văn Sáng").is_party_member is False
    assert member_named("Ma Văn Sáng").phone is None
    assert member_named("Triệu Thị Hoa").unit_id == world.commune_y.id
    assert member_named("Quan Văn Tài").is_party_member is False
    assert member_named("Chẩu Thị Mai").is_party_member is False
    assert member_named("Lý Văn Hùng").unit_id == world.cell_y.id
    assert member_named("Lý Văn Hùng").phone == "02143822123"


def test_existing_member_matched_by_folded_name_and_phone(runner, tmp_path, world):
    text = HEADER + (
        f"{CELL_X},nguyen van an,,,0912 345 678\n"  # world's Nguyễn Văn An: unchanged
        f"{CELL_X},Trần  Thị Bình,0,Phó Bí thư chi bộ,\n"  # world's Trần Thị Bình: updated
        f"{CELL_X},Nguyễn Văn An,1,,0911000000\n"  # same name, other phone: someone else
    )
    result = import_csv(runner, tmp_path, text)
    assert result.exit_code == 0, result.output
    assert "created: 1, updated: 1, unchanged: 1" in result.output
    db.session.expire_all()
    binh = world.members["binh"]
    assert (binh.is_party_member, binh.position) == (False, "Phó Bí thư chi bộ")
    assert world.members["an"].is_party_member is True


BAD = (
    HEADER
    + f"""Nowhere,Nguyễn Văn A,1,,
,Nguyễn Văn B,1,,
{CELL_X},,1,,
{CELL_X},Nguyễn Văn C,maybe,,
{CELL_X},Nguyễn Văn D,1,,12345
{CELL_X},Nguyễn Văn E,1,,1912345678
{CELL_X},Nguyễn Văn F,1,,0912 345 678 999
{CELL_X},{"X" * 121},1,,
{CELL_X},Nguyễn Văn G,1,{"P" * 121},
{CELL_X},Nguyễn Văn H,1,,0987000111
{CELL_X},nguyen van h,1,,0987 000 111
{CELL_X},Nguyễn Văn I,1,,
"""
)


def test_bad_rows_are_all_reported_and_nothing_is_saved(runner, tmp_path, world):
    before = member_count()
    result = import_csv(runner, tmp_path, BAD)
    assert result.exit_code == 1
    out = result.output
    expected = [
        "line 2, column unit: no unit “Nowhere”",
        "line 3, column unit: the unit is empty",
        "line 4, column full_name: the name is empty",
        "line 5, column is_party_member: “maybe” is not yes or no",
        "line 6, column phone: “12345” is not a phone number",
        "line 7, column phone: “1912345678” is not a phone number",
        "line 8, column phone: “0912 345 678 999” is not a phone number",
        "line 9, column full_name: the name is longer than 120 characters",
        "line 10, column position: the position is longer than 120 characters",
        "line 12, column full_name: the same member is already on line 11",
        "10 problems found; nothing was imported.",
    ]
    for message in expected:
        assert message in out, message
    assert "line 11," not in out and "line 13" not in out
    db.session.expire_all()
    assert member_count() == before
    assert (
        db.session.scalars(select(Member).where(Member.full_name == "Nguyễn Văn I")).first() is None
    )


def test_header_must_match(runner, tmp_path, world):
    result = import_csv(runner, tmp_path, "unit,name\nx,y\n")
    assert result.exit_code == 1
    assert "missing columns: full_name, is_party_member, position, phone" in result.output
    assert "unknown columns: name" in result.output
