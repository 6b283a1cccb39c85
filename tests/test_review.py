from __future__ import annotations

import threading
import uuid
from datetime import date, timedelta

import pytest
from flask import Flask
from sqlalchemy import select

from tests.conftest import csrf_token_from
from tests.factories import make_activity
from tests.sync_helpers import activity_payload, push
from webapp.extensions import db
from webapp.models import Activity, ActivityRevision, AuditEvent, User
from webapp.review import services

LAST_WEEK = date.today() - timedelta(days=7)


def _entry(world, status="submitted", created_by="cadre", participants=("an",)):
    activity = make_activity(
        world.cell_x,
        world.kind,
        world.users[created_by],
        occurred_on=LAST_WEEK,
        status=status,
        participants=tuple(world.members[m] for m in participants),
        summary=f"Hoạt động {uuid.uuid4().hex[:6]}",
    )
    db.session.commit()
    return activity


def _status(activity_id: uuid.UUID) -> str:
    db.session.expire_all()
    return db.session.get(Activity, activity_id).status


@pytest.mark.parametrize(
    ("start", "action", "reason", "end"),
    [
        ("submitted", "confirm", None, "confirmed"),
        ("submitted", "return", "Thiếu ảnh", "returned"),
        ("confirmed", "unconfirm", "Nhầm đơn vị", "submitted"),
    ],
)
def test_legal_transitions_and_their_audit_events(world, start, action, reason, end):
    activity = _entry(world, status=start)
    secretary = world.users["secretary_x"]
    services.start()
    services.transition(secretary, activity.id, action, reason)
    db.session.commit()
    assert _status(activity.id) == end
    stored = db.session.get(Activity, activity.id)
    assert stored.reviewed_by_id == secretary.id
    assert stored.review_note == reason
    event = db.session.scalars(
        select(AuditEvent).where(AuditEvent.object_id == str(activity.id))
    ).one()
    assert event.action == f"activity.{action}"
    assert event.before["status"] == start
    assert event.after == {"status": end, "revision": 1, "reason": reason}


@pytest.mark.parametrize(
    ("start", "action", "reason"),
    [
        ("submitted", "unconfirm", "x"),
        ("confirmed", "confirm", None),
        ("confirmed", "return", "x"),
        ("returned", "confirm", None),
        ("returned", "return", "x"),
        ("returned", "unconfirm", "x"),
        ("submitted", "return", None),  # reason required
        ("confirmed", "unconfirm", "  "),  # reason required
        ("submitted", "delete", None),  # no such action
    ],
)
def test_illegal_transitions_are_refused_and_change_nothing(world, start, action, reason):
    activity = _entry(world, status=start)
    services.start()
    with pytest.raises(services.ReviewError) as refused:
        services.transition(world.users["secretary_x"], activity.id, action, reason)
    db.session.rollback()
    assert refused.value.message
    assert _status(activity.id) == start
    assert db.session.scalars(select(AuditEvent)).all() == []


def test_nobody_reviews_what_they_logged_or_took_part_in(world):
    secretary = world.users["secretary_x"]
    own = _entry(world, created_by="secretary_x", participants=())
    services.start()
    with pytest.raises(services.ReviewError):
        services.transition(secretary, own.id, "confirm")
    db.session.rollback()
    secretary.member_id = world.members["binh"].id
    db.session.commit()
    took_part = _entry(world, participants=("an", "binh"))
    services.start()
    with pytest.raises(services.ReviewError):
        services.transition(db.session.get(User, secretary.id), took_part.id, "confirm")
    db.session.rollback()
    assert _status(own.id) == _status(took_part.id) == "submitted"


def test_cadres_and_out_of_scope_secretaries_cannot_review(world):
    activity = _entry(world)
    for who in ("cadre", "secretary_y"):
        services.start()
        with pytest.raises(services.ReviewError) as refused:
            services.transition(world.users[who], activity.id, "confirm")
        assert refused.value.status == 403
        db.session.rollback()
    assert _status(activity.id) == "submitted"


def test_two_secretaries_at_once_exactly_one_wins(app: Flask, world):
    activity_id = _entry(world).id  # plain values only: ORM objects stay in their own thread
    reviewer_ids = [world.users["secretary_x"].id, world.users["staff"].id]
    names = [world.users["secretary_x"].full_name, world.users["staff"].full_name]
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def review(user_id: int) -> None:
        with app.app_context():
            user = db.session.get(User, user_id)
            barrier.wait()
            services.start()
            try:
                services.transition(user, activity_id, "confirm")
                db.session.commit()
                outcomes.append("won")
            except services.ReviewError as error:
                db.session.rollback()
                outcomes.append(error.message)
            finally:
                db.session.remove()

    db.session.commit()
    threads = [threading.Thread(target=review, args=(uid,)) for uid in reviewer_ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes)[-1] == "won"
    assert outcomes.count("won") == 1, outcomes
    loser = next(o for o in outcomes if o != "won")
    assert any(name in loser for name in names)
    events = db.session.scalars(select(AuditEvent)).all()
    assert [e.action for e in events] == ["activity.confirm"], [
        (e.action, e.object_id) for e in events
    ]


def test_bulk_confirm_confirms_each_and_reports_refusals(world):
    entries = [_entry(world) for _ in range(3)]
    own = _entry(world, created_by="secretary_x", participants=())
    services.start()
    outcome = services.confirm_many(world.users["secretary_x"], [e.id for e in entries] + [own.id])
    db.session.commit()
    assert set(outcome.done) == {e.id for e in entries}
    assert [i for i, _ in outcome.refused] == [own.id]
    assert {_status(e.id) for e in entries} == {"confirmed"}
    assert _status(own.id) == "submitted"


# -- pages ---------------------------------------------------------------------------------

ROLES = ("cadre", "secretary_x", "secretary_y", "staff", "admin")
USERNAMES = {
    "cadre": "canbo",
    "secretary_x": "bithu.x",
    "secretary_y": "bithu.y",
    "staff": "chuyenvien",
    "admin": "quantri",
}
MAY_REVIEW = {"secretary_x", "staff", "admin"}


@pytest.mark.parametrize("role", ROLES)
def test_role_and_scope_matrix_over_every_review_route(world, client, auth, role):
    activity = _entry(world)
    auth.login(USERNAMES[role])
    queue = client.get("/review/")
    detail = client.get(f"/review/{activity.id}")
    if role == "cadre":
        assert queue.status_code == detail.status_code == 403
    elif role in MAY_REVIEW:
        assert activity.summary in queue.get_data(as_text=True)
        assert detail.status_code == 200
    else:
        assert queue.status_code == 200
        assert activity.summary not in queue.get_data(as_text=True)
        assert detail.status_code == 404
    token = csrf_token_from(client, "/")
    photo_free = {"csrf_token": token, "revision": "1", "reason_text": "Thiếu ảnh"}
    client.post(f"/review/{activity.id}/return", data=photo_free)
    client.post("/review/confirm-selected", data={"csrf_token": token, "ids": [str(activity.id)]})
    api = client.post(
        f"/api/v1/review/{activity.id}", json={"action": "confirm"}, headers={"X-CSRFToken": token}
    )
    final = _status(activity.id)
    if role in MAY_REVIEW:
        assert final == "returned"  # the first action won; the others were refused
        assert api.status_code == 409
    else:
        assert final == "submitted"
        assert api.status_code == 403


def test_queue_filters_and_photo_notice(world, client, auth):
    wanted = _entry(world)
    other_month = make_activity(
        world.cell_x,
        world.kind,
        world.users["cadre"],
        occurred_on=date(2024, 1, 15),
        summary="Tháng một",
    )
    wanted_row = db.session.get(Activity, wanted.id)
    wanted_row.photos_expected = 2
    db.session.commit()
    auth.login("bithu.x")
    month = LAST_WEEK.strftime("%Y-%m")
    page = client.get("/review/", query_string={"month": month}).get_data(as_text=True)
    assert wanted.summary in page
    assert other_month.summary not in page
    assert "2 " in page  # "2 ảnh còn chờ gửi lên" / "2 photos still to arrive"
    by_kind = client.get("/review/", query_string={"kind": world.kind.id + 1000})
    assert wanted.summary not in by_kind.get_data(as_text=True)


def test_review_post_without_csrf_is_refused(world, client, auth):
    activity = _entry(world)
    auth.login("bithu.x")
    response = client.post(f"/review/{activity.id}/confirm", data={})
    assert response.status_code in (302, 400)
    assert _status(activity.id) == "submitted"


def test_returned_entry_fixed_and_resent_keeps_its_history(world, client, auth):
    auth.login("canbo")
    item = activity_payload(world)
    push(client, [item])
    activity_id = uuid.UUID(item["id"])
    services.start()
    services.transition(world.users["secretary_x"], activity_id, "return", "Thiếu ảnh")
    db.session.commit()
    pulled = client.get("/api/v1/sync/pull").get_json()["outcomes"]
    assert [(o["status"], o["review_note"]) for o in pulled] == [("returned", "Thiếu ảnh")]
    fixed = {**item, "summary": "Đã bổ sung ảnh", "base_revision": 1, "photos_expected": 1}
    assert push(client, [fixed]).get_json()["results"][0]["status"] == "updated"
    assert _status(activity_id) == "submitted"
    history = db.session.scalars(select(ActivityRevision)).all()
    assert [(h.revision, h.status, h.content["summary"], h.review_note) for h in history] == [
        (1, "returned", item["summary"], "Thiếu ảnh")
    ]
    # The reason belongs to the returned version, not to the corrected one.
    assert db.session.get(Activity, activity_id).review_note is None
    pulled = client.get("/api/v1/sync/pull").get_json()["outcomes"]
    assert [(o["status"], o["review_note"]) for o in pulled] == [("submitted", None)]
    services.start()
    services.transition(world.users["secretary_x"], activity_id, "confirm")
    db.session.commit()
    detail = client.get(f"/review/{activity_id}")
    assert detail.status_code == 403  # the cadre has no review pages
