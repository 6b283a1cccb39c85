"""Administration of the unit tree on the web (issue 7)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("units", __name__, url_prefix="/admin/units", template_folder="templates")
