"""All models, one module per aggregate; importing this package registers every table."""

from webapp.models.activity import STATUSES, Activity, ActivityRevision, Participation, Photo
from webapp.models.audit import AuditEvent
from webapp.models.base import Base, utcnow
from webapp.models.member import Member
from webapp.models.reference import ActivityKind, Program
from webapp.models.unit import UNIT_KINDS, Unit
from webapp.models.user import ROLE_RANK, ROLES, User

__all__ = [
    "ROLES",
    "ROLE_RANK",
    "STATUSES",
    "UNIT_KINDS",
    "Activity",
    "ActivityKind",
    "ActivityRevision",
    "AuditEvent",
    "Base",
    "Member",
    "Participation",
    "Photo",
    "Program",
    "Unit",
    "User",
    "utcnow",
]
