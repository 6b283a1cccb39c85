"""`flask demo load`: realistic, deterministic, and harmless on a database that has data."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime, timedelta

import pytest
from flask.testing import FlaskCliRunner
from sqlalchemy import func, inspect, select
from sqlalchemy.orm import selectinload

from tests.conftest import _empty_all_tables
from webapp.demo.services import DEMO_PASSWORD
from webapp.extensions import db
from webapp.models import Activity, ActivityKind, Member, Participation, Program, Unit, User
from webapp.scope import is_within
from webapp.sync.services import CONTENT_FIELDS, content_hash

ENGLISH = {"LC_ALL": "en_US.UTF-8"}
SMALL = ["demo", "load", "--activities", "300", "--seed", "7"]


def load(runner: FlaskCliRunner, *args: str):
    result = runner.invoke(args=[*SMALL, *args], env=ENGLISH)
    assert result.exit_code == 0, result.output
    return result


def local_today() -> date:
    return (datetime.now(UTC) + timedelta(hours=7)).date()


def fingerprint() -> str:
    """Everything the seed decides (not timestamps, which depend on the clock)."""
    digest = hashlib.sha256()
    for row in db.session.execute(select(Unit.path, Unit.name, Unit.kind).order_by(Unit.id)):
        digest.update(repr(tuple(row)).encode())
    for row in db.session.execute(
        select(
            Member.unit_id, Member.full_name, Member.position, Member.phone, Member.is_party_member
        ).order_by(Member.id)
    ):
        digest.update(repr(tuple(row)).encode())
    for row in db.session.execute(
        select(
            Activity.id,
            Activity.unit_id,
            Activity.status,
            Activity.occurred_on,
            Activity.summary,
            Activity.people_reached,
            Activity.content_hash,
        ).order_by(Activity.id)
    ):
        digest.update(repr(tuple(row)).encode())
    for row in db.session.execute(
        select(Participation.activity_id, Participation.member_id).order_by(
            Participation.activity_id, Participation.member_id
        )
    ):
        digest.update(repr(tuple(row)).encode())
    return digest.hexdigest()


@pytest.fixture
def loaded(runner):
    return load(runner)


def count(column) -> int:
    return db.session.scalar(select(func.count(column))) or 0


def test_load_builds_a_province_with_cells_rosters_and_accounts(loaded):
    assert "Sign in with:" in loaded.output
    assert DEMO_PASSWORD in loaded.output
    province = db.session.scalars(select(Unit).where(Unit.kind == "province")).one()
    assert (province.name, province.division_code) == ("Tuyên Quang", "08")
    communes = count(Unit.id) and db.session.scalar(
        select(func.count(Unit.id)).where(Unit.kind == "commune")
    )
    cells = db.session.scalars(select(Unit).where(Unit.kind == "cell")).all()
    assert communes == 124
    assert 3 * communes <= len(cells) <= 5 * communes
    assert all(cell.name.startswith("Chi bộ ") for cell in cells)
    roster = db.session.execute(select(Member.unit_id, func.count()).group_by(Member.unit_id)).all()
    assert {unit_id for unit_id, _n in roster} == {cell.id for cell in cells}
    assert all(8 <= n <= 15 for _unit_id, n in roster)
    party = db.session.scalar(select(func.count()).where(Member.is_party_member.is_(True)))
    assert party > 0.7 * count(Member.id)
    assert count(ActivityKind.id) == 7
    assert count(Program.id) == 3

    accounts = {u.username: u for u in db.session.scalars(select(User))}
    assert {name: u.role for name, u in accounts.items()} == {
        "canbo": "cadre",
        "bithu": "secretary",
        "chuyenvien": "staff",
        "quantri": "admin",
    }
    cadre, secretary = accounts["canbo"], accounts["bithu"]
    assert cadre.member is not None and cadre.member.unit_id == cadre.scope_unit_id
    assert cadre.scope_unit.kind == "cell"
    assert cadre.scope_unit.parent_id == secretary.scope_unit_id
    assert secretary.scope_unit.kind == "commune"
    assert accounts["chuyenvien"].scope_unit_id == accounts["quantri"].scope_unit_id == province.id
    assert all(u.check_password(DEMO_PASSWORD) for u in (cadre, secretary))


def test_activities_are_plausible(loaded):
    activities = db.session.scalars(
        select(Activity).options(
            selectinload(Activity.participations).selectinload(Participation.member),
            selectinload(Activity.unit),
        )
    ).all()
    assert len(activities) == 300
    statuses = {a.status for a in activities}
    assert statuses == {"confirmed", "submitted", "returned"}
    confirmed = sum(a.status == "confirmed" for a in activities)
    assert 0.6 * 300 < confirmed < 0.9 * 300
    today = local_today()
    assert max(a.occurred_on for a in activities) <= today
    assert min(a.occurred_on for a in activities) >= today - timedelta(days=25 * 31)
    cadre = db.session.scalars(select(User).where(User.username == "canbo")).one()
    for activity in activities:
        members = [p.member for p in activity.participations]
        assert 1 <= len(members) <= 6
        assert all(m.unit_id == activity.unit_id for m in members)
        assert len(activity.content_hash) == 64 and activity.revision == 1
        assert activity.summary and activity.village
        reviewed = activity.status != "submitted"
        assert (activity.reviewed_by_id is not None) is reviewed
        assert (activity.reviewed_at is not None) is reviewed
        assert (activity.review_note is not None) is (activity.status == "returned")
        assert activity.reviewed_by_id != activity.created_by_id
        assert activity.captured_at is not None and activity.received_at >= activity.captured_at
        if activity.created_by_id == cadre.id:
            assert is_within(activity.unit, cadre.scope_unit)
            assert cadre.member_id in [m.id for m in members]
    assert any(a.lat is not None for a in activities)
    assert all(20.5 < a.lat < 23 and 104 < a.lon < 106.5 for a in activities if a.lat)
    assert any(a.created_by_id == cadre.id for a in activities)
    # the sync API would recognise a re-sent demo entry as unchanged
    for activity in activities[:20]:
        stored = {name: getattr(activity, name) for name in CONTENT_FIELDS}
        participants = [p.member_id for p in activity.participations]
        assert content_hash(stored, participants) == activity.content_hash
    # rows written past the ORM read back through it
    one = activities[0]
    db.session.expire_all()
    assert db.session.get(Activity, one.id).occurred_on == one.occurred_on


def test_load_leaves_the_indexes_in_place(loaded):
    for table in (Activity.__table__, Participation.__table__):
        found = {ix["name"] for ix in inspect(db.engine).get_indexes(table.name)}
        assert {ix.name for ix in table.indexes} <= found


def test_same_seed_same_data(runner, database_url):
    first = load(runner)
    print_first = fingerprint()
    db.session.remove()
    _empty_all_tables(database_url)
    second = load(runner)
    assert fingerprint() == print_first
    counts = [line for line in first.output.splitlines() if "units" in line]
    assert counts == [line for line in second.output.splitlines() if "units" in line]


def test_refuses_a_database_that_has_units(runner, world):
    before = (count(Unit.id), count(Member.id), count(User.id))
    result = load(runner)
    assert "The database is not empty" in result.output
    assert (count(Unit.id), count(Member.id), count(User.id)) == before
    assert count(Activity.id) == 0


def test_unknown_province(runner):
    result = runner.invoke(args=[*SMALL, "--province", "Atlantis"], env=ENGLISH)
    assert result.exit_code == 1
    assert "No province “Atlantis”" in result.output
    assert count(Unit.id) == 0
