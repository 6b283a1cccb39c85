"""The tally page: figures from the rollup, drill-down and breadcrumb, scope, friendly refusals,
sorting, filters, pending figures beside, both languages, a chart without inline code."""

from __future__ import annotations

import html
import re
from datetime import date
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.factories import make_activity, make_kind
from tests.test_security import inline_problems
from webapp.extensions import db
from webapp.tallies import chart, forms
from webapp.units.services import create_unit

MARCH, APRIL = date(2025, 3, 12), date(2025, 4, 20)
PERIOD = {"from": "2025-03", "to": "2025-04"}


@pytest.fixture
def busy(world):
    """cell_x: two confirmed in March, one pending in April; cell_y: one confirmed in April."""
    an, binh, cuong = (world.members[k] for k in ("an", "binh", "cuong"))
    cadre = world.users["cadre"]
    make_activity(
        world.cell_x,
        world.kind,
        cadre,
        occurred_on=MARCH,
        status="confirmed",
        participants=(an, binh),
        people_reached=1000,
        households_reached=3,
        program=world.program,
    )
    make_activity(
        world.cell_x,
        world.kind,
        cadre,
        occurred_on=MARCH,
        status="confirmed",
        participants=(an,),
        people_reached=200,
        households_reached=2,
    )
    make_activity(
        world.cell_x, world.kind, cadre, occurred_on=APRIL, participants=(an,), people_reached=7
    )
    other = make_kind("meeting", "Sinh hoạt chi bộ", "Cell meeting")
    make_activity(
        world.cell_y,
        other,
        world.users["staff"],
        occurred_on=APRIL,
        status="confirmed",
        participants=(cuong,),
        people_reached=4,
    )
    db.session.commit()
    world.other_kind = other
    return world


def page(client, **params):
    return client.get("/tallies/", query_string=params)


def text_of(response) -> str:
    return response.get_data(as_text=True)


def card(body: str, key: str) -> tuple[str, str | None]:
    """(value, pending) of a figure card, as shown."""
    match = re.search(rf'id="card-{key}">(.*?)</div>', body, re.S)
    assert match, f"no card {key}"
    value = re.search(r'class="tally-value">([^<]*)<', match.group(1)).group(1)
    pending = re.search(r'class="tally-pending">[^<]*?([\d.,]+)<', match.group(1))
    return value, pending.group(1) if pending else None


def child_links(body: str) -> list[tuple[str, str]]:
    """(href, name) of each child row, in table order."""
    return [
        (html.unescape(href), html.unescape(name))
        for href, name in re.findall(r'<a class="drill" href="([^"]+)">([^<]+)</a>', body)
    ]


def query_of(href: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(href).query).items()}


def test_figures_match_the_rollup_and_pending_stays_beside(busy, client, auth):
    auth.login("chuyenvien")
    response = page(client, unit=busy.province.id, **PERIOD)
    assert response.status_code == 200
    body = text_of(response)
    assert card(body, "activities") == ("3", "1")
    assert card(body, "unit_activities") == ("3", None)
    assert card(body, "participations") == ("4", "1")
    assert card(body, "members_engaged") == ("3", None)
    assert card(body, "people_reached") == ("1.204", "7")  # Vietnamese grouping
    assert card(body, "households_reached") == ("5", "0")
    assert card(body, "active_units") == ("2", None)
    assert "trên 2 đơn vị (100%)" in body or "of 2 units (100%)" in body
    names = [name for _href, name in child_links(body)]
    assert names == ["Xã Lâm Bình", "Xã Thượng Lâm"]


def test_default_period_is_this_year_so_far_in_the_users_scope(busy, client, auth):
    auth.login("chuyenvien")
    body = text_of(page(client))
    today = date.today()
    assert f'value="{today.year}-01"' in body
    assert f'value="{today:%Y-%m}"' in body
    assert "<h1>Tuyên Quang</h1>" in body


def test_drill_down_keeps_the_period_and_the_breadcrumb_goes_back_up(busy, client, auth):
    auth.login("chuyenvien")
    body = text_of(page(client, unit=busy.province.id, kind=busy.kind.id, **PERIOD))
    href, name = child_links(body)[0]
    assert name == "Xã Lâm Bình"
    assert query_of(href) == {
        "unit": str(busy.commune_x.id),
        "from": "2025-03",
        "to": "2025-04",
        "kind": str(busy.kind.id),
    }
    down = text_of(client.get(href))
    assert "<h1>Xã Lâm Bình</h1>" in down
    assert card(down, "activities") == ("2", "1")
    crumbs = re.search(r'<nav class="crumbs".*?</nav>', down, re.S).group(0)
    up = re.search(r'href="([^"]+)">Tuyên Quang</a>', crumbs).group(1)
    assert query_of(html.unescape(up))["unit"] == str(busy.province.id)
    assert query_of(html.unescape(up))["from"] == "2025-03"
    assert '<span aria-current="page">Xã Lâm Bình</span>' in crumbs
    assert [n for _h, n in child_links(down)] == ["Chi bộ thôn Nà Va"]


def test_breadcrumb_shows_only_levels_within_the_users_scope(busy, client, auth):
    auth.login("bithu.x")
    body = text_of(page(client, unit=busy.cell_x.id, **PERIOD))
    crumbs = re.search(r'<nav class="crumbs".*?</nav>', body, re.S).group(0)
    assert "Xã Lâm Bình" in crumbs
    assert "Tuyên Quang" not in crumbs


def test_cadres_are_refused(busy, client, auth):
    auth.login("canbo")
    assert page(client).status_code == 403
    assert client.get("/tallies/export.csv").status_code == 403


def test_signed_out_visitors_are_sent_to_sign_in(client, world):
    response = page(client)
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


@pytest.mark.parametrize("path", ["/tallies/", "/tallies/export.csv", "/tallies/export.xlsx"])
def test_a_secretary_sees_only_their_own_commune(busy, client, auth, path):
    auth.login("bithu.x")
    own = client.get(path, query_string={"unit": busy.commune_x.id, **PERIOD})
    assert own.status_code == 200
    own.close()  # an export streams from a temporary file
    for unit in (busy.commune_y, busy.cell_y, busy.province):
        assert client.get(path, query_string={"unit": unit.id}).status_code == 404
    assert client.get(path, query_string={"unit": 987654}).status_code == 404


def test_a_secretary_lands_on_their_commune_and_staff_on_the_province(busy, client, auth):
    auth.login("bithu.x")
    body = text_of(page(client, **PERIOD))
    assert "<h1>Xã Lâm Bình</h1>" in body
    assert card(body, "activities") == ("2", "1")
    auth.logout()
    auth.login("chuyenvien")
    assert "<h1>Tuyên Quang</h1>" in text_of(page(client, **PERIOD))


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"from": "2025-13"}, "for example 2026-03"),
        ({"from": "tháng ba", "to": "2025-04"}, "for example 2026-03"),
        ({"from": "2025-05", "to": "2025-01"}, "comes after"),
        ({"from": "2000-01", "to": "2025-01"}, "too long"),
        ({"period": "q2025-5"}, "period is not valid"),
        ({"period": "y0000"}, "period is not valid"),
        ({"kind": "abc"}, "activity kind does not exist"),
        ({"kind": "98765"}, "activity kind does not exist"),
        ({"program": "98765"}, "programme does not exist"),
        ({"unit": "x1"}, "unit is not valid"),
    ],
)
def test_bad_values_get_the_form_back_with_a_message(busy, client, auth, params, message):
    auth.login("chuyenvien")
    response = client.get("/tallies/", query_string=params, headers={"Accept-Language": "en"})
    assert response.status_code == 400
    body = text_of(response)
    assert message in body
    assert 'role="alert"' in body
    assert '<form method="get"' in body
    assert 'id="card-activities"' not in body
    export = client.get("/tallies/export.csv", query_string=params)
    assert export.status_code == 400


def test_a_long_period_up_to_the_limit_is_fine(busy, client, auth):
    auth.login("chuyenvien")
    assert page(client, **{"from": "2016-05", "to": "2026-04"}).status_code == 200  # 120
    assert page(client, **{"from": "2016-04", "to": "2026-04"}).status_code == 400  # 121


def test_unknown_sort_or_chart_metric_falls_back_to_the_default(busy, client, auth):
    auth.login("chuyenvien")
    response = page(client, sort="drop table", dir="sideways", metric="x", **PERIOD)
    assert response.status_code == 200
    assert [n for _h, n in child_links(text_of(response))] == ["Xã Lâm Bình", "Xã Thượng Lâm"]


def test_quick_choice_becomes_months_in_the_form(busy, client, auth):
    auth.login("chuyenvien")
    body = text_of(page(client, unit=busy.province.id, period="q2025-2"))
    assert 'name="from" value="2025-04"' in body
    assert 'name="to" value="2025-06"' in body
    assert '<option value="" selected' not in body  # the placeholder needs no `selected`
    assert "selected>" not in re.search(r'<select id="t-period".*?</select>', body, re.S).group(0)
    assert card(body, "activities") == ("1", "1")
    assert "Quý 2/2025" in body or "Q2 2025" in body


def test_kind_and_programme_filters(busy, client, auth):
    auth.login("chuyenvien")
    body = text_of(page(client, kind=busy.other_kind.id, **PERIOD))
    assert card(body, "activities") == ("1", "0")
    assert card(body, "members_engaged") == ("1", None)
    assert "Sinh hoạt chi bộ" in re.search(r'class="tally-period">.*?</p>', body, re.S).group(0)
    body = text_of(page(client, program=busy.program.id, **PERIOD))
    assert card(body, "activities") == ("1", "0")
    assert card(body, "members_engaged") == ("2", None)
    body = text_of(page(client, program=0, **PERIOD))
    assert card(body, "activities") == ("2", "1")


def test_children_sort_by_any_column_both_ways(busy, client, auth):
    create_unit("Xã An Khang", "commune", busy.province)  # no activity: 0 everywhere
    db.session.commit()
    auth.login("chuyenvien")

    def names(**sort):
        body = text_of(page(client, **sort, **PERIOD))
        return [n for _h, n in child_links(body)], body

    by_name, body = names()
    assert by_name == ["Xã An Khang", "Xã Lâm Bình", "Xã Thượng Lâm"]
    assert re.search(r'<th scope="col" aria-sort="ascending">\s*<a class="sort-link"', body)
    assert names(sort="name", dir="desc")[0] == by_name[::-1]
    most, body = names(sort="activities", dir="desc")
    assert most == ["Xã Lâm Bình", "Xã Thượng Lâm", "Xã An Khang"]
    assert body.count('aria-sort="descending"') == 1
    assert names(sort="activities", dir="asc")[0] == ["Xã An Khang", "Xã Thượng Lâm", "Xã Lâm Bình"]
    assert names(sort="pending_activities", dir="desc")[0][0] == "Xã Lâm Bình"
    assert names(sort="share", dir="asc")[0][0] == "Xã An Khang"  # no holding unit: last-ish
    # The current column's link turns the order round; others start from the largest.
    header = re.search(r'aria-sort="descending">\s*<a class="sort-link" href="([^"]+)"', body)
    assert query_of(html.unescape(header.group(1)))["dir"] == "asc"


def test_sort_survives_filtering_and_drilling(busy, client, auth):
    auth.login("chuyenvien")
    body = text_of(page(client, sort="people_reached", dir="desc", **PERIOD))
    assert '<input type="hidden" name="sort" value="people_reached">' in body
    assert query_of(child_links(body)[0][0])["sort"] == "people_reached"


def test_page_speaks_vietnamese_and_english(busy, client, auth):
    auth.login("chuyenvien")
    vi = text_of(page(client, **PERIOD))
    assert '<html lang="vi">' in vi
    assert "Lượt hoạt động" in vi
    assert "1.204" in vi
    en = text_of(client.get("/tallies/", query_string=PERIOD, headers={"Accept-Language": "en"}))
    assert '<html lang="en">' in en
    assert "Activities" in en and "Member participations" in en
    assert "1,204" in en
    assert "From March 2025 to April 2025" in en


def test_no_inline_script_or_style_even_with_a_hostile_unit_name(busy, client, auth):
    create_unit('<script>alert("u")</script><b style="x">', "commune", busy.province)
    db.session.commit()
    auth.login("chuyenvien")
    for lang in ("vi", "en"):
        response = client.get("/tallies/", query_string=PERIOD, headers={"Accept-Language": lang})
        assert response.status_code == 200
        assert "&lt;script&gt;alert" in text_of(response)
        assert inline_problems(response).problems == []
        assert "'unsafe-inline'" not in response.headers["Content-Security-Policy"]
    refused = page(client, **{"from": "<script>"})
    assert refused.status_code == 400
    assert inline_problems(refused).problems == []


def test_chart_and_month_table_and_exports_and_print_sheet(busy, client, auth):
    auth.login("chuyenvien")
    body = text_of(page(client, metric="people_reached", **PERIOD))
    svg = re.search(r"<svg.*?</svg>", body, re.S).group(0)
    assert 'role="img"' in svg and "<title" in svg and "<desc" in svg
    assert svg.count('class="chart-bar"') == 2
    assert "Số người dân được tiếp cận" in svg or "People reached" in svg
    months = re.search(r'<section class="tally-section tally-months".*?</section>', body, re.S)
    assert months.group(0).count('<th scope="row">') == 2
    for fmt in ("xlsx", "csv"):
        link = re.search(rf'href="(/tallies/export\.{fmt}\?[^"]+)"', body).group(1)
        assert query_of(html.unescape(link)) == {"unit": str(busy.province.id), **PERIOD}
        export = client.get(html.unescape(link))
        assert export.status_code == 200
        export.close()
    assert re.search(r'<link rel="stylesheet" href="/app/[^"]+/css/tallies\.css">', body)


def test_tallies_link_in_the_menu_for_secretaries_and_above_only(busy, client, auth):
    for login, shown in (("canbo", False), ("bithu.x", True), ("chuyenvien", True)):
        auth.login(login)
        assert ('href="/tallies/"' in text_of(client.get("/"))) is shown, login
        auth.logout()
    auth.login("bithu.x")
    assert 'href="/tallies/"' not in text_of(client.get("/capture"))  # the shell is shared


def test_period_labels_and_quick_periods():
    today = date(2026, 5, 17)
    assert forms.quick_period("ytd", today) == (202601, 202605)
    assert forms.quick_period("12m", today) == (202505, 202604)
    assert forms.quick_period("q2025-4", today) == (202510, 202512)
    assert forms.quick_period("y2024", today) == (202401, 202412)
    assert forms.quick_period("m2026-02", today) == (202602, 202602)
    for bad in ("m2026-00", "m2026-13", "q2026-0", "y10000", "", "ytd "):
        assert forms.quick_period(bad, today) is None
    assert forms.month_count(202501, 202512) == 12
    assert forms.month_count(201605, 202604) == 120


def test_chart_is_escaped_and_has_no_inline_style():
    svg = str(
        chart.bar_chart(
            [chart.Bar("<b>01</b>", 3), chart.Bar("02", 0), chart.Bar("03", 17)],
            title='T & "x"',
            desc="<script>",
            category_axis="Tháng",
            value_axis="Lượt",
            number=lambda n: f"{n:,}".replace(",", "."),
        )
    )
    assert "<b>" not in svg and "&lt;b&gt;01&lt;/b&gt;" in svg
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    assert "style=" not in svg
    assert svg.count('class="chart-bar"') == 2  # a zero gets its value but no bar
    assert [int(t) for t in re.findall(r'class="chart-tick"[^>]*>(\d+)<', svg)] == [
        0,
        5,
        10,
        15,
        20,
    ]
    assert chart.nice_ticks(0) == [0, 1]
    assert chart.nice_ticks(1234) == [0, 500, 1000, 1500]


def test_months_and_filters_fold_away_unless_in_use(busy, client, auth):
    auth.login("chuyenvien")

    def opened(**params) -> bool:
        body = text_of(page(client, **params))
        return '<details class="more-filters" open>' in body

    assert not opened()  # this year so far
    assert not opened(period="q2025-1")
    assert opened(**{"from": "2025-02", "to": "2025-05"})  # a range of one's own
    assert opened(kind=busy.kind.id, period="q2025-1")
    assert opened(**{"from": "2025-13"})  # a value to correct
