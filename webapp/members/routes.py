"""Administration of member rosters on the web (issue 7)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("members", __name__, url_prefix="/admin/members", template_folder="templates")
