from __future__ import annotations

import uuid

import pytest

from tests.factories import make_member
from tests.sync_helpers import activity_payload, push
from webapp.extensions import db
from webapp.models import Activity
from webapp.sync.pull import decode_cursor, encode_cursor
from webapp.tallies import rollup


@pytest.fixture
def cadre_client(world, client, auth):
    assert auth.login("canbo").status_code == 302
    return client


def test_session_gives_the_user_and_a_working_csrf_token(world, cadre_client):
    body = cadre_client.get("/api/v1/session").get_json()
    assert body["user"]["username"] == "canbo"
    assert body["user"]["role"] == "cadre"
    assert body["user"]["scope_unit_id"] == world.cell_x.id
    assert "password_hash" not in body["user"]
    response = cadre_client.post(
        "/api/v1/sync/push", json={"activities": []}, headers={"X-CSRFToken": body["csrf_token"]}
    )
    assert response.status_code == 200


def test_pull_returns_review_outcomes_once_the_cursor_passes_them(world, cadre_client):
    item = activity_payload(world, photos_expected=2)
    push(cadre_client, [item])
    first = cadre_client.get("/api/v1/sync/pull").get_json()
    assert [o["id"] for o in first["outcomes"]] == [item["id"]]
    outcome = first["outcomes"][0]
    assert (outcome["status"], outcome["revision"], outcome["photos_missing"]) == (
        "submitted",
        1,
        2,
    )
    assert first["more"] is False
    assert first["reference_version"]

    stored = db.session.get(Activity, uuid.UUID(item["id"]))
    rollup.watch([stored.id])  # a review, done directly: the tallies follow
    stored.status = "returned"
    stored.review_note = "Thiếu ảnh"
    db.session.commit()
    later = cadre_client.get("/api/v1/sync/pull", query_string={"cursor": first["cursor"]})
    returned = [o for o in later.get_json()["outcomes"] if o["id"] == item["id"]]
    assert returned and returned[0]["status"] == "returned"
    assert returned[0]["review_note"] == "Thiếu ảnh"


def test_pull_only_shows_my_own_entries(world, client, auth):
    auth.login("bithu.x")
    push(client, [activity_payload(world, participant_ids=[])])
    auth.logout()
    auth.login("canbo")
    assert client.get("/api/v1/sync/pull").get_json()["outcomes"] == []


def test_pull_pages_through_rows_sharing_a_timestamp(world, cadre_client, monkeypatch):
    items = [activity_payload(world) for _ in range(5)]
    push(cadre_client, items)
    same_time = db.session.get(Activity, uuid.UUID(items[0]["id"])).updated_at
    for item in items:
        db.session.get(Activity, uuid.UUID(item["id"])).updated_at = same_time
    db.session.commit()
    monkeypatch.setattr("webapp.sync.pull.PAGE_SIZE", 2)
    seen: list[str] = []
    cursor = None
    for _ in range(5):
        body = cadre_client.get(
            "/api/v1/sync/pull", query_string={"cursor": cursor} if cursor else {}
        ).get_json()
        seen += [o["id"] for o in body["outcomes"]]
        cursor = body["cursor"]
        if not body["more"]:
            break
    assert sorted(seen) == sorted(i["id"] for i in items)
    assert len(seen) == 5


def test_bad_cursor_is_a_422_not_a_crash(world, cadre_client):
    response = cadre_client.get("/api/v1/sync/pull", query_string={"cursor": "%%%"})
    assert response.status_code == 422
    assert "cursor" in response.get_json()["error"]["fields"]


def test_cursor_round_trip():
    at, after = decode_cursor(encode_cursor(decode_cursor(None)[0], uuid.UUID(int=5)))
    assert after == uuid.UUID(int=5)
    assert at.year == 2000


def test_reference_data_is_scoped_and_served_with_an_etag(world, cadre_client):
    response = cadre_client.get("/api/v1/reference")
    assert response.status_code == 200
    body = response.get_json()
    assert {u["id"] for u in body["units"]} == {world.cell_x.id}
    assert {m["full_name"] for m in body["members"]} == {"Nguyễn Văn An", "Trần Thị Bình"}
    assert [k["code"] for k in body["kinds"]] == ["home_visit"]
    etag = response.headers["ETag"]
    cached = cadre_client.get("/api/v1/reference", headers={"If-None-Match": etag})
    assert cached.status_code == 304
    make_member(world.cell_x, "Hoàng Thị Cúc")
    db.session.commit()
    changed = cadre_client.get("/api/v1/reference", headers={"If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.headers["ETag"] != etag
    pulled = cadre_client.get("/api/v1/sync/pull").get_json()
    assert pulled["reference_version"] == changed.get_json()["version"]


def test_secretary_reference_covers_the_commune_but_not_the_other(world, client, auth):
    auth.login("bithu.x")
    body = client.get("/api/v1/reference").get_json()
    unit_ids = {u["id"] for u in body["units"]}
    assert unit_ids == {world.commune_x.id, world.cell_x.id}
    assert "Lê Văn Cường" not in {m["full_name"] for m in body["members"]}


def test_openapi_document_lists_the_endpoints(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    assert {
        "/api/v1/sync/push",
        "/api/v1/sync/pull",
        "/api/v1/reference",
        "/api/v1/session",
    } <= set(spec["paths"])
    push_body = spec["paths"]["/api/v1/sync/push"]["post"]["requestBody"]
    assert "ActivityIn" in str(push_body) or "PushIn" in str(push_body)


def test_a_returned_entry_comes_with_its_content_for_a_phone_without_it(world, cadre_client):
    """After a sign-out (or on another phone) the cadre must still be able to fix it."""
    from tests import hostile_images
    from tests.test_photo_api import put_photo

    item = activity_payload(world, photos_expected=1, notes=None, program_id=None)
    push(cadre_client, [item])
    photo_id = str(uuid.uuid4())
    assert put_photo(cadre_client, item["id"], hostile_images.oriented_jpeg(1), photo_id=photo_id)
    other = activity_payload(world)
    push(cadre_client, [other])
    stored = db.session.get(Activity, uuid.UUID(item["id"]))
    rollup.watch([stored.id])
    stored.status, stored.review_note = "returned", "Thiếu ảnh"
    db.session.commit()
    outcomes = {o["id"]: o for o in cadre_client.get("/api/v1/sync/pull").get_json()["outcomes"]}
    assert "entry" not in outcomes[other["id"]]  # only returned entries carry their content
    entry = outcomes[item["id"]]["entry"]
    for name in ("unit_id", "kind_id", "occurred_on", "summary", "village", "lat", "lon"):
        assert entry[name] == item[name], name
    assert entry["program_id"] is None and entry["notes"] is None
    assert sorted(entry["participant_ids"]) == sorted(item["participant_ids"])
    assert entry["photo_ids"] == [photo_id]
    # What the phone sends back as it is must be accepted: the time keeps its zone.
    fixed = {**item, **{k: entry[k] for k in ("captured_at", "summary")}, "base_revision": 1}
    fixed["summary"] = "Đã bổ sung ảnh"
    assert push(cadre_client, [fixed]).get_json()["results"][0]["status"] == "updated"
