"""The unit tree on the web: who may do what, browsing, search, changes and their audit events,
moves that keep the tallies exact, and the import of a province's official communes."""

from __future__ import annotations

import re
from datetime import date

import pytest
from sqlalchemy import event, func, select

from tests.conftest import csrf_token_from
from tests.factories import make_activity, make_member, make_user
from webapp.extensions import db
from webapp.models import AuditEvent, Unit, User
from webapp.tallies import query, rebuild
from webapp.tallies.months import month_of
from webapp.units import tree
from webapp.units.services import create_unit

TUYEN_QUANG_DIVISIONS = 124


def _unit(unit_id: int) -> Unit:
    db.session.expire_all()
    return db.session.get_one(Unit, unit_id)


def _events(action: str) -> list[AuditEvent]:
    db.session.expire_all()
    return list(
        db.session.scalars(
            select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)
        )
    )


def _unit_count() -> int:
    return db.session.scalar(select(func.count(Unit.id))) or 0


@pytest.fixture
def admin_x(world):
    """An administrator of commune X only."""
    user = make_user("quantri.x", "admin", world.commune_x)
    db.session.commit()
    return user


def _post(client, path, data=None):
    token = csrf_token_from(client, "/admin/units/")
    return client.post(path, data={"csrf_token": token, **(data or {})})


# -- who may do what ------------------------------------------------------------------------


def _routes(world) -> tuple[list[str], list[tuple[str, dict[str, str]]]]:
    x, y = world.cell_x.id, world.commune_y.id
    gets = [
        "/admin/units/",
        "/admin/units/?q=lam",
        f"/admin/units/{x}",
        f"/admin/units/{x}/children",
        f"/admin/units/new?parent={x}",
        f"/admin/units/{x}/move?q=thuong",
        "/admin/units/import",
    ]
    posts = [
        (f"/admin/units/new?parent={x}", {"name": "Tổ mới", "kind": "cell"}),
        (f"/admin/units/{x}/rename", {"name": "Tên mới"}),
        (f"/admin/units/{x}/move", {"new_parent": str(y)}),
        (f"/admin/units/{x}/deactivate", {}),
        (f"/admin/units/{x}/reactivate", {}),
        ("/admin/units/import/preview", {"province": "08"}),
        ("/admin/units/import", {"province": "08"}),
    ]
    return gets, posts


@pytest.mark.parametrize("username", ["canbo", "bithu.x", "chuyenvien"])
def test_cadres_secretaries_and_staff_get_403_everywhere(world, client, auth, username):
    before = _unit_count()
    auth.login(username)
    gets, posts = _routes(world)
    for path in gets:
        assert client.get(path).status_code == 403, path
    token = csrf_token_from(client, "/")
    for path, data in posts:
        assert client.post(path, data={"csrf_token": token, **data}).status_code == 403, path
    assert _unit_count() == before
    assert _unit(world.cell_x.id).parent_id == world.commune_x.id
    assert _events("unit.create") == [] and _events("unit.move") == []


def test_signed_out_visitors_are_sent_to_sign_in(world, client):
    gets, _posts = _routes(world)
    for path in gets:
        response = client.get(path)
        assert response.status_code == 302 and "/login" in response.location, path


def test_commune_admin_sees_and_changes_only_their_commune(world, client, auth, admin_x):
    auth.login("quantri.x")
    page = client.get("/admin/units/").get_data(as_text=True)
    assert world.cell_x.name in page
    assert world.commune_y.name not in page and world.province.name not in page
    for unit in (world.commune_y, world.cell_y, world.province):
        assert client.get(f"/admin/units/{unit.id}").status_code == 404
        assert client.get(f"/admin/units/{unit.id}/children").status_code == 404
        assert client.get(f"/admin/units/{unit.id}/move").status_code == 404
        assert client.get(f"/admin/units/new?parent={unit.id}").status_code == 404
    assert world.cell_y.name not in client.get("/admin/units/?q=ban khien").get_data(as_text=True)
    y, x = world.cell_y.id, world.cell_x.id
    refused = [
        (f"/admin/units/{y}/rename", {"name": "Đổi trộm"}),
        (f"/admin/units/{y}/deactivate", {}),
        (f"/admin/units/new?parent={y}", {"name": "Chi bộ lạ", "kind": "cell"}),
        # out of their subtree, and into a subtree outside it
        (f"/admin/units/{y}/move", {"new_parent": str(world.commune_x.id)}),
        (f"/admin/units/{x}/move", {"new_parent": str(world.commune_y.id)}),
        (f"/admin/units/{world.commune_x.id}/move", {"new_parent": str(world.province.id)}),
    ]
    for path, data in refused:
        assert _post(client, path, data).status_code == 404, path
    assert _unit(y).name == "Chi bộ thôn Bản Khiển" and _unit(y).active
    assert _unit(x).parent_id == world.commune_x.id
    assert _unit(y).parent_id == world.commune_y.id
    # the import and its preview are for administrators of a whole province
    assert client.get("/admin/units/import").status_code == 403
    assert _post(client, "/admin/units/import", {"province": "08"}).status_code == 403
    assert _events("unit.rename") == _events("unit.move") == _events("unit.create") == []


def test_commune_admin_cannot_move_their_own_top_unit(world, client, auth, admin_x):
    auth.login("quantri.x")
    inner = create_unit("Chi bộ thôn Khuổi Củng", "cell", world.commune_x)
    db.session.commit()
    response = _post(
        client, f"/admin/units/{world.commune_x.id}/move", {"new_parent": str(inner.id)}
    )
    assert response.status_code == 302
    assert _unit(world.commune_x.id).parent_id == world.province.id


def test_post_without_csrf_token_is_refused(world, client, auth):
    auth.login("quantri")
    response = client.post(f"/admin/units/{world.cell_x.id}/rename", data={"name": "Không token"})
    assert response.status_code == 400
    assert _unit(world.cell_x.id).name == "Chi bộ thôn Nà Va"


# -- browsing ---------------------------------------------------------------------------------


def test_tree_shows_the_scope_root_and_one_level_with_counts(world, client, auth):
    closed = create_unit("Chi bộ cũ", "cell", world.commune_y)
    closed.active = False
    db.session.commit()
    auth.login("quantri")
    page = client.get("/admin/units/").get_data(as_text=True)
    assert world.province.name in page
    assert world.commune_x.name in page and world.commune_y.name in page
    assert world.cell_x.name not in page  # deeper levels load on demand
    assert f'data-children="/admin/units/{world.commune_x.id}/children"' in page
    assert f'href="/admin/units/{world.commune_x.id}"' in page  # the no-JS way down
    fragment = client.get(f"/admin/units/{world.commune_y.id}/children").get_data(as_text=True)
    assert "<html" not in fragment
    assert world.cell_y.name in fragment and "Chi bộ cũ" in fragment
    assert fragment.count("badge-inactive") == 1
    assert 'class="node node-inactive"' in fragment


def test_kinds_are_shown_in_words(world, client, auth):
    auth.login("quantri")
    client.post("/language", data={"lang": "en", "csrf_token": csrf_token_from(client, "/")})
    fragment = client.get(f"/admin/units/{world.commune_x.id}/children").get_data(as_text=True)
    assert '<span class="node-kind">Party cell</span>' in fragment
    page = client.get("/admin/units/").get_data(as_text=True)
    assert "Commune · 02266" in page


def test_counts_are_one_query_for_any_number_of_units(world):
    for n in range(30):
        create_unit(f"Chi bộ số {n}", "cell", world.commune_x)
    make_member(world.cell_x, "Hoàng Văn Dũng", active=False)
    db.session.commit()
    statements: list[str] = []

    def count(*args):
        statements.append(args[2])

    for unit in (world.province, world.commune_x):
        db.session.refresh(unit)  # loaded before counting: the test counts the tree's queries
    event.listen(db.engine, "before_cursor_execute", count)
    try:
        few = tree.nodes([world.province, world.commune_x])
        many = tree.child_nodes(world.commune_x)
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    assert len(statements) == 3  # few: counts; many: children, counts
    province, commune_x = few
    # active members: an, binh (cell X), cuong (cell Y); accounts: all five of the world
    assert (province.members, province.users, province.children) == (3, 5, 2)
    assert (commune_x.members, commune_x.users, commune_x.children) == (2, 2, 31)
    assert len(many) == 31
    cell = next(n for n in many if n.unit.id == world.cell_x.id)
    assert (cell.members, cell.users, cell.children) == (2, 1, 0)


@pytest.mark.parametrize("query", ["ngoc duong", "NGỌC đường", "duong ngoc", "Ngoc"])
def test_search_ignores_diacritics_and_case(world, client, auth, query):
    create_unit("Xã Ngọc Đường", "commune", world.province)
    create_unit("Xã Ngọc Long", "commune", world.province)
    db.session.commit()
    auth.login("quantri")
    page = client.get("/admin/units/", query_string={"q": query}).get_data(as_text=True)
    assert "Xã Ngọc Đường" in page
    assert ("Xã Ngọc Long" in page) == (query == "Ngoc")
    assert world.commune_x.name not in page


def test_search_treats_wildcards_as_text(world, client, auth):
    auth.login("quantri")
    page = client.get("/admin/units/", query_string={"q": "%"}).get_data(as_text=True)
    assert world.commune_x.name not in page


# -- changing ---------------------------------------------------------------------------------


def test_create_unit_with_audit_event(world, client, auth):
    auth.login("quantri")
    response = _post(
        client,
        f"/admin/units/new?parent={world.commune_x.id}",
        {"name": "  Chi bộ thôn   Khuổi Củng ", "kind": "cell", "division_code": ""},
    )
    assert response.status_code == 302
    unit = db.session.scalars(select(Unit).where(Unit.name == "Chi bộ thôn Khuổi Củng")).one()
    assert unit.parent_id == world.commune_x.id
    assert unit.path == f"{world.commune_x.path}{unit.id}/"
    [created] = _events("unit.create")
    assert created.object_id == str(unit.id) and created.unit_id == unit.id
    assert created.actor_id == world.users["admin"].id
    assert created.after["name"] == "Chi bộ thôn Khuổi Củng"


@pytest.mark.parametrize(
    "data",
    [
        {"name": "Chi bộ thôn Nà Va", "kind": "cell"},  # already under commune X
        {"name": "chi bo thon na va", "kind": "cell"},  # the same, without diacritics
        {"name": "", "kind": "cell"},
        {"name": "Chi bộ mới", "kind": "castle"},
        {"name": "Chi bộ mới", "kind": "cell", "division_code": "12a"},
        {"name": "Chi bộ mới", "kind": "cell", "division_code": "02269"},  # commune Y's
    ],
)
def test_create_unit_refusals(world, client, auth, data):
    before = _unit_count()
    auth.login("quantri")
    response = _post(client, f"/admin/units/new?parent={world.commune_x.id}", data)
    assert response.status_code == 422
    assert 'class="field-error"' in response.get_data(
        as_text=True
    ) or "flash-error" in response.get_data(as_text=True)
    assert _unit_count() == before
    assert _events("unit.create") == []


def test_rename_with_audit_event_and_clash(world, client, auth):
    auth.login("quantri")
    path = f"/admin/units/{world.cell_x.id}/rename"
    assert _post(client, path, {"name": "Chi bộ thôn Nà Va mới"}).status_code == 302
    assert _unit(world.cell_x.id).name == "Chi bộ thôn Nà Va mới"
    assert _unit(world.cell_x.id).search_name == "chi bo thon na va moi"
    [renamed] = _events("unit.rename")
    assert renamed.before == {"name": "Chi bộ thôn Nà Va"}
    assert renamed.after == {"name": "Chi bộ thôn Nà Va mới"}
    other = create_unit("Chi bộ thôn Nà Khà", "cell", world.commune_x)
    db.session.commit()
    clash = _post(client, f"/admin/units/{other.id}/rename", {"name": "Chi bộ thôn Nà Va mới"})
    assert clash.status_code == 422
    assert _unit(other.id).name == "Chi bộ thôn Nà Khà"
    assert len(_events("unit.rename")) == 1


def _confirmed_entries(world, count: int) -> None:
    for n in range(count):
        make_activity(
            world.cell_x,
            world.kind,
            world.users["cadre"],
            occurred_on=date(2025, 3, 10 + n),
            status="confirmed",
            participants=(world.members["an"], world.members["binh"]),
            people_reached=10,
        )
    db.session.commit()  # the rollup follows the new entries at commit
    assert rebuild.verify().total == 0
    db.session.rollback()


def _activities(unit_id: int) -> int:
    db.session.expire_all()
    month = month_of(date(2025, 3, 1))
    return query.tally(db.session.get_one(Unit, unit_id), month, month).total.activities


def test_move_takes_the_subtree_and_keeps_tallies_exact(world, client, auth):
    _confirmed_entries(world, 3)
    below = create_unit("Tổ Đảng số 1", "cell", world.cell_x)
    db.session.commit()
    assert (_activities(world.commune_x.id), _activities(world.commune_y.id)) == (3, 0)
    auth.login("quantri")
    candidates = client.get(
        f"/admin/units/{world.cell_x.id}/move", query_string={"q": "thuong lam"}
    ).get_data(as_text=True)
    assert f'value="{world.commune_y.id}"' in candidates
    response = _post(
        client, f"/admin/units/{world.cell_x.id}/move", {"new_parent": str(world.commune_y.id)}
    )
    assert response.status_code == 302
    moved = _unit(world.cell_x.id)
    assert moved.parent_id == world.commune_y.id
    assert moved.path == f"{world.commune_y.path}{moved.id}/"
    assert _unit(below.id).path == f"{moved.path}{below.id}/"
    assert rebuild.verify().total == 0
    db.session.rollback()
    assert (_activities(world.commune_x.id), _activities(world.commune_y.id)) == (0, 3)
    assert _activities(world.province.id) == 3
    [moved_event] = _events("unit.move")
    assert moved_event.before["parent_id"] == world.commune_x.id
    assert moved_event.after == {"parent_id": world.commune_y.id, "parent": world.commune_y.name}


def test_move_into_itself_is_refused_with_the_reason(world, client, auth):
    below = create_unit("Tổ Đảng số 1", "cell", world.cell_x)
    db.session.commit()
    auth.login("quantri")
    candidates = client.get(
        f"/admin/units/{world.cell_x.id}/move", query_string={"q": "to dang"}
    ).get_data(as_text=True)
    assert f'value="{below.id}"' not in candidates  # not even offered
    response = _post(client, f"/admin/units/{world.cell_x.id}/move", {"new_parent": str(below.id)})
    assert response.status_code == 302
    page = client.get(response.location).get_data(as_text=True)
    assert "flash-error" in page
    assert _unit(world.cell_x.id).parent_id == world.commune_x.id
    assert _events("unit.move") == []


def test_deactivate_is_refused_while_people_are_active_there(world, client, auth):
    auth.login("quantri")
    page = client.get(f"/admin/units/{world.commune_x.id}").get_data(as_text=True)
    assert "/deactivate" not in page  # the warning with counts replaces the button
    response = _post(client, f"/admin/units/{world.commune_x.id}/deactivate")
    assert response.status_code == 302
    warning = client.get(response.location).get_data(as_text=True)
    assert "flash-error" in warning and " 2 " in warning  # 2 members, 2 accounts
    assert _unit(world.commune_x.id).active and _unit(world.cell_x.id).active
    assert _events("unit.deactivate") == []


def test_deactivate_subtree_then_reactivate(world, client, auth):
    empty = create_unit("Chi bộ giải thể", "cell", world.commune_y)
    below = create_unit("Tổ Đảng cũ", "cell", empty)
    db.session.commit()
    auth.login("quantri")
    assert _post(client, f"/admin/units/{empty.id}/deactivate").status_code == 302
    assert not _unit(empty.id).active and not _unit(below.id).active
    assert _unit(world.commune_y.id).active
    [off] = _events("unit.deactivate")
    assert off.after == {"active": False, "units": 2}
    # the unit below cannot come back before its parent
    assert _post(client, f"/admin/units/{below.id}/reactivate").status_code == 302
    assert not _unit(below.id).active
    assert _post(client, f"/admin/units/{empty.id}/reactivate").status_code == 302
    assert _unit(empty.id).active and not _unit(below.id).active
    [on] = _events("unit.reactivate")
    assert (on.before, on.after) == ({"active": False}, {"active": True})


# -- importing the official communes ---------------------------------------------------------


def test_import_preview_changes_nothing_and_import_twice_makes_no_duplicates(world, client, auth):
    before = _unit_count()
    auth.login("quantri")
    form = client.get("/admin/units/import").get_data(as_text=True)
    assert re.search(r'<option selected value="08">Tuyên Quang', form)  # theirs, preselected
    assert 'value="01"' in form  # and every other province of the official list
    preview = _post(client, "/admin/units/import/preview", {"province": "08"})
    assert preview.status_code == 200
    text = preview.get_data(as_text=True)
    assert "Xã Ngọc Đường" in text  # one of the communes to create
    assert _unit_count() == before
    assert _events("unit.import_divisions") == []

    first = _post(client, "/admin/units/import", {"province": "08"})
    assert first.status_code == 302
    created = TUYEN_QUANG_DIVISIONS - 2  # communes X and Y were there with their codes
    assert _unit_count() == before + created
    [imported] = _events("unit.import_divisions")
    assert len(imported.after["created"]) == created and imported.after["updated"] == []

    again = _post(client, "/admin/units/import/preview", {"province": "08"})
    assert 'action="/admin/units/import"' not in again.get_data(as_text=True)  # nothing to do
    assert _post(client, "/admin/units/import", {"province": "08"}).status_code == 302
    assert _unit_count() == before + created
    codes = db.session.scalars(select(Unit.division_code).where(Unit.division_code.is_not(None)))
    codes = list(codes)
    assert len(codes) == len(set(codes)) == TUYEN_QUANG_DIVISIONS + 1
    assert len(_events("unit.import_divisions")) == 1  # the second run changed nothing


def test_import_of_a_province_outside_the_tree_is_refused(world, client, auth):
    before = _unit_count()
    auth.login("quantri")
    response = _post(client, "/admin/units/import", {"province": "01"})
    assert response.status_code == 302
    assert "flash-error" in client.get(response.location).get_data(as_text=True)
    assert _unit_count() == before
    assert _post(client, "/admin/units/import", {"province": "99"}).status_code == 422


def test_an_admin_of_another_province_cannot_import_this_one(world, client, auth):
    other = create_unit("Thành phố Hà Nội", "province", division_code="01")
    make_user("quantri.hn", "admin", other)
    db.session.commit()
    before = _unit_count()
    auth.login("quantri.hn")
    response = _post(client, "/admin/units/import", {"province": "08"})
    assert response.status_code == 302
    assert _unit_count() == before
    user = db.session.scalars(select(User).where(User.username == "quantri.hn")).one()
    assert user.scope_unit_id == other.id
