from __future__ import annotations

import uuid
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from tests.sync_helpers import activity_payload, csrf, push
from webapp.extensions import db
from webapp.models import Activity, Participation
from webapp.tallies import rollup


def _count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


@pytest.fixture
def cadre_client(world, client, auth):
    assert auth.login("canbo").status_code == 302
    return client


def test_push_creates_once_and_repeats_are_unchanged(world, cadre_client):
    item = activity_payload(world)
    first = push(cadre_client, [item])
    assert first.status_code == 200
    assert first.get_json()["results"] == [
        {
            "id": item["id"],
            "status": "created",
            "revision": 1,
            "server_status": "submitted",
            "errors": None,
        }
    ]
    again = push(cadre_client, [item, item])
    assert [r["status"] for r in again.get_json()["results"]] == ["unchanged", "unchanged"]
    assert _count(Activity) == 1
    assert _count(Participation) == 2
    stored = db.session.get(Activity, uuid.UUID(item["id"]))
    assert stored.created_by_id == world.users["cadre"].id
    assert stored.device_id == "test-phone"


def test_same_id_twice_in_one_new_batch_creates_one_row(world, cadre_client):
    item = activity_payload(world)
    results = push(cadre_client, [item, item]).get_json()["results"]
    assert [r["status"] for r in results] == ["created", "unchanged"]
    assert _count(Activity) == 1


def test_edit_on_current_revision_updates_and_stale_revision_conflicts(world, cadre_client):
    item = activity_payload(world)
    push(cadre_client, [item])
    edited = {
        **item,
        "summary": "Đã sửa nội dung",
        "base_revision": 1,
        "participant_ids": [world.members["an"].id],
    }
    result = push(cadre_client, [edited]).get_json()["results"][0]
    assert (result["status"], result["revision"]) == ("updated", 2)
    stale = {**item, "summary": "Bản sửa cũ", "base_revision": 1}
    result = push(cadre_client, [stale]).get_json()["results"][0]
    assert result["status"] == "conflict"
    assert result["revision"] == 2
    assert result["server_status"] == "submitted"
    db.session.expire_all()
    stored = db.session.get(Activity, uuid.UUID(item["id"]))
    assert stored.summary == "Đã sửa nội dung"
    assert [p.member_id for p in stored.participations] == [world.members["an"].id]


def test_confirmed_entry_cannot_be_changed_by_push(world, cadre_client):
    item = activity_payload(world)
    push(cadre_client, [item])
    stored = db.session.get(Activity, uuid.UUID(item["id"]))
    rollup.watch([stored.id])  # a review, done directly: the tallies follow
    stored.status = "confirmed"
    db.session.commit()
    result = push(cadre_client, [{**item, "summary": "Sửa", "base_revision": 1}])
    body = result.get_json()["results"][0]
    assert body["status"] == "conflict"
    assert body["server_status"] == "confirmed"
    assert "status" in body["errors"]


def test_mixed_batch_stores_the_good_items_and_rejects_the_bad_in_order(world, cadre_client):
    good_a = activity_payload(world)
    bad = activity_payload(world, kind_id=999999)
    good_b = activity_payload(world)
    results = push(cadre_client, [good_a, bad, good_b]).get_json()["results"]
    assert [r["id"] for r in results] == [good_a["id"], bad["id"], good_b["id"]]
    assert [r["status"] for r in results] == ["created", "rejected", "created"]
    assert "kind_id" in results[1]["errors"]
    assert _count(Activity) == 2


FUTURE = (date.today() + timedelta(days=3)).isoformat()


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"id": "not-a-uuid"}, "id"),
        ({"unit_id": 999999}, "unit_id"),
        ({"kind_id": "x"}, "kind_id"),
        ({"program_id": 999999}, "program_id"),
        ({"occurred_on": FUTURE}, "occurred_on"),
        ({"occurred_on": "1999-12-31"}, "occurred_on"),
        ({"occurred_on": "31/12/2024"}, "occurred_on"),
        ({"people_reached": -1}, "people_reached"),
        ({"people_reached": 10**7}, "people_reached"),
        ({"households_reached": 1.5}, "households_reached"),
        ({"summary": ""}, "summary"),
        ({"summary": "x" * 501}, "summary"),
        ({"notes": "x" * 4001}, "notes"),
        ({"village": "x" * 121}, "village"),
        ({"lat": 95.0}, "lat"),
        ({"lat": 21.0, "lon": None}, "lat"),
        ({"participant_ids": list(range(1, 102))}, "participant_ids"),
        ({"photos_expected": 11}, "photos_expected"),
        ({"division_code": "abc"}, "division_code"),
        ({"captured_at": "2026-11-20T08:15:00"}, "captured_at"),
    ],
)
def test_each_validation_rule_rejects_with_a_field_error(world, cadre_client, overrides, field):
    result = push(cadre_client, [activity_payload(world, **overrides)]).get_json()["results"][0]
    assert result["status"] == "rejected"
    assert field in result["errors"], result["errors"]
    assert all(isinstance(m, str) and m for m in result["errors"][field])
    assert _count(Activity) == 0


def test_errors_are_in_the_users_language(world, cadre_client):
    bad = activity_payload(world, summary="")
    vi = push(cadre_client, [bad]).get_json()["results"][0]["errors"]["summary"][0]
    en = cadre_client.post(
        "/api/v1/sync/push",
        json={"activities": [bad]},
        headers={"X-CSRFToken": csrf(cadre_client), "Accept-Language": "en"},
    )
    # The cadre has no saved language, so the session's/browser's choice applies.
    assert vi != en.get_json()["results"][0]["errors"]["summary"][0]


def test_member_outside_the_units_roster_is_rejected(world, cadre_client):
    item = activity_payload(world, participant_ids=[world.members["cuong"].id])
    result = push(cadre_client, [item]).get_json()["results"][0]
    assert result["status"] == "rejected"
    assert str(world.members["cuong"].id) in result["errors"]["participant_ids"][0]


def test_unit_outside_the_users_scope_is_rejected(world, cadre_client):
    item = activity_payload(world, unit_id=world.cell_y.id, participant_ids=[])
    result = push(cadre_client, [item]).get_json()["results"][0]
    assert result["status"] == "rejected"
    assert "unit_id" in result["errors"]


def test_inactive_kind_is_rejected(world, cadre_client):
    world.kind.active = False
    db.session.commit()
    result = push(cadre_client, [activity_payload(world)]).get_json()["results"][0]
    assert "kind_id" in result["errors"]


def test_another_users_id_is_not_overwritten(world, client, auth):
    item = activity_payload(world, unit_id=world.cell_x.id)
    auth.login("canbo")
    push(client, [item])
    auth.logout()
    auth.login("bithu.x")
    result = push(client, [{**item, "summary": "Ghi đè", "base_revision": 1}]).get_json()
    assert result["results"][0]["status"] == "rejected"
    assert db.session.get(Activity, uuid.UUID(item["id"])).summary == item["summary"]


def test_batch_limits(world, cadre_client):
    token = csrf(cadre_client)
    too_many = [activity_payload(world) for _ in range(101)]
    response = push(cadre_client, too_many, token)
    assert response.status_code == 422
    assert "activities" in response.get_json()["error"]["fields"]
    huge = cadre_client.post(
        "/api/v1/sync/push",
        data=b"{" + b" " * (3 * 1024 * 1024) + b"}",
        headers={"X-CSRFToken": token, "Content-Type": "application/json"},
    )
    assert huge.status_code == 413
    not_json = cadre_client.post(
        "/api/v1/sync/push",
        data=b"[]",
        headers={"X-CSRFToken": token, "Content-Type": "application/json"},
    )
    assert not_json.status_code == 400
    assert _count(Activity) == 0


def test_push_without_csrf_token_is_refused_as_json(world, cadre_client):
    response = cadre_client.post("/api/v1/sync/push", json={"activities": []})
    assert response.status_code == 400
    assert response.get_json()["error"]["status"] == 400


def test_push_signed_out_is_401_json_not_a_redirect(world, client):
    response = client.post("/api/v1/sync/push", json={"activities": []})
    assert response.status_code in (400, 401)
    response = client.get("/api/v1/sync/pull")
    assert response.status_code == 401
    assert response.get_json()["error"]["status"] == 401
