"""FolderStorage and the key helpers. No app, no database."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from webapp.photos import storage as storage_module
from webapp.photos.storage import (
    FolderStorage,
    InvalidKey,
    ObjectNotFound,
    PhotoStorage,
    content_key,
    storage_from_config,
)

SHA = hashlib.sha256(b"photo").hexdigest()


@pytest.fixture
def store(tmp_path: Path) -> FolderStorage:
    return FolderStorage(tmp_path / "photos")


def all_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def test_content_key_fans_out_by_digest() -> None:
    assert content_key(SHA, "display") == f"{SHA[:2]}/{SHA[2:4]}/{SHA}-display.jpg"
    assert content_key(SHA, "thumb", "webp").endswith(f"{SHA}-thumb.webp")
    for bad_sha in (SHA.upper(), SHA[:-1], "../" + SHA[3:], ""):
        with pytest.raises(InvalidKey):
            content_key(bad_sha, "display")
    for bad_variant in ("", "../x", "a/b", "Display"):
        with pytest.raises(InvalidKey):
            content_key(SHA, bad_variant)


def test_round_trip(store: FolderStorage) -> None:
    key = content_key(SHA, "display")
    assert not store.exists(key)
    store.put(key, b"\xff\xd8first", "image/jpeg")
    assert store.exists(key)
    assert store.get(key) == b"\xff\xd8first"
    store.put(key, b"\xff\xd8second", "image/jpeg")  # replaces
    assert store.get(key) == b"\xff\xd8second"
    store.delete(key)
    assert not store.exists(key)
    store.delete(key)  # deleting twice is fine, as in S3
    with pytest.raises(ObjectNotFound):
        store.get(key)


def test_files_land_under_the_root_with_no_temp_files_left(store: FolderStorage) -> None:
    keys = [content_key(hashlib.sha256(bytes([i])).hexdigest(), "thumb") for i in range(20)]
    for i, key in enumerate(keys):
        store.put(key, bytes([i]) * 100, "image/jpeg")
    files = all_files(store.root)
    assert [f.relative_to(store.root).as_posix() for f in files] == sorted(keys)
    assert not [f for f in files if f.name.startswith(".tmp-")]
    assert all((f.stat().st_mode & 0o777) == 0o640 for f in files)


def test_a_failed_write_leaves_the_old_object_and_no_temp_file(
    store: FolderStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = content_key(SHA, "display")
    store.put(key, b"old", "image/jpeg")

    def broken_replace(src: str, dst: str) -> None:
        raise OSError("disk on fire")

    monkeypatch.setattr(storage_module.os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk on fire"):
        store.put(key, b"new", "image/jpeg")
    monkeypatch.undo()
    assert store.get(key) == b"old"
    assert [f.name for f in all_files(store.root)] == [f"{SHA}-display.jpg"]


@pytest.mark.parametrize(
    "key",
    [
        "../outside.jpg",
        "ab/../../outside.jpg",
        "ab/./cd.jpg",
        "/etc/passwd",
        "ab//cd.jpg",
        "ab\\..\\cd.jpg",
        "ab/cd/",
        "",
        ".tmp-abc",
        "ab/.hidden",
        "ab/cd.jpg\x00.png",
        "ảnh.jpg",
        "a" * 600,
    ],
)
def test_keys_that_could_escape_or_collide_are_refused(store: FolderStorage, key: str) -> None:
    for attempt in (
        lambda: store.put(key, b"x", "image/jpeg"),
        lambda: store.get(key),
        lambda: store.exists(key),
        lambda: store.delete(key),
    ):
        with pytest.raises(InvalidKey):
            attempt()
    assert not store.root.exists() or not all_files(store.root)


def test_a_symlink_out_of_the_root_is_not_followed(store: FolderStorage, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    store.root.mkdir(parents=True)
    os.symlink(outside, store.root / "ab")
    with pytest.raises(InvalidKey):
        store.put("ab/cd.jpg", b"x", "image/jpeg")
    assert not list(outside.iterdir())


def test_storage_from_config(tmp_path: Path) -> None:
    store = storage_from_config({"PHOTO_DIR": str(tmp_path / "p")})
    assert isinstance(store, FolderStorage)
    assert isinstance(store, PhotoStorage)
    assert store.root == (tmp_path / "p").resolve()
    with pytest.raises(ValueError, match="PHOTO_STORAGE"):
        storage_from_config({"PHOTO_DIR": str(tmp_path), "PHOTO_STORAGE": "s3"})
    with pytest.raises(ValueError, match="PHOTO_DIR"):
        storage_from_config({})
