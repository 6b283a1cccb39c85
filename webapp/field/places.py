"""Communes a user's entries can take place in, and each unit's own commune as the default.

The sync API's reference data holds the units in the user's scope; a cadre's scope is their cell,
which does not include the commune above it. The capture form defaults the place to that commune,
so the phone keeps this small list next to the reference data.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import or_, select

from webapp import scope
from webapp.extensions import db
from webapp.models import Unit, User


def places(user: User) -> dict[str, Any]:
    in_scope = list(db.session.execute(scope.units(user).with_only_columns(Unit.id, Unit.path)))
    above = set(user.scope_unit.ancestor_ids)
    communes = {
        unit.id: unit
        for unit in db.session.scalars(
            select(Unit)
            .where(Unit.kind == "commune", Unit.active, Unit.division_code.is_not(None))
            .where(or_(Unit.id.in_(above), scope.in_subtree(Unit.path, user.scope_unit.path)))
            .order_by(Unit.search_name)
        )
    }
    unit_commune: dict[str, str] = {}
    for unit_id, path in in_scope:
        ids = [int(part) for part in path.strip("/").split("/") if part]
        nearest = next((communes[i] for i in reversed(ids) if i in communes), None)
        if nearest is not None and nearest.division_code:
            unit_commune[str(unit_id)] = nearest.division_code
    return {
        "communes": [{"division_code": c.division_code, "name": c.name} for c in communes.values()],
        "unit_commune": unit_commune,
    }
