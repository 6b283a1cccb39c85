"""What each role sees first: real figures, always through the scope module."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import distinct, func, select
from sqlalchemy.orm import selectinload

from webapp import scope
from webapp.extensions import db
from webapp.models import CELL_KINDS, Activity, Participation, Unit, User


@dataclass(frozen=True)
class MonthTotals:
    month_start: date
    activities: int
    unit_activities: int
    active_units: int
    participations: int
    members_engaged: int
    people_reached: int
    households_reached: int
    pending: int


def previous_month(today: date) -> tuple[date, date]:
    """[first day of last month, first day of this month)."""
    this_month = today.replace(day=1)
    last_month = (this_month - timedelta(days=1)).replace(day=1)
    return last_month, this_month


def recent_entries(user: User, limit: int = 10) -> list[Activity]:
    stmt = (
        scope.activities(user)
        .options(selectinload(Activity.kind), selectinload(Activity.unit))
        .order_by(Activity.occurred_on.desc(), Activity.received_at.desc())
        .limit(limit)
    )
    return list(db.session.scalars(stmt))


def waiting_entries(user: User, limit: int = 10) -> tuple[int, list[Activity]]:
    visible = scope.activity_filter(user)
    count = db.session.scalar(
        select(func.count()).select_from(Activity).where(visible, Activity.status == "submitted")
    )
    stmt = (
        select(Activity)
        .where(visible, Activity.status == "submitted")
        .options(selectinload(Activity.kind), selectinload(Activity.unit))
        .order_by(Activity.received_at.desc())
        .limit(limit)
    )
    return count or 0, list(db.session.scalars(stmt))


def month_totals(user: User, today: date) -> MonthTotals:
    """Confirmed figures of last month for the user's subtree (DESIGN.md §7), pending beside."""
    start, end = previous_month(today)
    in_month = (
        scope.activity_filter(user),
        Activity.occurred_on >= start,
        Activity.occurred_on < end,
    )
    confirmed = (*in_month, Activity.status == "confirmed")
    row = db.session.execute(
        select(
            func.count(),
            func.count().filter(Unit.kind.in_(CELL_KINDS)),
            func.count(distinct(Activity.unit_id)),
            func.coalesce(func.sum(Activity.people_reached), 0),
            func.coalesce(func.sum(Activity.households_reached), 0),
        )
        .join(Unit, Unit.id == Activity.unit_id)
        .where(*confirmed)
    ).one()
    people = db.session.execute(
        select(func.count(), func.count(distinct(Participation.member_id)))
        .join(Activity, Activity.id == Participation.activity_id)
        .where(*confirmed)
    ).one()
    pending = db.session.scalar(
        select(func.count()).select_from(Activity).where(*in_month, Activity.status == "submitted")
    )
    return MonthTotals(
        month_start=start,
        activities=row[0],
        unit_activities=row[1],
        active_units=row[2],
        participations=people[0],
        members_engaged=people[1],
        people_reached=int(row[3]),
        households_reached=int(row[4]),
        pending=pending or 0,
    )
