"""Building and changing the unit tree."""

from __future__ import annotations

from webapp.extensions import db
from webapp.models import Unit


def create_unit(
    name: str, kind: str, parent: Unit | None = None, division_code: str | None = None
) -> Unit:
    """Add a unit under `parent`; its materialized path needs its id, so flush first."""
    unit = Unit(name=name, kind=kind, parent=parent, division_code=division_code)
    db.session.add(unit)
    db.session.flush()
    unit.path = f"{parent.path if parent else '/'}{unit.id}/"
    db.session.flush()
    return unit
