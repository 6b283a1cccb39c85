"""Response headers, a strict Content-Security-Policy the pages actually obey, safe redirects."""

from __future__ import annotations

from datetime import date, timedelta
from html.parser import HTMLParser

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests import factories
from tests.conftest import Auth, csrf_token_from
from tests.factories import World
from webapp.extensions import db
from webapp.security import safe_next

HOSTILE = '<script>alert("x")</script><b style="color:red" onclick="alert(1)">x</b>'


def csp_of(response: TestResponse) -> dict[str, list[str]]:
    header = response.headers.get("Content-Security-Policy")
    assert header, f"no CSP on {response.request.path}"
    directives: dict[str, list[str]] = {}
    for part in header.split(";"):
        name, *values = part.split()
        directives[name] = values
    return directives


class InlineCodeFinder(HTMLParser):
    """Everything a CSP without 'unsafe-inline' would block, or that smells of injection."""

    def __init__(self) -> None:
        super().__init__()
        self.problems: list[str] = []
        self.script_srcs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = dict(attrs)
        if tag == "script":
            src = names.get("src")
            if not src:
                self.problems.append("inline <script>")
            else:
                self.script_srcs.append(src)
        if tag == "style":
            self.problems.append("inline <style>")
        for name, value in attrs:
            if name == "style":
                self.problems.append(f"style= on <{tag}>")
            if name.startswith("on"):
                self.problems.append(f"{name}= on <{tag}>")
            if name in {"href", "src", "action"} and (value or "").strip().lower().startswith(
                "javascript:"
            ):
                self.problems.append(f"javascript: URL in {name}")


def inline_problems(response: TestResponse) -> InlineCodeFinder:
    finder = InlineCodeFinder()
    finder.feed(response.get_data(as_text=True))
    finder.close()
    return finder


@pytest.fixture
def busy_world(world: World) -> World:
    """Entries with hostile text in every place a page shows user data."""
    last_month = date.today().replace(day=1) - timedelta(days=3)
    world.users["cadre"].full_name = HOSTILE
    for status in ("submitted", "confirmed", "returned"):
        factories.make_activity(
            world.cell_x,
            world.kind,
            world.users["cadre"],
            occurred_on=last_month,
            status=status,
            summary=HOSTILE,
            participants=(world.members["an"],),
            people_reached=3,
        )
    world.kind.name_vi = HOSTILE
    db.session.commit()
    return world


def pages(client: FlaskClient) -> dict[str, TestResponse]:
    """Every kind of HTML page a signed-out visitor and each role can reach today."""
    auth = Auth(client)
    seen = {
        "login": client.get("/login"),
        "login (en)": client.get("/login", headers={"Accept-Language": "en"}),
        "login failed": client.post(
            "/login", data={"login": "x", "password": "y", "csrf_token": csrf_token_from(client)}
        ),
        "csrf refused": client.post("/login", data={"login": "x", "password": "y"}),
        "not found": client.get("/khong-co"),
        "method not allowed": client.get("/logout"),
    }
    for login in ("canbo", "bithu.x", "chuyenvien", "quantri"):
        auth.login(login)
        seen[f"home of {login}"] = client.get("/")
        auth.logout()
    return seen


def test_every_html_page_carries_a_strict_csp(busy_world, client):
    for name, response in pages(client).items():
        assert response.mimetype == "text/html", name
        csp = csp_of(response)
        assert csp["default-src"] == ["'self'"], name
        assert csp["script-src"] == ["'self'"], name
        assert csp["object-src"] == ["'none'"], name
        assert csp["frame-ancestors"] == ["'none'"], name
        assert csp["base-uri"] == ["'self'"], name
        assert csp["form-action"] == ["'self'"], name
        everything = " ".join(v for values in csp.values() for v in values)
        assert "'unsafe-inline'" not in everything, name
        assert "'unsafe-eval'" not in everything, name
        assert "*" not in everything.split(), name


def test_pages_have_no_inline_script_or_style_even_with_hostile_data(busy_world, client):
    rendered = pages(client)
    assert any("alert(" in r.get_data(as_text=True) for r in rendered.values())  # data is shown
    for name, response in rendered.items():
        finder = inline_problems(response)
        assert finder.problems == [], (name, finder.problems)
        for src in finder.script_srcs:
            assert src.startswith("/") and not src.startswith("//"), (name, src)


def test_inline_code_finder_does_find_inline_code():
    """The scanner above must be able to fail."""
    finder = InlineCodeFinder()
    finder.feed('<script>x()</script><p style="a"></p><a href=" JavaScript:x()" onclick="y">')
    assert len(finder.problems) == 4


@pytest.mark.parametrize(
    "path", ["/login", "/khong-co", "/api/v1/khong-co", "/static/css/app.css", "/logout"]
)
def test_every_response_says_nosniff_and_refuses_framing(client, path):
    with client.get(path) as response:  # a static file answer holds the file open
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["Referrer-Policy"] == "same-origin"
        assert "Content-Security-Policy" in response.headers


def test_permissions_policy_allows_camera_and_location_for_this_site_only(client):
    policy = client.get("/login").headers["Permissions-Policy"]
    assert "camera=(self)" in policy
    assert "geolocation=(self)" in policy
    assert "microphone=()" in policy


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/ok?x=1", "/ok?x=1"),
        ("/members/3#top", "/members/3#top"),
        ("//evil.com", "/"),
        ("//evil.com/path", "/"),
        ("https://evil.com", "/"),
        ("HTTPS://evil.com", "/"),
        ("/\\evil.com", "/"),
        ("/\t/evil.com", "/"),
        ("/\n/evil.com", "/"),
        ("\\/evil.com", "/"),
        ("javascript:alert(1)", "/"),
        ("evil.com", "/"),
        ("", "/"),
        (None, "/"),
    ],
)
def test_safe_next_only_allows_paths_on_this_site(app: Flask, target, expected):
    with app.test_request_context("/"):
        assert safe_next(target) == expected


def test_safe_next_falls_back_to_the_endpoint_given(app: Flask):
    with app.test_request_context("/"):
        assert safe_next("//evil.com", "auth.login") == "/login"


@pytest.mark.parametrize(
    ("target", "expected"), [("/login", "/login"), ("//evil.com", "/"), ("https://evil.com", "/")]
)
def test_language_switch_redirects_only_within_the_site(client, target, expected):
    token = csrf_token_from(client)
    response = client.post("/language", data={"lang": "en", "csrf_token": token, "next": target})
    assert response.status_code == 302
    assert response.headers["Location"] == expected


def test_language_switch_needs_the_csrf_token(client):
    response = client.post("/language", data={"lang": "en", "next": "/login"})
    assert response.status_code == 400
    assert '<html lang="vi">' in client.get("/login").get_data(as_text=True)
