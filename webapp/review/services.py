"""The review state machine (DESIGN.md §6), used by the pages, the API and the command line.

    submitted --confirm--> confirmed --unconfirm (reason)--> submitted
    submitted --return (reason)--> returned --(the cadre edits and resends: sync push)--> submitted

Who: a secretary or above whose scope covers the entry's unit, who neither logged the entry nor
took part in it. Two reviewers acting at once: the row is locked (PostgreSQL: FOR UPDATE;
SQLite: the write lock of BEGIN IMMEDIATE) and the state re-read, so exactly one wins and the
other is told who got there first.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from flask_babel import gettext as _
from sqlalchemy import select

from webapp import scope
from webapp.audit import record
from webapp.database import begin_write
from webapp.extensions import db
from webapp.models import Activity, User, utcnow
from webapp.tallies import rollup
from webapp.text import unstorable

# action -> (states it may start from, state it leads to, reason required)
TRANSITIONS: dict[str, tuple[tuple[str, ...], str, bool]] = {
    "confirm": (("submitted",), "confirmed", False),
    "return": (("submitted",), "returned", True),
    "unconfirm": (("confirmed",), "submitted", True),
}
REASON_LENGTH = 500


class ReviewError(Exception):
    """A refused transition, with a message in the user's language."""

    def __init__(self, message: str, status: int = 409) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


@dataclass(frozen=True)
class BulkOutcome:
    done: list[uuid.UUID]
    refused: list[tuple[uuid.UUID, str]]


def may_review(user: User, activity: Activity) -> str | None:
    """Why `user` may not review `activity`, or None if they may."""
    if not user.has_role("secretary"):
        return _("Only secretaries and above review entries.")
    if not scope.can_read_activity(user, activity):
        return _("This entry is outside your scope.")
    if activity.created_by_id == user.id:
        return _("Nobody reviews an entry they logged themselves.")
    if user.member_id is not None and any(
        p.member_id == user.member_id for p in activity.participations
    ):
        return _("Nobody reviews an entry they took part in.")
    return None


def _already_done_message(activity: Activity) -> str:
    reviewer = db.session.get(User, activity.reviewed_by_id) if activity.reviewed_by_id else None
    name = reviewer.full_name if reviewer else "?"
    if activity.status == "confirmed":
        return _("Already confirmed by %(name)s.", name=name)
    if activity.status == "returned":
        return _("Already returned by %(name)s.", name=name)
    return _("This entry is now %(status)s; reload the page.", status=status_label(activity.status))


def status_label(status: str) -> str:
    labels = {
        "submitted": _("waiting for review"),
        "confirmed": _("confirmed"),
        "returned": _("returned"),
    }
    return labels.get(status, status)


def transition(
    actor: User,
    activity_id: uuid.UUID,
    action: str,
    reason: str | None = None,
    *,
    expected_revision: int | None = None,
) -> Activity:
    """Apply one review action; the caller commits. Raises ReviewError when refused."""
    if action not in TRANSITIONS:
        raise ReviewError(_("Unknown review action."), 400)
    sources, target, needs_reason = TRANSITIONS[action]
    reason = (reason or "").strip() or None
    if needs_reason and not reason:
        raise ReviewError(_("Give a reason."), 422)
    if reason and unstorable(reason):
        raise ReviewError(_("The reason contains characters that cannot be stored."), 422)
    if reason and len(reason) > REASON_LENGTH:
        raise ReviewError(
            _("The reason is too long (at most %(n)d characters).", n=REASON_LENGTH), 422
        )
    activity = db.session.scalars(
        select(Activity).where(Activity.id == activity_id).with_for_update()
    ).one_or_none()
    if activity is None:
        raise ReviewError(_("This entry does not exist."), 404)
    refusal = may_review(actor, activity)
    if refusal:
        raise ReviewError(refusal, 403)
    if activity.status not in sources:
        raise ReviewError(_already_done_message(activity))
    if expected_revision is not None and activity.revision != expected_revision:
        raise ReviewError(_("The entry was changed since you opened it; look at it again."))
    before = {"status": activity.status, "revision": activity.revision}
    rollup.watch([activity.id])  # under the row lock: the figures it stood for until now
    activity.status = target
    activity.reviewed_by_id = actor.id
    activity.reviewed_at = utcnow()
    activity.review_note = reason  # a confirmation clears an earlier return's reason
    activity.updated_at = utcnow()  # the phone hears of it through pull
    db.session.flush()
    record(
        f"activity.{action}",
        activity,
        actor_id=actor.id,
        unit_id=activity.unit_id,
        before=before,
        after={"status": target, "revision": activity.revision, "reason": reason},
    )
    return activity


def start() -> None:
    """Begin the write transaction a review action needs (see webapp.database)."""
    begin_write()


def confirm_many(actor: User, activity_ids: Iterable[uuid.UUID]) -> BulkOutcome:
    """Confirm each entry on its own: one refusal does not stop the others.

    Rows are locked in id order, so two bulk confirms of overlapping entries cannot deadlock;
    the outcome keeps the order they were asked in.
    """
    wanted = list(dict.fromkeys(activity_ids))
    refusals: dict[uuid.UUID, str] = {}
    for activity_id in sorted(wanted):
        try:
            with db.session.begin_nested():
                transition(actor, activity_id, "confirm")
        except ReviewError as error:
            refusals[activity_id] = error.message
    done = [i for i in wanted if i not in refusals]
    return BulkOutcome(done, [(i, refusals[i]) for i in wanted if i in refusals])
