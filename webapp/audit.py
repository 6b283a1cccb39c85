"""Writing audit events: one helper so every change is recorded the same way."""

from __future__ import annotations

from typing import Any

from webapp.extensions import db
from webapp.models import AuditEvent


def record(
    action: str,
    obj: Any,
    *,
    actor_id: int | None,
    unit_id: int | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEvent:
    event = AuditEvent(
        action=action,
        object_type=type(obj).__tablename__,
        object_id=str(obj.id),
        actor_id=actor_id,
        unit_id=unit_id,
        before=before,
        after=after,
    )
    db.session.add(event)
    return event
