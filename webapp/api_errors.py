"""The JSON error body every API answer uses, and its schema for the OpenAPI document."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify
from marshmallow import Schema, fields


class _ErrorBody(Schema):
    status = fields.Integer(required=True)
    title = fields.String(required=True)
    message = fields.String()
    fields = fields.Dict(keys=fields.String())


class ErrorOut(Schema):
    error = fields.Nested(_ErrorBody, required=True)


def json_error(
    status: int, message: str, *, title: str | None = None, fields: Any = None
) -> tuple[Response, int]:
    body: dict[str, Any] = {"status": status, "title": title or message, "message": message}
    if fields:
        body["fields"] = fields
    return jsonify({"error": body}), status
