"""Targets (issue 6): progress per period and share, groups met, the admin services and their
audit events, the CSV import (command and page), and the admin page's roles, scope and CSRF."""

from __future__ import annotations

import html
import io
import re
from datetime import date
from pathlib import Path

import pytest
from flask.testing import FlaskCliRunner
from sqlalchemy import delete, func, select

from tests.conftest import csrf_token_from
from tests.factories import World, make_activity, make_user
from tests.test_security import inline_problems
from webapp.extensions import db
from webapp.models import AuditEvent, Indicator, IndicatorGroup, Target
from webapp.tallies import rebuild
from webapp.tallies.targets import (
    TargetError,
    create_group,
    create_indicator,
    deactivate_indicator,
    delete_target,
    evaluate,
    parse_number,
    set_target,
    update_group,
    update_indicator,
)
from webapp.tallies.targets_demo import ensure_default_indicators, seed_demo_targets

ENGLISH = {"LC_ALL": "en_US.UTF-8"}
HEADER = "indicator,unit,year,value\n"
X_PATH = "Tuyên Quang / Xã Lâm Bình"


@pytest.fixture
def busy(world: World) -> World:
    """Confirmed in 2026: cell_x in January (An, Bình), February (An), April (Bình) and May
    (An); cell_y in February (Cường). Beside them, not counted: one pending in March, one of
    2025."""
    an, binh, cuong = (world.members[k] for k in ("an", "binh", "cuong"))
    cadre, staff = world.users["cadre"], world.users["staff"]
    done = {"status": "confirmed"}
    for day, people, reached, homes in (
        (date(2026, 1, 10), (an, binh), 10, 4),
        (date(2026, 2, 5), (an,), 6, 2),
        (date(2026, 4, 20), (binh,), 20, 8),
        (date(2026, 5, 3), (an,), 4, 1),
    ):
        make_activity(
            world.cell_x,
            world.kind,
            cadre,
            occurred_on=day,
            participants=people,
            people_reached=reached,
            households_reached=homes,
            **done,
        )
    make_activity(
        world.cell_y,
        world.kind,
        staff,
        occurred_on=date(2026, 2, 14),
        participants=(cuong,),
        **done,
    )
    make_activity(world.cell_x, world.kind, cadre, occurred_on=date(2026, 3, 1), people_reached=99)
    make_activity(world.cell_x, world.kind, cadre, occurred_on=date(2025, 6, 1), **done)
    db.session.commit()  # the rollup follows in the same transaction
    assert rebuild.verify().total == 0
    db.session.rollback()
    return world


def indicator(code: str, metric: str, period: str = "year", group: str = "g1") -> Indicator:
    found = db.session.scalars(select(IndicatorGroup).where(IndicatorGroup.code == group)).first()
    found = found or create_group(None, code=group, name_vi=f"Nhóm {group}", name_en=group)
    return create_indicator(
        None, group=found, code=code, name_vi=code, name_en=code, metric=metric, period=period
    )


def results_by_code(report) -> dict[str, tuple[float, float | None]]:
    return {
        r.indicator.code: (r.actual, None if r.percent is None else round(r.percent, 6))
        for g in report.groups
        for r in g.indicators
    }


def audit_count(action: str | None = None) -> int:
    query = select(func.count(AuditEvent.id))
    if action:
        query = query.where(AuditEvent.action == action)
    return db.session.scalar(query) or 0


def target_rows() -> list[tuple[str, int, int, float]]:
    rows = db.session.execute(
        select(Indicator.code, Target.unit_id, Target.year, Target.value)
        .join(Indicator, Indicator.id == Target.indicator_id)
        .order_by(Indicator.code, Target.unit_id, Target.year)
    )
    return [tuple(row) for row in rows]


# -- evaluate() ------------------------------------------------------------------------------


def test_each_period_compares_with_what_the_target_asks_for_by_then(busy):
    x = busy.commune_x
    per_year = indicator("participations_year", "participations")
    per_quarter = indicator("cell_activities_quarter", "unit_activities", "quarter")
    per_month = indicator("activities_month", "activities", "month")
    people = indicator("people_year", "people_reached")
    for ind, value in ((per_year, 10), (per_quarter, 2), (per_month, 1), (people, 80)):
        set_target(None, ind, x, 2026, value)
    db.session.commit()

    report = evaluate(x, 202605)
    assert report is not None
    assert (report.year, report.through_month) == (2026, 202605)
    results = results_by_code(report)
    # 5 participations of an annual 10: progress toward it.
    assert results["participations_year"] == (5, 50)
    # Through May: 5/3 quarters, so 2 a quarter asks for 3.33 and 4 were held.
    assert results["cell_activities_quarter"] == (4, 120)
    # Five months at 1 a month asks for 5; 4 held (the pending one and 2025's do not count).
    assert results["activities_month"] == (4, 80)
    assert results["people_year"] == (40, 50)
    # Through February the quarter target asks for 2 × 2/3 and 2 were held.
    february = results_by_code(evaluate(x, 202602))
    assert february["cell_activities_quarter"] == (2, 150)
    assert february["activities_month"] == (2, 100)


def test_shares_are_percentages_of_units_over_the_months_so_far(busy):
    province = busy.province
    active = indicator("units_active", "active_units_share")
    every_month = indicator("units_every_month", "active_every_month_share")
    set_target(None, active, province, 2026, 80)
    set_target(None, every_month, province, 2026, 50)
    db.session.commit()
    # Both cells held something January..May (100 %), none every month (0 %).
    results = results_by_code(evaluate(province, 202605))
    assert results["units_active"] == (100, 125)
    assert results["units_every_month"] == (0, 0)
    # January alone: only cell_x, and it was active every month of that range.
    january = results_by_code(evaluate(province, 202601))
    assert january["units_active"] == (50, 62.5)
    assert january["units_every_month"] == (50, 100)


def test_groups_met_when_every_indicator_reaches_its_target(busy):
    x = busy.commune_x
    taking_part = [
        indicator("participations", "participations", group="a"),
        indicator("engaged", "members_engaged", group="a"),
    ]
    movement = [
        indicator("activities", "activities", "month", group="b"),
        indicator("active", "active_units_share", group="b"),
    ]
    unused = indicator("households", "households_reached", group="c")
    retired = indicator("retired", "people_reached", group="a")
    zero = indicator("zero", "activities", group="d")
    for ind, value in zip(
        [*taking_part, *movement, retired, zero], [4, 2, 1, 80, 1000, 0], strict=True
    ):
        set_target(None, ind, x, 2026, value)
    set_target(None, unused, busy.commune_y, 2026, 5)  # another unit's target
    deactivate_indicator(None, retired)
    db.session.commit()

    report = evaluate(x, 202605)
    assert report is not None
    met = {g.group.code: g.met for g in report.groups}
    # a: 5 of 4 and 2 of 2 -> met (the retired indicator is left out);
    # b: 4 of 5 asked -> not met; c: no target here -> not counted; d: 0 asks nothing.
    assert met == {"a": True, "b": False, "d": True}
    assert (report.met_count, report.group_count) == (2, 3)
    assert results_by_code(report)["zero"] == (4, None)
    assert evaluate(x, 202505) is None  # no targets that year
    assert evaluate(busy.cell_x, 202605) is None  # nor for that unit


# -- Services, rules and audit ----------------------------------------------------------------


def test_target_rules_scope_and_audit(busy):
    admin_x = make_user("quantri.x", "admin", busy.commune_x)
    admin = busy.users["admin"]
    share = indicator("share", "active_units_share")
    count = indicator("count", "activities")
    before = audit_count()

    assert set_target(admin_x, count, busy.commune_x, 2026, 12) == "created"
    assert set_target(admin_x, count, busy.commune_x, 2026, 12) == "unchanged"
    assert set_target(admin, count, busy.commune_x, 2026, 15) == "updated"
    for actor, ind, unit, year, value, field in (
        (admin_x, count, busy.commune_y, 2026, 1, "unit"),  # outside the scope
        (busy.users["staff"], count, busy.commune_x, 2026, 1, "unit"),  # not an admin
        (admin, count, busy.commune_x, 2026, -1, "value"),
        (admin, share, busy.commune_x, 2026, 100.5, "value"),
        (admin, count, busy.commune_x, 1999, 1, "year"),
    ):
        with pytest.raises(TargetError) as refused:
            set_target(actor, ind, unit, year, value)
        assert refused.value.field == field
    assert set_target(admin, share, busy.commune_x, 2026, 100) == "created"
    assert delete_target(admin, share, busy.commune_x, 2026)
    assert not delete_target(admin, share, busy.commune_x, 2026)
    with pytest.raises(TargetError):
        delete_target(admin_x, count, busy.province, 2026)
    db.session.commit()

    events = db.session.scalars(
        select(AuditEvent).where(AuditEvent.object_type == "target").order_by(AuditEvent.id)
    ).all()
    assert audit_count() - before == len(events) == 4
    first, second = events[0], events[1]
    assert (first.action, first.actor_id, first.unit_id) == (
        "target.set",
        admin_x.id,
        busy.commune_x.id,
    )
    assert first.object_id == f"{count.id}:{busy.commune_x.id}:2026"
    assert first.before is None and first.after["value"] == 12
    assert (second.before["value"], second.after["value"]) == (12, 15)
    assert second.after["indicator"] == "count"
    assert [e.action for e in events[2:]] == ["target.set", "target.delete"]
    assert events[3].after is None


def test_indicators_are_changed_only_by_a_root_admin(busy):
    admin_x = make_user("quantri.x", "admin", busy.commune_x)
    admin = busy.users["admin"]
    with pytest.raises(TargetError):
        create_group(admin_x, code="x", name_vi="Nhóm X")
    group = create_group(admin, code="Nhom_1 ", name_vi="  Nhóm   một ", name_en="Group one")
    assert (group.code, group.name_vi) == ("nhom_1", "Nhóm một")
    for code, name in (("nhom_1", "Trùng mã"), ("có dấu", "Mã có dấu"), ("ok", "")):
        with pytest.raises(TargetError):
            create_group(admin, code=code, name_vi=name)
    ind = create_indicator(
        admin, group=group, code="visits", name_vi="Lượt", metric="activities", period="month"
    )
    with pytest.raises(TargetError):
        create_indicator(admin, group=group, code="bad", name_vi="Sai", metric="nope")
    shared = create_indicator(
        admin,
        group=group,
        code="share",
        name_vi="Tỷ lệ",
        metric="active_units_share",
        period="month",
    )
    assert shared.period == "year"  # a share has no period
    set_target(admin, ind, busy.province, 2026, 3)
    values = {
        "group": group,
        "code": "visits",
        "name_vi": "Lượt hoạt động",
        "name_en": "Visits",
        "sort_order": 1,
        "active": True,
    }
    with pytest.raises(TargetError) as refused:  # it has targets: what it counts stays
        update_indicator(admin, ind, metric="participations", period="month", **values)
    assert refused.value.field == "metric"
    assert update_indicator(admin, ind, metric="activities", period="month", **values)
    assert not update_indicator(admin, ind, metric="activities", period="month", **values)
    assert update_indicator(
        admin, ind, metric="activities", period="month", **values | {"active": False}
    )
    assert update_group(admin, group, code="nhom_1", name_vi="Nhóm 1", name_en="", sort_order=2)
    with pytest.raises(TargetError):
        update_indicator(admin_x, ind, metric="activities", period="month", **values)
    db.session.commit()
    actions = db.session.scalars(
        select(AuditEvent.action)
        .where(AuditEvent.object_type.in_(["indicator", "indicator_group"]))
        .order_by(AuditEvent.id)
    ).all()
    assert actions == [
        "indicator_group.create",
        "indicator.create",
        "indicator.create",
        "indicator.update",
        "indicator.deactivate",
        "indicator_group.update",
    ]


def test_numbers_are_read_without_thousands_separators():
    assert parse_number("1500") == 1500
    assert parse_number(" 12,5 ") == 12.5
    assert parse_number("12.25") == 12.25
    assert parse_number("1 500") == parse_number("1\u00a0500") == 1500
    for text in ("1.500", "1,500", "1 500.555", "-3", "1e3", "", "abc", "nan"):
        assert parse_number(text) is None, text


def test_default_indicators_are_created_once(app):
    first = ensure_default_indicators()
    assert len(first) == 8
    assert db.session.scalar(select(func.count(IndicatorGroup.id))) == 4
    again = ensure_default_indicators()
    assert {k: v.id for k, v in again.items()} == {k: v.id for k, v in first.items()}
    assert {i.metric for i in first.values()} >= {"unit_activities", "active_every_month_share"}


def test_demo_targets_some_met_some_not_and_deterministic(busy):
    ensure_default_indicators()
    province = busy.province
    count = seed_demo_targets(province, 2026, last_month=202605, seed=7)
    assert count > 8
    first = target_rows()
    report = evaluate(province, 202605)
    assert report is not None
    met = {g.group.code: g.met for g in report.groups}
    assert met == {
        "sinh_hoat_chi_bo": False,
        "dang_vien_tham_gia": True,
        "tiep_can_nhan_dan": True,
        "phong_trao": False,
    }
    assert {u for _code, u, _year, _value in first} == {
        province.id,
        busy.commune_x.id,
        busy.commune_y.id,
    }
    assert seed_demo_targets(province, 2026, last_month=202605, seed=7) == 0  # kept as they are
    db.session.execute(delete(Target))
    seed_demo_targets(province, 2026, last_month=202605, seed=7)
    assert target_rows() == first


# -- CSV import: the command ------------------------------------------------------------------


def import_csv(runner: FlaskCliRunner, tmp_path: Path, text: str, *args: str, user="quantri"):
    path = tmp_path / "targets.csv"
    path.write_bytes(b"\xef\xbb\xbf" + text.encode())
    return runner.invoke(
        args=["tallies", "import-targets", str(path), "--as", user, *args], env=ENGLISH
    )


@pytest.fixture
def defined(world: World) -> World:
    indicator("visits", "activities", "quarter")
    indicator("share", "active_units_share")
    db.session.commit()
    return world


GOOD = HEADER + (
    "visits,08,2026,40\n"
    f'visits,{X_PATH},2026,"12,5"\n'
    "share,02269,2026,80\n"
    "SHARE,Tuyen Quang / Xa Lam Binh,2025,75.5\n"
)


def test_import_then_again_changes_nothing(runner, tmp_path, defined):
    dry = import_csv(runner, tmp_path, GOOD, "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "Dry run" in dry.output and "created: 4" in dry.output
    assert target_rows() == []
    assert audit_count("target.set") == 0

    first = import_csv(runner, tmp_path, GOOD)
    assert first.exit_code == 0, first.output
    assert "created: 4, updated: 0, unchanged: 0" in first.output
    x, y, province = defined.commune_x.id, defined.commune_y.id, defined.province.id
    assert target_rows() == [
        ("share", x, 2025, 75.5),
        ("share", y, 2026, 80),
        ("visits", province, 2026, 40),
        ("visits", x, 2026, 12.5),
    ]
    events = audit_count("target.set")
    second = import_csv(runner, tmp_path, GOOD)
    assert "created: 0, updated: 0, unchanged: 4" in second.output
    assert audit_count("target.set") == events == 4
    third = import_csv(runner, tmp_path, HEADER + "visits,08,2026,45\n")
    assert "created: 0, updated: 1, unchanged: 0" in third.output


def test_bad_rows_are_all_reported_and_nothing_is_saved(runner, tmp_path, defined):
    text = HEADER + (
        "visits,08,2026,40\n"  # fine, but not kept
        "nope,08,2026,1\n"
        "visits,Nowhere,2026,1\n"
        "visits,08,26,1\n"
        "visits,02266,2026,1.500\n"
        "share,02266,2026,120\n"
        "visits,08,2026,41\n"  # the same target as line 2
        ",,2026,\n"
    )
    result = import_csv(runner, tmp_path, text)
    assert result.exit_code == 1
    out = result.output
    assert "line 3, column indicator: no indicator with the code “nope”" in out
    assert "line 4, column unit: no unit “Nowhere”" in out
    assert "line 5, column year: “26” is not a year" in out
    assert "line 6, column value: “1.500” is not a number" in out
    assert "line 7, column value: this indicator is a percentage" in out
    assert "line 8, column indicator: the same target is already on line 2" in out
    assert "line 9, column indicator: the indicator is empty" in out
    assert "line 9, column unit: the unit is empty" in out
    assert "line 9, column value: the value is empty" in out
    assert "9 problems found; nothing was imported." in out
    assert target_rows() == []


def test_units_outside_the_importers_scope_are_refused_row_by_row(runner, tmp_path, defined):
    make_user("quantri.x", "admin", defined.commune_x)
    db.session.commit()
    text = HEADER + "visits,02266,2026,4\nvisits,02269,2026,4\nvisits,08,2026,4\n"
    result = import_csv(runner, tmp_path, text, user="quantri.x")
    assert result.exit_code == 1
    assert "line 2" not in result.output
    assert "line 3, column unit: you may not set targets for “Tuyên Quang / Xã Thượng Lâm”" in (
        result.output
    )
    assert "line 4, column unit: you may not set targets" in result.output
    assert target_rows() == []
    staff = import_csv(runner, tmp_path, GOOD, user="chuyenvien")
    assert staff.exit_code == 1
    assert "not an active administrator" in staff.output


# -- The pages --------------------------------------------------------------------------------


@pytest.fixture
def en(client):
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


@pytest.mark.parametrize("username", ["canbo", "bithu.x", "chuyenvien"])
def test_only_admins_reach_the_target_pages(defined, en, auth, username):
    auth.login(username)
    token = csrf_token_from(en, "/")
    visits = db.session.scalars(select(Indicator).where(Indicator.code == "visits")).one()
    assert en.get("/tallies/targets").status_code == 403
    assert en.get("/tallies/targets/import").status_code == 403
    assert en.get("/tallies/targets/template.csv").status_code == 403
    posted = en.post(
        "/tallies/targets",
        data={"csrf_token": token, "action": "targets", f"value-{visits.id}": "5"},
    )
    assert posted.status_code == 403
    upload = en.post(
        "/tallies/targets/import",
        data={"csrf_token": token, "apply": "1", "csv_text": GOOD},
    )
    assert upload.status_code == 403
    assert target_rows() == []


def test_admin_sets_a_units_targets_all_or_nothing(busy, en, auth):
    visits = indicator("visits", "activities", "quarter")
    share = indicator("share", "active_units_share", group="g2")
    db.session.commit()
    auth.login("quantri")
    x = busy.commune_x.id
    url = f"/tallies/targets?unit={x}&year=2025"
    page = en.get(url)
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert f'name="value-{visits.id}"' in body and "Nhóm g1" in body
    assert inline_problems(page).problems == []
    token = csrf_token_from(en, url)

    bad = en.post(
        url,
        data={
            "csrf_token": token,
            "action": "targets",
            f"value-{visits.id}": "7",
            f"value-{share.id}": "120",
        },
    )
    assert bad.status_code == 200
    assert "Nothing was saved" in bad.get_data(as_text=True)
    assert 'aria-invalid="true"' in bad.get_data(as_text=True)
    assert target_rows() == []

    good = en.post(
        url,
        data={
            "csrf_token": token,
            "action": "targets",
            f"value-{visits.id}": "7",
            f"value-{share.id}": "90,5",
        },
    )
    assert good.status_code == 302
    assert target_rows() == [("share", x, 2025, 90.5), ("visits", x, 2025, 7)]
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "target.set")).first()
    assert event is not None and event.actor_id == busy.users["admin"].id

    shown = en.get(url).get_data(as_text=True)
    assert 'value="90.5"' in shown and 'value="7"' in shown
    # 2025 is over: measured through December, shown with the partial's words and bars.
    assert "Targets for 2025 (through month 12)" in shown
    # cell_x held one in June 2025: every unit active (met), 1 of 28 activities (not met).
    assert "1 / 2 indicator groups met" in shown
    assert "<meter" in shown and "Not reached" in shown

    cleared = en.post(  # an emptied box removes its target; a box not sent is left alone
        url,
        data={"csrf_token": token, "action": "targets", f"value-{share.id}": ""},
    )
    assert cleared.status_code == 302
    assert target_rows() == [("visits", x, 2025, 7)]
    assert audit_count("target.delete") == 1


def test_commune_admin_cannot_touch_another_commune_or_the_indicators(defined, en, auth):
    make_user("quantri.x", "admin", defined.commune_x)
    db.session.commit()
    visits = db.session.scalars(select(Indicator).where(Indicator.code == "visits")).one()
    auth.login("quantri.x")
    own = en.get("/tallies/targets")
    assert own.status_code == 200
    assert "only an administrator of the whole organisation" in own.get_data(as_text=True)
    assert "Add a group" not in own.get_data(as_text=True)
    y = defined.commune_y.id
    assert en.get(f"/tallies/targets?unit={y}").status_code == 404
    assert en.get(f"/tallies/targets/template.csv?unit={y}").status_code == 404
    token = csrf_token_from(en, "/tallies/targets")
    other = en.post(
        f"/tallies/targets?unit={y}&year=2026",
        data={"csrf_token": token, "action": "targets", f"value-{visits.id}": "5"},
    )
    assert other.status_code == 403
    group = en.post(
        "/tallies/targets",
        data={"csrf_token": token, "action": "group", "code": "mine", "name_vi": "Của tôi"},
    )
    assert group.status_code == 403
    assert target_rows() == []
    assert db.session.scalar(select(func.count(IndicatorGroup.id))) == 1


def test_posts_without_a_csrf_token_are_refused(defined, en, auth):
    visits = db.session.scalars(select(Indicator).where(Indicator.code == "visits")).one()
    auth.login("quantri")
    for data in (
        {"action": "targets", f"value-{visits.id}": "5"},
        {"action": "group", "code": "new", "name_vi": "Mới"},
    ):
        assert en.post("/tallies/targets", data=data).status_code == 400
    assert (
        en.post("/tallies/targets/import", data={"apply": "1", "csv_text": GOOD}).status_code == 400
    )
    assert target_rows() == []
    assert db.session.scalar(select(func.count(IndicatorGroup.id))) == 1


def test_root_admin_adds_and_edits_groups_and_indicators(defined, en, auth):
    auth.login("quantri")
    token = csrf_token_from(en, "/tallies/targets")
    added = en.post(
        "/tallies/targets",
        data={
            "csrf_token": token,
            "action": "group",
            "code": "tiep_can",
            "name_vi": "Tiếp cận người dân",
            "name_en": "Reaching people",
            "sort_order": "3",
        },
    )
    assert added.status_code == 302
    group = db.session.scalars(
        select(IndicatorGroup).where(IndicatorGroup.code == "tiep_can")
    ).one()
    clash = en.post(
        "/tallies/targets",
        data={"csrf_token": token, "action": "group", "code": "g1", "name_vi": "Trùng"},
    )
    assert clash.status_code == 200
    assert "The code “g1” is already used." in clash.get_data(as_text=True)
    made = en.post(
        "/tallies/targets",
        data={
            "csrf_token": token,
            "action": "indicator",
            "group_id": str(group.id),
            "code": "households",
            "name_vi": "Lượt hộ",
            "name_en": "Households",
            "metric": "households_reached",
            "period": "year",
            "sort_order": "0",
            "active": "y",
        },
    )
    assert made.status_code == 302
    households = db.session.scalars(select(Indicator).where(Indicator.code == "households")).one()
    assert (households.group_id, households.metric, households.active) == (
        group.id,
        "households_reached",
        True,
    )
    stopped = en.post(
        "/tallies/targets",
        data={
            "csrf_token": token,
            "action": "indicator",
            "indicator_id": str(households.id),
            "group_id": str(group.id),
            "code": "households",
            "name_vi": "Lượt hộ gia đình",
            "metric": "households_reached",
            "period": "year",
            "sort_order": "0",
        },  # no "active": the box was unticked
    )
    assert stopped.status_code == 302
    db.session.expire_all()
    assert (households.name_vi, households.active) == ("Lượt hộ gia đình", False)
    retired = en.post(
        "/tallies/targets",
        data={"csrf_token": token, "action": "deactivate_group", "object_id": str(group.id)},
    )
    assert retired.status_code == 302
    actions = db.session.scalars(
        select(AuditEvent.action).where(AuditEvent.actor_id == defined.users["admin"].id)
    ).all()
    assert actions == ["indicator_group.create", "indicator.create", "indicator.deactivate"]


def test_import_page_previews_then_applies_all_or_nothing(defined, en, auth):
    auth.login("quantri")
    token = csrf_token_from(en, "/tallies/targets/import")
    preview = en.post(
        "/tallies/targets/import",
        data={"csrf_token": token, "file": (_bytes(GOOD), "targets.csv")},
        content_type="multipart/form-data",
    )
    assert preview.status_code == 200
    body = preview.get_data(as_text=True)
    assert "Nothing is saved yet" in body and "add 4 targets" in body
    assert inline_problems(preview).problems == []
    assert target_rows() == []  # a preview writes nothing
    carried = re.search(r'<textarea[^>]*name="csv_text"[^>]*>(.*?)</textarea>', body, re.S)
    assert carried is not None
    csv_text = _unescape(carried.group(1))

    applied = en.post(
        "/tallies/targets/import", data={"csrf_token": token, "apply": "1", "csv_text": csv_text}
    )
    assert applied.status_code == 302
    assert len(target_rows()) == 4
    again = en.post(
        "/tallies/targets/import", data={"csrf_token": token, "apply": "1", "csv_text": csv_text}
    )
    assert again.status_code == 302
    assert len(target_rows()) == 4
    assert audit_count("target.set") == 4

    broken = en.post(
        "/tallies/targets/import",
        data={
            "csrf_token": token,
            "file": (_bytes(HEADER + "visits,08,2026,50\nvisits,08,20x6,1\n"), "bad.csv"),
        },
        content_type="multipart/form-data",
    )
    text = broken.get_data(as_text=True)
    assert "1 problem found; nothing was imported." in text
    assert "“20x6” is not a year" in text
    assert 'name="csv_text"' not in text  # nothing to apply
    assert ("visits", defined.province.id, 2026, 40) in target_rows()


def test_template_is_a_bom_csv_of_the_unit_and_its_children(defined, en, auth):
    visits = db.session.scalars(select(Indicator).where(Indicator.code == "visits")).one()
    set_target(None, visits, defined.commune_x, 2026, 12.5)
    db.session.commit()
    auth.login("quantri")
    response = en.get("/tallies/targets/template.csv?year=2026")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    data = response.get_data()
    assert data.startswith(b"\xef\xbb\xbf")
    lines = data.decode("utf-8-sig").splitlines()
    assert lines[0] == "indicator,unit,year,value"
    assert "visits,08,2026," in lines
    assert "visits,02266,2026,12.5" in lines
    assert "share,02269,2026," in lines


def _bytes(text: str) -> io.BytesIO:
    return io.BytesIO(b"\xef\xbb\xbf" + text.encode())


def _unescape(text: str) -> str:
    return html.unescape(text)
