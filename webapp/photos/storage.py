"""Where processed photos live: a small interface, the folder implementation, and the choice.

Nothing outside `FolderStorage` may assume a local disk (DESIGN.md §8): callers speak keys and
bytes only, so the S3-compatible implementation (`webapp.photos.s3_storage`) takes its place
without touching them. Keys are content-addressed (`content_key`), so writing the same photo
twice is harmless.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Final, Protocol, runtime_checkable

_KEY_RE: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)*")
_MAX_KEY_LENGTH: Final = 512
_SHA256_HEX_RE: Final = re.compile(r"[0-9a-f]{64}")
_VARIANT_RE: Final = re.compile(r"[a-z0-9]+")
_TEMP_PREFIX: Final = ".tmp-"


class InvalidKey(ValueError):
    """A key that could escape the store or is not one we would ever produce."""


class ObjectNotFound(LookupError):
    """`get` of a key that holds nothing."""


class StorageUnavailable(RuntimeError):
    """The store cannot be reached or refuses to work right now: answer 503, try later."""


@runtime_checkable
class PhotoStorage(Protocol):
    """A flat key → bytes store. Implementations: FolderStorage (now), S3-compatible (later)."""

    def put(self, key: str, data: bytes, content_type: str) -> None:
        """Store `data` under `key`, replacing what was there; all or nothing."""

    def get(self, key: str) -> bytes:
        """The bytes under `key`; raises ObjectNotFound."""

    def exists(self, key: str) -> bool: ...

    def delete(self, key: str) -> None:
        """Remove `key`; deleting a missing key is not an error (as in S3)."""

    def check(self) -> None:
        """Raise StorageUnavailable unless the store can be used now."""

    def list_keys(self) -> list[str]:
        """Every key the store holds (for backups and their restore)."""


def content_key(sha256_hex: str, variant: str, ext: str = "jpg") -> str:
    """`"ab/cd/<sha256>-<variant>.<ext>"`: two levels of fan-out keep directories small."""
    if not _SHA256_HEX_RE.fullmatch(sha256_hex):
        raise InvalidKey(f"not a lowercase SHA-256 hex digest: {sha256_hex!r}")
    if not _VARIANT_RE.fullmatch(variant) or not _VARIANT_RE.fullmatch(ext):
        raise InvalidKey(f"bad variant or extension: {variant!r}, {ext!r}")
    return f"{sha256_hex[:2]}/{sha256_hex[2:4]}/{sha256_hex}-{variant}.{ext}"


def validate_key(key: str) -> str:
    """Relative, `/`-separated, no `.`/`..`/empty segments, no backslashes, no leading dot."""
    if not isinstance(key, str) or len(key) > _MAX_KEY_LENGTH or not _KEY_RE.fullmatch(key):
        raise InvalidKey(f"invalid storage key: {key!r}")
    if any(part in {".", ".."} for part in key.split("/")):
        raise InvalidKey(f"invalid storage key: {key!r}")
    return key


class FolderStorage:
    """Objects as files under `root`, written atomically (temp file, fsync, os.replace).

    A reader sees the old bytes or the new bytes, never half a file; a crash leaves at worst a
    `.tmp-*` file, which no key can name (keys cannot start with a dot). With `fsync=True` (the
    default) a successful `put` survives power loss, which matters because the phone deletes its
    copy once the server says 200.
    """

    def __init__(self, root: str | os.PathLike[str], *, fsync: bool = True) -> None:
        self.root = Path(root).resolve()
        self.fsync = fsync

    def __repr__(self) -> str:
        return f"FolderStorage({str(self.root)!r})"

    def _path(self, key: str) -> Path:
        path = self.root.joinpath(*validate_key(key).split("/"))
        # Belt and braces: the key grammar already forbids escapes, and symlinks inside the
        # root are not ours to follow out of it.
        if not path.resolve().is_relative_to(self.root):
            raise InvalidKey(f"storage key escapes the root: {key!r}")
        return path

    def put(self, key: str, data: bytes, content_type: str) -> None:
        # content_type is implied by the key's extension here; S3 stores it with the object.
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temp_name = tempfile.mkstemp(dir=path.parent, prefix=_TEMP_PREFIX)
        try:
            with os.fdopen(fd, "wb") as temp:
                temp.write(data)
                temp.flush()
                if self.fsync:
                    os.fsync(temp.fileno())
            os.chmod(temp_name, 0o640)
            os.replace(temp_name, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp_name)
            raise
        if self.fsync:
            _fsync_dir(path.parent)

    def get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError) as exc:
            raise ObjectNotFound(key) from exc

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def delete(self, key: str) -> None:
        with contextlib.suppress(FileNotFoundError, NotADirectoryError):
            self._path(key).unlink()

    def check(self) -> None:
        if not (self.root.is_dir() and os.access(self.root, os.W_OK | os.X_OK)):
            raise StorageUnavailable(f"photo folder missing or not writable: {self.root}")

    def list_keys(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(
            path.relative_to(self.root).as_posix()
            for path in self.root.rglob("*")
            if path.is_file() and not path.name.startswith(_TEMP_PREFIX)
        )


def _fsync_dir(path: Path) -> None:
    """Make the rename itself durable (POSIX); a no-op where directories cannot be opened."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)


def storage_from_config(config: Mapping[str, object]) -> PhotoStorage:
    """The configured store: the folder `PHOTO_DIR` (the default), or an S3-compatible bucket
    when `PHOTO_STORAGE` is `s3://bucket/prefix`."""
    kind = str(config.get("PHOTO_STORAGE") or "folder")
    if kind.startswith("s3://"):
        from webapp.photos.s3_storage import S3Storage, s3_client

        bucket, _, prefix = kind.removeprefix("s3://").partition("/")
        if not bucket:
            raise ValueError(f"PHOTO_STORAGE {kind!r} names no bucket (s3://bucket/prefix)")
        client = s3_client(
            str(config.get("S3_ENDPOINT_URL") or "") or None,
            str(config.get("S3_REGION") or "us-east-1"),
            float(str(config.get("S3_TIMEOUT") or 10)),
        )
        return S3Storage(client, bucket, prefix)
    if kind != "folder":
        raise ValueError(
            f"unknown PHOTO_STORAGE {kind!r} (supported: 'folder', 's3://bucket/prefix')"
        )
    photo_dir = config.get("PHOTO_DIR")
    if not photo_dir or not isinstance(photo_dir, str | os.PathLike):
        raise ValueError("PHOTO_DIR must name the folder that holds photos")
    return FolderStorage(photo_dir)
