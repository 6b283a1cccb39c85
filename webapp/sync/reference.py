"""Reference data for the phone: units in scope, their rosters, kinds and programmes."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from sqlalchemy import select

from webapp import scope
from webapp.extensions import db
from webapp.models import ActivityKind, Member, Program, Unit, User


def reference_data(user: User) -> dict[str, Any]:
    """The payload and its version: a hash of the content, so any change gives a new ETag."""
    units = [
        {
            "id": u.id,
            "parent_id": u.parent_id,
            "name": u.name,
            "kind": u.kind,
            "division_code": u.division_code,
        }
        for u in db.session.scalars(scope.units(user).where(Unit.active).order_by(Unit.path))
    ]
    members = [
        {
            "id": m.id,
            "unit_id": m.unit_id,
            "full_name": m.full_name,
            "is_party_member": m.is_party_member,
            "position": m.position,
        }
        for m in db.session.scalars(
            scope.members(user).where(Member.active).order_by(Member.unit_id, Member.search_name)
        )
    ]
    kinds = [
        {"id": k.id, "code": k.code, "name_vi": k.name_vi, "name_en": k.name_en}
        for k in db.session.scalars(
            select(ActivityKind)
            .where(ActivityKind.active)
            .order_by(ActivityKind.sort_order, ActivityKind.id)
        )
    ]
    programs = [
        {"id": p.id, "code": p.code, "name_vi": p.name_vi, "name_en": p.name_en}
        for p in db.session.scalars(select(Program).where(Program.active).order_by(Program.id))
    ]
    body = {"units": units, "members": members, "kinds": kinds, "programs": programs}
    encoded = json.dumps(body, sort_keys=True, ensure_ascii=False).encode()
    body["version"] = hashlib.sha256(encoded).hexdigest()[:20]
    return body
