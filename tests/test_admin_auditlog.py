"""The audit log viewer: administrators only, only their scope's events, filters, pages, and
before → after shown escaped."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from tests.factories import make_user
from webapp.extensions import db
from webapp.models import AuditEvent

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _event(action, unit, actor, *, at=T0, obj=None, before=None, after=None) -> AuditEvent:
    obj = obj or unit
    event = AuditEvent(
        action=action,
        object_type=type(obj).__tablename__,
        object_id=str(obj.id),
        actor_id=actor.id if actor else None,
        unit_id=unit.id if unit else None,
        at=at,
        before=before,
        after=after,
    )
    db.session.add(event)
    db.session.flush()
    return event


@pytest.fixture
def admin_x(world):
    user = make_user("quantri.x", "admin", world.commune_x)
    db.session.commit()
    return user


@pytest.fixture
def events(world):
    """One event in each commune and one on no unit at all."""
    admin = world.users["admin"]
    mine = _event(
        "unit.rename",
        world.cell_x,
        admin,
        before={"name": "Chi bộ cũ"},
        after={"name": "Chi bộ thôn Nà Va"},
    )
    theirs = _event(
        "unit.rename",
        world.cell_y,
        world.users["secretary_y"],
        before={"name": "Bản Khiển cũ"},
        after={"name": "Chi bộ thôn Bản Khiển"},
    )
    nowhere = _event("user.set_password", None, None, obj=world.users["staff"])
    db.session.commit()
    return {"x": mine.id, "y": theirs.id, "none": nowhere.id}


def _ids(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'data-event="(\d+)"', html)]


@pytest.mark.parametrize("username", ["canbo", "bithu.x", "chuyenvien"])
def test_only_administrators_read_the_log(world, events, client, auth, username):
    auth.login(username)
    assert client.get("/admin/audit/").status_code == 403
    assert client.get(f"/admin/audit/?unit={world.cell_x.id}").status_code == 403


def test_signed_out_visitors_are_sent_to_sign_in(world, client):
    response = client.get("/admin/audit/")
    assert response.status_code == 302 and "/login" in response.location


def test_a_commune_admin_sees_only_their_communes_events(world, events, client, auth, admin_x):
    auth.login("quantri.x")
    html = client.get("/admin/audit/").get_data(as_text=True)
    assert _ids(html) == [events["x"]]
    assert "Bản Khiển cũ" not in html
    for unit in (world.commune_y, world.cell_y, world.province):
        assert client.get(f"/admin/audit/?unit={unit.id}").status_code == 404
    assert _ids(client.get(f"/admin/audit/?unit={world.cell_x.id}").get_data(as_text=True)) == [
        events["x"]
    ]
    # nor can a cursor from elsewhere reveal anything
    older = client.get(f"/admin/audit/?older={events['none'] + 1}").get_data(as_text=True)
    assert _ids(older) == [events["x"]]


def test_the_province_admin_sees_everything_newest_first(world, events, client, auth):
    auth.login("quantri")
    html = client.get("/admin/audit/").get_data(as_text=True)
    assert _ids(html) == [events["none"], events["y"], events["x"]]
    by_unit = client.get(f"/admin/audit/?unit={world.commune_y.id}").get_data(as_text=True)
    assert _ids(by_unit) == [events["y"]]
    # the action filter offers what there is
    assert 'value="unit.rename"' in html and 'value="user.set_password"' in html
    only = client.get("/admin/audit/?action=user.set_password").get_data(as_text=True)
    assert _ids(only) == [events["none"]]


def test_filter_by_person_and_by_local_dates(world, client, auth):
    admin, secretary = world.users["admin"], world.users["secretary_y"]
    # 17:30 UTC on 1 March is 00:30 on 2 March in Vietnam
    late = _event("unit.rename", world.cell_x, admin, at=datetime(2026, 3, 1, 17, 30, tzinfo=UTC))
    early = _event("unit.rename", world.cell_y, secretary, at=datetime(2026, 3, 1, 1, tzinfo=UTC))
    db.session.commit()
    auth.login("quantri")
    page = client.get("/admin/audit/?who=QUANTR").get_data(as_text=True)
    assert _ids(page) == [late.id]
    page = client.get("/admin/audit/?who=bithu").get_data(as_text=True)
    assert _ids(page) == [early.id]
    page = client.get("/admin/audit/?since=2026-03-02").get_data(as_text=True)
    assert _ids(page) == [late.id]
    page = client.get("/admin/audit/?until=2026-03-01").get_data(as_text=True)
    assert _ids(page) == [early.id]
    page = client.get("/admin/audit/?since=2026-03-01&until=2026-03-02&who=%25").get_data(
        as_text=True
    )
    assert _ids(page) == []  # '%' is a character, not a wildcard
    assert client.get("/admin/audit/?since=not-a-date").status_code == 200


def test_pages_of_fifty_with_older_and_newer(world, client, auth):
    admin = world.users["admin"]
    made = [
        _event("unit.rename", world.cell_x, admin, at=T0 + timedelta(minutes=n // 2))
        for n in range(120)  # pairs share a timestamp: the id breaks the tie
    ]
    db.session.commit()
    newest_first = [e.id for e in reversed(made)]
    auth.login("quantri")
    first = client.get("/admin/audit/").get_data(as_text=True)
    assert _ids(first) == newest_first[:50]
    assert not re.search(r'href="[^"]*newer=', first)
    older = re.search(r'href="([^"]*older=\d+[^"]*)"', first).group(1).replace("&amp;", "&")
    second = client.get(older).get_data(as_text=True)
    assert _ids(second) == newest_first[50:100]
    older = re.search(r'href="([^"]*older=\d+[^"]*)"', second).group(1).replace("&amp;", "&")
    third = client.get(older).get_data(as_text=True)
    assert _ids(third) == newest_first[100:]
    assert not re.search(r'href="[^"]*older=', third)
    newer = re.search(r'href="([^"]*newer=\d+[^"]*)"', third).group(1).replace("&amp;", "&")
    assert _ids(client.get(newer).get_data(as_text=True)) == newest_first[50:100]


def test_before_and_after_are_shown_escaped(world, client, auth):
    admin = world.users["admin"]
    _event(
        "unit.rename",
        world.cell_x,
        admin,
        before={"name": "<b>cũ</b>", "active": True},
        after={"name": "<script>alert(1)</script>", "active": True, "tags": ["a", "<i>"]},
    )
    db.session.commit()
    auth.login("quantri")
    html = client.get("/admin/audit/").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in html and "<b>cũ</b>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;b&gt;cũ&lt;/b&gt;" in html
    assert "a, &lt;i&gt;" in html
    assert html.count('class="was"') == 1  # the name changed, `active` did not
    assert html.count('class="now"') == 2  # the new name, and `tags` that was not there


def test_the_log_is_read_only(world, events, client, auth):
    auth.login("quantri")
    assert client.post("/admin/audit/").status_code in (400, 405)


def test_numbers_that_name_nothing_are_404(world, client, auth):
    auth.login("quantri")
    for path in (
        "/admin/audit/?unit=99999999999999",
        "/admin/audit/?unit=abc",
        "/admin/units/99999999999999",
        "/admin/reference/kinds/99999999999999",
    ):
        assert client.get(path).status_code == 404, path
    for query in ("older=99999999999999999999999", "since=0001-01-01", "until=9999-12-31"):
        assert client.get(f"/admin/audit/?{query}").status_code == 200, query
