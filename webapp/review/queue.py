"""The review queue: entries in the reviewer's scope, filtered, newest first."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import Select, func, select
from sqlalchemy.orm import selectinload

from webapp import scope
from webapp.extensions import db
from webapp.models import Activity, ActivityKind, Participation, Program, Unit, User

PAGE_SIZE = 30


@dataclass(frozen=True)
class QueueFilters:
    unit_id: int | None = None
    month: date | None = None  # first day of the month
    kind_id: int | None = None
    program_id: int | None = None
    status: str | None = "submitted"
    page: int = 1


@dataclass(frozen=True)
class QueuePage:
    entries: list[Activity]
    total: int
    page: int
    pages: int
    photos_arrived: dict[object, int]
    places: dict[str, str]


def _next_month(month: date) -> date:
    return date(month.year + (month.month == 12), month.month % 12 + 1, 1)


def _filtered(user: User, filters: QueueFilters) -> Select[tuple[Activity]]:
    stmt = select(Activity).where(scope.activity_filter(user))
    if filters.unit_id is not None:
        unit = db.session.get(Unit, filters.unit_id)
        if unit is None or not scope.can_read_unit(user, unit):
            return stmt.where(False)
        stmt = stmt.where(
            Activity.unit_id.in_(select(Unit.id).where(scope.in_subtree(Unit.path, unit.path)))
        )
    if filters.month is not None:
        stmt = stmt.where(
            Activity.occurred_on >= filters.month, Activity.occurred_on < _next_month(filters.month)
        )
    if filters.kind_id is not None:
        stmt = stmt.where(Activity.kind_id == filters.kind_id)
    if filters.program_id is not None:
        stmt = stmt.where(Activity.program_id == filters.program_id)
    if filters.status:
        stmt = stmt.where(Activity.status == filters.status)
    return stmt


def queue_page(user: User, filters: QueueFilters) -> QueuePage:
    stmt = _filtered(user, filters)
    total = db.session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(max(1, filters.page), pages)
    entries = list(
        db.session.scalars(
            stmt.options(
                selectinload(Activity.kind),
                selectinload(Activity.program),
                selectinload(Activity.unit),
                selectinload(Activity.participations).selectinload(Participation.member),
                selectinload(Activity.photos),
            )
            .order_by(Activity.occurred_on.desc(), Activity.received_at.desc(), Activity.id)
            .offset((page - 1) * PAGE_SIZE)
            .limit(PAGE_SIZE)
        )
    )
    arrived = {a.id: len(a.photos) for a in entries}
    return QueuePage(entries, total, page, pages, arrived, place_names(entries))


def place_names(entries: list[Activity]) -> dict[str, str]:
    """Commune names for the division codes the entries mention."""
    codes = {a.division_code for a in entries if a.division_code}
    if not codes:
        return {}
    rows = db.session.execute(
        select(Unit.division_code, Unit.name).where(Unit.division_code.in_(codes))
    )
    return {code: name for code, name in rows if code}


def filter_choices(user: User) -> dict[str, list[tuple[int, str]]]:
    units = db.session.execute(
        scope.units(user)
        .with_only_columns(Unit.id, Unit.name, Unit.path)
        .where(Unit.active)
        .order_by(Unit.path)
        .limit(2000)
    ).all()
    kinds = db.session.execute(
        select(ActivityKind.id, ActivityKind.name_vi, ActivityKind.name_en).order_by(
            ActivityKind.sort_order, ActivityKind.id
        )
    ).all()
    programs = db.session.execute(
        select(Program.id, Program.name_vi, Program.name_en).order_by(Program.id)
    ).all()
    return {"units": [(u.id, u.name) for u in units], "kinds": kinds, "programs": programs}
