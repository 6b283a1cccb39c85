"""Request and response schemas of the sync API; they also generate /api/v1/openapi.json."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate, validates_schema

from webapp.sync import limits
from webapp.text import unstorable

# Marshmallow's own messages are English; every message a user can meet is ours, translated.
_BASE = {
    "required": _l("This field is required."),
    "null": _l("This field may not be empty."),
    "invalid": _l("Not a valid value."),
}


def _msgs(**extra: Any) -> dict[str, Any]:
    return {**_BASE, **extra}


def _int_field(**kwargs: Any) -> fields.Integer:
    return fields.Integer(
        strict=True, error_messages=_msgs(invalid=_l("Not a whole number.")), **kwargs
    )


def storable_text(value: str) -> None:
    """Validator: refuse text no database here can store (NUL, lone surrogates)."""
    if unstorable(value):
        raise ValidationError(_l("Contains characters that cannot be stored."))


def _text(max_len: int, min_len: int | None = None, **kwargs: Any) -> fields.String:
    error = (
        _l("Between {min} and {max} characters.") if min_len else _l("At most {max} characters.")
    )
    return fields.String(
        validate=[validate.Length(min=min_len, max=max_len, error=error), storable_text],
        error_messages=_msgs(invalid=_l("Not a valid text.")),
        **kwargs,
    )


def _uuid(**kwargs: Any) -> fields.UUID:
    return fields.UUID(error_messages=_msgs(invalid_uuid=_l("Not a valid UUID.")), **kwargs)


def _range(low: float, high: float) -> validate.Range:
    return validate.Range(min=low, max=high, error=_l("Must be between {min} and {max}."))


class ActivityIn(Schema):
    """One entry as the phone captured it. `id` is the phone's crypto.randomUUID()."""

    class Meta:
        unknown = EXCLUDE

    id = _uuid(required=True)
    base_revision = _int_field(load_default=None, allow_none=True, validate=_range(1, 10**6))
    unit_id = _int_field(required=True, validate=_range(1, 2**31 - 1))
    kind_id = _int_field(required=True, validate=_range(1, 2**31 - 1))
    program_id = _int_field(load_default=None, allow_none=True, validate=_range(1, 2**31 - 1))
    occurred_on = fields.Date(
        required=True, error_messages=_msgs(invalid=_l("Not a valid date (YYYY-MM-DD)."))
    )
    division_code = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.Regexp(r"^\d{1,16}$", error=_l("Not an official division code.")),
        error_messages=_msgs(),
    )
    village = _text(limits.VILLAGE_LENGTH, load_default=None, allow_none=True)
    lat = fields.Float(
        load_default=None, allow_none=True, validate=_range(-90, 90), error_messages=_msgs()
    )
    lon = fields.Float(
        load_default=None, allow_none=True, validate=_range(-180, 180), error_messages=_msgs()
    )
    accuracy_m = fields.Float(
        load_default=None, allow_none=True, validate=_range(0, 100_000), error_messages=_msgs()
    )
    summary = _text(limits.SUMMARY_LENGTH, min_len=1, required=True)
    notes = _text(limits.NOTES_LENGTH, load_default=None, allow_none=True)
    people_reached = _int_field(load_default=0, validate=_range(0, limits.MAX_PEOPLE_REACHED))
    households_reached = _int_field(
        load_default=0, validate=_range(0, limits.MAX_HOUSEHOLDS_REACHED)
    )
    participant_ids = fields.List(
        _int_field(validate=_range(1, 2**31 - 1)),
        load_default=list,
        validate=validate.Length(
            max=limits.MAX_PARTICIPANTS, error=_l("At most {max} participants.")
        ),
        error_messages=_msgs(invalid=_l("Not a valid list.")),
    )
    photos_expected = _int_field(load_default=0, validate=_range(0, limits.MAX_PHOTOS))
    captured_at = fields.AwareDateTime(
        load_default=None,
        allow_none=True,
        default_timezone=None,
        error_messages=_msgs(
            invalid=_l("Not a valid date and time."),
            invalid_awareness=_l("Give a time zone with the time."),
        ),
    )

    @validates_schema
    def _gps_pair(self, data: dict[str, Any], **_kwargs: Any) -> None:
        if (data.get("lat") is None) != (data.get("lon") is None):
            raise ValidationError(_l("Give both latitude and longitude, or neither."), "lat")


class PushIn(Schema):
    class Meta:
        unknown = EXCLUDE

    device_id = _text(limits.DEVICE_ID_LENGTH, load_default=None, allow_none=True)
    # Items are validated one by one by the service, so one bad item never fails the batch;
    # the schema here documents them and bounds the count.
    activities = fields.List(
        fields.Nested(ActivityIn),
        required=True,
        validate=validate.Length(
            max=limits.MAX_BATCH_ITEMS, error=_l("At most {max} entries in one batch.")
        ),
        error_messages=_msgs(invalid=_l("Not a valid list.")),
    )


class ItemResultOut(Schema):
    id = fields.String(allow_none=True, metadata={"description": "the item's id as sent"})
    status = fields.String(
        required=True,
        validate=validate.OneOf(["created", "updated", "unchanged", "conflict", "rejected"]),
    )
    revision = fields.Integer(allow_none=True)
    server_status = fields.String(
        allow_none=True, metadata={"description": "review status on the server"}
    )
    errors = fields.Dict(keys=fields.String(), values=fields.List(fields.String()), allow_none=True)


class PushOut(Schema):
    results = fields.List(fields.Nested(ItemResultOut), required=True)


class PullArgs(Schema):
    class Meta:
        unknown = EXCLUDE

    cursor = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=200))


class ReturnedEntryOut(Schema):
    """A returned entry's content, for a phone that no longer holds it."""

    unit_id = fields.Integer(required=True)
    kind_id = fields.Integer(required=True)
    program_id = fields.Integer(allow_none=True)
    occurred_on = fields.Date(required=True)
    division_code = fields.String(allow_none=True)
    village = fields.String(allow_none=True)
    lat = fields.Float(allow_none=True)
    lon = fields.Float(allow_none=True)
    accuracy_m = fields.Float(allow_none=True)
    summary = fields.String(required=True)
    notes = fields.String(allow_none=True)
    people_reached = fields.Integer(required=True)
    households_reached = fields.Integer(required=True)
    captured_at = fields.DateTime(allow_none=True)
    participant_ids = fields.List(fields.Integer(), required=True)
    photo_ids = fields.List(fields.UUID(), required=True)


class OutcomeOut(Schema):
    id = fields.UUID(required=True)
    status = fields.String(required=True)
    revision = fields.Integer(required=True)
    review_note = fields.String(allow_none=True)
    reviewed_at = fields.DateTime(allow_none=True)
    photos_missing = fields.Integer(required=True)
    # Only for returned entries.
    entry = fields.Nested(ReturnedEntryOut)


class PullOut(Schema):
    outcomes = fields.List(fields.Nested(OutcomeOut), required=True)
    cursor = fields.String(required=True)
    more = fields.Boolean(required=True)
    reference_version = fields.String(required=True)


class UnitOut(Schema):
    id = fields.Integer(required=True)
    parent_id = fields.Integer(allow_none=True)
    name = fields.String(required=True)
    kind = fields.String(required=True)
    division_code = fields.String(allow_none=True)


class MemberOut(Schema):
    id = fields.Integer(required=True)
    unit_id = fields.Integer(required=True)
    full_name = fields.String(required=True)
    is_party_member = fields.Boolean(required=True)
    position = fields.String(allow_none=True)


class NamedOut(Schema):
    id = fields.Integer(required=True)
    code = fields.String(required=True)
    name_vi = fields.String(required=True)
    name_en = fields.String(required=True)


class ReferenceOut(Schema):
    version = fields.String(required=True)
    units = fields.List(fields.Nested(UnitOut), required=True)
    members = fields.List(fields.Nested(MemberOut), required=True)
    kinds = fields.List(fields.Nested(NamedOut), required=True)
    programs = fields.List(fields.Nested(NamedOut), required=True)
