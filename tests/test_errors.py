"""Error answers: a page in the user's language, or JSON for the API and JSON clients."""

from __future__ import annotations

import re
from html import unescape
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from babel.support import Translations
from flask import Blueprint, Flask
from sqlalchemy import select
from werkzeug.test import TestResponse

from tests.conftest import Auth
from webapp.auth.decorators import role_required
from webapp.extensions import db
from webapp.models import Unit

ROOT = Path(__file__).resolve().parent.parent
JSON = {"Accept": "application/json"}
BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
SECRET_DETAIL = "kaboom-detail-4711"


def vi_text(msgid: str) -> str | None:
    """The compiled Vietnamese translation of `msgid`, or None while there is none yet."""
    translations = Translations.load(str(ROOT / "translations"), ["vi"])
    text = translations.gettext(msgid)
    return text if text != msgid else None


def lang_of(response: TestResponse) -> str:
    match = re.search(r'<html lang="([a-z]{2})">', response.get_data(as_text=True))
    assert match, "not an HTML page"
    return match.group(1)


def assert_page_in_vietnamese(response: TestResponse, english_title: str) -> None:
    assert response.mimetype == "text/html"
    assert lang_of(response) == "vi"
    if translated := vi_text(english_title):
        page = unescape(response.get_data(as_text=True))
        assert translated in page
        assert english_title not in page


def assert_json_error(response: TestResponse, status: int) -> dict[str, object]:
    assert response.status_code == status
    assert response.mimetype == "application/json"
    error = response.get_json()["error"]
    assert error["status"] == status
    assert isinstance(error["title"], str) and error["title"]
    assert isinstance(error["message"], str) and error["message"]
    return error


@pytest.fixture
def probe(app: Flask) -> dict[str, object]:
    """Throwaway routes, registered before the app serves its first request."""
    seen: dict[str, object] = {}
    bp = Blueprint("probe", __name__)

    @bp.get("/_probe/staff-only")
    @role_required("staff")
    def staff_only() -> str:
        return "staff page"

    @bp.get("/_probe/boom")
    def boom() -> str:
        unit = Unit(name="Đơn vị dở dang", kind="cell", path="/999/")
        db.session.add(unit)
        db.session.flush()
        seen["flushed"] = unit in db.session
        seen["unit"] = unit
        raise RuntimeError(SECRET_DETAIL)

    @bp.get("/api/v1/_probe/boom")
    def api_boom() -> str:
        raise RuntimeError(SECRET_DETAIL)

    @bp.teardown_request
    def after_boom(_exc: BaseException | None) -> None:
        if "unit" in seen:
            seen["still_in_session"] = seen.pop("unit") in db.session

    app.register_blueprint(bp)
    app.config["PROPAGATE_EXCEPTIONS"] = False  # behave like production, not like a test
    return seen


# -- 404 -------------------------------------------------------------------------------


def test_not_found_page_is_vietnamese_by_default(client):
    response = client.get("/khong-co-trang-nay")
    assert response.status_code == 404
    assert ">404<" in response.get_data(as_text=True)
    assert_page_in_vietnamese(response, "Page not found")


def test_not_found_page_follows_accept_language(client):
    response = client.get("/khong-co-trang-nay", headers={"Accept-Language": "en-GB,en;q=0.8"})
    assert response.status_code == 404
    assert lang_of(response) == "en"
    assert "Page not found" in response.get_data(as_text=True)


def test_not_found_under_api_is_json(client):
    error = assert_json_error(client.get("/api/v1/nothing"), 404)
    english = assert_json_error(
        client.get("/api/v1/nothing", headers={"Accept-Language": "en"}), 404
    )
    assert english["title"] == "Page not found"
    if translated := vi_text("Page not found"):
        assert error["title"] == translated


def test_not_found_is_json_when_the_client_asks_for_json(client):
    assert_json_error(client.get("/khong-co-trang-nay", headers=JSON), 404)


@pytest.mark.parametrize(
    "accept", [BROWSER_ACCEPT, "*/*", "text/html", "application/json;q=0.5, text/html"]
)
def test_not_found_is_html_for_browsers_and_generic_clients(client, accept):
    response = client.get("/khong-co-trang-nay", headers={"Accept": accept})
    assert response.status_code == 404
    assert response.mimetype == "text/html"


# -- 401 / 403 ---------------------------------------------------------------------------


def test_signed_out_json_request_to_a_protected_page_gets_401_not_a_redirect(world, client):
    response = client.get("/", headers={**JSON, "Accept-Language": "en"})
    assert "Location" not in response.headers
    error = assert_json_error(response, 401)
    assert error["title"] == "Sign-in required"


def test_signed_out_browser_is_sent_to_sign_in(world, client):
    response = client.get("/")
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert location.path == "/login"
    assert parse_qs(location.query) == {"next": ["/"]}


@pytest.mark.parametrize(
    ("who", "status"),
    [("canbo", 403), ("bithu.x", 403), ("chuyenvien", 200), ("quantri", 200)],
)
@pytest.mark.fresh_app
def test_role_required_lets_the_role_and_above_in(world, probe, client, who, status):
    Auth(client).login(who)
    response = client.get("/_probe/staff-only")
    assert response.status_code == status
    if status == 403:
        assert_page_in_vietnamese(response, "Access denied")
        assert "staff page" not in response.get_data(as_text=True)
        assert_json_error(client.get("/_probe/staff-only", headers=JSON), 403)
    else:
        assert response.get_data(as_text=True) == "staff page"


@pytest.mark.fresh_app
def test_role_required_asks_a_signed_out_visitor_to_sign_in(world, probe, client):
    response = client.get("/_probe/staff-only")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")
    assert_json_error(client.get("/_probe/staff-only", headers=JSON), 401)


@pytest.mark.fresh_app
def test_forbidden_page_in_english(world, probe, client):
    Auth(client).login("canbo")
    response = client.get("/_probe/staff-only", headers={"Accept-Language": "en"})
    assert response.status_code == 403
    assert lang_of(response) == "en"
    assert "Access denied" in response.get_data(as_text=True)


# -- 405 -------------------------------------------------------------------------------


def test_method_not_allowed_page_and_json(world, client):
    page = client.get("/logout")
    assert page.status_code == 405
    assert_page_in_vietnamese(page, "Method not allowed")
    assert_json_error(client.get("/logout", headers=JSON), 405)


def test_method_not_allowed_says_which_methods_are(world, client):
    response = client.get("/logout")
    assert response.status_code == 405
    assert "POST" in response.headers.get("Allow", "")


# -- 400 / 413 -------------------------------------------------------------------------


def test_missing_csrf_token_is_a_400_with_advice(world, client):
    page = client.post("/logout")
    assert page.status_code == 400
    assert_page_in_vietnamese(
        page, "Your session has expired or the form was not valid. Reload the page and try again."
    )
    english = client.post("/logout", headers={"Accept-Language": "en"})
    assert "Reload the page and try again." in english.get_data(as_text=True)
    error = assert_json_error(
        client.post("/logout", headers={**JSON, "Accept-Language": "en"}), 400
    )
    assert "Reload the page" in error["message"]


def test_too_large_body_is_413(app, client):
    app.config["MAX_CONTENT_LENGTH"] = 1000
    response = client.post("/login", data={"login": "x" * 5000, "password": "p"})
    assert response.status_code == 413
    assert_page_in_vietnamese(response, "Upload too large")
    assert_json_error(client.post("/login", data={"login": "x" * 5000}, headers=JSON), 413)


# -- 500 -------------------------------------------------------------------------------


@pytest.mark.fresh_app
def test_server_error_page_is_translated_and_hides_the_detail(world, probe, client):
    response = client.get("/_probe/boom")
    assert response.status_code == 500
    assert SECRET_DETAIL not in response.get_data(as_text=True)
    assert "Traceback" not in response.get_data(as_text=True)
    assert_page_in_vietnamese(response, "Server error")
    english = client.get("/_probe/boom", headers={"Accept-Language": "en"})
    assert english.status_code == 500
    assert lang_of(english) == "en"
    assert "Server error" in english.get_data(as_text=True)
    assert "Content-Security-Policy" in english.headers


@pytest.mark.fresh_app
def test_server_error_rolls_back_the_request_transaction(world, probe, client):
    assert client.get("/_probe/boom").status_code == 500
    assert probe["flushed"] is True  # the view did get a row into the transaction
    assert probe["still_in_session"] is False  # ...and the handler rolled it back
    db.session.rollback()
    assert db.session.scalar(select(Unit).where(Unit.path == "/999/")) is None


@pytest.mark.fresh_app
def test_server_error_under_api_is_json(world, probe, client):
    error = assert_json_error(client.get("/api/v1/_probe/boom"), 500)
    assert SECRET_DETAIL not in str(error)
