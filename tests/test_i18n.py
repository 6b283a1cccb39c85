"""Every message the code can show has a Vietnamese translation; formats follow the locale."""

from __future__ import annotations

import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
VI_PO = ROOT / "translations" / "vi" / "LC_MESSAGES" / "messages.po"


@pytest.fixture(scope="module")
def extracted(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    pot = tmp_path_factory.mktemp("i18n") / "messages.pot"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "babel.messages.frontend",
            "extract",
            "-F",
            "babel.cfg",
            "-k",
            "_l",
            "-o",
            str(pot),
            ".",
        ],
        check=True,
        cwd=ROOT,
        capture_output=True,
    )
    with pot.open("rb") as fh:
        return {m.id if isinstance(m.id, str) else m.id[0] for m in read_po(fh) if m.id}


@pytest.fixture(scope="module")
def vietnamese():
    with VI_PO.open("rb") as fh:
        return read_po(fh, locale="vi")


def test_every_extracted_message_is_in_the_vietnamese_catalog(extracted, vietnamese):
    known = {m.id if isinstance(m.id, str) else m.id[0] for m in vietnamese if m.id}
    missing = sorted(extracted - known)
    assert not missing, f"run `flask translate update` and translate: {missing}"


def test_no_vietnamese_entry_is_empty_or_fuzzy(vietnamese):
    empty = [
        m.id
        for m in vietnamese
        if m.id and not all(m.string if isinstance(m.string, tuple) else (m.string,))
    ]
    fuzzy = [m.id for m in vietnamese if m.id and m.fuzzy]
    assert not empty, f"untranslated: {empty}"
    assert not fuzzy, f"fuzzy (not shown to users): {fuzzy}"


def test_placeholders_survive_translation(vietnamese):
    import re

    placeholder = re.compile(r"%\(\w+\)s")
    for message in vietnamese:
        if not message.id or isinstance(message.id, tuple):
            continue
        assert sorted(placeholder.findall(message.id)) == sorted(
            placeholder.findall(message.string)
        ), message.id


@pytest.mark.parametrize(
    ("lang", "number", "day", "month"),
    [("vi", "106.200", "26/07/2023", "07/2023"), ("en", "106,200", "26 Jul 2023", "July 2023")],
)
def test_numbers_and_dates_follow_the_locale(app, lang, number, day, month):
    from webapp.i18n import fmt_date, fmt_month, fmt_number

    with app.test_request_context("/", headers={"Accept-Language": lang}):
        assert fmt_number(106200) == number
        assert fmt_date(date(2023, 7, 26)) == day
        assert fmt_month(date(2023, 7, 1)) == month


def test_locale_order_user_then_session_then_browser_then_vietnamese(world, client, auth):
    def lang_of(response_text: str) -> str:
        return response_text.split('<html lang="', 1)[1][:2]

    assert lang_of(client.get("/login").get_data(as_text=True)) == "vi"
    english = client.get("/login", headers={"Accept-Language": "en-US,en;q=0.9"})
    assert lang_of(english.get_data(as_text=True)) == "en"

    from tests.conftest import csrf_token_from

    token = csrf_token_from(client)
    client.post("/language", data={"lang": "en", "csrf_token": token, "next": "/login"})
    assert lang_of(client.get("/login").get_data(as_text=True)) == "en"

    world.users["cadre"].locale = "vi"
    from webapp.extensions import db

    db.session.commit()
    auth.login("canbo")
    page = client.get("/", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert lang_of(page) == "vi"


def test_vietnamese_page_is_translated(world, client):
    page = client.get("/login").get_data(as_text=True)
    assert "Đăng nhập" in page
    assert "Sign in" not in page
