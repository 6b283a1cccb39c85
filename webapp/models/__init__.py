"""All models, one module per aggregate; importing this package registers every table."""

from webapp.models.activity import STATUSES, Activity, ActivityRevision, Participation, Photo
from webapp.models.audit import AuditEvent
from webapp.models.base import Base, utcnow
from webapp.models.member import Member
from webapp.models.reference import ActivityKind, Program
from webapp.models.tally import (
    METRICS,
    PERIODS,
    Indicator,
    IndicatorGroup,
    TallyMonth,
    TallyPresence,
    TallyReach,
    Target,
)
from webapp.models.unit import CELL_KINDS, HOLDING_KINDS, UNIT_KINDS, Unit
from webapp.models.user import ROLE_RANK, ROLES, User, UserSession

__all__ = [
    "CELL_KINDS",
    "HOLDING_KINDS",
    "METRICS",
    "PERIODS",
    "ROLES",
    "ROLE_RANK",
    "STATUSES",
    "UNIT_KINDS",
    "Activity",
    "ActivityKind",
    "ActivityRevision",
    "AuditEvent",
    "Base",
    "Indicator",
    "IndicatorGroup",
    "Member",
    "Participation",
    "Photo",
    "Program",
    "TallyMonth",
    "TallyPresence",
    "TallyReach",
    "Target",
    "Unit",
    "User",
    "UserSession",
    "utcnow",
]
