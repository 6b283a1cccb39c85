"""Accepting a photo of an activity, and reading it back; rules shared by API and pages."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite

from webapp import scope
from webapp.database import begin_write, dialect_name
from webapp.extensions import db
from webapp.models import Activity, Photo, User, utcnow
from webapp.photos.pipeline import PhotoRejected, process_photo
from webapp.photos.storage import PhotoStorage, content_key, storage_from_config
from webapp.sync import limits

VARIANTS = ("display", "thumb")


class PhotoError(Exception):
    """A refusal with its HTTP status and a message in the user's language."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class PhotoOutcome:
    photo: Photo
    created: bool
    photos_missing: int


def storage() -> PhotoStorage:
    return storage_from_config(current_app.config)


def _rejection_message(error: PhotoRejected) -> str:
    messages = {
        "too_large": _("The photo is too large."),
        "not_an_image": _("This file is not a photo."),
        "unsupported_type": _("Only JPEG, PNG, WebP (and HEIC) photos are accepted."),
        "sha256_mismatch": _(
            "The photo was damaged on the way (checksum mismatch); send it again."
        ),
        "truncated": _("The photo is incomplete; send it again."),
        "too_many_pixels": _("The photo has too many pixels."),
        "bad_dimensions": _("The photo's dimensions are not acceptable."),
    }
    return messages.get(error.code, _("This file is not a photo."))


def _camera_time(taken_at: datetime | None) -> datetime | None:
    """EXIF times are the camera's wall clock; phones here are on Vietnam time."""
    if taken_at is None or taken_at.tzinfo is not None:
        return taken_at
    return taken_at.replace(tzinfo=ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"]))


def photos_missing(activity: Activity) -> int:
    arrived = db.session.scalar(
        select(func.count()).select_from(Photo).where(Photo.activity_id == activity.id)
    )
    return max(0, activity.photos_expected - (arrived or 0))


def _same_photo(existing: Photo, activity_id: uuid.UUID, sha256: str) -> PhotoOutcome:
    if existing.activity_id != activity_id or existing.sha256 != sha256:
        raise PhotoError(409, _("A different photo was already stored under this id."))
    return PhotoOutcome(existing, False, photos_missing(existing.activity))


def accept_photo(
    user: User, photo_id: uuid.UUID, activity_id: uuid.UUID, declared_sha256: str, data: bytes
) -> PhotoOutcome:
    """Store one photo once. Same id and bytes again: unchanged; same id, other bytes: 409."""
    activity = db.session.get(Activity, activity_id)
    if activity is None:
        raise PhotoError(404, _("The entry for this photo has not arrived yet."))
    if activity.created_by_id != user.id:
        raise PhotoError(403, _("Only the person who logged the entry can add its photos."))
    sha256 = hashlib.sha256(data).hexdigest()
    existing = db.session.get(Photo, photo_id)
    if existing is not None:
        if sha256 != declared_sha256.lower():
            raise PhotoError(422, _rejection_message(PhotoRejected("sha256_mismatch", "")))
        return _same_photo(existing, activity_id, sha256)
    try:
        processed = process_photo(
            data, declared_sha256=declared_sha256, max_bytes=current_app.config["PHOTO_MAX_BYTES"]
        )
    except PhotoRejected as error:
        raise PhotoError(error.http_status, _rejection_message(error)) from error

    store = storage()
    display_key = content_key(processed.sha256, "display")
    thumb_key = content_key(processed.sha256, "thumb")
    store.put(display_key, processed.display, "image/jpeg")
    store.put(thumb_key, processed.thumbnail, "image/jpeg")

    begin_write()
    # Lock the entry so concurrent uploads count its photos one at a time.
    activity = db.session.scalars(
        select(Activity).where(Activity.id == activity_id).with_for_update()
    ).one()
    count = db.session.scalar(
        select(func.count()).select_from(Photo).where(Photo.activity_id == activity_id)
    )
    if (count or 0) >= limits.MAX_PHOTOS:
        raise PhotoError(422, _("An entry can have at most %(n)d photos.", n=limits.MAX_PHOTOS))
    dialect = postgresql if dialect_name() == "postgresql" else sqlite
    inserted = db.session.scalar(
        dialect.insert(Photo)
        .values(
            id=photo_id,
            activity_id=activity_id,
            sha256=processed.sha256,
            content_type=processed.content_type,
            width=processed.width,
            height=processed.height,
            bytes=len(data),
            taken_at=_camera_time(processed.taken_at),
            display_key=display_key,
            thumb_key=thumb_key,
            received_at=utcnow(),
        )
        .on_conflict_do_nothing(index_elements=[Photo.id])
        .returning(Photo.id)
    )
    if inserted is None:  # the same id arrived on another connection a moment ago
        return _same_photo(db.session.get(Photo, photo_id), activity_id, processed.sha256)
    # The phone learns of the new count through pull, which follows updated_at.
    activity.updated_at = utcnow()
    db.session.flush()
    photo = db.session.get(Photo, photo_id)
    return PhotoOutcome(photo, True, photos_missing(activity))


def readable_photo(user: User, photo_id: uuid.UUID) -> Photo:
    photo = db.session.get(Photo, photo_id)
    if photo is None:
        raise PhotoError(404, _("This photo does not exist."))
    if not scope.can_read_activity(user, photo.activity):
        raise PhotoError(403, _("Your account may not see this photo."))
    return photo
