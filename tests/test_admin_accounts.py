"""Account administration on the web (issue 7), the temporary-password flow and "My account".

Who may do what: every route × every role, and an administrator of one commune against the
accounts of another. CSRF stays on: every POST carries the token a page gave.
"""

from __future__ import annotations

import json
import re
from html import unescape

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_babel import force_locale
from sqlalchemy import select
from werkzeug.test import TestResponse

from tests import factories
from tests.conftest import Auth, csrf_token_from
from tests.factories import PASSWORD, World
from webapp.extensions import db
from webapp.models import AuditEvent, User
from webapp.users import services

TEMP_RE = re.compile(r"<code>([a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4})</code>")
NEW_PASSWORD = "mat-khau-rieng-2026"


# -- helpers -----------------------------------------------------------------------------------


@pytest.fixture
def admins(world: World) -> dict[str, User]:
    """An administrator of each commune, beside the province's `quantri`."""
    made = {
        "x": factories.make_user("quantri.x", "admin", world.commune_x),
        "y": factories.make_user("quantri.y", "admin", world.commune_y),
    }
    db.session.commit()
    return made


def signed_in(app: Flask, login: str, password: str = PASSWORD) -> FlaskClient:
    client = app.test_client()
    response = Auth(client).login(login, password)
    assert response.status_code == 302, response.get_data(as_text=True)
    return client


def post(client: FlaskClient, path: str, data: dict[str, str] | None = None, **kw) -> TestResponse:
    token = csrf_token_from(client, "/account/password")
    return client.post(path, data={"csrf_token": token, **(data or {})}, **kw)


def text_of(response: TestResponse) -> str:
    return unescape(response.get_data(as_text=True))


def fresh(user: User) -> User:
    db.session.expire_all()
    found = db.session.get(User, user.id)
    assert found is not None
    return found


def events_for(user: User) -> list[AuditEvent]:
    return list(
        db.session.scalars(
            select(AuditEvent)
            .where(AuditEvent.object_type == "app_user", AuditEvent.object_id == str(user.id))
            .order_by(AuditEvent.id)
        )
    )


def base(user: User) -> str:
    return f"/admin/accounts/{user.id}"


def routes_for(world: World, target: User) -> list[tuple[str, str, dict[str, str]]]:
    """Every account route, aimed at `target` (and at a member of the same subtree)."""
    member = world.members["binh"]
    access = {"role": "cadre", "scope_unit": str(target.scope_unit_id), "scope_other": ""}
    create = {
        "member_id": str(member.id),
        "username": "binh.tt",
        "role": "cadre",
        "scope_unit": str(member.unit_id),
    }
    return [
        ("GET", "/admin/accounts/", {}),
        ("GET", "/admin/accounts/new", {}),
        ("GET", f"/admin/accounts/new?member={member.id}", {}),
        ("POST", "/admin/accounts/new", create),
        ("GET", base(target), {}),
        ("POST", base(target) + "/access", access),
        ("POST", base(target) + "/reset-password", {}),
        ("POST", base(target) + "/deactivate", {}),
        ("POST", base(target) + "/reactivate", {}),
        ("POST", base(target) + "/unlock", {}),
    ]


def call(client: FlaskClient, method: str, path: str, data: dict[str, str]) -> TestResponse:
    return client.get(path) if method == "GET" else post(client, path, data)


def snapshot(user: User) -> tuple[object, ...]:
    user = fresh(user)
    return (user.role, user.scope_unit_id, user.active, user.session_epoch, user.password_hash)


# -- who may use the pages at all --------------------------------------------------------------


@pytest.mark.parametrize("login", ["canbo", "bithu.x", "chuyenvien"])
def test_every_route_refuses_everyone_below_admin(app, world: World, login):
    client = signed_in(app, login)
    target = world.users["secretary_x"]
    before = snapshot(target)
    for method, path, data in routes_for(world, target):
        assert call(client, method, path, data).status_code == 403, (login, method, path)
    assert snapshot(target) == before
    assert db.session.scalar(select(User).where(User.username == "binh.tt")) is None


def test_every_page_sends_anonymous_visitors_to_sign_in(world: World, client):
    for method, path, _data in routes_for(world, world.users["cadre"]):
        if method == "GET":
            response = client.get(path)
            assert response.status_code == 302, path
            assert response.headers["Location"].startswith("/login?next=")


def test_posts_without_the_csrf_token_are_refused(app, world: World):
    client = signed_in(app, "quantri")
    target = world.users["cadre"]
    before = snapshot(target)
    for method, path, data in routes_for(world, target):
        if method == "POST":
            assert client.post(path, data=data).status_code == 400, path
            forged = client.post(path, data={**data, "csrf_token": "forged"})
            assert forged.status_code == 400, path
    assert snapshot(target) == before
    assert client.post("/account/password", data={}).status_code == 400
    assert client.post("/account/language", data={"lang": "en"}).status_code == 400


# -- an administrator's scope ------------------------------------------------------------------


def test_list_shows_only_accounts_inside_the_admins_subtree(app, world: World, admins):
    page = text_of(signed_in(app, "quantri.x").get("/admin/accounts/"))
    for inside in ("canbo", "bithu.x", "quantri.x"):
        assert f">{inside}<" in page, inside
    for outside in ("bithu.y", "quantri.y", "chuyenvien", "quantri"):
        assert f">{outside}<" not in page, outside
    everything = text_of(signed_in(app, "quantri").get("/admin/accounts/"))
    for username in ("canbo", "bithu.x", "bithu.y", "quantri.y", "chuyenvien"):
        assert f">{username}<" in everything


@pytest.mark.parametrize("target_key", ["secretary_y", "admin", "staff"])
def test_admin_of_one_commune_cannot_see_or_touch_accounts_elsewhere(
    app, world: World, admins, target_key
):
    """Accounts of another commune, or above (the province), answer 404 on every route."""
    client = signed_in(app, "quantri.x")
    target = world.users[target_key]
    before = snapshot(target)
    for method, path, data in routes_for(world, target):
        if str(target.id) in path:
            assert call(client, method, path, data).status_code == 404, path
    assert snapshot(target) == before
    assert [e.action for e in events_for(target)] == []


def test_admin_cannot_pick_a_member_outside_their_scope(app, world: World, admins):
    client = signed_in(app, "quantri.x")
    cuong = world.members["cuong"]  # a member of commune Y
    search = text_of(client.get("/admin/accounts/new?q=cuong"))
    assert "Lê Văn Cường" not in search
    assert client.get(f"/admin/accounts/new?member={cuong.id}").status_code == 404
    data = {"member_id": str(cuong.id), "username": "cuong", "role": "cadre"}
    response = post(client, "/admin/accounts/new", {**data, "scope_unit": str(world.cell_x.id)})
    assert response.status_code == 404
    assert services.find_by_username("cuong") is None


@pytest.mark.parametrize(
    ("scope_field", "message"),
    [
        ({"scope_other": "08"}, "is outside your scope"),  # the province, above the admin
        ({"scope_other": "02269"}, "is outside your scope"),  # the other commune
        ({"scope_other": "Không có / Đơn vị này"}, "There is no unit"),
        ({"scope_unit": "COMMUNE_Y"}, "Not a valid choice"),  # not offered in the list
    ],
)
def test_new_account_scope_must_lie_inside_the_admins_scope(
    app, world: World, admins, scope_field, message
):
    client = signed_in(app, "quantri.x", PASSWORD)
    data = {
        "member_id": str(world.members["binh"].id),
        "username": "binh.tt",
        "role": "staff",
        "scope_unit": str(world.commune_x.id),
        "scope_other": "",
    }
    data.update(
        {k: str(world.commune_y.id) if v == "COMMUNE_Y" else v for k, v in scope_field.items()}
    )
    response = post(client, "/admin/accounts/new", data, headers={"Accept-Language": "en"})
    assert response.status_code == 422
    assert message in text_of(response)
    assert services.find_by_username("binh.tt") is None


def test_admin_may_grant_up_to_admin_inside_their_scope(app, world: World, admins):
    client = signed_in(app, "quantri.x")
    form = text_of(client.get(f"/admin/accounts/new?member={world.members['binh'].id}"))
    assert 'value="admin"' in form
    data = {
        "member_id": str(world.members["binh"].id),
        "username": "binh.admin",
        "role": "admin",
        "scope_unit": str(world.commune_x.id),
        "scope_other": "",
    }
    assert post(client, "/admin/accounts/new", data).status_code == 200
    created = services.find_by_username("binh.admin")
    assert created is not None
    assert (created.role, created.scope_unit_id) == ("admin", world.commune_x.id)


def test_admin_cannot_lock_themselves_out(app, world: World, admins):
    me = admins["x"]
    client = signed_in(app, "quantri.x")
    page = text_of(client.get(base(me), headers={"Accept-Language": "en"}))
    assert "This is your own account" in page
    demote = post(
        client,
        base(me) + "/access",
        {"role": "staff", "scope_unit": str(world.commune_x.id), "scope_other": ""},
        headers={"Accept-Language": "en"},
    )
    assert demote.status_code == 422
    assert "You cannot change the role or scope of your own account" in text_of(demote)
    narrow = post(
        client,
        base(me) + "/access",
        {"role": "admin", "scope_unit": str(world.cell_x.id), "scope_other": ""},
    )
    assert narrow.status_code == 422
    post(client, base(me) + "/deactivate")
    post(client, base(me) + "/reset-password")
    me = fresh(me)
    assert (me.role, me.scope_unit_id, me.active) == ("admin", world.commune_x.id, True)
    assert not me.must_change_password
    assert client.get("/admin/accounts/").status_code == 200  # still signed in, still admin


def test_may_manage_is_the_one_rule_for_pages_and_command_line(world: World, admins):
    cadre, staff, admin_x = world.users["cadre"], world.users["staff"], admins["x"]
    with force_locale("en"):  # the messages are compared in English
        assert services.may_manage(None, "admin", world.province) is None  # the command line
        assert services.may_manage(staff, "cadre", world.cell_x) == (
            "Only an administrator can manage accounts."
        )
        assert services.may_manage(admin_x, "admin", world.commune_x) is None
        assert "outside your scope" in (services.may_manage(admin_x, "cadre", world.province) or "")
        assert services.may_manage(admin_x, "cadre", world.cell_x, account=cadre) is None
        refusal = services.may_manage(admin_x, "cadre", world.cell_x, account=world.users["admin"])
        assert refusal == "This account is outside your scope."
        with pytest.raises(services.AccountError):
            services.deactivate(cadre, actor=staff)
        with pytest.raises(services.AccountError):
            services.reset_password(world.users["secretary_y"], actor=admin_x)
        db.session.rollback()
        assert services.deactivate(fresh(cadre)) is True  # no actor: the command line may


# -- the list ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "found", "not_found"),
    [
        ("nguyen van", "canbo", "bithu.x"),  # the name without its marks
        ("NGUYỄN VĂN AN", "canbo", "bithu.x"),
        ("0912 345", "canbo", "bithu.x"),  # part of the phone number, as typed
        ("bithu", "bithu.x", "canbo"),  # the username
    ],
)
def test_search_by_name_phone_or_username_ignores_marks(app, world: World, query, found, not_found):
    page = text_of(signed_in(app, "quantri").get("/admin/accounts/", query_string={"q": query}))
    assert f">{found}<" in page
    assert f">{not_found}<" not in page


def test_filter_by_role_and_status(app, world: World):
    factories.make_user("da.nghi", "secretary", world.commune_x, active=False)
    db.session.commit()
    client = signed_in(app, "quantri")
    secretaries = text_of(client.get("/admin/accounts/?role=secretary"))
    assert ">bithu.x<" in secretaries and ">da.nghi<" in secretaries
    assert ">canbo<" not in secretaries
    inactive = text_of(client.get("/admin/accounts/?status=inactive"))
    assert ">da.nghi<" in inactive and ">bithu.x<" not in inactive
    active = text_of(client.get("/admin/accounts/?status=active&role=secretary"))
    assert ">bithu.x<" in active and ">da.nghi<" not in active
    assert client.get("/admin/accounts/?role=boss&status=x&page=zz").status_code == 200


# -- creating an account -----------------------------------------------------------------------


def test_create_an_account_for_a_member_and_show_its_password_once(app, world: World):
    client = signed_in(app, "quantri")
    binh = world.members["binh"]
    search = text_of(client.get("/admin/accounts/new?q=tran thi"))
    assert "Trần Thị Bình" in search
    assert "Nguyễn Văn An" not in text_of(client.get("/admin/accounts/new?q=nguyen"))  # has one
    form = text_of(client.get(f"/admin/accounts/new?member={binh.id}"))
    assert 'value="binh.tt"' in form  # suggested: given name, then initials
    data = {
        "member_id": str(binh.id),
        "username": "binh.tt",
        "role": "cadre",
        "scope_unit": str(world.cell_x.id),
        "scope_other": "",
    }
    response = post(client, "/admin/accounts/new", data)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    match = TEMP_RE.search(response.get_data(as_text=True))
    assert match, "the temporary password is shown"
    temporary = match.group(1)
    user = services.find_by_username("binh.tt")
    assert user is not None
    assert (user.full_name, user.member_id, user.role, user.scope_unit_id) == (
        "Trần Thị Bình",
        binh.id,
        "cadre",
        world.cell_x.id,
    )
    assert user.must_change_password and user.check_password(temporary)
    assert temporary not in client.get(base(user)).get_data(as_text=True)  # once only
    [event] = events_for(user)
    assert (event.action, event.actor_id) == ("user.create", world.users["admin"].id)
    assert temporary not in json.dumps([event.before, event.after])
    again = post(client, "/admin/accounts/new", {**data, "username": "binh.tt2"})
    assert again.status_code == 422
    assert "already has the account" in text_of(again) or "đã có tài khoản" in text_of(again)


def test_create_refuses_a_taken_username(app, world: World):
    client = signed_in(app, "quantri")
    data = {
        "member_id": str(world.members["binh"].id),
        "username": "BiThu.X",
        "role": "cadre",
        "scope_unit": str(world.cell_x.id),
        "scope_other": "",
    }
    response = post(client, "/admin/accounts/new", data, headers={"Accept-Language": "en"})
    assert response.status_code == 422
    assert "The username “bithu.x” is taken." in text_of(response)


# -- changing role and scope -------------------------------------------------------------------


def test_change_role_and_scope_is_audited(app, world: World):
    client = signed_in(app, "quantri")
    target = world.users["secretary_x"]
    response = post(
        client,
        base(target) + "/access",
        {"role": "staff", "scope_unit": str(world.commune_x.id), "scope_other": "08"},
    )
    assert response.status_code == 302
    target = fresh(target)
    assert (target.role, target.scope_unit_id) == ("staff", world.province.id)
    [event] = events_for(target)
    assert event.action == "user.update"
    assert event.actor_id == world.users["admin"].id
    assert event.before == {"role": "secretary", "scope_unit_id": world.commune_x.id}
    assert event.after == {"role": "staff", "scope_unit_id": world.province.id}


def test_a_cadres_scope_must_hold_their_roster_entry(app, world: World):
    client = signed_in(app, "quantri")
    response = post(
        client,
        base(world.users["cadre"]) + "/access",
        {"role": "cadre", "scope_unit": str(world.commune_x.id), "scope_other": "02269"},
        headers={"Accept-Language": "en"},
    )
    assert response.status_code == 422
    assert "outside the account's scope" in text_of(response)
    assert fresh(world.users["cadre"]).scope_unit_id == world.cell_x.id


# -- the temporary password, end to end -------------------------------------------------------


def test_temporary_password_flow(app, world: World):
    admin = signed_in(app, "quantri")
    phone = signed_in(app, "canbo")  # the cadre's phone, signed in before the reset
    reset = post(admin, base(world.users["cadre"]) + "/reset-password")
    assert reset.status_code == 200
    assert reset.headers["Cache-Control"] == "no-store"
    temporary = TEMP_RE.search(reset.get_data(as_text=True)).group(1)  # type: ignore[union-attr]
    cadre = fresh(world.users["cadre"])
    assert cadre.must_change_password and cadre.check_password(temporary)
    assert phone.get("/").status_code == 302  # other sessions have ended

    client = app.test_client()
    assert Auth(client).login("canbo", PASSWORD).status_code == 401  # the old password is gone
    signed = Auth(client).login("canbo", temporary)
    assert signed.headers["Location"] == "/account/password"
    for path in ("/", "/review/", "/account", "/capture", "/admin/accounts/"):
        response = client.get(path)
        assert response.status_code == 302, path
        assert response.headers["Location"] == "/account/password", path
    for path in ("/api/v1/session", "/api/v1/reference"):
        api = client.get(path, headers={"Accept-Language": "en"})
        assert api.status_code == 403, path
        error = api.get_json()["error"]
        assert error["status"] == 403
        assert "choose a new password" in error["message"]
    vietnamese = client.get("/api/v1/session").get_json()["error"]["message"]
    assert vietnamese  # translated when the catalogue has it; never empty
    page = client.get("/account/password", headers={"Accept-Language": "en"})
    assert page.status_code == 200
    assert "You signed in with a temporary password." in text_of(page)

    def change(current: str, new: str, confirm: str | None = None) -> TestResponse:
        data = {"current_password": current, "new_password": new, "confirm": confirm or new}
        return post(client, "/account/password", data, headers={"Accept-Language": "en"})

    assert change("sai-mat-khau", NEW_PASSWORD).status_code == 401
    assert "The current password is not right." in text_of(change("sai", NEW_PASSWORD))
    assert "at least 8 characters" in text_of(change(temporary, "ngan"))
    assert "different from the current one" in text_of(change(temporary, temporary))
    assert "are not the same" in text_of(change(temporary, NEW_PASSWORD, "khac-hoan-toan"))
    assert fresh(cadre).must_change_password

    done = change(temporary, NEW_PASSWORD)
    assert done.status_code == 302
    assert done.headers["Location"] == "/"
    assert client.get("/").status_code == 200  # this session stays signed in
    assert client.get("/api/v1/session").status_code == 200
    cadre = fresh(cadre)
    assert not cadre.must_change_password and cadre.check_password(NEW_PASSWORD)
    assert Auth(app.test_client()).login("canbo", temporary).status_code == 401
    actions = [(e.action, e.actor_id) for e in events_for(cadre)]
    assert actions == [
        ("user.reset_password", world.users["admin"].id),
        ("user.change_password", cadre.id),
    ]
    logged = json.dumps([[e.before, e.after] for e in events_for(cadre)])
    assert temporary not in logged and NEW_PASSWORD not in logged and "scrypt" not in logged


def test_a_forced_user_may_still_sign_out_and_switch_language(app, world: World):
    admin = signed_in(app, "quantri")
    reset = post(admin, base(world.users["cadre"]) + "/reset-password")
    temporary = TEMP_RE.search(reset.get_data(as_text=True)).group(1)  # type: ignore[union-attr]
    client = signed_in(app, "canbo", temporary)
    token = csrf_token_from(client, "/account/password")
    language = client.post("/language", data={"lang": "en", "csrf_token": token, "next": "/"})
    assert language.status_code == 302
    assert '<html lang="en">' in client.get("/account/password").get_data(as_text=True)
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/account/password").status_code == 302  # signed out: to sign-in


# -- deactivating, reactivating, unlocking -----------------------------------------------------


def test_deactivation_signs_the_user_out_and_reactivation_lets_them_back(app, world: World):
    admin = signed_in(app, "quantri")
    phone = signed_in(app, "canbo")
    assert phone.get("/").status_code == 200
    assert post(admin, base(world.users["cadre"]) + "/deactivate").status_code == 302
    assert phone.get("/").status_code == 302
    assert Auth(app.test_client()).login("canbo").status_code == 401
    page = text_of(admin.get(base(world.users["cadre"]), headers={"Accept-Language": "en"}))
    assert "Reactivate" in page
    assert post(admin, base(world.users["cadre"]) + "/reactivate").status_code == 302
    assert phone.get("/").status_code == 302  # the old session stays ended
    assert Auth(app.test_client()).login("canbo").status_code == 302
    actions = [e.action for e in events_for(world.users["cadre"])]
    assert actions == ["user.deactivate", "user.reactivate"]


@pytest.fixture
def limits(app: Flask) -> int:
    app.config["LOGIN_LIMIT_PER_ACCOUNT"] = "3 per 15 minutes"
    app.config["LOGIN_LIMIT_PER_ADDRESS"] = "20 per 15 minutes"
    return 3


def failed_sign_in(client: FlaskClient, login: str, address: str) -> TestResponse:
    client.environ_base["REMOTE_ADDR"] = address
    token = csrf_token_from(client, "/login")
    return client.post("/login", data={"login": login, "password": "sai", "csrf_token": token})


def test_unlock_clears_the_failed_sign_in_limit(app, world: World, limits):
    cadre = world.users["cadre"]
    admin = signed_in(app, "quantri")
    english = {"Accept-Language": "en"}
    assert "Not locked" in text_of(admin.get(base(cadre), headers=english))
    phone = app.test_client()
    for i in range(limits):
        assert failed_sign_in(phone, "0912.345.678", f"10.0.0.{i}").status_code == 401
    refused = Auth(phone).login("canbo")
    assert refused.status_code == 429
    page = text_of(admin.get(base(cadre), headers=english))
    assert "Locked: 3 failed sign-ins." in page
    assert post(admin, base(cadre) + "/unlock").status_code == 302
    assert "Not locked" in text_of(admin.get(base(cadre), headers=english))
    assert Auth(phone).login("canbo").status_code == 302
    [event] = events_for(cadre)
    assert (event.action, event.before, event.after) == (
        "user.unlock",
        {"locked": True, "failed_sign_ins": 3},
        {"locked": False, "failed_sign_ins": 0},
    )


def test_unlock_leaves_other_accounts_locked(app, world: World, limits):
    phone = app.test_client()
    for i in range(limits):
        failed_sign_in(phone, "canbo", f"10.1.0.{i}")
        failed_sign_in(phone, "bithu.x", f"10.2.0.{i}")
    admin = signed_in(app, "quantri")
    post(admin, base(world.users["cadre"]) + "/unlock")
    assert Auth(app.test_client()).login("canbo").status_code == 302
    assert Auth(app.test_client()).login("bithu.x").status_code == 429


# -- my account --------------------------------------------------------------------------------


def test_own_password_change_keeps_this_session_and_ends_the_others(app, world: World):
    client = signed_in(app, "bithu.x")
    other_device = signed_in(app, "bithu.x")
    epoch = world.users["secretary_x"].session_epoch
    wrong = post(
        client,
        "/account/password",
        {"current_password": "sai", "new_password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
        headers={"Accept-Language": "en"},
    )
    assert wrong.status_code == 401
    assert "The current password is not right." in text_of(wrong)
    assert fresh(world.users["secretary_x"]).session_epoch == epoch
    right = post(
        client,
        "/account/password",
        {"current_password": PASSWORD, "new_password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
    )
    assert right.status_code == 302
    assert right.headers["Location"] == "/account"
    user = fresh(world.users["secretary_x"])
    assert user.session_epoch == epoch + 1 and user.check_password(NEW_PASSWORD)
    assert client.get("/account").status_code == 200
    assert other_device.get("/").status_code == 302
    assert [e.action for e in events_for(user)] == ["user.change_password"]


def test_language_choice_is_saved_and_switches_the_pages(app, world: World):
    client = signed_in(app, "canbo")
    assert '<html lang="vi">' in client.get("/account").get_data(as_text=True)
    response = post(client, "/account/language", {"lang": "en"})
    assert response.status_code == 302
    page = client.get("/account").get_data(as_text=True)
    assert '<html lang="en">' in page and "Language saved." in page
    assert fresh(world.users["cadre"]).locale == "en"
    elsewhere = signed_in(app, "canbo")  # another device, no language chosen there
    assert '<html lang="en">' in elsewhere.get("/").get_data(as_text=True)
    assert post(client, "/account/language", {"lang": "fr"}).status_code == 302
    assert fresh(world.users["cadre"]).locale == "en"
    post(client, "/account/language", {"lang": "vi"})
    assert '<html lang="vi">' in client.get("/").get_data(as_text=True)


def test_own_password_must_not_be_the_username(app, world: World):
    client = signed_in(app, "chuyenvien")
    data = {"current_password": PASSWORD, "new_password": "ChuyenVien", "confirm": "ChuyenVien"}
    response = post(client, "/account/password", data, headers={"Accept-Language": "en"})
    assert response.status_code == 422
    assert "The password must not be the same as the username." in text_of(response)
    assert fresh(world.users["staff"]).check_password(PASSWORD)


def test_guessing_the_current_password_is_limited(app, world: World, limits):
    client = signed_in(app, "bithu.x")

    def change(current: str) -> TestResponse:
        data = {"current_password": current, "new_password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
        return post(client, "/account/password", data)

    for i in range(limits):
        assert change(f"doan-sai-{i}").status_code == 401
    assert change(PASSWORD).status_code == 429  # even the right one, for a while
    assert fresh(world.users["secretary_x"]).check_password(PASSWORD)
    assert Auth(app.test_client()).login("bithu.x").status_code == 302  # sign-in is separate


# -- the command line follows the same rules --------------------------------------------------


def test_command_line_reset_and_reactivate(app, world: World, runner):
    env = {"LC_ALL": "en_US.UTF-8"}
    reset = runner.invoke(args=["users", "reset-password", "CanBo"], env=env)
    assert reset.exit_code == 0, reset.output
    temporary = reset.output.strip().rsplit(" ", 1)[-1]
    cadre = fresh(world.users["cadre"])
    assert cadre.must_change_password and cadre.check_password(temporary)
    client = app.test_client()
    assert Auth(client).login("canbo", temporary).headers["Location"] == "/account/password"
    runner.invoke(args=["users", "deactivate", "canbo"], env=env)
    again = runner.invoke(args=["users", "reactivate", "canbo"], env=env)
    assert again.exit_code == 0 and "canbo is active again." in again.output
    assert "already active" in runner.invoke(args=["users", "reactivate", "canbo"], env=env).output
    assert [(e.action, e.actor_id) for e in events_for(cadre)] == [
        ("user.reset_password", None),
        ("user.deactivate", None),
        ("user.reactivate", None),
    ]
