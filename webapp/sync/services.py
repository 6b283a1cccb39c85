"""The server side of the sync protocol (DESIGN.md §5): push, pull and reference data.

Push applies each item on its own. New entries go in with one INSERT .. ON CONFLICT DO NOTHING,
so the database, not a check-then-insert, decides which of several concurrent copies creates the
row; every copy that did not create it is compared with the stored row: same content is
`unchanged`, a newer edit on the current revision is `updated`, anything else is a `conflict`.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from flask_babel import gettext as _
from marshmallow import ValidationError
from sqlalchemy import delete, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from webapp import scope
from webapp.audit import record
from webapp.clock import local_today
from webapp.database import begin_write, dialect_name
from webapp.extensions import db
from webapp.models import (
    Activity,
    ActivityKind,
    ActivityRevision,
    Member,
    Participation,
    Program,
    Unit,
    User,
)
from webapp.sync import limits
from webapp.sync.schemas import ActivityIn
from webapp.tallies import rollup

CONTENT_FIELDS = (
    "unit_id", "kind_id", "program_id", "occurred_on", "division_code", "village", "lat", "lon",
    "accuracy_m", "summary", "notes", "people_reached", "households_reached", "photos_expected",
)  # fmt: skip


@dataclass
class ItemResult:
    id: str | None
    status: str
    revision: int | None = None
    server_status: str | None = None
    errors: dict[str, list[str]] | None = None


@dataclass
class _Item:
    index: int
    data: dict[str, Any]
    participant_ids: list[int]
    content_hash: str


def content_hash(data: dict[str, Any], participant_ids: list[int]) -> str:
    """What the entry says, not when or from where it was sent."""
    canonical = {name: data.get(name) for name in CONTENT_FIELDS}
    canonical["occurred_on"] = data["occurred_on"].isoformat()
    canonical["participant_ids"] = sorted(set(participant_ids))
    text = json.dumps(canonical, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass
class _Lookups:
    """Everything a batch refers to, loaded in a few queries instead of per item."""

    user: User
    units: dict[int, Any] = field(default_factory=dict)  # rows: id, path, active
    kinds: dict[int, Any] = field(default_factory=dict)  # rows: id, active
    programs: dict[int, Any] = field(default_factory=dict)
    member_units: dict[int, tuple[str, bool]] = field(default_factory=dict)

    @classmethod
    def load(cls, user: User, raw_items: list[Any]) -> _Lookups:
        def ids(key: str) -> set[int]:
            found = set()
            for raw in raw_items:
                value = raw.get(key) if isinstance(raw, dict) else None
                values = value if isinstance(value, list) else [value]
                found.update(v for v in values if type(v) is int and 0 < v < 2**31)
            return found

        # Plain rows, not ORM objects: a push only asks whether they exist, are active and
        # (units) where they are.
        lookups = cls(user)
        unit_ids = ids("unit_id")
        if unit_ids:
            rows = db.session.execute(
                scope.units(user)
                .with_only_columns(Unit.id, Unit.path, Unit.active)
                .where(Unit.id.in_(unit_ids))
            )
            lookups.units = {row.id: row for row in rows}
        if kind_ids := ids("kind_id"):
            rows = db.session.execute(
                select(ActivityKind.id, ActivityKind.active).where(ActivityKind.id.in_(kind_ids))
            )
            lookups.kinds = {row.id: row for row in rows}
        if program_ids := ids("program_id"):
            rows = db.session.execute(
                select(Program.id, Program.active).where(Program.id.in_(program_ids))
            )
            lookups.programs = {row.id: row for row in rows}
        member_ids = ids("participant_ids")
        if member_ids:
            rows = db.session.execute(
                select(Member.id, Unit.path, Member.active)
                .join(Unit, Member.unit_id == Unit.id)
                .where(Member.id.in_(member_ids))
            )
            lookups.member_units = {row[0]: (row[1], row[2]) for row in rows}
        return lookups


def _business_errors(data: dict[str, Any], lookups: _Lookups) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    unit = lookups.units.get(data["unit_id"])
    if unit is None:
        errors["unit_id"] = [_("This unit does not exist or is outside your scope.")]
    elif not unit.active:
        errors["unit_id"] = [_("This unit is no longer active.")]
    kind = lookups.kinds.get(data["kind_id"])
    if kind is None or not kind.active:
        errors["kind_id"] = [_("Unknown or inactive activity kind.")]
    if data["program_id"] is not None:
        program = lookups.programs.get(data["program_id"])
        if program is None or not program.active:
            errors["program_id"] = [_("Unknown or inactive programme.")]
    occurred_on: date = data["occurred_on"]
    if occurred_on > local_today():
        errors["occurred_on"] = [_("The date is in the future.")]
    elif occurred_on < limits.EARLIEST_DATE:
        errors["occurred_on"] = [_("The date is before 2000.")]
    if unit is not None:
        outside = [
            member_id
            for member_id in data["participant_ids"]
            if member_id not in lookups.member_units
            or not lookups.member_units[member_id][1]
            or not lookups.member_units[member_id][0].startswith(unit.path)
        ]
        if outside:
            errors["participant_ids"] = [
                _("Not in this unit's roster: %(ids)s", ids=", ".join(map(str, outside)))
            ]
    return errors


def _row(item: _Item, user: User, device_id: str | None) -> dict[str, Any]:
    data = item.data
    row = {name: data[name] for name in CONTENT_FIELDS}
    row.update(
        id=data["id"],
        status="submitted",
        revision=1,
        content_hash=item.content_hash,
        created_by_id=user.id,
        device_id=device_id,
        captured_at=data["captured_at"],
        received_at=datetime.now(UTC),
        updated_at=datetime.now(UTC),
    )
    return row


def _insert_new(rows: list[dict[str, Any]]) -> set[uuid.UUID]:
    """Insert the rows whose id is new; return those ids. Existing ids are left untouched."""
    # One statement compiled once, the rows passed as parameters (executemany with
    # "insertmanyvalues"): `.values(rows)` would recompile a new statement for every batch.
    table = Activity.__table__
    dialect = postgresql if dialect_name() == "postgresql" else sqlite
    stmt = (
        dialect.insert(table)
        .on_conflict_do_nothing(index_elements=[table.c.id])
        .returning(table.c.id)
    )
    created = set(db.session.execute(stmt, rows).scalars())
    rollup.watch_new(created)
    return created


def _insert_participations(pairs: list[dict[str, Any]]) -> None:
    if pairs:
        db.session.execute(insert(Participation.__table__), pairs)


def _apply_to_existing(item: _Item, user: User, device_id: str | None) -> ItemResult:
    data = item.data
    existing = db.session.scalars(
        select(Activity).where(Activity.id == data["id"]).with_for_update()
    ).one_or_none()
    if existing is None:  # its insert failed on a reference that vanished meanwhile
        return ItemResult(
            str(data["id"]),
            "rejected",
            errors={"_schema": [_("Could not be stored: check the unit, kind and participants.")]},
        )
    rollup.watch([existing.id])  # locked above: what it counts for before this push
    result = ItemResult(str(data["id"]), "unchanged", existing.revision, existing.status)
    if existing.created_by_id != user.id:
        result.status = "rejected"
        result.errors = {"id": [_("This id belongs to another entry.")]}
    elif existing.content_hash == item.content_hash:
        pass
    elif existing.status == "confirmed":
        result.status = "conflict"
        result.errors = {"status": [_("This entry is already confirmed and cannot be changed.")]}
    elif data["base_revision"] != existing.revision:
        result.status = "conflict"
        result.errors = {
            "base_revision": [
                _(
                    "The entry was changed on the server (revision %(revision)s).",
                    revision=existing.revision,
                )
            ]
        }
    else:
        before = {
            "revision": existing.revision,
            "status": existing.status,
            "content_hash": existing.content_hash,
        }
        _keep_revision(existing)
        for name in CONTENT_FIELDS:
            setattr(existing, name, data[name])
        existing.content_hash = item.content_hash
        existing.revision += 1
        existing.status = "submitted"
        # The reason it was returned for now belongs to the history (the revision kept above
        # and the audit events), not to the corrected entry.
        existing.review_note = None
        existing.device_id = device_id
        db.session.execute(delete(Participation).where(Participation.activity_id == existing.id))
        _insert_participations(
            [{"activity_id": existing.id, "member_id": m} for m in item.participant_ids]
        )
        db.session.flush()
        record(
            "activity.resubmit",
            existing,
            actor_id=user.id,
            unit_id=existing.unit_id,
            before=before,
            after={
                "revision": existing.revision,
                "status": "submitted",
                "content_hash": existing.content_hash,
            },
        )
        result = ItemResult(str(existing.id), "updated", existing.revision, existing.status)
    return result


def _keep_revision(activity: Activity) -> None:
    """Snapshot what the entry said before this edit (the history reviewers look back on)."""
    content: dict[str, Any] = {name: getattr(activity, name) for name in CONTENT_FIELDS}
    content["occurred_on"] = activity.occurred_on.isoformat()
    content["participant_ids"] = sorted(p.member_id for p in activity.participations)
    db.session.add(
        ActivityRevision(
            activity_id=activity.id,
            revision=activity.revision,
            status=activity.status,
            content=content,
            review_note=activity.review_note,
        )
    )


# Built once: a schema holds no state between loads, and building one costs a millisecond.
_ACTIVITY_IN = ActivityIn()


def push(user: User, device_id: str | None, raw_items: list[Any]) -> list[ItemResult]:
    """Apply a batch; results come back in request order, one per item."""
    begin_write()
    lookups = _Lookups.load(user, raw_items)
    results: list[ItemResult | None] = [None] * len(raw_items)
    schema = _ACTIVITY_IN
    valid: list[_Item] = []
    for index, raw in enumerate(raw_items):
        raw_id = raw.get("id") if isinstance(raw, dict) else None
        try:
            data = schema.load(raw if isinstance(raw, dict) else {})
        except ValidationError as exc:
            results[index] = ItemResult(
                str(raw_id) if raw_id else None,
                "rejected",
                errors=_flatten(exc.normalized_messages()),
            )
            continue
        data["participant_ids"] = list(dict.fromkeys(data["participant_ids"]))
        errors = _business_errors(data, lookups)
        if errors:
            results[index] = ItemResult(str(data["id"]), "rejected", errors=errors)
            continue
        valid.append(
            _Item(index, data, data["participant_ids"], content_hash(data, data["participant_ids"]))
        )

    # Rows are inserted and locked in id order, so two batches holding the same ids in
    # different orders cannot deadlock (PostgreSQL); results still follow request order.
    valid.sort(key=lambda item: item.data["id"])
    created = _create_new_items(valid, user, device_id)
    for item in valid:
        if item.index in created:
            results[item.index] = ItemResult(str(item.data["id"]), "created", 1, "submitted")
            continue
        with db.session.begin_nested():
            results[item.index] = _apply_to_existing(item, user, device_id)
    return [r for r in results if r is not None]


def _create_new_items(valid: list[_Item], user: User, device_id: str | None) -> set[int]:
    """Insert all new items in one statement; indexes of the items that created their row."""
    first_by_id: dict[uuid.UUID, _Item] = {}
    for item in valid:
        first_by_id.setdefault(item.data["id"], item)
    if not first_by_id:
        return set()
    try:
        with db.session.begin_nested():
            new_ids = _insert_new([_row(item, user, device_id) for item in first_by_id.values()])
            _insert_participations(
                [
                    {"activity_id": activity_id, "member_id": member_id}
                    for activity_id in new_ids
                    for member_id in first_by_id[activity_id].participant_ids
                ]
            )
    except IntegrityError:
        # A row this batch refers to vanished since validation: redo one by one, so only
        # the affected item fails.
        return _create_one_by_one(list(first_by_id.values()), user, device_id)
    return {first_by_id[activity_id].index for activity_id in new_ids}


def _create_one_by_one(items: list[_Item], user: User, device_id: str | None) -> set[int]:
    created: set[int] = set()
    for item in items:
        try:
            with db.session.begin_nested():
                if _insert_new([_row(item, user, device_id)]):
                    _insert_participations(
                        [
                            {"activity_id": item.data["id"], "member_id": m}
                            for m in item.participant_ids
                        ]
                    )
                    created.add(item.index)
        except IntegrityError:
            continue  # handled as an existing row, which reports the problem
    return created


def _flatten(messages: dict[str, Any] | list[Any]) -> dict[str, list[str]]:
    """Marshmallow's nested messages as {field: [message, ...]} with string messages."""
    flat: dict[str, list[str]] = {}
    if not isinstance(messages, dict):
        return {"_schema": [str(m) for m in messages]}
    for key, value in messages.items():
        if isinstance(value, dict):
            flat[str(key)] = [
                str(m) for sub in value.values() for m in (sub if isinstance(sub, list) else [sub])
            ]
        else:
            flat[str(key)] = [str(m) for m in (value if isinstance(value, list) else [value])]
    return flat
