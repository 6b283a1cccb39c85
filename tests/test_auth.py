from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from html import unescape
from pathlib import Path

import pytest
from babel.support import Translations
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.test import TestResponse

from tests import factories
from tests.conftest import CSRF_RE, Auth, csrf_token_from, make_config
from tests.factories import PASSWORD, World
from webapp import create_app
from webapp.extensions import db
from webapp.models import User

ROOT = Path(__file__).resolve().parent.parent
WRONG_PASSWORD = "sai-mat-khau"
TOKEN_RE = re.compile(r'(name="csrf_token"[^>]*value=")[^"]+(")')


def vi_text(msgid: str) -> str | None:
    """The compiled Vietnamese translation of `msgid`, or None while there is none yet."""
    translations = Translations.load(str(ROOT / "translations"), ["vi"])
    text = translations.gettext(msgid)
    return text if text != msgid else None


def normalised(response: TestResponse) -> str:
    """The page without what legitimately differs between two answers: CSRF tokens (signed
    with a timestamp) and the login the person typed, echoed back into the form."""
    html = TOKEN_RE.sub(r"\1TOKEN\2", response.get_data(as_text=True))
    return re.sub(r'(<input[^>]*name="login"[^>]*value=")[^"]*(")', r"\1LOGIN\2", html)


def attempt(
    client: FlaskClient,
    login: str,
    password: str = WRONG_PASSWORD,
    *,
    address: str = "127.0.0.1",
    query: str = "",
    headers: dict[str, str] | None = None,
) -> TestResponse:
    """One sign-in through the form, from `address`."""
    client.environ_base["REMOTE_ADDR"] = address
    token = csrf_token_from(client, "/login")
    return client.post(
        "/login" + query,
        data={"login": login, "password": password, "csrf_token": token},
        headers=headers or {},
    )


def session_of(app: Flask, client: FlaskClient) -> dict[str, object]:
    """The decoded session cookie the client holds (empty if none)."""
    cookie = client.get_cookie(app.config["SESSION_COOKIE_NAME"])
    if cookie is None:
        return {}
    serializer = app.session_interface.get_signing_serializer(app)
    return dict(serializer.loads(cookie.value))


def session_set_cookie(response: TestResponse, name: str = "nhatky_session") -> str:
    cookies = [c for c in response.headers.getlist("Set-Cookie") if c.startswith(name + "=")]
    assert len(cookies) == 1, response.headers.getlist("Set-Cookie")
    return cookies[0]


def cookie_attributes(set_cookie: str) -> dict[str, str]:
    attrs = {}
    for part in set_cookie.split(";")[1:]:
        key, _, value = part.strip().partition("=")
        attrs[key.lower()] = value
    return attrs


# -- signing in --------------------------------------------------------------------------


def test_sign_in_with_username_then_home_shows_role_page(world, auth: Auth, client):
    response = auth.login("canbo")
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    page = client.get("/").get_data(as_text=True)
    assert "Nguyễn Văn An" in page


def test_sign_in_with_phone_number_in_any_format(world, auth: Auth):
    assert auth.login("+84 912 345 678").status_code == 302


def test_wrong_password_and_unknown_user_get_the_same_answer(world, auth: Auth):
    wrong = auth.login("canbo", "sai-mat-khau")
    unknown = auth.login("khong-co-ai", "sai-mat-khau")
    assert wrong.status_code == unknown.status_code == 401
    assert normalised(wrong) == normalised(unknown)


def test_login_post_without_csrf_token_is_refused(world, client):
    response = client.post("/login", data={"login": "canbo", "password": PASSWORD})
    assert response.status_code == 400
    assert client.get("/").status_code == 302  # not signed in


@pytest.mark.parametrize("login", ["canbo", "CanBo", "CANBO", "  canbo  "])
def test_username_ignores_case_and_surrounding_spaces(world, client, login):
    response = attempt(client, login, PASSWORD)
    assert response.status_code == 302
    assert "Nguyễn Văn An" in client.get("/").get_data(as_text=True)


@pytest.mark.parametrize(
    "login", ["0912345678", "0912 345 678", "0912.345.678", "+84912345678", "84 912 345 678"]
)
def test_phone_number_formats_find_the_same_account(world, client, login):
    assert attempt(client, login, PASSWORD).status_code == 302
    assert "Nguyễn Văn An" in client.get("/").get_data(as_text=True)


@pytest.mark.parametrize("login", ["0912345679", "canb", "canbo.x", ""])
def test_near_misses_do_not_sign_in(world, client, login):
    assert attempt(client, login, PASSWORD).status_code in {400, 401}
    assert client.get("/").status_code == 302


def test_wrong_password_is_refused_with_a_translated_message(world, client):
    response = attempt(client, "canbo", "sai-mat-khau", headers={"Accept-Language": "en"})
    assert response.status_code == 401
    assert "Wrong username or password." in response.get_data(as_text=True)
    vi = attempt(client, "canbo", "sai-mat-khau")
    page = unescape(vi.get_data(as_text=True))
    assert '<html lang="vi">' in page
    if translated := vi_text("Wrong username or password."):
        assert translated in page
        assert "Wrong username or password." not in page


def test_deactivated_user_cannot_sign_in_and_is_not_told_why(world, client):
    factories.make_user("nghi.viec", "cadre", world.cell_x, active=False)
    db.session.commit()
    inactive = attempt(client, "nghi.viec", PASSWORD)
    wrong = attempt(client, "canbo", "sai-mat-khau")
    assert inactive.status_code == wrong.status_code == 401
    assert normalised(inactive) == normalised(wrong)
    assert client.get("/").status_code == 302


def test_signed_in_user_visiting_login_goes_home(world, auth: Auth, client):
    auth.login("canbo")
    response = client.get("/login", headers={"Sec-Fetch-Dest": "document"})
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


def test_successful_sign_in_records_the_time(world, auth: Auth):
    assert world.users["cadre"].last_login_at is None
    auth.login("canbo")
    db.session.rollback()
    assert db.session.scalar(select(User.last_login_at).where(User.username == "canbo"))


# -- signing out -------------------------------------------------------------------------


def test_sign_out_is_not_possible_with_get(world, auth: Auth, client):
    auth.login("canbo")
    assert client.get("/logout").status_code == 405
    assert client.get("/").status_code == 200


def test_sign_out_without_csrf_token_is_refused(world, auth: Auth, client):
    auth.login("canbo")
    assert client.post("/logout").status_code == 400
    assert client.post("/logout", data={"csrf_token": "forged"}).status_code == 400
    assert client.get("/").status_code == 200


def test_sign_out_clears_the_session(app, world, auth: Auth, client):
    auth.login("canbo")
    assert "_user_id" in session_of(app, client)
    response = auth.logout()
    assert response.status_code == 302
    assert response.headers["Location"] == "/login"
    left = session_of(app, client)
    assert set(left) <= {"_flashes", "locale"}, left
    home = client.get("/")
    assert home.status_code == 302
    assert home.headers["Location"].startswith("/login")


def test_sign_out_keeps_the_chosen_language_and_says_so(app, world, auth: Auth, client):
    auth.login("canbo")
    token = csrf_token_from(client, "/")
    client.post("/language", data={"lang": "en", "csrf_token": token, "next": "/"})
    auth.logout()
    assert session_of(app, client).get("locale") == "en"
    page = client.get("/login").get_data(as_text=True)
    assert '<html lang="en">' in page
    assert "You have signed out." in page


def test_language_chosen_before_signing_in_survives_the_sign_in(world, auth: Auth, client):
    assert world.users["cadre"].locale is None
    token = csrf_token_from(client)
    client.post("/language", data={"lang": "en", "csrf_token": token, "next": "/login"})
    assert '<html lang="en">' in client.get("/login").get_data(as_text=True)
    auth.login("canbo")
    assert '<html lang="en">' in client.get("/").get_data(as_text=True)


# -- sessions that must stop working ------------------------------------------------------


def test_session_stops_working_when_the_account_is_deactivated(world, auth: Auth, client):
    auth.login("canbo")
    assert client.get("/").status_code == 200
    db.session.rollback()  # end the test's read transaction before writing
    world.users["cadre"].active = False
    db.session.commit()
    home = client.get("/")
    assert home.status_code == 302
    assert home.headers["Location"].startswith("/login")
    api_style = client.get("/", headers={"Accept": "application/json"})
    assert api_style.status_code == 401
    assert api_style.get_json()["error"]["status"] == 401


def test_session_stops_working_after_a_password_change(world, auth: Auth, client):
    auth.login("canbo")
    assert client.get("/").status_code == 200
    db.session.rollback()
    world.users["cadre"].set_password("mat-khau-moi-2025")
    db.session.commit()
    assert client.get("/").status_code == 302
    assert attempt(client, "canbo", PASSWORD).status_code == 401
    assert attempt(client, "canbo", "mat-khau-moi-2025").status_code == 302
    assert client.get("/").status_code == 200


def test_deactivation_ends_sessions_for_good_even_if_reactivated(world, auth: Auth, client):
    from webapp.users import services as user_services

    auth.login("canbo")
    assert client.get("/").status_code == 200
    db.session.rollback()
    user = world.users["cadre"]
    assert user_services.deactivate(user) is True
    db.session.commit()
    user.active = True  # re-enabled later: the old cookie must not come back to life
    db.session.commit()
    assert client.get("/").status_code == 302


def test_a_session_for_another_epoch_or_a_forged_id_is_anonymous(app, world, auth: Auth, client):
    """The user id in the cookie is 'id:epoch' beside the session's token; anything else,
    or a token the server does not hold, means signed out."""
    user = world.users["cadre"]
    auth.login("canbo")
    token = session_of(app, client)["sid"]
    serializer = app.session_interface.get_signing_serializer(app)
    other = world.users["secretary_x"]
    forged = [
        {"_user_id": f"{user.id}:{user.session_epoch + 1}", "sid": token},
        {"_user_id": f"{user.id}", "sid": token},
        {"_user_id": "abc:1", "sid": token},
        {"_user_id": f"{user.id}:x", "sid": token},
        {"_user_id": other.get_id(), "sid": token},  # another account, this session's token
        {"_user_id": user.get_id(), "sid": "not-a-session"},
        {"_user_id": user.get_id()},  # a cookie from before sessions were kept on the server
    ]
    for cookie in forged:
        client.set_cookie("nhatky_session", serializer.dumps(cookie))
        assert client.get("/").status_code == 302, cookie
    client.set_cookie("nhatky_session", serializer.dumps({"_user_id": user.get_id(), "sid": token}))
    assert client.get("/").status_code == 200


# -- where to go after signing in ---------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/ok?x=1", "/ok?x=1"),
        ("/", "/"),
        ("//evil.com", "/"),
        ("///evil.com", "/"),
        ("https://evil.com", "/"),
        ("http://evil.com/", "/"),
        ("/\\evil.com", "/"),
        ("\\\\evil.com", "/"),
        ("/\t/evil.com", "/"),
        ("javascript:alert(1)", "/"),
        ("evil.com", "/"),
        ("", "/"),
    ],
)
def test_next_only_follows_paths_on_this_site(world, client, target, expected):
    from urllib.parse import quote

    response = attempt(client, "canbo", PASSWORD, query="?next=" + quote(target, safe=""))
    assert response.status_code == 302
    assert response.headers["Location"] == expected


def test_sign_in_returns_to_the_page_that_asked_for_it(world, client):
    asked = client.get("/?tab=2")
    assert asked.status_code == 302
    login_url = asked.headers["Location"]
    assert login_url.startswith("/login?next=")
    token = csrf_token_from(client, login_url)
    response = client.post(
        login_url, data={"login": "canbo", "password": PASSWORD, "csrf_token": token}
    )
    assert response.headers["Location"] == "/?tab=2"


# -- the session cookie -------------------------------------------------------------------


def test_session_cookie_is_httponly_lax_and_lasts_thirty_days(world, client):
    response = attempt(client, "canbo", PASSWORD)
    assert response.status_code == 302
    attrs = cookie_attributes(session_set_cookie(response))
    assert "httponly" in attrs
    assert attrs.get("samesite") == "Lax"
    assert "secure" not in attrs  # the test config leaves SESSION_COOKIE_SECURE off
    expires = parsedate_to_datetime(attrs["expires"])
    assert abs(expires - (datetime.now(UTC) + timedelta(days=30))) < timedelta(minutes=5)


def test_session_cookie_is_secure_when_configured(database_url, tmp_path, world):
    secure_app = create_app(make_config(database_url, tmp_path, SESSION_COOKIE_SECURE=True))
    try:
        client = secure_app.test_client()
        page = client.get("/login", base_url="https://localhost")
        attrs = cookie_attributes(session_set_cookie(page))
        assert "secure" in attrs
        assert "httponly" in attrs
        match = CSRF_RE.search(page.get_data(as_text=True))
        assert match
        token = match.group(1)
        signed_in = client.post(
            "/login",
            base_url="https://localhost",
            data={"login": "canbo", "password": PASSWORD, "csrf_token": token},
            headers={"Referer": "https://localhost/login"},  # Flask-WTF checks it on HTTPS
        )
        assert signed_in.status_code == 302
        assert "secure" in cookie_attributes(session_set_cookie(signed_in))
    finally:
        with secure_app.app_context():
            db.engine.dispose()


# -- rate limiting ------------------------------------------------------------------------


@pytest.fixture
def limits(app: Flask) -> tuple[int, int]:
    """Small limits so the tests stay quick; read at request time, as in production."""
    app.config["LOGIN_LIMIT_PER_ACCOUNT"] = "3 per 15 minutes"
    app.config["LOGIN_LIMIT_PER_ADDRESS"] = "6 per 15 minutes"
    return 3, 6


def test_account_is_locked_after_repeated_failures_whether_it_exists_or_not(
    world: World, client, limits
):
    per_account, _ = limits
    answers = {}
    for login in ("canbo", "khong-co-ai"):
        for i in range(per_account):
            assert attempt(client, login, address=f"10.0.{len(answers)}.{i}").status_code == 401
        # Even the right password is refused now, from yet another address.
        answers[login] = attempt(client, login, PASSWORD, address="10.9.9.9")
    assert answers["canbo"].status_code == answers["khong-co-ai"].status_code == 429
    assert int(answers["canbo"].headers["Retry-After"]) > 0
    assert normalised(answers["canbo"]) == normalised(answers["khong-co-ai"])
    assert client.get("/").status_code == 302


def test_lockout_message_is_translated(world: World, client, limits):
    per_account, _ = limits
    for _ in range(per_account):
        attempt(client, "canbo")
    english = attempt(client, "canbo", headers={"Accept-Language": "en"})
    assert english.status_code == 429
    assert "Too many failed sign-ins" in english.get_data(as_text=True)
    json = attempt(client, "canbo", headers={"Accept": "application/json"})
    assert json.status_code == 429
    assert json.get_json()["error"]["status"] == 429
    vietnamese = attempt(client, "canbo")
    page = unescape(vietnamese.get_data(as_text=True))
    assert vietnamese.status_code == 429
    assert '<html lang="vi">' in page
    if translated := vi_text("Too many failed sign-ins. Wait %(n)d minutes and try again."):
        assert translated % {"n": 15} in page
        assert "Too many failed sign-ins" not in page


def test_account_limit_ignores_the_case_of_the_username(world: World, client, limits):
    per_account, _ = limits
    for login in ["CanBo", "CANBO", " canbo"][:per_account]:
        assert attempt(client, login).status_code == 401
    assert attempt(client, "canbo", PASSWORD).status_code == 429


def test_other_accounts_are_not_locked_by_one_accounts_failures(world: World, client, limits):
    per_account, _ = limits
    for _ in range(per_account):
        attempt(client, "canbo")
    assert attempt(client, "canbo", PASSWORD).status_code == 429
    assert attempt(client, "bithu.x", PASSWORD).status_code == 302


def test_address_is_limited_across_different_usernames(world: World, client, limits):
    _, per_address = limits
    for i in range(per_address):
        assert attempt(client, f"ai-do-{i}", address="10.1.1.1").status_code == 401
    assert attempt(client, "canbo", PASSWORD, address="10.1.1.1").status_code == 429
    assert attempt(client, "canbo", PASSWORD, address="10.2.2.2").status_code == 302


def test_successful_sign_ins_do_not_count_towards_the_limit(world: World, client, limits):
    per_account, _ = limits
    auth = Auth(client)
    for _ in range(per_account - 1):
        assert attempt(client, "canbo").status_code == 401
    for _ in range(3):
        assert attempt(client, "canbo", PASSWORD).status_code == 302
        auth.logout()
    # If the successes had counted, this would already be refused.
    assert attempt(client, "canbo").status_code == 401
    assert attempt(client, "canbo").status_code == 429


@pytest.mark.parametrize("other_spelling", ["+84 912 345 678", "0912.345.678", "canbo"])
def test_account_limit_covers_every_way_of_naming_the_account(
    world: World, client, limits, other_spelling
):
    per_account, _ = limits
    for _ in range(per_account):
        assert attempt(client, "0912345678").status_code == 401
    assert attempt(client, other_spelling, PASSWORD).status_code == 429


# -- stored passwords ---------------------------------------------------------------------


def test_passwords_are_stored_as_salted_scrypt_hashes(world: World):
    user = world.users["secretary_x"]
    user.set_password("mot-mat-khau-dai")
    db.session.commit()
    stored = db.session.scalar(select(User.password_hash).where(User.id == user.id))
    assert stored.startswith("scrypt:")
    assert "mot-mat-khau-dai" not in stored
    assert user.check_password("mot-mat-khau-dai")
    assert not user.check_password("mot-mat-khau-dai ")
    other = world.users["secretary_y"]
    other.set_password("mot-mat-khau-dai")
    assert other.password_hash != user.password_hash  # salted


def test_setting_a_password_moves_the_session_epoch(world: World):
    user = world.users["staff"]
    before = user.session_epoch
    user.set_password("mat-khau-khac-1")
    assert user.session_epoch == before + 1
    assert user.get_id() == f"{user.id}:{before + 1}"
