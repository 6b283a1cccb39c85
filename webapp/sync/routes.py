from __future__ import annotations

from typing import Any

from flask import Response, current_app, request
from flask_babel import gettext as _
from flask_login import current_user, login_required
from flask_smorest import Blueprint
from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate

from webapp.api_errors import ErrorOut, json_error
from webapp.extensions import db
from webapp.sync import limits, pull, services
from webapp.sync.reference import reference_data
from webapp.sync.schemas import (
    PullArgs,
    PullOut,
    PushIn,
    PushOut,
    ReferenceOut,
    storable_text,
)

bp = Blueprint(
    "sync", __name__, url_prefix="/api/v1",
    description="Sync protocol of the field app (DESIGN.md §5). Session-cookie auth; unsafe "
    "requests carry the CSRF token from GET /session in the X-CSRFToken header.",
)  # fmt: skip


class _Envelope(Schema):
    """The batch's outer shape; items are checked one by one by the service."""

    class Meta:
        unknown = EXCLUDE

    device_id = fields.String(
        load_default=None,
        allow_none=True,
        validate=[validate.Length(max=limits.DEVICE_ID_LENGTH), storable_text],
    )
    activities = fields.List(fields.Raw(), required=True)


# Built once: a schema holds no state between loads, and building one costs a millisecond.
_ENVELOPE = _Envelope()


@bp.post("/sync/push")
@bp.doc(requestBody={"required": True, "content": {"application/json": {"schema": PushIn}}})
@bp.response(200, PushOut)
@bp.alt_response(400, schema=ErrorOut)
@bp.alt_response(401, schema=ErrorOut)
@bp.alt_response(413, schema=ErrorOut)
@bp.alt_response(422, schema=ErrorOut)
@login_required
def push() -> Any:
    """Store a batch of entries. Each item stands alone; results come back in request order."""
    if (request.content_length or 0) > limits.MAX_BATCH_BYTES:
        return json_error(413, _("The batch is too large: send fewer entries at a time."))
    payload = request.get_json(silent=True)
    if not isinstance(payload, dict):
        return json_error(400, _("The request body must be a JSON object."))
    try:
        envelope = _ENVELOPE.load(payload)
    except ValidationError as exc:
        return json_error(422, _("The batch is not valid."), fields=exc.normalized_messages())
    if len(envelope["activities"]) > limits.MAX_BATCH_ITEMS:
        return json_error(
            422,
            _("At most %(n)d entries in one batch.", n=limits.MAX_BATCH_ITEMS),
            fields={"activities": [_("Too many entries.")]},
        )
    results = services.push(current_user, envelope["device_id"], envelope["activities"])
    db.session.commit()
    return {"results": results}


@bp.get("/sync/pull")
@bp.arguments(PullArgs, location="query", error_status_code=422)
@bp.response(200, PullOut)
@bp.alt_response(401, schema=ErrorOut)
@bp.alt_response(422, schema=ErrorOut)
@login_required
def pull_outcomes(args: dict[str, Any]) -> Any:
    """Review outcomes of my entries since the cursor, and the reference-data version."""
    try:
        body = pull.pull(current_user, args["cursor"])
    except pull.BadCursor:
        return json_error(
            422,
            _("The sync position is not valid; start again without it."),
            fields={"cursor": [_("Not a valid cursor.")]},
        )
    body["reference_version"] = reference_data(current_user)["version"]
    return body


@bp.get("/reference")
@bp.response(200, ReferenceOut)
@bp.alt_response(304)
@bp.alt_response(401, schema=ErrorOut)
@login_required
def reference() -> Any:
    """Units in my scope, their rosters, activity kinds and programmes (ETag / 304)."""
    body = reference_data(current_user)
    etag = body["version"]
    if etag in request.if_none_match:
        response = Response(status=304)
        response.set_etag(etag)
        return response
    response = current_app.json.response(ReferenceOut().dump(body))
    response.set_etag(etag)
    response.headers["Cache-Control"] = "private, no-cache"
    return response
