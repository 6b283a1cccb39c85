"""The audit log on the web (issue 7): read-only, administrators only, their scope only."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, abort, render_template, request
from flask.typing import ResponseReturnValue
from flask_login import current_user

from webapp import scope
from webapp.auditlog import services
from webapp.auth.decorators import role_required
from webapp.extensions import db
from webapp.models import Unit
from webapp.units import tree

bp = Blueprint("auditlog", __name__, url_prefix="/admin/audit", template_folder="templates")

TEXT_MAX = 64
EARLIEST, LATEST = date(1900, 1, 1), date(9000, 12, 31)
MAX_UNIT_ID = 2**31 - 1
MAX_EVENT_ID = 2**63 - 1


def _int_arg(name: str, maximum: int) -> int | None:
    value = request.args.get(name, "")
    if not (value.isascii() and value.isdigit() and len(value) < 20):
        return None
    number = int(value)
    return number if 0 < number <= maximum else None


def _date_arg(name: str) -> date | None:
    """A day from a date input; far-off years (which would overflow in time zone arithmetic)
    are ignored like malformed ones."""
    try:
        day = date.fromisoformat(request.args.get(name, ""))
    except ValueError:
        return None
    return day if EARLIEST <= day <= LATEST else None


def _filters() -> services.Filters:
    unit = None
    raw_unit = request.args.get("unit", "")
    unit_id = _int_arg("unit", MAX_UNIT_ID)
    if raw_unit and unit_id is None:
        abort(404)
    if unit_id is not None:
        unit = db.session.get(Unit, unit_id)
        if unit is None or not scope.can_manage_unit(current_user, unit):
            abort(404)
    return services.Filters(
        who=request.args.get("who", "").strip()[:TEXT_MAX],
        unit=unit,
        action=request.args.get("action", "").strip()[:TEXT_MAX],
        since=_date_arg("since"),
        until=_date_arg("until"),
        older_than=_int_arg("older", MAX_EVENT_ID),
        newer_than=_int_arg("newer", MAX_EVENT_ID),
    )


@bp.get("/")
@role_required("admin")
def index() -> ResponseReturnValue:
    filters = _filters()
    result = services.page(current_user, filters)
    units = tree.unit_choices_below(current_user.scope_unit)
    if filters.unit is not None and filters.unit.id not in {i for i, _ in units}:
        units.append(
            (filters.unit.id, tree.labels([filters.unit], current_user.scope_unit)[filters.unit.id])
        )
    return render_template(
        "auditlog/index.html",
        filters=filters,
        page=result,
        args=filters.query_args(),
        units=units,
        actions=[(a, services.action_label(a)) for a in services.actions(current_user)],
        action_label=services.action_label,
        object_type_label=services.object_type_label,
        diff=services.diff,
    )
