"""What each role sees first, with real figures computed through the scope module."""

from __future__ import annotations

import re
from datetime import date, timedelta
from html import unescape

import pytest
from flask import Flask, session
from flask.testing import FlaskClient
from flask_babel import refresh
from sqlalchemy import select

from tests import factories
from tests.conftest import Auth
from tests.factories import World
from webapp.extensions import db
from webapp.i18n import fmt_date, fmt_month, fmt_number
from webapp.main import services
from webapp.models import Activity, Member, Unit, User
from webapp.units.services import create_unit

EN = {"Accept-Language": "en"}


def home(client: FlaskClient, login: str, headers: dict[str, str] | None = None) -> str:
    response = Auth(client).login(login)
    assert response.status_code == 302, f"could not sign in as {login}"
    page = client.get("/", headers=headers or {})
    assert page.status_code == 200
    return unescape(page.get_data(as_text=True))


def entry_summaries(page: str) -> list[str]:
    return re.findall(r'<span class="entry-summary">([^<]*)</span>', page)


def stats(page: str) -> dict[str, str]:
    return dict(re.findall(r"<dt>([^<]*)</dt>\s*<dd>([^<]*)</dd>", page))


def stat_values(page: str) -> list[str]:
    return re.findall(r"<dd>([^<]*)</dd>", page)


def make(
    world: World, name: str, unit: Unit, by: User, on: date, *people: Member, **kwargs: object
) -> Activity:
    return factories.make_activity(
        unit, world.kind, by, occurred_on=on, participants=people, summary=name, **kwargs
    )


# -- cadre -------------------------------------------------------------------------------


def test_cadre_sees_own_entries_and_those_they_took_part_in_only(world: World, client):
    colleague = factories.make_user("canbo2", "cadre", world.cell_x, member=world.members["binh"])
    an, binh, cuong = world.members["an"], world.members["binh"], world.members["cuong"]
    day = date(2025, 4, 2)
    make(world, "mine", world.cell_x, world.users["cadre"], day, an)
    make(world, "with-me", world.cell_x, colleague, day, an, binh)
    make(world, "colleague-alone", world.cell_x, colleague, day, binh)
    make(world, "other-commune", world.cell_y, world.users["secretary_y"], day, cuong)
    db.session.commit()
    page = home(client, "canbo")
    assert sorted(entry_summaries(page)) == ["mine", "with-me"]
    assert "Nguyễn Văn An" in page


def test_cadre_sees_the_ten_newest_entries_newest_first(world: World, client):
    start = date(2025, 1, 1)
    for i in range(12):
        make(world, f"entry-{i:02d}", world.cell_x, world.users["cadre"], start + timedelta(i))
    db.session.commit()
    shown = entry_summaries(home(client, "canbo"))
    assert shown == [f"entry-{i:02d}" for i in range(11, 1, -1)]


def test_cadre_entry_shows_date_kind_unit_and_status_in_the_page_language(world: World, client):
    make(world, "dated", world.cell_x, world.users["cadre"], date(2023, 7, 26), status="returned")
    db.session.commit()
    page = home(client, "canbo")
    assert "26/07/2023" in page
    assert "Thăm hộ gia đình" in page  # the kind's Vietnamese name
    assert "Chi bộ thôn Nà Va" in page
    assert "badge-returned" in page
    english = unescape(client.get("/", headers=EN).get_data(as_text=True))
    assert "26 Jul 2023" in english
    assert "Home visit" in english
    assert "Returned" in english


def test_cadre_with_no_entries_is_told_so(world: World, client):
    make(world, "someone-else", world.cell_x, world.users["secretary_x"], date(2025, 4, 2))
    db.session.commit()
    page = home(client, "canbo", EN)
    assert entry_summaries(page) == []
    assert "You have no entries yet." in page


# -- secretary ---------------------------------------------------------------------------


@pytest.fixture
def review_queue(world: World) -> World:
    """Commune X: 12 waiting, 1 confirmed, 1 returned. Commune Y: 2 waiting."""
    cadre, sec_y = world.users["cadre"], world.users["secretary_y"]
    for i in range(12):
        make(world, f"x-waiting-{i:02d}", world.cell_x, cadre, date(2025, 3, 1) + timedelta(i))
    make(world, "x-confirmed", world.cell_x, cadre, date(2025, 3, 20), status="confirmed")
    make(world, "x-returned", world.cell_x, cadre, date(2025, 3, 21), status="returned")
    make(world, "y-waiting-1", world.cell_y, sec_y, date(2025, 3, 2))
    make(world, "y-waiting-2", world.commune_y, sec_y, date(2025, 3, 3))
    db.session.commit()
    return world


def waiting_count(page: str) -> str:
    match = re.search(r'class="big-number"><span>([^<]*)</span>', page)
    assert match, "no waiting count on the page"
    return match.group(1)


def test_secretary_sees_the_number_waiting_in_their_scope_only(review_queue, client):
    page_x = home(client, "bithu.x")
    assert waiting_count(page_x) == "12"
    shown_x = entry_summaries(page_x)
    assert len(shown_x) == 10
    assert all(s.startswith("x-waiting-") for s in shown_x)
    Auth(client).logout()
    page_y = home(client, "bithu.y")
    assert waiting_count(page_y) == "2"
    assert sorted(entry_summaries(page_y)) == ["y-waiting-1", "y-waiting-2"]


def test_secretary_with_nothing_waiting_is_told_so(review_queue, client):
    sec_z_unit = create_unit("Xã Không Có Gì", "commune", review_queue.province)
    factories.make_user("bithu.z", "secretary", sec_z_unit)
    db.session.commit()
    page = home(client, "bithu.z", EN)
    assert waiting_count(page) == "0"
    assert "Nothing is waiting for review." in page


def test_waiting_count_is_formatted_in_vietnamese(world: World, client, monkeypatch):
    monkeypatch.setattr(services, "waiting_entries", lambda user, limit=10: (1234, []))
    assert waiting_count(home(client, "bithu.x")) == "1.234"
    assert waiting_count(unescape(client.get("/", headers=EN).get_data(as_text=True))) == "1,234"


# -- staff and admin: last month's confirmed totals --------------------------------------


def month_bounds(today: date) -> tuple[date, date, date]:
    """First and last day of last month, and the first day of this month."""
    this_start = today.replace(day=1)
    last_day = this_start - timedelta(days=1)
    return last_day.replace(day=1), last_day, this_start


@pytest.fixture
def last_month(world: World) -> World:
    """A known month.

    Counted (confirmed, last month, in the province):
      A1 cell X, first day,  1000 people, 100000 households, An + Bình
      A2 cell X, last day,    234 people,   6200 households, An
      A3 commune Y itself (not a cell),  0 people, Cường
    Not counted: a waiting one (pending), a returned one, this month's, the month before's,
    and one in another province.
    """
    w = world
    first, last, this_start = month_bounds(date.today())
    an, binh, cuong = w.members["an"], w.members["binh"], w.members["cuong"]
    cadre, sec_y = w.users["cadre"], w.users["secretary_y"]
    ok = {"status": "confirmed"}
    make(
        w,
        "A1",
        w.cell_x,
        cadre,
        first,
        an,
        binh,
        people_reached=1000,
        households_reached=100000,
        **ok,
    )
    make(w, "A2", w.cell_x, cadre, last, an, people_reached=234, households_reached=6200, **ok)
    make(w, "A3", w.commune_y, sec_y, first + timedelta(days=10), cuong, **ok)
    make(w, "A4-waiting", w.cell_y, sec_y, first + timedelta(days=5), cuong, people_reached=50)
    make(
        w,
        "A5-returned",
        w.cell_x,
        cadre,
        first + timedelta(days=6),
        an,
        people_reached=7,
        status="returned",
    )
    make(w, "A6-this-month", w.cell_x, cadre, this_start, an, people_reached=9, **ok)
    make(
        w,
        "A7-month-before",
        w.cell_x,
        cadre,
        first - timedelta(days=1),
        an,
        people_reached=11,
        **ok,
    )
    make(w, "A9-waiting-now", w.cell_x, cadre, this_start, an)
    other = create_unit("Hà Giang", "province", division_code="02")
    other_cell = create_unit("Chi bộ Đồng Văn", "cell", other)
    stranger = factories.make_member(other_cell, "Hoàng Văn Dũng")
    outsider = factories.make_user("ngoai", "cadre", other_cell, member=stranger)
    make(w, "A8-elsewhere", other_cell, outsider, first, stranger, people_reached=5, **ok)
    db.session.commit()
    return w


EXPECTED = {
    "Activities": ("3", "3"),
    "Cell and committee activities": ("2", "2"),
    "Member participations": ("4", "4"),
    "Members engaged": ("3", "3"),
    "Active units": ("2", "2"),
    "People reached": ("1.234", "1,234"),
    "Households reached": ("106.200", "106,200"),
}


@pytest.mark.parametrize("login", ["chuyenvien", "quantri"])
def test_staff_sees_last_months_confirmed_totals(last_month, client, login):
    first, _, _ = month_bounds(date.today())
    page_vi = home(client, login)
    assert '<html lang="vi">' in page_vi
    assert stat_values(page_vi) == [vi for vi, _ in EXPECTED.values()]
    assert f"{first:%m/%Y}" in page_vi
    page_en = unescape(client.get("/", headers=EN).get_data(as_text=True))
    assert stats(page_en) == {label: en for label, (_, en) in EXPECTED.items()}
    assert f"{first:%B %Y}" in page_en
    assert "Waiting for review last month: 1 · all waiting now: 2" in page_en


def test_staff_of_the_other_province_sees_only_its_own_entry(last_month, client):
    other = db.session.scalar(select(Unit).where(Unit.division_code == "02"))
    factories.make_user("chuyenvien.hg", "staff", other)
    db.session.commit()
    page = home(client, "chuyenvien.hg", EN)
    figures = stats(page)
    assert figures["Activities"] == "1"
    assert figures["People reached"] == "5"
    assert figures["Members engaged"] == "1"


def test_month_totals_respect_month_bounds_in_a_leap_february(world: World):
    w = world
    cadre, an = w.users["cadre"], w.members["an"]
    ok = {"status": "confirmed"}
    make(w, "feb-1", w.cell_x, cadre, date(2024, 2, 1), an, people_reached=1, **ok)
    make(w, "feb-29", w.cell_x, cadre, date(2024, 2, 29), an, people_reached=10, **ok)
    make(w, "jan-31", w.cell_x, cadre, date(2024, 1, 31), an, people_reached=100, **ok)
    make(w, "mar-1", w.cell_x, cadre, date(2024, 3, 1), an, people_reached=1000, **ok)
    make(w, "feb-waiting", w.cell_x, cadre, date(2024, 2, 15), an, people_reached=10000)
    db.session.commit()
    totals = services.month_totals(w.users["staff"], date(2024, 3, 15))
    assert totals == services.MonthTotals(
        month_start=date(2024, 2, 1),
        activities=2,
        unit_activities=2,
        active_units=1,
        participations=2,
        members_engaged=1,
        people_reached=11,
        households_reached=0,
        pending=1,
    )
    # A secretary of the other commune sees nothing of it.
    empty = services.month_totals(w.users["secretary_y"], date(2024, 3, 15))
    assert (empty.activities, empty.people_reached, empty.pending) == (0, 0, 0)


@pytest.mark.parametrize(
    ("today", "expected"),
    [
        (date(2024, 1, 10), (date(2023, 12, 1), date(2024, 1, 1))),
        (date(2024, 3, 31), (date(2024, 2, 1), date(2024, 3, 1))),
        (date(2025, 3, 1), (date(2025, 2, 1), date(2025, 3, 1))),
        (date(2025, 12, 31), (date(2025, 11, 1), date(2025, 12, 1))),
    ],
)
def test_previous_month(today, expected):
    assert services.previous_month(today) == expected


# -- number and date formats -------------------------------------------------------------


@pytest.mark.parametrize(
    ("lang", "number", "big", "decimal", "day", "month"),
    [
        ("vi", "106.200", "1.234.567", "1.234,5", "26/07/2023", "07/2023"),
        ("en", "106,200", "1,234,567", "1,234.5", "26 Jul 2023", "July 2023"),
    ],
)
def test_formats_follow_the_language_chosen_in_the_session(
    app: Flask, lang, number, big, decimal, day, month
):
    other = "en" if lang == "vi" else "vi"
    # The browser asks for the other language: the session's choice must win.
    with app.test_request_context("/", headers={"Accept-Language": other}):
        session["locale"] = lang
        refresh()
        assert fmt_number(106200) == number
        assert fmt_number(1234567) == big
        assert fmt_number(1234.5) == decimal
        assert fmt_number(0) == "0"
        assert fmt_number(None) == ""
        assert fmt_date(date(2023, 7, 26)) == day
        assert fmt_date(None) == ""
        assert fmt_month(date(2023, 7, 1)) == month


def test_formats_default_to_vietnamese_without_any_preference(app: Flask):
    with app.test_request_context("/"):
        assert fmt_number(106200) == "106.200"
        assert fmt_date(date(2023, 7, 26)) == "26/07/2023"
