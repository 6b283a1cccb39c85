"""Activity kinds and programmes on the web: who may change them, validation, audit events."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from tests.conftest import csrf_token_from
from tests.factories import make_user
from webapp.extensions import db
from webapp.models import ActivityKind, AuditEvent, Program


def _events(prefix: str) -> list[AuditEvent]:
    db.session.expire_all()
    return list(
        db.session.scalars(
            select(AuditEvent).where(AuditEvent.action.startswith(prefix)).order_by(AuditEvent.id)
        )
    )


def _post(client, path, data=None):
    token = csrf_token_from(client, "/")
    return client.post(path, data={"csrf_token": token, **(data or {})})


def _kind(code: str) -> ActivityKind | None:
    db.session.expire_all()
    return db.session.scalars(select(ActivityKind).where(ActivityKind.code == code)).first()


@pytest.fixture
def admin_x(world):
    user = make_user("quantri.x", "admin", world.commune_x)
    db.session.commit()
    return user


NEW_KIND = {
    "code": "don_ve_sinh",
    "name_vi": "Dọn vệ sinh",
    "name_en": "Clean-up",
    "sort_order": "5",
}


def _writes(world) -> list[tuple[str, dict[str, str]]]:
    kind, program = world.kind.id, world.program.id
    return [
        ("/admin/reference/kinds/new", NEW_KIND),
        (f"/admin/reference/kinds/{kind}", {**NEW_KIND, "code": "home_visit"}),
        (f"/admin/reference/kinds/{kind}/deactivate", {}),
        (f"/admin/reference/kinds/{kind}/activate", {}),
        ("/admin/reference/programs/new", {"code": "p2", "name_vi": "Nông thôn mới"}),
        (f"/admin/reference/programs/{program}", {"code": "p3", "name_vi": "Đổi tên"}),
        (f"/admin/reference/programs/{program}/deactivate", {}),
        (f"/admin/reference/programs/{program}/activate", {}),
    ]


@pytest.mark.parametrize("username", ["canbo", "bithu.x", "chuyenvien", "quantri.x"])
def test_only_an_admin_of_a_whole_tree_changes_the_lists(world, client, auth, admin_x, username):
    auth.login(username)
    index = client.get("/admin/reference/")
    forms = [
        "/admin/reference/kinds/new",
        f"/admin/reference/kinds/{world.kind.id}",
        "/admin/reference/programs/new",
        f"/admin/reference/programs/{world.program.id}",
    ]
    if username == "quantri.x":  # an administrator, but of one commune: reads only
        assert index.status_code == 200
        page = index.get_data(as_text=True)
        assert world.kind.name_vi in page and world.program.name_vi in page
        assert "/admin/reference/kinds/new" not in page and "/deactivate" not in page
    else:
        assert index.status_code == 403
    for path in forms:
        assert client.get(path).status_code == 403, path
    for path, data in _writes(world):
        assert _post(client, path, data).status_code == 403, path
    assert _kind("don_ve_sinh") is None
    assert _kind("home_visit").active
    assert _events("activity_kind") == _events("program") == []


def test_signed_out_visitors_are_sent_to_sign_in(world, client):
    response = client.get("/admin/reference/")
    assert response.status_code == 302 and "/login" in response.location


def test_post_without_csrf_token_is_refused(world, client, auth):
    auth.login("quantri")
    response = client.post("/admin/reference/kinds/new", data=NEW_KIND)
    assert response.status_code == 400
    assert _kind("don_ve_sinh") is None


def test_create_edit_and_switch_a_kind_with_audit_events(world, client, auth):
    auth.login("quantri")
    page = client.get("/admin/reference/").get_data(as_text=True)
    assert world.kind.name_vi in page and world.program.name_vi in page
    assert _post(client, "/admin/reference/kinds/new", NEW_KIND).status_code == 302
    kind = _kind("don_ve_sinh")
    assert (kind.name_vi, kind.name_en, kind.sort_order, kind.active) == (
        "Dọn vệ sinh",
        "Clean-up",
        5,
        True,
    )
    edit = {**NEW_KIND, "name_vi": "Dọn vệ sinh môi trường", "sort_order": "2"}
    assert _post(client, f"/admin/reference/kinds/{kind.id}", edit).status_code == 302
    assert _post(client, f"/admin/reference/kinds/{kind.id}/deactivate").status_code == 302
    assert not _kind("don_ve_sinh").active
    assert _post(client, f"/admin/reference/kinds/{kind.id}/activate").status_code == 302
    assert _kind("don_ve_sinh").active
    events = _events("activity_kind")
    assert [e.action for e in events] == [
        "activity_kind.create",
        "activity_kind.update",
        "activity_kind.deactivate",
        "activity_kind.activate",
    ]
    assert events[0].after["code"] == "don_ve_sinh"
    assert events[1].before == {"name_vi": "Dọn vệ sinh", "sort_order": 5}
    assert events[1].after == {"name_vi": "Dọn vệ sinh môi trường", "sort_order": 2}
    assert {e.actor_id for e in events} == {world.users["admin"].id}
    assert {e.unit_id for e in events} == {world.province.id}  # shows in the province's log


def test_create_and_edit_a_programme(world, client, auth):
    auth.login("quantri")
    data = {
        "code": "nong_thon_moi",
        "name_vi": "Nông thôn mới",
        "name_en": "",
        "starts_on": "2026-01-01",
        "ends_on": "2026-12-31",
    }
    assert _post(client, "/admin/reference/programs/new", data).status_code == 302
    program = db.session.scalars(select(Program).where(Program.code == "nong_thon_moi")).one()
    assert (program.starts_on, program.ends_on, program.name_en) == (
        date(2026, 1, 1),
        date(2026, 12, 31),
        "",
    )
    same_day = {**data, "ends_on": "2026-01-01"}
    assert _post(client, f"/admin/reference/programs/{program.id}", same_day).status_code == 302
    assert [e.action for e in _events("program")] == ["program.create", "program.update"]


@pytest.mark.parametrize(
    ("path", "data", "field"),
    [
        ("kinds/new", {**NEW_KIND, "code": "home_visit"}, "code"),  # taken
        ("kinds/new", {**NEW_KIND, "code": "HOME_VISIT"}, "code"),  # the same, in capitals
        ("kinds/new", {**NEW_KIND, "code": "thăm hộ"}, "code"),  # diacritics and a space
        ("kinds/new", {**NEW_KIND, "code": ""}, "code"),
        ("kinds/new", {**NEW_KIND, "name_vi": "   "}, "name_vi"),
        ("kinds/new", {**NEW_KIND, "sort_order": "nhiều"}, "sort_order"),
        ("programs/new", {"code": "xoa_nha_tam", "name_vi": "Trùng mã"}, "code"),
        (
            "programs/new",
            {"code": "p9", "name_vi": "Ngược", "starts_on": "2026-05-01", "ends_on": "2026-04-30"},
            "ends_on",
        ),
        ("programs/new", {"code": "p9", "name_vi": "Sai ngày", "starts_on": "31/02/2026"}, None),
    ],
)
def test_validation_errors_are_shown_and_nothing_is_saved(world, client, auth, path, data, field):
    kinds_before = db.session.scalars(select(ActivityKind.code)).all()
    programs_before = db.session.scalars(select(Program.code)).all()
    auth.login("quantri")
    response = _post(client, f"/admin/reference/{path}", data)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    if field:
        assert f'id="{field}-error"' in html
    assert 'class="field-error"' in html
    db.session.expire_all()
    assert db.session.scalars(select(ActivityKind.code)).all() == kinds_before
    assert db.session.scalars(select(Program.code)).all() == programs_before
    assert _events("activity_kind") == _events("program") == []


def test_a_kind_keeps_its_own_code_when_edited(world, client, auth):
    auth.login("quantri")
    data = {"code": "home_visit", "name_vi": "Thăm hộ", "name_en": "Home visit"}
    assert _post(client, f"/admin/reference/kinds/{world.kind.id}", data).status_code == 302
    assert _kind("home_visit").name_vi == "Thăm hộ"


def test_unknown_items_are_404(world, client, auth):
    auth.login("quantri")
    assert client.get("/admin/reference/kinds/999999").status_code == 404
    assert _post(client, "/admin/reference/programs/999999/deactivate").status_code == 404
