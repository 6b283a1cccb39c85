"""The audit log on the web (issue 7)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("auditlog", __name__, url_prefix="/admin/audit", template_folder="templates")
