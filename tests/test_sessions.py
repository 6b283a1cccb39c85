"""Sessions kept on the server (webapp/auth/sessions.py): a sign-out ends the session for every
copy of its cookie; the phone can finish a sign-out made offline through the API."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select, update

from tests.conftest import CSRF_RE, Auth, csrf_token_from
from tests.factories import PASSWORD, World
from webapp.extensions import db
from webapp.models import UserSession, utcnow

NEW_PASSWORD = "mat-khau-moi-2026"


def copy_of(app: Flask, client: FlaskClient) -> FlaskClient:
    """Another browser holding a copy of the client's session cookie (a stolen cookie)."""
    name = app.config["SESSION_COOKIE_NAME"]
    thief = app.test_client()
    thief.set_cookie(name, client.get_cookie(name).value)
    return thief


def api_token(client: FlaskClient) -> str:
    response = client.get("/api/v1/csrf-token")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    return response.get_json()["csrf_token"]


def sign_in_over(client: FlaskClient, login: str) -> None:
    """Sign in on a browser where someone is signed in already (a shared phone)."""
    response = client.post(
        "/login", data={"login": login, "password": PASSWORD, "csrf_token": api_token(client)}
    )
    assert response.status_code == 302


def sessions_of(user_id: int) -> int:
    db.session.rollback()
    return db.session.scalar(
        select(func.count()).select_from(UserSession).where(UserSession.user_id == user_id)
    )


def test_signing_out_ends_the_session_for_a_copy_of_the_cookie_too(
    app: Flask, world: World, auth: Auth, client: FlaskClient
):
    auth.login("canbo")
    thief = copy_of(app, client)
    assert thief.get("/").status_code == 200
    assert sessions_of(world.users["cadre"].id) == 1
    auth.logout()
    assert sessions_of(world.users["cadre"].id) == 0
    assert thief.get("/").status_code == 302
    assert thief.get("/api/v1/session").status_code == 401


def test_the_api_signs_out_with_a_csrf_token_and_can_be_repeated(
    app: Flask, world: World, auth: Auth, client: FlaskClient
):
    auth.login("canbo")
    thief = copy_of(app, client)
    assert client.delete("/api/v1/session").status_code == 400  # no CSRF token
    assert client.get("/api/v1/session").status_code == 200
    token = api_token(client)
    response = client.delete("/api/v1/session", headers={"X-CSRFToken": token})
    assert response.status_code == 204
    assert client.get("/api/v1/session").status_code == 401
    assert thief.get("/api/v1/session").status_code == 401
    # Already signed out: the same request again is still a success.
    again = client.delete("/api/v1/session", headers={"X-CSRFToken": api_token(client)})
    assert again.status_code == 204


def test_finishing_an_offline_sign_out_spares_whoever_signed_in_since(
    app: Flask, world: World, auth: Auth, client: FlaskClient
):
    """The phone asks to end user A's session; B has signed in on that phone meanwhile."""
    cadre, secretary = world.users["cadre"], world.users["secretary_x"]
    auth.login("canbo")
    sign_in_over(client, "bithu.x")  # signing in over an open session ends it
    assert sessions_of(cadre.id) == 0
    response = client.delete(
        f"/api/v1/session?user_id={cadre.id}", headers={"X-CSRFToken": api_token(client)}
    )
    assert response.status_code == 204
    assert client.get("/api/v1/session").get_json()["user"]["id"] == secretary.id
    response = client.delete(
        f"/api/v1/session?user_id={secretary.id}", headers={"X-CSRFToken": api_token(client)}
    )
    assert response.status_code == 204
    assert client.get("/api/v1/session").status_code == 401


def test_signing_in_over_an_open_session_ends_it(
    app: Flask, world: World, auth: Auth, client: FlaskClient
):
    auth.login("canbo")
    thief = copy_of(app, client)
    sign_in_over(client, "canbo")
    assert client.get("/").status_code == 200
    assert thief.get("/").status_code == 302
    assert sessions_of(world.users["cadre"].id) == 1


def test_a_token_from_the_csrf_endpoint_signs_in(world: World, client: FlaskClient):
    """What the sign-in page kept by the phone does before sending its form."""
    response = client.post(
        "/login",
        data={"login": "canbo", "password": PASSWORD, "csrf_token": api_token(client)},
    )
    assert response.status_code == 302
    assert client.get("/api/v1/session").status_code == 200


def test_a_password_change_ends_the_other_sessions(
    app: Flask, world: World, auth: Auth, client: FlaskClient
):
    auth.login("canbo")
    other = app.test_client()
    Auth(other).login("canbo")
    assert sessions_of(world.users["cadre"].id) == 2
    token = csrf_token_from(client, "/account/password")
    response = client.post(
        "/account/password",
        data={
            "current_password": PASSWORD,
            "new_password": NEW_PASSWORD,
            "confirm": NEW_PASSWORD,
            "csrf_token": token,
        },
    )
    assert response.status_code == 302
    assert client.get("/").status_code == 200
    assert other.get("/").status_code == 302
    assert sessions_of(world.users["cadre"].id) == 1


def test_the_account_page_counts_devices_and_signs_out_the_others(
    app: Flask, world: World, auth: Auth, client: FlaskClient
):
    auth.login("canbo")
    phones = [app.test_client() for _ in range(2)]
    for phone in phones:
        Auth(phone).login("canbo")
    page = client.get("/account").get_data(as_text=True)
    counted = "You are signed in on 3 devices, this one included."
    assert counted in page or "Bạn đang đăng nhập trên 3 thiết bị, kể cả thiết bị này." in page
    assert 'action="/account/sessions/end-others"' in page
    token = CSRF_RE.search(page.split('action="/account/sessions/end-others"')[1]).group(1)
    response = client.post("/account/sessions/end-others", data={"csrf_token": token})
    assert response.status_code == 302
    assert client.get("/").status_code == 200
    assert all(phone.get("/").status_code == 302 for phone in phones)
    assert sessions_of(world.users["cadre"].id) == 1
    assert 'action="/account/sessions/end-others"' not in client.get("/account").get_data(
        as_text=True
    )


def test_an_idle_session_ends_and_a_used_one_is_noted_at_most_hourly(
    app: Flask, world: World, auth: Auth, client: FlaskClient
):
    auth.login("canbo")
    user_id = world.users["cadre"].id

    def seen_ago(delta: timedelta) -> None:
        db.session.execute(
            update(UserSession)
            .where(UserSession.user_id == user_id)
            .values(last_seen_at=utcnow() - delta)
        )
        db.session.commit()

    def last_seen():
        db.session.rollback()
        return db.session.scalar(
            select(UserSession.last_seen_at).where(UserSession.user_id == user_id)
        )

    seen_ago(timedelta(minutes=10))
    before = last_seen()
    assert client.get("/").status_code == 200
    assert last_seen() == before  # within the hour: no write
    seen_ago(timedelta(hours=2))
    before = last_seen()
    with client.get("/") as answer:  # noted once the answer has gone out (closed)
        assert answer.status_code == 200
        assert last_seen() == before
    assert last_seen() > before
    seen_ago(app.config["PERMANENT_SESSION_LIFETIME"] + timedelta(minutes=1))
    assert client.get("/").status_code == 302


def test_deactivation_ends_sessions_and_they_stay_ended_after_reactivation(
    app: Flask, world: World, auth: Auth, client: FlaskClient
):
    from webapp.users import services as user_services

    auth.login("canbo")
    user = world.users["cadre"]
    db.session.rollback()
    assert user_services.deactivate(user) is True
    db.session.commit()
    assert client.get("/").status_code == 302
    user.active = True
    db.session.commit()
    assert client.get("/").status_code == 302
    Auth(client).login("canbo")  # the stale row goes at the next sign-in
    assert sessions_of(user.id) == 1


@pytest.mark.parametrize(
    ("dest", "status"), [("document", 302), ("empty", 200), (None, 200), ("iframe", 302)]
)
def test_the_sign_in_page_is_the_same_for_everyone_when_the_app_shell_fetches_it(
    world: World, auth: Auth, client: FlaskClient, dest: str | None, status: int
):
    """The service worker keeps a copy (fetch: Sec-Fetch-Dest empty); a person who opens it
    while signed in goes home (a browser too old to say which gets the form: harmless)."""
    auth.login("canbo")
    headers = {"Sec-Fetch-Dest": dest} if dest else {}
    response = client.get("/login", headers=headers)
    assert response.status_code == status
    if status == 200:
        html = response.get_data(as_text=True)
        assert world.users["cadre"].full_name not in html
        assert 'action="/logout"' not in html and "data-signin" in html
        assert response.headers["X-Shell-Version"]
        assert response.headers["Cache-Control"] == "no-cache"


def test_signed_in_pages_are_not_stored_by_the_browser(
    world: World, auth: Auth, client: FlaskClient
):
    assert "no-store" not in client.get("/login").headers.get("Cache-Control", "")
    auth.login("canbo")
    for path in ("/", "/account"):
        assert client.get(path).headers["Cache-Control"] == "no-store", path
    # Pages of the app shell keep their own rule (the service worker revalidates them).
    assert client.get("/capture").headers["Cache-Control"] == "no-cache"


def test_a_late_sign_out_spares_the_same_persons_new_session(
    app: Flask, world: World, auth: Auth, client: FlaskClient
):
    """The phone names the session it signed out of; the person signed in again since."""
    auth.login("canbo")
    old = client.get("/api/v1/session").get_json()["session_id"]
    sign_in_over(client, "canbo")
    new = client.get("/api/v1/session").get_json()["session_id"]
    assert old != new
    late = client.delete(
        f"/api/v1/session?session_id={old}", headers={"X-CSRFToken": api_token(client)}
    )
    assert late.status_code == 204
    assert client.get("/api/v1/session").status_code == 200  # still signed in
    now = client.delete(
        f"/api/v1/session?session_id={new}", headers={"X-CSRFToken": api_token(client)}
    )
    assert now.status_code == 204
    assert client.get("/api/v1/session").status_code == 401


def test_public_files_carry_no_session_cookie(app: Flask, world: World, auth: Auth, client):
    """Answers marked public and kept for a year must not hand out anybody's session."""
    from webapp.field import shell

    auth.login("canbo")
    with app.test_request_context("/"):
        asset = shell.asset_url("js/page.js")
    for path in (asset, "/static/css/app.css"):
        with client.get(path) as response:
            assert response.status_code == 200, path
            assert "Set-Cookie" not in response.headers, path
            assert "cookie" not in response.headers.get("Vary", "").lower(), path
    assert "Set-Cookie" in client.get("/").headers  # pages still refresh the session


def test_signing_out_the_other_devices_needs_the_csrf_token(
    app: Flask, world: World, auth: Auth, client: FlaskClient
):
    auth.login("canbo")
    phone = app.test_client()
    Auth(phone).login("canbo")
    client.post("/account/sessions/end-others", data={})
    assert phone.get("/").status_code == 200
    assert sessions_of(world.users["cadre"].id) == 2


def test_prune_removes_idle_and_superseded_sessions_only(
    app: Flask, world: World, auth: Auth, client: FlaskClient, runner
):
    auth.login("canbo")
    Auth(app.test_client()).login("bithu.x")
    Auth(app.test_client()).login("chuyenvien")
    db.session.execute(
        update(UserSession)
        .where(UserSession.user_id == world.users["secretary_x"].id)
        .values(last_seen_at=utcnow() - timedelta(days=60))
    )
    staff = world.users["staff"]
    staff.session_epoch += 1  # a password change elsewhere
    db.session.commit()
    result = runner.invoke(args=["users", "prune-sessions"])
    assert result.exit_code == 0, result.output
    assert "2" in result.output
    db.session.rollback()
    left = db.session.scalars(select(UserSession.user_id)).all()
    assert left == [world.users["cadre"].id]
    assert client.get("/").status_code == 200
