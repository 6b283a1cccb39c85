"""Rosters on the admin pages: scope, changes with audit events, import with preview, export."""

from __future__ import annotations

import csv
import io
import re
import zipfile
from datetime import date, timedelta
from html import unescape

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select

from tests.conftest import csrf_token_from
from tests.factories import make_activity, make_member, make_user
from webapp.extensions import db
from webapp.members import roster_io
from webapp.models import AuditEvent, Member, Participation, TallyMonth, User
from webapp.tallies import rebuild

BASE = "/admin/members"
CELL_X = "Tuyên Quang / Xã Lâm Bình / Chi bộ thôn Nà Va"
CELL_Y = "Tuyên Quang / Xã Thượng Lâm / Chi bộ thôn Bản Khiển"
HEADER = "unit,full_name,is_party_member,position,phone\n"


@pytest.fixture(autouse=True)
def english(client):
    """Messages are checked in English (the browser asks for it; nobody chose otherwise)."""
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"


@pytest.fixture
def admins(world):
    """An admin per commune besides the world's province-wide one."""
    made = {
        "x": make_user("quantri.x", "admin", world.commune_x),
        "y": make_user("quantri.y", "admin", world.commune_y),
    }
    db.session.commit()
    return made


def _login(auth, username):
    response = auth.login(username)
    assert response.status_code == 302, response.get_data(as_text=True)


def _token(client):
    return csrf_token_from(client, "/")


def _text(response) -> str:
    return unescape(response.get_data(as_text=True))


def _members() -> int:
    return db.session.scalar(select(func.count(Member.id))) or 0


def _named(name: str) -> Member | None:
    db.session.expire_all()
    return db.session.scalars(select(Member).where(Member.full_name == name)).first()


def _events(action: str) -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def _upload(client, data: bytes, filename: str, default_unit: int = 0):
    return client.post(
        f"{BASE}/import",
        data={
            "csrf_token": _token(client),
            "file": (io.BytesIO(data), filename),
            "default_unit": str(default_unit),
        },
        content_type="multipart/form-data",
    )


_CONTENT_RE = re.compile(r'name="content" value="([^"]*)"')


def _apply_fields(html: str) -> tuple[list[str], str]:
    chunks = _CONTENT_RE.findall(html)
    token = re.search(r'<input[^>]*name="token"[^>]*value="([^"]+)"', html)
    assert chunks and token, "no Apply form on the preview"
    return chunks, token.group(1)


def _apply(client, chunks: list[str], token: str):
    return client.post(
        f"{BASE}/import/apply",
        data={"csrf_token": _token(client), "token": token, "content": chunks},
        content_type="multipart/form-data",
    )


def _preview_and_apply(client, data: bytes, filename: str):
    preview = _upload(client, data, filename)
    assert preview.status_code == 200, _text(preview)
    chunks, token = _apply_fields(preview.get_data(as_text=True))
    return _apply(client, chunks, token)


def _download(client, path: str):
    """(response, body) of a file download; the response is closed (it may hold a temp file)."""
    response = client.get(path)
    try:
        return response, response.get_data()
    finally:
        response.close()


def _xlsx(rows: list[list[object]]) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


# -- who may do what ------------------------------------------------------------------------


def _routes(world):
    an = world.members["an"].id
    return [
        ("GET", f"{BASE}/"),
        ("GET", f"{BASE}/export.xlsx"),
        ("GET", f"{BASE}/export.csv"),
        ("GET", f"{BASE}/new"),
        ("POST", f"{BASE}/new"),
        ("GET", f"{BASE}/{an}"),
        ("POST", f"{BASE}/{an}"),
        ("POST", f"{BASE}/{an}/deactivate"),
        ("POST", f"{BASE}/{an}/reactivate"),
        ("POST", f"{BASE}/{an}/transfer"),
        ("GET", f"{BASE}/import"),
        ("POST", f"{BASE}/import"),
        ("POST", f"{BASE}/import/apply"),
        ("GET", f"{BASE}/template.xlsx"),
        ("GET", f"{BASE}/template.csv"),
    ]


@pytest.mark.parametrize("role", ["cadre", "secretary_x", "staff"])
def test_every_route_is_for_admins_only(client, auth, world, role):
    _login(auth, world.users[role].username)
    token = _token(client)
    for method, path in _routes(world):
        if method == "GET":
            response = client.get(path)
        else:
            response = client.post(
                path,
                data={"csrf_token": token, "full_name": "X", "unit": str(world.cell_x.id)},
            )
        assert response.status_code == 403, (method, path, response.status_code)
    assert world.members["an"].active and world.members["an"].unit_id == world.cell_x.id


def test_signed_out_is_sent_to_sign_in(client, world):
    for method, path in _routes(world):
        response = client.open(path, method=method)
        assert response.status_code in (302, 400), (method, path)
        if method == "GET":
            assert "/login" in response.headers["Location"]


def test_forms_need_the_csrf_token(client, auth, world):
    _login(auth, "quantri")
    an = world.members["an"]
    for path, data in [
        (f"{BASE}/new", {"unit": str(world.cell_x.id), "full_name": "Không Token"}),
        (f"{BASE}/{an.id}/deactivate", {}),
        (f"{BASE}/{an.id}/transfer", {"unit": str(world.cell_y.id)}),
        (f"{BASE}/import/apply", {"token": "x", "content": "x"}),
    ]:
        assert client.post(path, data=data).status_code == 400, path
    db.session.expire_all()
    assert an.active and an.unit_id == world.cell_x.id
    assert _named("Không Token") is None


def test_admin_of_one_commune_cannot_see_or_touch_another(client, auth, world, admins):
    _login(auth, "quantri.x")
    listing = _text(client.get(f"{BASE}/"))
    assert "Nguyễn Văn An" in listing and "Trần Thị Bình" in listing
    assert "Lê Văn Cường" not in listing
    assert f'value="{world.cell_y.id}"' not in listing  # not even offered in the unit picker

    cuong = world.members["cuong"]
    token = _token(client)
    assert client.get(f"{BASE}/?unit={world.commune_y.id}").status_code == 404
    assert client.get(f"{BASE}/?unit={world.province.id}").status_code == 404
    assert client.get(f"{BASE}/export.csv?unit={world.commune_y.id}").status_code == 404
    assert "Lê Văn Cường" not in _download(client, f"{BASE}/export.csv")[1].decode()
    assert client.get(f"{BASE}/{cuong.id}").status_code == 404
    for path, data in [
        (f"{BASE}/{cuong.id}", {"full_name": "Đổi Tên", "csrf_token": token}),
        (f"{BASE}/{cuong.id}/deactivate", {"csrf_token": token}),
        (f"{BASE}/{cuong.id}/transfer", {"unit": str(world.cell_x.id), "csrf_token": token}),
    ]:
        assert client.post(path, data=data).status_code == 404, path

    # Nor move one of their own into commune Y, nor add someone there.
    an = world.members["an"]
    moved = client.post(
        f"{BASE}/{an.id}/transfer", data={"unit": str(world.cell_y.id), "csrf_token": token}
    )
    assert moved.status_code == 302
    added = client.post(
        f"{BASE}/new",
        data={"unit": str(world.cell_y.id), "full_name": "Người Lạ", "csrf_token": token},
    )
    assert added.status_code == 200  # the form again: not a unit they may choose
    db.session.expire_all()
    assert (an.unit_id, cuong.full_name, cuong.active) == (
        world.cell_x.id,
        "Lê Văn Cường",
        True,
    )
    assert _named("Người Lạ") is None
    assert _events("member.transfer") == [] and _events("member.update") == []

    # An import naming a unit of commune Y is refused like an unknown unit.
    preview = _upload(client, (HEADER + f"{CELL_Y},Người Lạ,1,,\n").encode(), "ds.csv")
    assert "no unit “Tuyên Quang / Xã Thượng Lâm" in _text(preview)
    assert 'name="content"' not in preview.get_data(as_text=True)

    # The province admin sees everyone.
    auth.logout()
    _login(auth, "quantri")
    assert "Lê Văn Cường" in _text(client.get(f"{BASE}/"))


def test_admin_of_a_cell_still_may_not_move_members_out(client, auth, world):
    make_user("quantri.cell", "admin", world.cell_x)
    db.session.commit()
    _login(auth, "quantri.cell")
    an = world.members["an"]
    response = client.post(
        f"{BASE}/{an.id}/transfer",
        data={"unit": str(world.commune_x.id), "csrf_token": _token(client)},
    )
    assert response.status_code == 302
    db.session.expire_all()
    assert an.unit_id == world.cell_x.id


# -- listing --------------------------------------------------------------------------------


def test_search_without_diacritics_filters_and_pages(client, auth, world):
    for i in range(55):
        make_member(world.cell_x, f"Hoàng Văn Số {i:02d}", is_party_member=i % 2 == 0)
    make_member(world.cell_x, "Đặng Thị Nghỉ", active=False, is_party_member=False)
    db.session.commit()
    _login(auth, "quantri")

    found = _text(client.get(f"{BASE}/?q=nguyen+van"))
    assert "Nguyễn Văn An" in found and "Trần Thị Bình" not in found
    assert "Nguyễn Văn An" in _text(client.get(f"{BASE}/?q=0912345678"))
    assert "Đặng Thị Nghỉ" not in _text(client.get(f"{BASE}/?q=dang"))
    inactive = _text(client.get(f"{BASE}/?q=dang&status=inactive"))
    assert "Đặng Thị Nghỉ" in inactive
    not_party = _text(client.get(f"{BASE}/?q=hoang&party=no"))
    assert "Hoàng Văn Số 01" in not_party and "Hoàng Văn Số 02" not in not_party
    assert "27 people" in not_party

    first = _text(client.get(f"{BASE}/?q=hoang"))
    second = _text(client.get(f"{BASE}/?q=hoang&page=2"))
    assert "55 people" in first and "Page 1 of 2" in first
    assert "Hoàng Văn Số 00" in first and "Hoàng Văn Số 54" not in first
    assert "Hoàng Văn Số 54" in second and "Hoàng Văn Số 00" not in second
    assert "page=2" in first and "q=hoang" in first  # the pager keeps the filters


# -- changing one member --------------------------------------------------------------------


def test_add_edit_deactivate_reactivate_each_leave_an_audit_event(client, auth, world):
    _login(auth, "quantri")
    token = _token(client)
    added = client.post(
        f"{BASE}/new",
        data={
            "csrf_token": token,
            "unit": str(world.cell_x.id),
            "full_name": "  Hà   Thị Mới ",
            "is_party_member": "y",
            "position": "Chi hội trưởng",
            "phone": "0987 654 321",
        },
    )
    assert added.status_code == 302, _text(added)
    member = _named("Hà Thị Mới")
    assert member is not None
    assert (member.search_name, member.phone, member.is_party_member) == (
        "ha thi moi",
        "0987654321",
        True,
    )
    (created,) = _events("member.create")
    assert created.after["full_name"] == "Hà Thị Mới"
    assert created.actor_id == world.users["admin"].id

    same_again = client.post(
        f"{BASE}/new",
        data={
            "csrf_token": token,
            "unit": str(world.cell_x.id),
            "full_name": "Ha Thi Moi",
            "phone": "0987654321",
        },
    )
    assert "already on the roster" in _text(same_again)

    edited = client.post(
        f"{BASE}/{member.id}",
        # As a browser sends it: the box unticked, the position emptied.
        data={
            "csrf_token": token,
            "full_name": "Hà Thị Mới",
            "position": "",
            "phone": "0912000111",
        },
    )
    assert edited.status_code == 302
    member = _named("Hà Thị Mới")
    assert (member.phone, member.is_party_member, member.position) == ("0912000111", False, None)
    (updated,) = _events("member.update")
    assert updated.before == {
        "phone": "0987654321",
        "is_party_member": True,
        "position": "Chi hội trưởng",
    }
    assert updated.after == {"phone": "0912000111", "is_party_member": False, "position": None}

    bad_phone = client.post(
        f"{BASE}/{member.id}",
        data={"csrf_token": token, "full_name": "Hà Thị Mới", "phone": "12345"},
    )
    assert bad_phone.status_code == 200 and "is not a phone number" in _text(bad_phone)

    client.post(f"{BASE}/{member.id}/deactivate", data={"csrf_token": token})
    assert _named("Hà Thị Mới").active is False
    client.post(f"{BASE}/{member.id}/reactivate", data={"csrf_token": token})
    assert _named("Hà Thị Mới").active is True
    assert _events("member.deactivate")[0].after == {"active": False}
    assert _events("member.reactivate")[0].after == {"active": True}
    page = _text(client.get(f"{BASE}/{member.id}"))
    assert "0987654321" in page  # the history shows before → after


def test_transfer_keeps_past_participations_and_tallies_with_the_old_unit(client, auth, world):
    an = world.members["an"]
    activity = make_activity(
        world.cell_x,
        world.kind,
        world.users["cadre"],
        occurred_on=date.today() - timedelta(days=10),
        status="confirmed",
        participants=(an,),
        people_reached=12,
    )
    db.session.commit()  # the rollup follows in the same transaction
    assert rebuild.verify().total == 0
    tallies_before = sorted(tuple(r) for r in db.session.execute(select(TallyMonth.__table__)))

    _login(auth, "quantri")
    response = client.post(
        f"{BASE}/{an.id}/transfer",
        data={"unit": str(world.cell_y.id), "csrf_token": _token(client)},
    )
    assert response.status_code == 302
    db.session.expire_all()
    assert an.unit_id == world.cell_y.id
    participation = db.session.get(Participation, (activity.id, an.id))
    assert participation is not None and participation.activity.unit_id == world.cell_x.id
    assert rebuild.verify().total == 0
    tallies_after = sorted(tuple(r) for r in db.session.execute(select(TallyMonth.__table__)))
    assert tallies_after == tallies_before
    (event,) = _events("member.transfer")
    assert event.before["unit_id"] == world.cell_x.id
    assert event.after["unit_id"] == world.cell_y.id


# -- import -----------------------------------------------------------------------------------

BAD = (
    HEADER
    + f"""{CELL_X},Lò Văn Tốt,1,,0977111222
{CELL_X},,1,,
Nowhere / Nothing,Nguyễn Văn Lạc,1,,
{CELL_X},Lò Văn Tốt,1,,0977 111 222
{CELL_X},Mùa A Sểnh,1,,12345
"""
)


def test_preview_lists_every_bad_row_and_apply_is_refused(client, auth, world):
    _login(auth, "quantri")
    before = _members()
    preview = _upload(client, BAD.encode(), "danh-sach.csv")
    assert preview.status_code == 200
    html = _text(preview)
    rows = re.findall(r'<tr><td class="num">(\d+)</td><td>([^<]*)</td><td>([^<]*)</td></tr>', html)
    by_line = {int(line): (column, message) for line, column, message in rows}
    assert set(by_line) == {3, 4, 5, 6}
    assert by_line[3] == ("Full name", "the name is empty")
    assert by_line[4][0] == "Unit" and "no unit “Nowhere / Nothing”" in by_line[4][1]
    assert by_line[5] == ("Full name", "the same member is already on line 2")
    assert by_line[6][0] == "Phone number" and "“12345” is not a phone number" in by_line[6][1]
    assert 'name="content"' not in html  # no Apply button while problems remain
    assert "Lò Văn Tốt" in html  # the good row is shown as one to add
    assert _members() == before

    # Posting the file to Apply anyway changes nothing, not even the good row.
    admin = db.session.get(User, world.users["admin"].id)
    chunks, token = roster_io.pack_upload(admin, roster_io.Upload(BAD.encode(), "x.csv", None))
    refused = _apply(client, chunks, token)
    assert refused.status_code == 422
    assert _members() == before
    assert _named("Lò Văn Tốt") is None
    assert _events("member.create") == []


GOOD = (
    HEADER
    + f"""{CELL_X},Hoàng Thị Lan,có,Chi hội trưởng,+84 987 654 321
{CELL_X},Ma Văn Sáng,không,,
02269,Triệu Thị Hoa,1,Đảng viên,0987.111.222
{CELL_X},nguyen van an,0,Bí thư chi bộ,0912345678
"""
)


def test_apply_then_import_again_changes_nothing(client, auth, world):
    _login(auth, "quantri")
    before = _members()
    preview = _upload(client, GOOD.encode(), "ds.csv")
    html = _text(preview)
    assert "Hoàng Thị Lan" in html and "Bí thư chi bộ" in html
    chunks, token = _apply_fields(preview.get_data(as_text=True))
    applied = _apply(client, chunks, token)
    assert applied.status_code == 302, _text(applied)
    assert _members() == before + 3
    an = _named("Nguyễn Văn An")
    assert (an.is_party_member, an.position) == (False, "Bí thư chi bộ")
    assert len(_events("member.create")) == 3 and len(_events("member.update")) == 1
    assert _named("Hoàng Thị Lan").phone == "0987654321"

    again = _upload(client, GOOD.encode(), "ds.csv")
    assert 'name="content"' not in again.get_data(as_text=True)  # nothing to apply
    # Applying the first preview's file a second time is harmless too.
    assert _apply(client, chunks, token).status_code == 302
    assert _members() == before + 3
    assert len(_events("member.create")) == 3 and len(_events("member.update")) == 1


def test_apply_refuses_a_file_that_is_not_the_one_previewed(client, auth, world, admins):
    _login(auth, "quantri")
    preview = _upload(client, GOOD.encode(), "ds.csv")
    chunks, token = _apply_fields(preview.get_data(as_text=True))
    other = roster_io.pack_upload(
        db.session.get(User, world.users["admin"].id),
        roster_io.Upload((HEADER + f"{CELL_X},Kẻ Khác,1,,\n").encode(), "x.csv", None),
    )[0]
    assert _apply(client, other, token).status_code == 302  # back to the upload page
    assert _named("Kẻ Khác") is None and _named("Hoàng Thị Lan") is None
    auth.logout()
    _login(auth, "quantri.x")  # another admin cannot apply the first one's upload
    assert _apply(client, chunks, token).status_code == 302
    assert _named("Hoàng Thị Lan") is None


def test_xlsx_with_numbers_a_title_row_and_formulas(client, auth, world):
    _login(auth, "quantri")
    data = _xlsx(
        [
            ["Danh sách chi bộ thôn Nà Va"],
            [],
            ["Đơn vị", "Họ và tên", "Đảng viên", "Chức vụ", "Số điện thoại"],
            [CELL_X, "Lường Văn Một", True, None, 912345678],
            [CELL_X, "Lường Văn Hai", 0, "Tổ trưởng", 987654321.0],
            [CELL_X, "Lường Văn Ba", "có", None, 2143822123],
        ]
    )
    applied = _preview_and_apply(client, data, "danh sach.xlsx")
    assert applied.status_code == 302
    assert _named("Lường Văn Một").phone == "0912345678"
    assert _named("Lường Văn Hai").phone == "0987654321"
    assert _named("Lường Văn Hai").is_party_member is False
    assert _named("Lường Văn Ba").phone == "02143822123"

    with_formula = _xlsx(
        [
            ["unit", "full_name", "is_party_member", "position", "phone"],
            [CELL_X, "Lường Văn Bốn", 1, '="Tổ " & "phó"', None],
        ]
    )
    preview = _text(_upload(client, with_formula, "f.xlsx"))
    assert "a formula without a saved value" in preview
    assert _named("Lường Văn Bốn") is None


def test_csv_with_bom_and_vietnamese_headers(client, auth, world):
    _login(auth, "quantri")
    text = (
        "Đơn vị,Họ và tên,Đảng viên,Chức vụ,Số điện thoại,Đang sinh hoạt\n"
        f"{CELL_X},Vàng Thị Dợ,không,Chi hội phó,0366 123 456,có\n"
        f"{CELL_X},Vàng A Páo,có,,,\n"
    )
    applied = _preview_and_apply(client, b"\xef\xbb\xbf" + text.encode(), "ds.csv")
    assert applied.status_code == 302
    do = _named("Vàng Thị Dợ")
    assert (do.is_party_member, do.position, do.phone) == (False, "Chi hội phó", "0366123456")
    assert _named("Vàng A Páo").is_party_member is True


def test_units_may_be_named_below_the_admins_own_and_rows_may_take_a_default(
    client, auth, world, admins
):
    _login(auth, "quantri.x")
    text = HEADER + "Chi bộ thôn Nà Va,Sầm Văn Dưới,1,,\n,Sầm Văn Mặc Định,1,,\n"
    preview = _upload(client, text.encode(), "ds.csv", default_unit=world.cell_x.id)
    chunks, token = _apply_fields(preview.get_data(as_text=True))
    assert _apply(client, chunks, token).status_code == 302
    assert _named("Sầm Văn Dưới").unit_id == world.cell_x.id
    assert _named("Sầm Văn Mặc Định").unit_id == world.cell_x.id


@pytest.mark.parametrize(
    ("data", "filename", "expected"),
    [
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "roster.xlsx", "is not an Excel workbook"),
        (HEADER.encode(), "roster.xlsx", "is not an Excel workbook"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 64, "roster.xls", "old Excel file"),
        (None, "archive.xlsx", "ZIP archive but not an Excel workbook"),
        (b"\x00\x01binary", "roster.csv", "not a spreadsheet"),
        ("Đơn vị;Họ và tên\n".encode("utf-16"), "roster.csv", "not a spreadsheet"),
        ("unit,full_name\nXã,Lê\n".encode("latin-1"), "roster.csv", "UTF-8"),
    ],
)
def test_files_that_are_not_spreadsheets_are_refused_cleanly(
    client, auth, world, data, filename, expected
):
    if data is None:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr("readme.txt", "hello")
        data = buffer.getvalue()
    _login(auth, "quantri")
    before = _members()
    response = _upload(client, data, filename)
    assert response.status_code in (200, 422)
    assert expected in _text(response), _text(response)
    assert 'name="content"' not in response.get_data(as_text=True)
    assert _members() == before


def test_a_file_over_two_megabytes_is_refused(client, auth, world):
    _login(auth, "quantri")
    # The body is built here: the test client would spool a large one to a file it never closes.
    boundary = "grens"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n'
            f"{_token(client)}\r\n"
            f'--{boundary}\r\nContent-Disposition: form-data; name="default_unit"\r\n\r\n0\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.csv"\r\n'
            "Content-Type: text/csv\r\n\r\n"
        ).encode()
        + HEADER.encode()
        + b"x" * (2 * 1024 * 1024)
        + f"\r\n--{boundary}--\r\n".encode()
    )
    big = client.post(
        f"{BASE}/import", data=body, content_type=f"multipart/form-data; boundary={boundary}"
    )
    assert big.status_code == 413 and "larger than 2 MB" in _text(big)
    empty = _upload(client, b"", "empty.csv")
    assert empty.status_code == 422 and "The file is empty." in _text(empty)
    no_file = client.post(
        f"{BASE}/import", data={"csrf_token": _token(client), "default_unit": "0"}
    )
    assert no_file.status_code == 400 and "Choose a file to upload." in _text(no_file)


# -- export ---------------------------------------------------------------------------------


def test_export_xlsx_and_csv_import_back_unchanged(client, auth, world):
    make_member(world.cell_x, "=Công thức", position="+Chức", phone="0211234567")
    make_member(world.cell_y, "Nghỉ Rồi", active=False, is_party_member=False)
    db.session.commit()
    _login(auth, "quantri")

    xlsx, xlsx_data = _download(client, f"{BASE}/export.xlsx?status=all")
    assert xlsx.status_code == 200
    assert xlsx.mimetype == roster_io.XLSX_MIMETYPE
    book = load_workbook(io.BytesIO(xlsx_data), read_only=False)
    sheet = book.worksheets[0]
    assert sheet.freeze_panes == "A4"
    assert sheet["A1"].value.endswith("Tuyên Quang")
    assert [c.value for c in sheet[3]] == [
        "Đơn vị",
        "Họ và tên",
        "Đảng viên",
        "Chức vụ",
        "Số điện thoại",
        "Đang hoạt động",
    ]
    phones = {row[1].value: row[4].value for row in sheet.iter_rows(min_row=4)}
    assert phones["Nguyễn Văn An"] == "0912345678"
    assert sheet.cell(row=4, column=2).data_type == "s"
    assert all(cell.data_type != "f" for row in sheet.iter_rows() for cell in row)

    _csv, csv_data = _download(client, f"{BASE}/export.csv?status=all")
    assert csv_data.startswith(b"\xef\xbb\xbf")
    lines = list(csv.reader(io.StringIO(csv_data.decode("utf-8-sig"))))
    assert lines[0][:2] == ["Đơn vị", "Họ và tên"]
    formula_row = next(r for r in lines if "Công thức" in r[1])
    assert formula_row[1:4:2] == ["'=Công thức", "'+Chức"]  # never run as formulas
    assert len(lines) == 1 + 5

    before = _members()
    for data, name in ((xlsx_data, "export.xlsx"), (csv_data, "export.csv")):
        preview = _upload(client, data, name)
        html = _text(preview)
        assert preview.status_code == 200, html
        assert 'name="content"' not in html, html  # every row unchanged: nothing to apply
        assert re.search(r"<dt>[^<]+</dt><dd>5</dd></div>\s*<div class=\"\"><dt>", html)
    assert _members() == before
    db.session.expire_all()
    assert _named("Nghỉ Rồi").active is False


def test_export_follows_the_filters(client, auth, world):
    _login(auth, "quantri")
    text = _download(client, f"{BASE}/export.csv?q=tran")[1].decode("utf-8-sig")
    assert "Trần Thị Bình" in text and "Nguyễn Văn An" not in text


def test_templates_download_and_import_as_nothing_to_do(client, auth, world):
    _login(auth, "quantri")
    xlsx, xlsx_data = _download(client, f"{BASE}/template.xlsx")
    assert xlsx.status_code == 200
    book = load_workbook(io.BytesIO(xlsx_data))
    assert [c.value for c in book.worksheets[0][1]][:2] == ["Đơn vị", "Họ và tên"]
    _csv, csv_template = _download(client, f"{BASE}/template.csv")
    assert csv_template.startswith("\ufeffĐơn vị,Họ và tên".encode())

    sheet = book.worksheets[0]
    sheet.append([CELL_X, "Từ Mẫu", "có", None, "0977000111", None])
    buffer = io.BytesIO()
    book.save(buffer)
    assert _preview_and_apply(client, buffer.getvalue(), "mau.xlsx").status_code == 302
    assert _named("Từ Mẫu").phone == "0977000111"
    empty = _upload(client, csv_template, "mau.csv")
    assert empty.status_code == 200 and 'name="content"' not in empty.get_data(as_text=True)


def test_a_header_that_does_not_match_is_reported_on_its_line(client, auth, world):
    _login(auth, "quantri")
    preview = _upload(client, "Họ và tên,Điện thoại,Ghi chú\nA,0912345678,x\n".encode(), "x.csv")
    html = _text(preview)
    assert preview.status_code == 200
    assert "missing columns: unit, is_party_member, position" in html
    assert "unknown columns: ghi chú" in html
    assert 'name="content"' not in html
