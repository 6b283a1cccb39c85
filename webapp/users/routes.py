"""Administration of accounts on the web (issue 7)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("users", __name__, url_prefix="/admin/accounts", template_folder="templates")
