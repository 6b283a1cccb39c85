from __future__ import annotations

import uuid
from typing import Any

from flask_login import current_user, login_required
from flask_smorest import Blueprint
from marshmallow import EXCLUDE, Schema, fields, validate

from webapp.api_errors import ErrorOut, json_error
from webapp.extensions import db
from webapp.review import services
from webapp.sync.schemas import storable_text

bp = Blueprint(
    "review_api",
    __name__,
    url_prefix="/api/v1/review",
    description="Review actions (the same rules as the review pages).",
)


class ReviewIn(Schema):
    class Meta:
        unknown = EXCLUDE

    action = fields.String(required=True, validate=validate.OneOf(sorted(services.TRANSITIONS)))
    reason = fields.String(
        load_default=None,
        allow_none=True,
        validate=[validate.Length(max=services.REASON_LENGTH), storable_text],
    )
    revision = fields.Integer(
        load_default=None, allow_none=True, strict=True, validate=validate.Range(min=1, max=10**6)
    )


class ReviewOut(Schema):
    id = fields.UUID(required=True)
    status = fields.String(required=True)
    revision = fields.Integer(required=True)
    review_note = fields.String(allow_none=True)


@bp.post("/<uuid:activity_id>")
@bp.arguments(ReviewIn, error_status_code=422)
@bp.response(200, ReviewOut)
@bp.alt_response(400, schema=ErrorOut)
@bp.alt_response(401, schema=ErrorOut)
@bp.alt_response(403, schema=ErrorOut)
@bp.alt_response(404, schema=ErrorOut)
@bp.alt_response(409, schema=ErrorOut)
@bp.alt_response(422, schema=ErrorOut)
@login_required
def review(body: dict[str, Any], activity_id: uuid.UUID) -> Any:
    """Confirm, return (reason) or unconfirm (reason) one entry."""
    services.start()
    try:
        activity = services.transition(
            current_user,
            activity_id,
            body["action"],
            body["reason"],
            expected_revision=body["revision"],
        )
    except services.ReviewError as error:
        db.session.rollback()
        return json_error(error.status, error.message)
    db.session.commit()
    return activity
