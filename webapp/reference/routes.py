"""Activity kinds and programmes on the web (issue 7)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("reference", __name__, url_prefix="/admin/reference", template_folder="templates")
