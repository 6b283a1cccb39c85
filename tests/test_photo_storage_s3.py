"""Photos in an S3-compatible store, over real HTTP: moto's standalone server, started here.

The same contract as the folder (round trip, missing keys, hostile keys), the photo API on top
of it, and the store going away: a clear 503 with Retry-After, nothing recorded, and the
retried upload stores the photo exactly once.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select

from tests import hostile_images
from tests.s3_server import S3Server, S3Unavailable, s3_server
from tests.tcp_proxy import TcpProxy
from tests.test_photo_api import put_photo
from webapp.extensions import db
from webapp.models import Photo
from webapp.photos.s3_storage import S3Storage, s3_client
from webapp.photos.storage import (
    InvalidKey,
    ObjectNotFound,
    PhotoStorage,
    StorageUnavailable,
    content_key,
    storage_from_config,
)

IN_CI = os.environ.get("CI", "").lower() == "true"
SHA = hashlib.sha256(b"photo").hexdigest()


@pytest.fixture(scope="session")
def s3() -> Iterator[S3Server]:
    saved = {name: os.environ.get(name) for name in S3Server.environment()}
    os.environ.update(S3Server.environment())  # boto3's credential chain, as in production
    try:
        with s3_server() as server:
            yield server
    except S3Unavailable as exc:
        if IN_CI:
            pytest.fail(f"the S3-compatible server is required under CI=true: {exc}")
        pytest.skip(f"S3 tests skipped: {exc}")
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@pytest.fixture
def bucket(s3: S3Server) -> str:
    name = f"nhatky-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(name)
    return name


@pytest.fixture
def store(s3: S3Server, bucket: str) -> S3Storage:
    config = s3.app_config(bucket, "anh")
    found = storage_from_config(config)
    assert isinstance(found, S3Storage)
    return found


@pytest.fixture
def proxy(s3: S3Server) -> Iterator[TcpProxy]:
    host, port = s3.endpoint.removeprefix("http://").split(":")
    with TcpProxy(host, int(port)) as relay:
        yield relay


def test_round_trip_under_the_prefix(store: S3Storage, s3: S3Server, bucket: str) -> None:
    assert isinstance(store, PhotoStorage)
    key = content_key(SHA, "display")
    assert not store.exists(key)
    store.put(key, b"\xff\xd8first", "image/jpeg")
    assert store.exists(key) and store.get(key) == b"\xff\xd8first"
    store.put(key, b"\xff\xd8second", "image/jpeg")  # replaces, as the folder does
    assert store.get(key) == b"\xff\xd8second"
    raw = s3.client().head_object(Bucket=bucket, Key=f"anh/{key}")
    assert raw["ContentType"] == "image/jpeg"
    assert store.list_keys() == [key]
    store.delete(key)
    store.delete(key)  # deleting twice is fine
    assert not store.exists(key)
    with pytest.raises(ObjectNotFound):
        store.get(key)


def test_the_bucket_stays_private(store: S3Storage, s3: S3Server, bucket: str) -> None:
    store.put(content_key(SHA, "thumb"), b"x", "image/jpeg")
    grants = s3.client().get_object_acl(Bucket=bucket, Key=f"anh/{content_key(SHA, 'thumb')}")
    public = [g for g in grants["Grants"] if "AllUsers" in str(g["Grantee"].get("URI", ""))]
    assert public == []


@pytest.mark.parametrize("key", ["../outside.jpg", "ab/./cd.jpg", "/etc/passwd", "", "ảnh.jpg"])
def test_hostile_keys_are_refused_before_any_request(store: S3Storage, key: str) -> None:
    with pytest.raises(InvalidKey):
        store.put(key, b"x", "image/jpeg")
    assert store.list_keys() == []


def test_a_store_that_does_not_answer_is_unavailable_not_missing(
    s3: S3Server, bucket: str, proxy: TcpProxy
) -> None:
    store = storage_from_config(s3.app_config(bucket, endpoint=f"http://127.0.0.1:{proxy.port}"))
    store.put(content_key(SHA, "display"), b"x", "image/jpeg")
    proxy.cut()
    for attempt in (
        lambda: store.get(content_key(SHA, "display")),
        lambda: store.put(content_key(SHA, "thumb"), b"x", "image/jpeg"),
        lambda: store.exists(content_key(SHA, "display")),
        store.check,
    ):
        with pytest.raises(StorageUnavailable):
            attempt()
    with pytest.raises(StorageUnavailable):
        storage_from_config(s3.app_config("no-such-bucket")).check()


def test_a_configuration_without_a_bucket_is_refused() -> None:
    with pytest.raises(ValueError, match="bucket"):
        storage_from_config({"PHOTO_STORAGE": "s3://"})
    with pytest.raises(ValueError, match="PHOTO_STORAGE"):
        storage_from_config({"PHOTO_STORAGE": "ftp://x"})
    client = s3_client("http://127.0.0.1:1", "us-east-1", 3.0)
    assert s3_client("http://127.0.0.1:1", "us-east-1", 3.0) is client  # one per process


# -- the photo API on S3 ------------------------------------------------------------------------


@pytest.fixture
def on_s3(app, s3: S3Server, bucket: str, proxy: TcpProxy) -> TcpProxy:
    """The app stores photos in the bucket, through the proxy (so a test can cut it)."""
    app.config.update(s3.app_config(bucket, endpoint=f"http://127.0.0.1:{proxy.port}"))
    return proxy


def stored_keys(s3: S3Server, bucket: str) -> list[str]:
    listed = s3.client().list_objects_v2(Bucket=bucket).get("Contents", [])
    return sorted(item["Key"] for item in listed)


def photo_count() -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(Photo))


def test_photos_go_to_the_bucket_and_come_back_only_through_the_app(
    on_s3, s3, bucket, world, cadre_client, entry, client
):
    photo = hostile_images.gps_serial_jpeg()
    photo_id = str(uuid.uuid4())
    assert put_photo(cadre_client, entry["id"], photo, photo_id=photo_id).status_code == 201
    sha = db.session.scalar(select(Photo.sha256).where(Photo.id == uuid.UUID(photo_id)))
    assert stored_keys(s3, bucket) == [
        f"photos/{content_key(sha, 'display')}",
        f"photos/{content_key(sha, 'thumb')}",
    ]
    shown = cadre_client.get(f"/api/v1/photos/{photo_id}/thumb")
    assert shown.status_code == 200 and shown.data[:2] == b"\xff\xd8"
    assert hostile_images.SERIAL.encode() not in shown.data
    # The same again: nothing new in the bucket, one row.
    assert put_photo(cadre_client, entry["id"], photo, photo_id=photo_id).status_code == 200
    assert len(stored_keys(s3, bucket)) == 2 and photo_count() == 1


def test_the_store_down_is_a_503_with_retry_after_and_the_retry_stores_it_once(
    on_s3: TcpProxy, s3, bucket, world, cadre_client, entry
):
    photo = hostile_images.oriented_jpeg(2)
    photo_id = str(uuid.uuid4())
    on_s3.cut()
    refused = put_photo(cadre_client, entry["id"], photo, photo_id=photo_id)
    assert refused.status_code == 503
    assert refused.headers["Retry-After"] == "30"
    assert refused.get_json()["error"]["status"] == 503
    assert photo_count() == 0
    # Half-way: the display copy is written, then the store goes away before the thumbnail.
    on_s3.cut_after(1)
    assert put_photo(cadre_client, entry["id"], photo, photo_id=photo_id).status_code == 503
    assert photo_count() == 0
    assert len(stored_keys(s3, bucket)) == 1  # an orphan under its content key, harmless
    on_s3.restore()
    stored = put_photo(cadre_client, entry["id"], photo, photo_id=photo_id)
    assert stored.status_code == 201, stored.get_json()
    assert photo_count() == 1 and len(stored_keys(s3, bucket)) == 2
    again = put_photo(cadre_client, entry["id"], photo, photo_id=photo_id)
    assert again.status_code == 200 and photo_count() == 1


def test_reading_while_the_store_is_down_is_a_503_and_health_says_why(
    on_s3: TcpProxy, world, cadre_client, entry, client
):
    photo_id = str(uuid.uuid4())
    put_photo(cadre_client, entry["id"], hostile_images.oriented_jpeg(1), photo_id=photo_id)
    assert client.get("/healthz").status_code == 200
    on_s3.cut()
    response = cadre_client.get(f"/api/v1/photos/{photo_id}/display")
    assert response.status_code == 503 and response.headers["Retry-After"] == "30"
    health = client.get("/healthz")
    assert health.status_code == 503
    assert health.get_json()["checks"]["storage"]["ok"] is False
    assert health.get_json()["checks"]["database"]["ok"] is True
    on_s3.restore()
    assert cadre_client.get(f"/api/v1/photos/{photo_id}/display").status_code == 200


@pytest.fixture
def cadre_client(world, client, auth):
    assert auth.login("canbo").status_code == 302
    return client


@pytest.fixture
def entry(world, cadre_client) -> dict:
    from tests.sync_helpers import activity_payload, push

    item = activity_payload(world, photos_expected=2)
    assert push(cadre_client, [item]).get_json()["results"][0]["status"] == "created"
    return item


def test_a_bucket_is_backed_up_and_restored_into_another_one(
    app, on_s3, s3, bucket, world, cadre_client, entry, runner, tmp_path
):
    from tests.conftest import make_config
    from webapp import create_app

    photo_id = str(uuid.uuid4())
    put_photo(cadre_client, entry["id"], hostile_images.oriented_jpeg(3), photo_id=photo_id)
    made = runner.invoke(args=["backup", "create", str(tmp_path / "backup")])
    assert made.exit_code == 0, made.output
    assert len(list((tmp_path / "backup" / "photos").rglob("*.jpg"))) == 2

    other = f"nhatky-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(other)
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        return  # the PostgreSQL restore is drilled in test_backup.py
    restored = create_app(
        make_config(f"sqlite:///{tmp_path / 'r.sqlite3'}", tmp_path, **s3.app_config(other))
    )
    try:
        with restored.app_context():
            result = restored.test_cli_runner().invoke(
                args=["backup", "restore", str(tmp_path / "backup")]
            )
            assert result.exit_code == 0, result.output
            assert len(stored_keys(s3, other)) == 2
    finally:
        with restored.app_context():
            db.engine.dispose()
