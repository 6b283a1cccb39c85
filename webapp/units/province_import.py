"""Importing a province's official communes from the admin page: the list of provinces, and
`import_divisions` run for one of them with a report of what it did, unit by unit, so the
page can preview exactly what applying will do (run it, report, roll back).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from flask_babel import gettext as _
from sqlalchemy import and_, or_, select
from vietnam_provinces import Province

from webapp.audit import record
from webapp.extensions import db
from webapp.models import Unit, User
from webapp.text import fold
from webapp.units.divisions import divisions_of, import_divisions, province_code
from webapp.units.tree import UnitError, check_manage


def provinces() -> list[tuple[str, str]]:
    """(code, name) of every province in the official list, by name."""
    return sorted(
        ((province_code(p), p.name) for p in Province.iter_all()),
        key=lambda pair: fold(pair[1]),
    )


def province_by_code(code: str) -> Province | None:
    for province in Province.iter_all():
        if province_code(province) == code:
            return province
    return None


@dataclass
class ImportPlan:
    """What importing a province does: units created, renamed or given their code."""

    province: str
    code: str
    root_id: int = 0
    created: list[tuple[str, str]] = field(default_factory=list)  # (code, name)
    updated: list[tuple[str, str, str]] = field(default_factory=list)  # (code, before, after)
    unchanged: int = 0


def import_province(actor: User, province: Province) -> ImportPlan:
    """Run `import_divisions` for a province already in the actor's scope and report what it
    did, unit by unit. The preview calls this and rolls back; applying it commits."""
    code = province_code(province)
    root = db.session.scalars(select(Unit).where(Unit.division_code == code)).first()
    if root is None:
        raise UnitError(
            _(
                "%(province)s is not in the unit tree yet. A new province is added once, when "
                "the server is set up: flask units import-divisions --code %(code)s",
                province=province.name,
                code=code,
            )
        )
    check_manage(actor, root)
    codes = [code, *(d.code for d in divisions_of(province))]
    watched = or_(
        Unit.division_code.in_(codes),
        and_(Unit.parent_id == root.id, Unit.division_code.is_(None)),
    )
    before = {
        unit_id: (old_code, name)
        for unit_id, old_code, name in db.session.execute(
            select(Unit.id, Unit.division_code, Unit.name).where(watched)
        )
    }
    root, counts = import_divisions(province)
    plan = ImportPlan(province.name, code, root.id, unchanged=counts.unchanged)
    rows = db.session.execute(
        select(Unit.id, Unit.division_code, Unit.name)
        .where(Unit.division_code.in_(codes))
        .order_by(Unit.division_code)
    )
    for unit_id, new_code, name in rows:
        if unit_id not in before:
            plan.created.append((new_code, name))
        elif before[unit_id] != (new_code, name):
            plan.updated.append((new_code, before[unit_id][1], name))
    if plan.created or plan.updated:
        record(
            "unit.import_divisions",
            root,
            actor_id=actor.id,
            unit_id=root.id,
            after={
                "province": province.name,
                "created": [f"{c} {n}" for c, n in plan.created],
                "updated": [f"{c} {old} → {new}" for c, old, new in plan.updated],
                "unchanged": plan.unchanged,
            },
        )
    return plan
