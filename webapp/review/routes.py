from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from webapp import scope
from webapp.auth.decorators import role_required
from webapp.extensions import db
from webapp.models import Activity, ActivityRevision, AuditEvent, Participation, User
from webapp.review import queue, services
from webapp.review.forms import BulkConfirmForm, ReviewActionForm
from webapp.security import safe_next

bp = Blueprint("review", __name__, url_prefix="/review", template_folder="templates")


def _int_arg(name: str) -> int | None:
    value = request.args.get(name, "")
    return int(value) if value.isdigit() and len(value) < 10 else None


def _month_arg() -> date | None:
    raw = request.args.get("month", "")
    try:
        year, month = raw.split("-")
        return date(int(year), int(month), 1)
    except ValueError:
        return None


def _filters() -> queue.QueueFilters:
    status = request.args.get("status", "submitted")
    return queue.QueueFilters(
        unit_id=_int_arg("unit"),
        month=_month_arg(),
        kind_id=_int_arg("kind"),
        program_id=_int_arg("program"),
        status=status if status in ("submitted", "confirmed", "returned") else None,
        page=_int_arg("page") or 1,
    )


@bp.get("/")
@role_required("secretary")
def index() -> ResponseReturnValue:
    filters = _filters()
    page = queue.queue_page(current_user, filters)
    return render_template(
        "review/queue.html",
        page=page,
        filters=filters,
        choices=queue.filter_choices(current_user),
        action_form=ReviewActionForm(),
        bulk_form=BulkConfirmForm(),
        labels=entry_labels(),
        args=request.args.to_dict(),
    )


def entry_labels() -> dict[str, str]:
    """The words every entry on a page repeats, translated once (review/_entry.html)."""
    return {
        "who": _("Who took part"),
        "where": _("Where"),
        "map": _("map"),
        "people": _("People reached"),
        "households": _("Households reached"),
    }


def _visible_or_404(activity_id: uuid.UUID) -> Activity:
    activity = db.session.scalars(
        select(Activity)
        .where(Activity.id == activity_id)
        .options(
            selectinload(Activity.participations).selectinload(Participation.member),
            selectinload(Activity.photos),
        )
    ).one_or_none()
    if activity is None or not scope.can_read_activity(current_user, activity):
        abort(404)
    return activity


@bp.get("/<uuid:activity_id>")
@role_required("secretary")
def detail(activity_id: uuid.UUID) -> ResponseReturnValue:
    activity = _visible_or_404(activity_id)
    events = db.session.scalars(
        select(AuditEvent)
        .where(AuditEvent.object_type == "activity", AuditEvent.object_id == str(activity.id))
        .order_by(AuditEvent.at, AuditEvent.id)
    ).all()
    actors = {
        u.id: u
        for u in db.session.scalars(
            select(User).where(User.id.in_({e.actor_id for e in events if e.actor_id}))
        )
    }
    revisions = db.session.scalars(
        select(ActivityRevision)
        .where(ActivityRevision.activity_id == activity.id)
        .order_by(ActivityRevision.revision.desc())
    ).all()
    form = ReviewActionForm(revision=str(activity.revision))
    return render_template(
        "review/detail.html",
        a=activity,
        events=events,
        actors=actors,
        revisions=revisions,
        form=form,
        refusal=services.may_review(current_user, activity),
        places=queue.place_names([activity]),
        labels=entry_labels(),
        status_label=services.status_label,
        creator=db.session.get(User, activity.created_by_id),
    )


@bp.post("/<uuid:activity_id>/<any(confirm, return, unconfirm):action>")
@role_required("secretary")
def act(activity_id: uuid.UUID, action: str) -> ResponseReturnValue:
    form = ReviewActionForm()
    back = safe_next(request.form.get("next"), "review.index")
    if not form.validate_on_submit():
        flash(_("The form was not valid: %(errors)s", errors=_form_errors(form)), "error")
        return redirect(back)
    revision = form.revision.data
    services.start()
    try:
        services.transition(
            current_user,
            activity_id,
            action,
            form.reason(),
            expected_revision=int(revision) if revision and revision.isdigit() else None,
        )
    except services.ReviewError as error:
        db.session.rollback()
        flash(error.message, "error")
        return redirect(back)
    db.session.commit()
    messages = {
        "confirm": _("Entry confirmed."),
        "return": _("Entry returned with your reason."),
        "unconfirm": _("Entry put back to waiting for review."),
    }
    flash(messages[action], "info")
    return redirect(back)


@bp.post("/confirm-selected")
@role_required("secretary")
def confirm_selected() -> ResponseReturnValue:
    form = BulkConfirmForm()
    back = safe_next(request.form.get("next"), "review.index")
    if not form.validate_on_submit():
        flash(_("The form was not valid: %(errors)s", errors=_form_errors(form)), "error")
        return redirect(back)
    ids = _uuids(request.form.getlist("ids"))
    if not ids:
        flash(_("Select at least one entry."), "error")
        return redirect(back)
    services.start()
    outcome = services.confirm_many(current_user, ids)
    db.session.commit()
    if outcome.done:
        flash(
            ngettext("%(num)d entry confirmed.", "%(num)d entries confirmed.", len(outcome.done)),
            "info",
        )
    for _id, message in outcome.refused:
        flash(message, "error")
    return redirect(back)


def _uuids(values: list[str]) -> list[uuid.UUID]:
    result = []
    for value in values[:200]:
        try:
            result.append(uuid.UUID(value))
        except ValueError:
            continue
    return result


def _form_errors(form: Any) -> str:
    return "; ".join(str(m) for messages in form.errors.values() for m in messages)
