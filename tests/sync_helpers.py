"""Building push payloads and calling the API the way the phone does."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

from flask.testing import FlaskClient

from tests.factories import World


def activity_payload(world: World, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "base_revision": None,
        "unit_id": world.cell_x.id,
        "kind_id": world.kind.id,
        "program_id": world.program.id,
        "occurred_on": (date.today() - timedelta(days=2)).isoformat(),
        "division_code": "02266",
        "village": "Nà Va",
        "lat": 22.4,
        "lon": 105.2,
        "accuracy_m": 12.5,
        "summary": "Thăm hỏi, động viên gia đình ông Ma Văn Sáng",
        "notes": "Gia đình đề nghị hỗ trợ sửa mái nhà",
        "people_reached": 4,
        "households_reached": 1,
        "participant_ids": [world.members["an"].id, world.members["binh"].id],
        "photos_expected": 0,
        "captured_at": "2026-11-20T08:15:00+07:00",
    }
    body.update(overrides)
    return body


def csrf(client: FlaskClient) -> str:
    response = client.get("/api/v1/session")
    assert response.status_code == 200, response.get_data(as_text=True)
    token: str = response.get_json()["csrf_token"]
    return token


def push(client: FlaskClient, items: list[dict[str, Any]], token: str | None = None):
    headers = {"X-CSRFToken": token or csrf(client)}
    return client.post(
        "/api/v1/sync/push", json={"device_id": "test-phone", "activities": items}, headers=headers
    )
