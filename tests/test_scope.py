"""The scope module: which units, members and activities each user may see or change."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from tests import factories
from tests.factories import World
from webapp import scope
from webapp.extensions import db
from webapp.models import Activity, Member, Unit, User
from webapp.units.services import create_unit

# Paths chosen so that a careless prefix test ('/1/12' without the slash, or LIKE '/1/12%')
# would wrongly take in /1/120/ and /1/123/; '/1/1/' and '/1/9/' catch range-bound mistakes.
INSIDE_12 = ["/1/12/", "/1/12/0/", "/1/12/345/", "/1/12/345/6789/", "/1/12/9/"]
OUTSIDE_12 = [
    "/1/",
    "/1/1/",
    "/1/120/",
    "/1/123/",
    "/1/123/12/",
    "/1/129/",
    "/1/9/",
    "/12/",
    "/2/12/",
    "/1/11/",
]

# -- materialized paths ------------------------------------------------------------------


def test_subtree_range_is_the_path_and_the_next_sibling_prefix():
    assert scope.subtree_range("/1/12/") == ("/1/12/", "/1/120")
    assert scope.subtree_range("/7/") == ("/7/", "/70")


@pytest.mark.parametrize("path", INSIDE_12)
def test_subtree_range_holds_the_node_and_its_descendants(path):
    low, high = scope.subtree_range("/1/12/")
    assert low <= path < high


@pytest.mark.parametrize("path", OUTSIDE_12)
def test_subtree_range_excludes_siblings_sharing_a_digit_prefix(path):
    low, high = scope.subtree_range("/1/12/")
    assert not (low <= path < high)


def _units_at(paths: list[str]) -> dict[str, Unit]:
    """Units with hand-written paths (the ids do not matter to the range test)."""
    made = {}
    for i, path in enumerate(paths):
        unit = Unit(name=f"Đơn vị {i} {path}", kind="cell", path=path)
        db.session.add(unit)
        made[path] = unit
    db.session.flush()
    return made


def test_in_subtree_in_the_database_matches_the_string_rule(app):
    """PostgreSQL must compare paths byte-wise (C collation), SQLite does by default."""
    _units_at(INSIDE_12 + OUTSIDE_12)
    db.session.commit()
    found = set(db.session.scalars(select(Unit.path).where(scope.in_subtree(Unit.path, "/1/12/"))))
    assert found == set(INSIDE_12)
    # Single-digit ids next to multi-digit ones: /1/9/ must not swallow /1/90/ nor miss /1/9/10/.
    _units_at(["/1/90/", "/1/9/10/"])
    db.session.commit()
    found_9 = set(db.session.scalars(select(Unit.path).where(scope.in_subtree(Unit.path, "/1/9/"))))
    assert found_9 == {"/1/9/", "/1/9/10/"}


@pytest.mark.parametrize(
    ("path", "ancestor", "expected"),
    [
        ("/1/12/", "/1/12/", True),
        ("/1/12/345/", "/1/12/", True),
        ("/1/123/", "/1/12/", False),
        ("/1/120/", "/1/12/", False),
        ("/1/12/", "/1/12/345/", False),
        ("/1/12/", "/1/", True),
        ("/2/1/", "/1/", False),
    ],
)
def test_is_within_compares_whole_path_segments(path, ancestor, expected):
    assert scope.is_within(Unit(path=path), Unit(path=ancestor)) is expected


def test_queries_for_a_user_scoped_at_12_never_reach_120_or_123(app):
    units = _units_at(["/1/12/", "/1/12/345/", "/1/120/", "/1/123/"])
    kind = factories.make_kind()
    secretary = factories.make_user("bithu.12", "secretary", units["/1/12/"])
    members = {
        path: factories.make_member(unit, f"Hội viên {path}") for path, unit in units.items()
    }
    acts = {
        path: factories.make_activity(
            unit, kind, secretary, occurred_on=date(2025, 3, 1), summary=path
        )
        for path, unit in units.items()
    }
    db.session.commit()

    seen_units = set(db.session.scalars(scope.units(secretary).with_only_columns(Unit.path)))
    assert seen_units == {"/1/12/", "/1/12/345/"}
    seen_ids = set(db.session.scalars(scope.unit_ids(secretary)))
    assert seen_ids == {units["/1/12/"].id, units["/1/12/345/"].id}
    seen_members = {m.id for m in db.session.scalars(scope.members(secretary))}
    assert seen_members == {members["/1/12/"].id, members["/1/12/345/"].id}
    seen_acts = {a.summary for a in db.session.scalars(scope.activities(secretary))}
    assert seen_acts == {"/1/12/", "/1/12/345/"}
    assert not scope.can_read_activity(secretary, acts["/1/123/"])
    assert not scope.can_read_activity(secretary, acts["/1/120/"])
    assert not scope.can_read_unit(secretary, units["/1/120/"])
    assert scope.can_read_unit(secretary, units["/1/12/345/"])


# -- a world with activities -------------------------------------------------------------


@pytest.fixture
def acts(world: World) -> dict[str, Activity]:
    """Who made what, and who took part.

    own            cell X, by the cadre (An) with An
    took_part      cell X, by a colleague (Bình) with An and Bình
    colleague_only cell X, by the colleague, with Bình only
    commune_x      commune X itself, by secretary X, nobody listed
    commune_y      cell Y, by secretary Y, with Cường
    """
    w = world
    colleague = factories.make_user("canbo2", "cadre", w.cell_x, member=w.members["binh"])
    w.users["colleague"] = colleague
    an, binh, cuong = w.members["an"], w.members["binh"], w.members["cuong"]
    day = date(2025, 5, 10)

    def make(name: str, unit: Unit, by: User, *people: Member) -> Activity:
        return factories.make_activity(
            unit, w.kind, by, occurred_on=day, participants=people, summary=name
        )

    made = {
        "own": make("own", w.cell_x, w.users["cadre"], an),
        "took_part": make("took_part", w.cell_x, colleague, an, binh),
        "colleague_only": make("colleague_only", w.cell_x, colleague, binh),
        "commune_x": make("commune_x", w.commune_x, w.users["secretary_x"]),
        "commune_y": make("commune_y", w.cell_y, w.users["secretary_y"], cuong),
    }
    db.session.commit()
    return made


ALL_ACTS = {"own", "took_part", "colleague_only", "commune_x", "commune_y"}
VISIBLE = {
    "cadre": {"own", "took_part"},
    "colleague": {"took_part", "colleague_only"},
    "secretary_x": {"own", "took_part", "colleague_only", "commune_x"},
    "secretary_y": {"commune_y"},
    "staff": ALL_ACTS,
    "admin": ALL_ACTS,
}


@pytest.mark.parametrize("who", list(VISIBLE))
def test_activities_query_shows_exactly_what_the_role_may_see(world, acts, who):
    user = world.users[who]
    seen = {a.summary for a in db.session.scalars(scope.activities(user))}
    assert seen == VISIBLE[who]


@pytest.mark.parametrize("who", list(VISIBLE))
def test_can_read_activity_agrees_with_the_query(world, acts, who):
    user = world.users[who]
    readable = {name for name, act in acts.items() if scope.can_read_activity(user, act)}
    assert readable == VISIBLE[who]


def test_cadre_without_a_roster_entry_sees_only_what_they_created(world, acts):
    loner = factories.make_user("canbo.le", "cadre", world.cell_x)
    mine = factories.make_activity(
        world.cell_x,
        world.kind,
        loner,
        occurred_on=date(2025, 5, 1),
        participants=(world.members["an"],),
        summary="loner",
    )
    db.session.commit()
    seen = {a.summary for a in db.session.scalars(scope.activities(loner))}
    assert seen == {"loner"}
    assert scope.can_read_activity(loner, mine)
    assert not scope.can_read_activity(loner, acts["own"])


def test_cadre_moved_to_another_cell_no_longer_sees_old_entries_by_scope(world, acts):
    """Scope bounds everything, even one's own entries (scope.py docstring)."""
    cadre = world.users["cadre"]
    cadre.scope_unit = world.cell_y
    db.session.commit()
    assert list(db.session.scalars(scope.activities(cadre))) == []
    assert not scope.can_read_activity(cadre, acts["own"])


def test_secretary_of_x_never_sees_units_members_or_activities_of_y(world, acts):
    sec_x, sec_y = world.users["secretary_x"], world.users["secretary_y"]
    units_x = set(db.session.scalars(scope.units(sec_x)))
    units_y = set(db.session.scalars(scope.units(sec_y)))
    assert units_x == {world.commune_x, world.cell_x}
    assert units_y == {world.commune_y, world.cell_y}
    members_x = {m.full_name for m in db.session.scalars(scope.members(sec_x))}
    members_y = {m.full_name for m in db.session.scalars(scope.members(sec_y))}
    assert members_x == {"Nguyễn Văn An", "Trần Thị Bình"}
    assert members_y == {"Lê Văn Cường"}
    for unit in (world.commune_y, world.cell_y, world.province):
        assert not scope.can_read_unit(sec_x, unit)
        assert not scope.can_manage_unit(sec_x, unit)
    assert not scope.can_read_activity(sec_x, acts["commune_y"])
    assert not scope.can_read_activity(sec_y, acts["own"])


def test_staff_and_admin_of_the_province_see_both_communes(world, acts):
    everything = {world.province, world.commune_x, world.commune_y, world.cell_x, world.cell_y}
    for who in ("staff", "admin"):
        user = world.users[who]
        assert set(db.session.scalars(scope.units(user))) == everything
        assert {m.full_name for m in db.session.scalars(scope.members(user))} == {
            "Nguyễn Văn An",
            "Trần Thị Bình",
            "Lê Văn Cường",
        }
        assert all(scope.can_read_unit(user, unit) for unit in everything)


def test_units_of_another_province_stay_out_of_a_province_scope(world):
    other = create_unit("Hà Giang", "province", division_code="02")
    other_cell = create_unit("Chi bộ Đồng Văn", "cell", other)
    factories.make_member(other_cell, "Hoàng Văn Dũng")
    db.session.commit()
    staff = world.users["staff"]
    assert other_cell not in set(db.session.scalars(scope.units(staff)))
    assert "Hoàng Văn Dũng" not in {m.full_name for m in db.session.scalars(scope.members(staff))}
    assert not scope.can_read_unit(staff, other_cell)
    assert not scope.can_manage_unit(world.users["admin"], other)


@pytest.mark.parametrize("who", ["cadre", "secretary_x", "staff", "admin"])
def test_an_inactive_user_can_read_and_manage_nothing(world, acts, who):
    user = world.users[who]
    assert scope.can_read_unit(user, user.scope_unit)  # before: their own unit is readable
    user.active = False
    db.session.commit()
    for unit in (world.province, world.commune_x, world.cell_x, world.cell_y):
        assert not scope.can_read_unit(user, unit)
        assert not scope.can_manage_unit(user, unit)
    assert not any(scope.can_read_activity(user, act) for act in acts.values())


# -- role × scope matrix -------------------------------------------------------------------

# (user, unit, may read, may manage). `admin_x` is an admin whose scope is commune X only.
MATRIX = [
    ("cadre", "cell_x", True, False),
    ("cadre", "commune_x", False, False),
    ("cadre", "cell_y", False, False),
    ("secretary_x", "commune_x", True, False),
    ("secretary_x", "cell_x", True, False),
    ("secretary_x", "province", False, False),
    ("secretary_x", "cell_y", False, False),
    ("secretary_y", "cell_y", True, False),
    ("secretary_y", "cell_x", False, False),
    ("staff", "province", True, False),
    ("staff", "cell_x", True, False),
    ("staff", "cell_y", True, False),
    ("admin", "province", True, True),
    ("admin", "cell_y", True, True),
    ("admin_x", "commune_x", True, True),
    ("admin_x", "cell_x", True, True),
    ("admin_x", "commune_y", False, False),
    ("admin_x", "province", False, False),
]


@pytest.mark.parametrize(("who", "where", "may_read", "may_manage"), MATRIX)
def test_role_scope_matrix(world, who, where, may_read, may_manage):
    if who == "admin_x":
        world.users["admin_x"] = factories.make_user("quantri.x", "admin", world.commune_x)
        db.session.commit()
    user = world.users[who]
    unit = getattr(world, where)
    assert scope.can_read_unit(user, unit) is may_read
    assert scope.can_manage_unit(user, unit) is may_manage
    visible_ids = set(db.session.scalars(scope.unit_ids(user)))
    assert (unit.id in visible_ids) is may_read


@pytest.mark.parametrize("who", ["cadre", "secretary_x", "secretary_y", "staff", "admin"])
def test_members_query_agrees_with_can_read_unit(world, who):
    user = world.users[who]
    listed = {m.id for m in db.session.scalars(scope.members(user))}
    all_members = db.session.scalars(select(Member)).all()
    expected = {m.id for m in all_members if scope.can_read_unit(user, m.unit)}
    assert listed == expected
    assert listed  # every user here has someone on a roster in scope
