from __future__ import annotations

import uuid
from typing import Any

from flask import Response, current_app, request
from flask_babel import gettext as _
from flask_login import current_user, login_required
from flask_smorest import Blueprint
from marshmallow import EXCLUDE, Schema, fields, validate

from webapp.api_errors import ErrorOut, json_error
from webapp.extensions import db
from webapp.photos import services
from webapp.photos.storage import ObjectNotFound

bp = Blueprint(
    "photos",
    __name__,
    url_prefix="/api/v1/photos",
    description="Photos of entries: upload once by id, read back within scope.",
)

IMAGE_TYPES = ("image/jpeg", "image/png", "image/webp", "image/heic")
_BINARY = {"schema": {"type": "string", "format": "binary"}}


class PhotoArgs(Schema):
    class Meta:
        unknown = EXCLUDE

    activity_id = fields.UUID(required=True)
    sha256 = fields.String(required=True, validate=validate.Regexp(r"^[0-9a-fA-F]{64}$"))


class PhotoOut(Schema):
    id = fields.UUID(required=True)
    activity_id = fields.UUID(required=True)
    status = fields.String(required=True, validate=validate.OneOf(["created", "unchanged"]))
    width = fields.Integer(required=True)
    height = fields.Integer(required=True)
    photos_missing = fields.Integer(required=True)


@bp.put("/<uuid:photo_id>")
@bp.arguments(PhotoArgs, location="query", error_status_code=422)
@bp.doc(requestBody={"required": True, "content": {t: _BINARY for t in IMAGE_TYPES}})
@bp.response(201, PhotoOut)
@bp.alt_response(200, schema=PhotoOut)
@bp.alt_response(400, schema=ErrorOut)
@bp.alt_response(401, schema=ErrorOut)
@bp.alt_response(403, schema=ErrorOut)
@bp.alt_response(404, schema=ErrorOut)
@bp.alt_response(409, schema=ErrorOut)
@bp.alt_response(413, schema=ErrorOut)
@bp.alt_response(415, schema=ErrorOut)
@bp.alt_response(422, schema=ErrorOut)
@login_required
def upload(args: dict[str, Any], photo_id: uuid.UUID) -> Any:
    """Store the bytes of one photo of one entry (after the entry itself was pushed)."""
    try:
        outcome = services.accept_photo(
            current_user, photo_id, args["activity_id"], args["sha256"], request.get_data()
        )
    except services.PhotoError as error:
        db.session.rollback()
        return json_error(error.status, error.message)
    db.session.commit()
    photo = outcome.photo
    body = {
        "id": photo.id,
        "activity_id": photo.activity_id,
        "status": "created" if outcome.created else "unchanged",
        "width": photo.width,
        "height": photo.height,
        "photos_missing": outcome.photos_missing,
    }
    return body, 201 if outcome.created else 200


@bp.get("/<uuid:photo_id>/<any(display, thumb):variant>")
@bp.response(200, content_type="image/jpeg")
@bp.alt_response(304)
@bp.alt_response(401, schema=ErrorOut)
@bp.alt_response(403, schema=ErrorOut)
@bp.alt_response(404, schema=ErrorOut)
@login_required
def read(photo_id: uuid.UUID, variant: str) -> Any:
    """A stored photo (metadata stripped). A photo id never changes its bytes: cache forever."""
    try:
        photo = services.readable_photo(current_user, photo_id)
    except services.PhotoError as error:
        return json_error(error.status, error.message)
    key = photo.display_key if variant == "display" else photo.thumb_key
    etag = f"{photo.sha256[:32]}-{variant}"
    if etag in request.if_none_match:
        response = Response(status=304)
    else:
        try:
            data = services.storage().get(key)
        except ObjectNotFound:
            # The record is here, its file is not (a restore without the photo store).
            current_app.logger.error("photo %s: %s missing from the store", photo_id, key)
            return json_error(404, _("The file of this photo is missing on the server."))
        response = Response(data, mimetype="image/jpeg")
    response.set_etag(etag)
    response.headers["Cache-Control"] = "private, max-age=31536000, immutable"
    return response
