"""The rollup, step by step (DESIGN.md §7): each change moves exactly the figures it should.

Entries go in through `sync.services.push` and change state through `review.services`, as the
phone and the secretary's pages do, each step committed; after each, `verify()` must find no
drift and `query.tally` must agree with figures counted from raw rows (tests/tally_helpers.py).
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from datetime import date
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select, update

from tests.factories import World, make_kind, make_member, make_user
from tests.sync_helpers import activity_payload
from tests.tally_helpers import assert_no_drift, assert_tally_exact
from webapp.database import begin_write
from webapp.extensions import db
from webapp.models import Activity, Member, TallyMonth, TallyPresence, TallyReach, Unit, User
from webapp.review import services as review
from webapp.sync import services as sync
from webapp.tallies.query import Figures, Filters, tally
from webapp.units.services import MoveError, create_unit, move_unit

DEC = date(2025, 12, 31)
JAN = date(2026, 1, 1)
SEP = date(2026, 9, 10)
OCT = date(2026, 10, 10)
NOV = date(2026, 11, 10)


def month(day: date) -> int:
    return day.year * 100 + day.month


def submit(
    world: World,
    *,
    by: str = "cadre",
    unit: Unit | None = None,
    day: date = OCT,
    members: tuple[str, ...] = ("an",),
    kind_id: int | None = None,
    people: int = 3,
    households: int = 1,
) -> dict[str, Any]:
    """Push one new entry as `by`; returns the payload sent."""
    item = activity_payload(
        world,
        unit_id=(unit or world.cell_x).id,
        kind_id=kind_id or world.kind.id,
        occurred_on=day.isoformat(),
        participant_ids=[world.members[m].id for m in members],
        people_reached=people,
        households_reached=households,
    )
    [result] = sync.push(world.users[by], "may-thu", [item])
    db.session.commit()
    assert result.status == "created", result
    return item


def edit(world: World, item: dict[str, Any], *, by: str = "cadre", **changes: Any) -> dict:
    revision = db.session.get(Activity, uuid.UUID(item["id"])).revision
    changed = {**item, **changes, "base_revision": revision}
    [result] = sync.push(world.users[by], "may-thu", [changed])
    db.session.commit()
    assert result.status == "updated", result
    return changed


def act(world: World, who: str, item: dict[str, Any], action: str, reason: str | None = None):
    review.start()
    review.transition(world.users[who], uuid.UUID(item["id"]), action, reason)
    db.session.commit()


def figures(unit: Unit, first: date, last: date | None = None, **filters: Any) -> Figures:
    db.session.expire_all()
    view = assert_tally_exact(
        db.session.get(Unit, unit.id), month(first), month(last or first), Filters(**filters)
    )
    db.session.rollback()
    return view.total


def rollup_rows() -> tuple[list[Any], ...]:
    return tuple(
        sorted(tuple(row) for row in db.session.execute(select(*model.__table__.c)))
        for model in (TallyMonth, TallyPresence, TallyReach)
    )


def test_confirm_moves_figures_from_pending_to_confirmed(world):
    item = submit(world, members=("an", "binh"), people=4, households=1)
    pending = figures(world.province, OCT)
    assert (pending.activities, pending.members_engaged, pending.active_units) == (0, 0, 0)
    assert (
        pending.pending_activities,
        pending.pending_participations,
        pending.pending_people_reached,
        pending.pending_households_reached,
    ) == (1, 2, 4, 1)
    act(world, "secretary_x", item, "confirm")
    assert_no_drift()
    for unit in (world.province, world.commune_x, world.cell_x):
        done = figures(unit, OCT)
        assert (done.activities, done.unit_activities, done.participations) == (1, 1, 2)
        assert (done.people_reached, done.households_reached) == (4, 1)
        assert (done.members_engaged, done.active_units, done.active_every_month) == (2, 1, 1)
        assert (done.pending_activities, done.pending_participations) == (0, 0)
    assert figures(world.commune_y, OCT) == Figures(holding_units=1)
    assert figures(world.province, SEP).activities == 0


def test_return_removes_pending_and_unconfirm_brings_it_back(world):
    returned = submit(world)
    confirmed = submit(world, members=("an", "binh"), people=5)
    act(world, "secretary_x", returned, "return", "Thiếu ảnh")
    after_return = figures(world.province, OCT)
    assert (after_return.pending_activities, after_return.pending_people_reached) == (1, 5)
    act(world, "secretary_x", confirmed, "confirm")
    after_confirm = figures(world.province, OCT)
    assert (after_confirm.pending_activities, after_confirm.activities) == (0, 1)
    act(world, "staff", confirmed, "unconfirm", "Nhầm đơn vị")
    assert_no_drift()
    back = figures(world.province, OCT)
    assert (back.activities, back.members_engaged, back.active_units) == (0, 0, 0)
    assert (back.pending_activities, back.pending_participations) == (1, 2)
    assert (back.pending_people_reached, back.pending_households_reached) == (5, 1)


def test_editing_entries_moves_their_pending_rows(world):
    dialogue = make_kind("dialogue", "Đối thoại", "Dialogue")
    db.session.commit()
    item = submit(world, members=("an", "binh"), day=OCT, people=4)
    act(world, "secretary_x", item, "return", "Sai tháng")
    assert figures(world.province, OCT).pending_activities == 0
    # The cadre fixes it: another month, one participant fewer, more people.
    fixed = edit(
        world,
        item,
        occurred_on=SEP.isoformat(),
        participant_ids=[world.members["binh"].id],
        people_reached=7,
    )
    assert_no_drift()
    sep = figures(world.province, SEP)
    assert (sep.pending_activities, sep.pending_participations) == (1, 1)
    assert sep.pending_people_reached == 7
    assert figures(world.province, OCT) == Figures(holding_units=2)
    # A submitted entry edited again: another kind; the kind filter follows it.
    edit(world, fixed, kind_id=dialogue.id)
    assert figures(world.province, SEP, kind_id=world.kind.id).pending_activities == 0
    assert figures(world.province, SEP, kind_id=dialogue.id).pending_activities == 1
    act(world, "secretary_x", fixed, "confirm")
    assert figures(world.province, SEP, kind_id=dialogue.id).members_engaged == 1
    assert figures(world.province, SEP, kind_id=world.kind.id).members_engaged == 0
    assert_no_drift()


def test_members_engaged_counts_a_member_once_across_months_and_communes(world):
    an = world.members["an"]
    world.users["cadre_y"] = make_user("canbo.y", "cadre", world.cell_y)
    db.session.commit()
    for day in (DEC, JAN):  # across the year boundary
        act(world, "secretary_x", submit(world, day=day, members=("an", "binh")), "confirm")
    # An moves to the other commune's cell and takes part there too.
    begin_write()
    db.session.get(Member, an.id).unit_id = world.cell_y.id
    db.session.commit()
    there = submit(world, by="cadre_y", unit=world.cell_y, day=JAN, members=("an", "cuong"))
    act(world, "secretary_y", there, "confirm")
    assert_no_drift()
    province = figures(world.province, DEC, JAN)
    assert (province.participations, province.members_engaged) == (6, 3)
    assert figures(world.commune_x, DEC, JAN).members_engaged == 2
    assert figures(world.commune_y, DEC, JAN).members_engaged == 2
    assert figures(world.province, JAN).members_engaged == 3  # an, binh, cuong
    assert figures(world.province, DEC).members_engaged == 2
    # The same with a filter, where distinct members are gathered from presence rows.
    filtered = figures(world.province, DEC, JAN, kind_id=world.kind.id, program_id=world.program.id)
    assert filtered.members_engaged == 3
    view = tally(world.province, month(DEC), month(JAN))
    assert [(m, f.members_engaged) for m, f in view.monthly] == [(202512, 2), (202601, 3)]


def test_active_units_and_active_every_month_over_a_range(world):
    cell_x2 = create_unit("Chi bộ thôn Khuổi Củng", "cell", world.commune_x)
    world.members["dung"] = make_member(cell_x2, "Hoàng Văn Dũng")
    dialogue = make_kind("dialogue", "Đối thoại", "Dialogue")
    world.users["cadre_y"] = make_user("canbo.y", "cadre", world.cell_y)
    world.users["cadre_x2"] = make_user("canbo.x2", "cadre", cell_x2)
    db.session.commit()
    for day in (SEP, OCT, NOV):
        act(world, "secretary_x", submit(world, day=day), "confirm")
    act(
        world,
        "secretary_x",
        submit(world, by="cadre_x2", unit=cell_x2, day=SEP, members=("dung",)),
        "confirm",
    )
    act(
        world,
        "staff",
        submit(world, by="cadre_x2", unit=cell_x2, day=NOV, members=(), kind_id=dialogue.id),
        "confirm",
    )
    act(
        world,
        "secretary_y",
        submit(world, by="cadre_y", unit=world.cell_y, day=OCT, members=("cuong",)),
        "confirm",
    )
    submit(world, by="cadre_y", unit=world.cell_y, day=SEP, members=())  # pending: not active
    assert_no_drift()
    province = figures(world.province, SEP, NOV)
    assert (province.active_units, province.active_every_month, province.holding_units) == (3, 1, 3)
    commune_x = figures(world.commune_x, SEP, NOV)
    assert (commune_x.active_units, commune_x.active_every_month) == (2, 1)
    assert commune_x.every_month_share == 0.5
    october = figures(world.province, OCT)
    assert (october.active_units, october.active_every_month) == (2, 2)
    assert figures(world.province, SEP, date(2026, 12, 1)).active_every_month == 0
    by_kind = figures(world.province, SEP, NOV, kind_id=world.kind.id)
    assert (by_kind.active_units, by_kind.active_every_month) == (3, 1)
    september_on = figures(world.commune_x, SEP, NOV, kind_id=dialogue.id)
    assert (september_on.active_units, september_on.active_every_month) == (1, 0)


def test_the_active_share_never_passes_all_units(world):
    """A commune logging directly and a cell closed since still count in the denominator."""
    world.users["cadre_commune"] = make_user("canbo.xa", "cadre", world.commune_x)
    db.session.commit()
    act(world, "secretary_x", submit(world, day=OCT), "confirm")
    act(world, "staff", submit(world, by="cadre_commune", unit=world.commune_x), "confirm")
    db.session.execute(update(Unit).where(Unit.id == world.cell_x.id).values(active=False))
    db.session.commit()
    commune_x = figures(world.commune_x, OCT)
    assert (commune_x.active_units, commune_x.holding_units) == (2, 2)
    assert commune_x.active_share == 1.0
    province = figures(world.province, OCT)
    assert (province.active_units, province.holding_units) == (2, 3)  # cell Y: active, idle
    assert figures(world.province, SEP).holding_units == 1  # the closed cell held nothing then


def test_changing_a_units_kind_recounts_its_cell_activities(world, runner, tmp_path):
    act(world, "secretary_x", submit(world, day=OCT), "confirm")
    submit(world, day=NOV)  # pending
    assert figures(world.province, OCT, NOV).unit_activities == 1
    sheet = tmp_path / "units.csv"
    parent = f"{world.province.name} / {world.commune_x.name}"
    sheet.write_text(f"name,kind,parent,division_code\n{world.cell_x.name},association,{parent},\n")
    result = runner.invoke(args=["units", "import-csv", str(sheet)])
    assert result.exit_code == 0, result.output
    assert_no_drift()
    after = figures(world.province, OCT, NOV)
    assert (after.activities, after.unit_activities, after.pending_activities) == (1, 0, 1)


def test_moving_a_unit_keeps_its_activities_and_moves_its_subtree_figures(world):
    world.users["cadre_y"] = make_user("canbo.y", "cadre", world.cell_y)
    db.session.commit()
    x = submit(world, members=("an", "binh"), people=4)
    act(world, "secretary_x", x, "confirm")
    submit(world, day=SEP, members=("binh",), people=2)  # stays pending
    y = submit(world, by="cadre_y", unit=world.cell_y, members=("cuong",), people=6)
    act(world, "secretary_y", y, "confirm")
    province_before = figures(world.province, SEP, OCT)

    begin_write()
    move_unit(db.session.get(Unit, world.cell_x.id), db.session.get(Unit, world.commune_y.id))
    db.session.commit()
    assert_no_drift()
    assert db.session.get(Activity, uuid.UUID(x["id"])).unit_id == world.cell_x.id
    assert figures(world.province, SEP, OCT) == province_before
    assert figures(world.commune_x, SEP, OCT) == Figures()  # no units, no figures
    commune_y = figures(world.commune_y, SEP, OCT)
    assert (commune_y.activities, commune_y.people_reached, commune_y.members_engaged) == (2, 10, 3)
    assert (commune_y.active_units, commune_y.holding_units) == (2, 2)
    assert (commune_y.pending_activities, commune_y.pending_people_reached) == (1, 2)

    # A commune with its cells under the other commune, then everything back.
    begin_write()
    move_unit(db.session.get(Unit, world.commune_y.id), db.session.get(Unit, world.commune_x.id))
    db.session.commit()
    assert_no_drift()
    assert figures(world.commune_x, SEP, OCT).members_engaged == 3
    for unit, parent in ((world.commune_y, world.province), (world.cell_x, world.commune_x)):
        begin_write()
        move_unit(db.session.get(Unit, unit.id), db.session.get(Unit, parent.id))
        db.session.commit()
        assert_no_drift()
    assert figures(world.commune_x, SEP, OCT).activities == 1
    assert figures(world.commune_y, SEP, OCT).activities == 1
    assert figures(world.province, SEP, OCT) == province_before

    # Into its own subtree: refused, nothing changes.
    rows = rollup_rows()
    begin_write()
    with pytest.raises(MoveError):
        move_unit(db.session.get(Unit, world.commune_x.id), db.session.get(Unit, world.cell_x.id))
    db.session.rollback()
    assert rollup_rows() == rows


def test_cli_verify_finds_drift_and_rebuild_repairs_it(world, runner):
    act(world, "secretary_x", submit(world, members=("an", "binh")), "confirm")
    submit(world, day=SEP)
    clean = runner.invoke(args=["tallies", "verify"])
    assert clean.exit_code == 0, clean.output
    assert "no drift" in clean.output
    corruptions: list[Callable[[], Any]] = [
        lambda: (
            update(TallyMonth)
            .where(TallyMonth.unit_id == world.province.id, TallyMonth.status == "confirmed")
            .values(participations=TallyMonth.participations + 1)
        ),
        lambda: update(TallyPresence).where(TallyPresence.entity == "M").values(n=5),
        lambda: TallyReach.__table__.delete().where(TallyReach.unit_id == world.commune_x.id),
    ]
    for corrupt in corruptions:
        db.session.execute(corrupt())
        db.session.commit()
        broken = runner.invoke(args=["tallies", "verify"])
        assert broken.exit_code == 1, broken.output
        assert "DRIFT" in broken.output
        repaired = runner.invoke(args=["tallies", "rebuild"])
        assert repaired.exit_code == 0, repaired.output
        again = runner.invoke(args=["tallies", "verify"])
        assert again.exit_code == 0, again.output
    assert_no_drift()
    assert figures(world.province, OCT).members_engaged == 2


def test_a_rolled_back_request_leaves_the_rollup_untouched(app: Flask, world):
    item = submit(world, members=("an", "binh"))
    activity_id = uuid.UUID(item["id"])
    rows = rollup_rows()
    # A push whose request fails after the insert (say, an error before the commit).
    sync.push(
        world.users["cadre"], "may-thu", [activity_payload(world, occurred_on=SEP.isoformat())]
    )
    db.session.rollback()
    assert rollup_rows() == rows
    # A review that fails after the change was made.
    review.start()
    review.transition(world.users["secretary_x"], activity_id, "confirm")
    db.session.flush()
    db.session.rollback()
    assert rollup_rows() == rows
    # What the failed request had watched is forgotten: another worker confirms the entry,
    # then this session unconfirms it; the figures follow what really happened.
    staff_id = world.users["staff"].id
    with app.app_context():
        review.start()
        review.transition(db.session.get(User, staff_id), activity_id, "confirm")
        db.session.commit()
        db.session.remove()
    review.start()
    review.transition(world.users["secretary_x"], activity_id, "unconfirm", "Nhầm")
    db.session.commit()
    assert_no_drift()
    assert figures(world.province, OCT).pending_activities == 1
    assert rollup_rows() == rows


def test_bulk_confirm_with_one_refused_entry(world):
    entries = [submit(world, members=("an", "binh"), people=i) for i in (1, 2, 3)]
    own = submit(world, by="secretary_x", members=())  # nobody confirms their own entry
    review.start()
    outcome = review.confirm_many(
        world.users["secretary_x"], [uuid.UUID(e["id"]) for e in [entries[0], own, *entries[1:]]]
    )
    db.session.commit()
    assert [str(i) for i, _ in outcome.refused] == [own["id"]]
    assert len(outcome.done) == 3
    assert_no_drift()
    total = figures(world.province, OCT)
    assert (total.activities, total.participations, total.people_reached) == (3, 6, 6)
    assert (total.members_engaged, total.pending_activities) == (2, 1)


# -- at once, on real connections --------------------------------------------------------


def run_together(app: Flask, jobs: list[Callable[[], None]]) -> list[BaseException]:
    """Run each job in its own thread, app context and session, released together."""
    barrier = threading.Barrier(len(jobs))
    errors: list[BaseException] = []

    def run(job: Callable[[], None]) -> None:
        with app.app_context():
            try:
                barrier.wait(timeout=60)
                job()
                db.session.commit()
            except BaseException as error:
                db.session.rollback()
                errors.append(error)
            finally:
                db.session.remove()

    db.session.commit()  # the test's own transaction ends: the threads write next
    threads = [threading.Thread(target=run, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a thread hung"
    return errors


def test_two_reviewers_confirm_entries_sharing_members_at_once(app: Flask, world):
    reviewers = {"secretary_x": world.users["secretary_x"].id, "staff": world.users["staff"].id}
    for round_no in range(4):
        days = (SEP, OCT) if round_no % 2 else (OCT, SEP)  # the same members, months around
        pair = [submit(world, day=day, members=("an", "binh")) for day in days]

        def confirm(who: str, item: dict[str, Any]) -> Callable[[], None]:
            def job() -> None:
                review.start()
                review.transition(
                    db.session.get(User, reviewers[who]), uuid.UUID(item["id"]), "confirm"
                )

            return job

        errors = run_together(app, [confirm("secretary_x", pair[0]), confirm("staff", pair[1])])
        assert errors == []
        assert_no_drift()
    total = figures(world.province, SEP, OCT)
    assert (total.activities, total.members_engaged, total.active_every_month) == (8, 2, 1)


def test_two_reviewers_confirm_in_bulk_at_once(app: Flask, world):
    """Each bulk confirm takes its entries' locks one entry after another; the entries share
    members in crossed orders, which deadlocked while each entry's tallies were applied at its
    own savepoint instead of once at commit."""
    cell_x2 = create_unit("Chi bộ thôn Khuổi Củng", "cell", world.commune_x)
    world.members["dung"] = make_member(cell_x2, "Hoàng Văn Dũng")
    world.users["cadre_x2"] = make_user("canbo.x2", "cadre", cell_x2)
    db.session.commit()
    reviewers = [world.users["secretary_x"].id, world.users["staff"].id]
    for _round in range(3):
        x2 = {"by": "cadre_x2", "unit": cell_x2, "members": ("dung",)}
        first = [submit(world, members=("an",)), submit(world, **x2)]
        second = [submit(world, **x2), submit(world, members=("an",))]

        def bulk(user_id: int, items: list[dict[str, Any]]) -> Callable[[], None]:
            def job() -> None:
                review.start()
                outcome = review.confirm_many(
                    db.session.get(User, user_id), [uuid.UUID(i["id"]) for i in items]
                )
                assert outcome.refused == []

            return job

        errors = run_together(app, [bulk(reviewers[0], first), bulk(reviewers[1], second)])
        assert errors == []
        assert_no_drift()
    assert figures(world.province, OCT).activities == 12


def test_sixteen_pushes_of_new_entries_in_one_unit_and_month_at_once(app: Flask, world):
    cadre_id = world.users["cadre"].id
    members = [world.members["an"].id, world.members["binh"].id]
    items = [
        activity_payload(
            world,
            occurred_on=OCT.isoformat(),
            participant_ids=members[: 1 + i % 2],
            people_reached=i,
        )
        for i in range(16)
    ]
    results: list[str] = []

    def pusher(item: dict[str, Any]) -> Callable[[], None]:
        def job() -> None:
            [result] = sync.push(db.session.get(User, cadre_id), "may-thu", [item])
            results.append(result.status)

        return job

    errors = run_together(app, [pusher(item) for item in items])
    assert errors == []
    assert results == ["created"] * 16
    assert_no_drift()
    total = figures(world.province, OCT)
    assert (total.pending_activities, total.pending_participations) == (16, 24)
    assert total.pending_people_reached == sum(range(16))
    assert db.session.scalar(select(func.count()).select_from(Activity)) == 16


def test_unit_moves_while_entries_are_confirmed_and_pushed(app: Flask, world):
    """A move takes the tally lock in SHARE ROW EXCLUSIVE mode: confirmations and pushes that
    land meanwhile are counted under the tree as it is when they apply, never half of each."""
    world.users["cadre_y"] = make_user("canbo.y", "cadre", world.cell_y)
    db.session.commit()
    staff_id, admin_id = world.users["staff"].id, world.users["admin"].id  # province-wide
    cadre_y_id, cell_x_id = world.users["cadre_y"].id, world.cell_x.id

    def move(parent_id: int) -> Callable[[], None]:
        def job() -> None:
            begin_write()
            move_unit(db.session.get_one(Unit, cell_x_id), db.session.get_one(Unit, parent_id))

        return job

    def confirm(user_id: int, item: dict[str, Any]) -> Callable[[], None]:
        def job() -> None:
            review.start()
            review.transition(db.session.get_one(User, user_id), uuid.UUID(item["id"]), "confirm")

        return job

    def push(item: dict[str, Any]) -> Callable[[], None]:
        def job() -> None:
            sync.push(db.session.get_one(User, cadre_y_id), "may-thu", [item])

        return job

    for round_no in range(4):
        parent_id = (world.commune_y, world.commune_x)[round_no % 2].id
        waiting = [submit(world, members=("an", "binh"), day=day) for day in (SEP, OCT)]
        new_item = activity_payload(
            world,
            unit_id=world.cell_y.id,
            occurred_on=OCT.isoformat(),
            participant_ids=[world.members["cuong"].id],
        )
        jobs = [
            move(parent_id),
            confirm(staff_id, waiting[0]),
            confirm(admin_id, waiting[1]),
            push(new_item),
        ]
        errors = run_together(app, jobs)
        assert errors == [], [str(e) for e in errors]
        assert_no_drift()
        assert db.session.get_one(Unit, cell_x_id).parent_id == parent_id
    for unit in (world.province, world.commune_x, world.commune_y):
        figures(unit, SEP, OCT)  # exact against raw rows
