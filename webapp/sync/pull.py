"""Review outcomes for the phone, since a cursor.

The cursor is a position (time on the server's clock, id) in the order of `updated_at`.
A transaction can commit a little after its rows' `updated_at`, so a finished pull hands back
"now minus a safety window": the next pull sees those late rows too and re-sends a few recent
outcomes, which the phone applies idempotently. Within one long pull, pages follow the exact
(updated_at, id) key, so rows sharing a timestamp are neither skipped nor repeated.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select

from webapp.extensions import db
from webapp.models import Activity, Participation, Photo, User

SAFETY_WINDOW = timedelta(minutes=5)
PAGE_SIZE = 500
_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


class BadCursor(ValueError):
    pass


def encode_cursor(at: datetime, after_id: uuid.UUID | None = None) -> str:
    text = at.isoformat() + ("|" + after_id.hex if after_id else "")
    return base64.urlsafe_b64encode(text.encode()).decode()


def decode_cursor(cursor: str | None) -> tuple[datetime, uuid.UUID | None]:
    if not cursor:
        return _EPOCH, None
    try:
        text = base64.urlsafe_b64decode(cursor.encode()).decode()
        stamp, _, raw_id = text.partition("|")
        at = datetime.fromisoformat(stamp)
        after_id = uuid.UUID(hex=raw_id) if raw_id else None
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise BadCursor(cursor) from exc
    return (at.astimezone(UTC) if at.tzinfo else at.replace(tzinfo=UTC)), after_id


def photos_arrived(activity_ids: list[uuid.UUID]) -> dict[uuid.UUID, int]:
    if not activity_ids:
        return {}
    rows = db.session.execute(
        select(Photo.activity_id, func.count())
        .where(Photo.activity_id.in_(activity_ids))
        .group_by(Photo.activity_id)
    )
    return {activity_id: count for activity_id, count in rows}


# What a returned entry says, so that a phone without it (signed out since, or a new phone)
# can show it and fix it: the push payload's fields, its participants and its photos' ids.
ENTRY_FIELDS = (
    "unit_id", "kind_id", "program_id", "occurred_on", "division_code", "village", "lat", "lon",
    "accuracy_m", "summary", "notes", "people_reached", "households_reached", "captured_at",
)  # fmt: skip


def returned_contents(returned: list[Activity]) -> dict[uuid.UUID, dict[str, Any]]:
    if not returned:
        return {}
    ids = [a.id for a in returned]
    people: dict[uuid.UUID, list[int]] = {i: [] for i in ids}
    for activity_id, member_id in db.session.execute(
        select(Participation.activity_id, Participation.member_id)
        .where(Participation.activity_id.in_(ids))
        .order_by(Participation.member_id)
    ):
        people[activity_id].append(member_id)
    photos: dict[uuid.UUID, list[uuid.UUID]] = {i: [] for i in ids}
    for activity_id, photo_id in db.session.execute(
        select(Photo.activity_id, Photo.id)
        .where(Photo.activity_id.in_(ids))
        .order_by(Photo.received_at, Photo.id)
    ):
        photos[activity_id].append(photo_id)
    return {
        a.id: {
            **{name: getattr(a, name) for name in ENTRY_FIELDS},
            # With its time zone, as the phone sent it (SQLite gives it back without).
            "captured_at": _as_utc(a.captured_at) if a.captured_at else None,
            "participant_ids": people[a.id],
            "photo_ids": photos[a.id],
        }
        for a in returned
    }


def pull(user: User, cursor: str | None, page_size: int = PAGE_SIZE) -> dict[str, Any]:
    since, after_id = decode_cursor(cursor)
    started = datetime.now(UTC)
    position = Activity.updated_at > since
    if after_id is not None:
        position = or_(position, and_(Activity.updated_at == since, Activity.id > after_id))
    rows = list(
        db.session.scalars(
            select(Activity)
            .where(Activity.created_by_id == user.id, position)
            .order_by(Activity.updated_at, Activity.id)
            .limit(page_size + 1)
        )
    )
    more = len(rows) > page_size
    rows = rows[:page_size]
    arrived = photos_arrived([a.id for a in rows])
    contents = returned_contents([a for a in rows if a.status == "returned"])
    outcomes = [
        {
            "id": a.id,
            "status": a.status,
            "revision": a.revision,
            "review_note": a.review_note,
            "reviewed_at": a.reviewed_at,
            "photos_missing": max(0, a.photos_expected - arrived.get(a.id, 0)),
            **({"entry": contents[a.id]} if a.id in contents else {}),
        }
        for a in rows
    ]
    if more:
        last = rows[-1]
        next_cursor = encode_cursor(_as_utc(last.updated_at), last.id)
    else:
        next_cursor = encode_cursor(started - SAFETY_WINDOW)
    return {"outcomes": outcomes, "cursor": next_cursor, "more": more}


def _as_utc(at: datetime) -> datetime:
    """SQLite hands back naive datetimes; they were stored as UTC."""
    return at if at.tzinfo else at.replace(tzinfo=UTC)
