from __future__ import annotations

import hashlib
import io
import uuid

import pytest
from PIL import Image
from sqlalchemy import delete, func, select

from tests import hostile_images
from tests.sync_helpers import activity_payload, csrf, push
from webapp.extensions import db
from webapp.models import Photo

STATUS = {
    "too_large": 413,
    "not_an_image": 415,
    "unsupported_type": 415,
    "sha256_mismatch": 422,
    "truncated": 422,
    "too_many_pixels": 422,
    "bad_dimensions": 422,
}


@pytest.fixture
def cadre_client(world, client, auth):
    assert auth.login("canbo").status_code == 302
    return client


@pytest.fixture
def entry(world, cadre_client) -> dict:
    item = activity_payload(world, photos_expected=2)
    assert push(cadre_client, [item]).get_json()["results"][0]["status"] == "created"
    return item


def put_photo(
    client,
    activity_id: str,
    data: bytes,
    *,
    photo_id: str | None = None,
    sha256: str | None = None,
    token: str | None = None,
):
    return client.put(
        f"/api/v1/photos/{photo_id or uuid.uuid4()}",
        query_string={
            "activity_id": activity_id,
            "sha256": sha256 or hashlib.sha256(data).hexdigest(),
        },
        data=data,
        headers={"X-CSRFToken": token or csrf(client), "Content-Type": "image/jpeg"},
    )


def test_upload_once_repeat_is_200_and_other_bytes_409(world, cadre_client, entry):
    photo = hostile_images.gps_serial_jpeg()
    photo_id = str(uuid.uuid4())
    first = put_photo(cadre_client, entry["id"], photo, photo_id=photo_id)
    assert first.status_code == 201, first.get_json()
    assert first.get_json()["photos_missing"] == 1
    again = put_photo(cadre_client, entry["id"], photo, photo_id=photo_id)
    assert again.status_code == 200
    assert again.get_json()["status"] == "unchanged"
    other = put_photo(cadre_client, entry["id"], hostile_images.oriented_jpeg(3), photo_id=photo_id)
    assert other.status_code == 409
    assert db.session.scalar(select(func.count()).select_from(Photo)) == 1


def test_served_photo_has_no_metadata_and_is_cached_privately(world, cadre_client, entry):
    photo_id = str(uuid.uuid4())
    put_photo(cadre_client, entry["id"], hostile_images.gps_serial_jpeg(), photo_id=photo_id)
    for variant, edge in (("display", 1600), ("thumb", 320)):
        response = cadre_client.get(f"/api/v1/photos/{photo_id}/{variant}")
        assert response.status_code == 200
        assert response.mimetype == "image/jpeg"
        assert "private" in response.headers["Cache-Control"]
        assert "immutable" in response.headers["Cache-Control"]
        body = response.get_data()
        assert hostile_images.SERIAL.encode() not in body
        assert b"Exif" not in body
        image = Image.open(io.BytesIO(body))
        assert max(image.size) <= edge
        assert not image.getexif()
        cached = cadre_client.get(
            f"/api/v1/photos/{photo_id}/{variant}",
            headers={"If-None-Match": response.headers["ETag"]},
        )
        assert cached.status_code == 304
    stored = db.session.get(Photo, uuid.UUID(photo_id))
    assert stored.taken_at is not None


def test_photos_outside_scope_are_refused(world, client, auth, entry):
    photo_id = str(uuid.uuid4())
    put_photo(client, entry["id"], hostile_images.oriented_jpeg(1), photo_id=photo_id)
    auth.logout()
    auth.login("bithu.y")
    assert client.get(f"/api/v1/photos/{photo_id}/thumb").status_code == 403
    auth.logout()
    auth.login("bithu.x")
    assert client.get(f"/api/v1/photos/{photo_id}/thumb").status_code == 200
    # A secretary may read it but not add photos to someone else's entry.
    foreign = put_photo(client, entry["id"], hostile_images.oriented_jpeg(2))
    assert foreign.status_code == 403


def test_photo_for_unknown_entry_is_404(world, cadre_client):
    response = put_photo(cadre_client, str(uuid.uuid4()), hostile_images.oriented_jpeg(1))
    assert response.status_code == 404
    assert response.get_json()["error"]["message"]


def test_declared_checksum_must_match(world, cadre_client, entry):
    response = put_photo(
        cadre_client, entry["id"], hostile_images.oriented_jpeg(1), sha256="0" * 64
    )
    assert response.status_code == 422


def test_upload_without_csrf_is_refused(world, cadre_client, entry):
    data = hostile_images.oriented_jpeg(1)
    response = cadre_client.put(
        f"/api/v1/photos/{uuid.uuid4()}",
        query_string={"activity_id": entry["id"], "sha256": hashlib.sha256(data).hexdigest()},
        data=data,
        headers={"Content-Type": "image/jpeg"},
    )
    assert response.status_code == 400
    assert db.session.scalar(select(func.count()).select_from(Photo)) == 0


def test_hostile_images_never_cause_a_server_error(world, cadre_client, entry):
    """The whole hostile set through HTTP (one entry, one session: fast on both databases)."""
    token = csrf(cadre_client)
    wrong: list[str] = []
    for case in hostile_images.CASES:
        response = put_photo(cadre_client, entry["id"], case.build(), token=token)
        expected = 201 if case.rejected is None else STATUS[case.rejected]
        if response.status_code != expected or not response.is_json:
            wrong.append(f"{case.name}: {response.status_code} (expected {expected})")
        if case.rejected is None:  # stay under the per-entry photo limit
            db.session.execute(delete(Photo))
            db.session.commit()
    assert not wrong, wrong
