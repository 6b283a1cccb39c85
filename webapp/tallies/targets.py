"""Targets (chỉ tiêu): what each unit aims for in a year, and how far it has come (DESIGN.md §7).

Indicators are data: an `Indicator` measures one metric of the tallies, stated per year, per
quarter or per month, and belongs to an `IndicatorGroup`; a `Target` is one unit's value for
one indicator in one year.

How progress is measured — `evaluate(unit, last_month)`:

- Actuals are the figures of the unit's subtree (confirmed entries only) from January of
  last_month's year through last_month, read by one `query.tally` call.
- Count metrics (activities, unit_activities, participations, members_engaged, people_reached,
  households_reached) compare the actual with what the target asks for by then:
  per year, the annual target itself (the percent is progress toward it: 90 % in November
  means a tenth is still to do); per quarter, target × quarters elapsed, a partial quarter
  counting as its share of three months (through May: 5/3 quarters); per month, target ×
  months elapsed. members_engaged counts each member once over those months.
- Share metrics (active_units_share, active_every_month_share) have a target in percent
  (0–100) of the subtree's holding units; the actual is the share over January..last_month
  × 100 (units with an activity in any of those months, or in every one of them); the period
  does not matter.
- percent = actual ÷ expected × 100, None when the expected is 0 (a zero target asks nothing
  and counts as reached). An indicator is reached at ≥ 100 %; a group is met when every
  indicator in it is reached.
- Only active indicators with a target for this unit and year count; groups without any are
  left out, so "n / m groups met" counts groups with at least one target. No target: None.

Changing them — the services below serve the pages and the command line alike. Targets for a
unit need an admin whose scope covers that unit (`scope.can_manage_unit`). Indicators and
their groups are shared by every unit of every tree, so only an admin whose scope is a root
unit (no parent) may create or change them. `actor=None` means the system itself (the demo
loader) and skips those two checks. Every change writes an audit event (who, what, before →
after); services only flush, the caller commits. The CSV import (`targets_import`) applies
the same rules row by row; the default indicators and demo targets are in `targets_demo`.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from webapp.audit import record
from webapp.extensions import db
from webapp.models import METRICS, PERIODS, Indicator, IndicatorGroup, Target, Unit, User
from webapp.scope import can_manage_unit
from webapp.tallies.query import Figures, tally
from webapp.units.services import unit_label

SHARE_METRICS = ("active_units_share", "active_every_month_share")
COUNT_METRICS = tuple(m for m in METRICS if m not in SHARE_METRICS)
METRIC_LABELS = {
    "activities": _l("Activities held"),
    "unit_activities": _l("Cell and committee activities"),
    "participations": _l("Member participations"),
    "members_engaged": _l("Members taking part"),
    "people_reached": _l("People reached"),
    "households_reached": _l("Households reached"),
    "active_units_share": _l("Share of units active (%)"),
    "active_every_month_share": _l("Share of units active every month (%)"),
}
PERIOD_LABELS = {"year": _l("per year"), "quarter": _l("per quarter"), "month": _l("per month")}
FIRST_YEAR, LAST_YEAR = 2000, 2100
NAME_MAX = 200
_CODE_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,39}$")
# Plain numbers only: "1.500" is 1500 to a Vietnamese reader and 1.5 to an English one.
_NUMBER_RE = re.compile(r"^\d{1,12}(?:[.,]\d{1,2})?$")


# -- Progress -----------------------------------------------------------------------------


@dataclass
class IndicatorResult:
    indicator: Indicator
    target: float  # as stated: per year, quarter or month; a percentage for share metrics
    actual: float
    percent: float | None  # of what the target asks for by now; None if that is 0

    @property
    def reached(self) -> bool:
        return self.percent is None or self.percent >= 100 - 1e-9

    @property
    def is_share(self) -> bool:
        return self.indicator.metric in SHARE_METRICS

    @property
    def per(self) -> str:
        """'per quarter' and the like after a count's target; '' after a percentage."""
        return "" if self.is_share else str(PERIOD_LABELS[self.indicator.period])


@dataclass
class GroupResult:
    group: IndicatorGroup
    met: bool
    indicators: list[IndicatorResult] = field(default_factory=list)


@dataclass
class TargetReport:
    year: int
    through_month: int  # YYYYMM: the figures run from January of `year` through this month
    groups: list[GroupResult]
    met_count: int
    group_count: int


def evaluate(unit: Unit, last_month: int) -> TargetReport | None:
    """How far `unit` has come toward its targets of last_month's year (YYYYMM); None if it
    has no target for an active indicator that year. Semantics in the module docstring."""
    year, month = divmod(last_month, 100)
    if not 1 <= month <= 12:
        raise ValueError(f"not a month: {last_month}")
    rows = db.session.execute(
        select(Target.value, Indicator)
        .join(Indicator, Indicator.id == Target.indicator_id)
        .join(IndicatorGroup, IndicatorGroup.id == Indicator.group_id)
        .where(Target.unit_id == unit.id, Target.year == year, Indicator.active)
        .order_by(
            IndicatorGroup.sort_order,
            IndicatorGroup.code,
            Indicator.sort_order,
            Indicator.code,
        )
        .options(selectinload(Indicator.group))
    ).all()
    if not rows:
        return None
    figures = tally(unit, year * 100 + 1, last_month).total
    groups: dict[int, GroupResult] = {}
    for value, indicator in rows:
        actual = measure(figures, indicator.metric)
        expected = value * periods_elapsed(indicator, month)
        percent = actual / expected * 100 if expected > 0 else None
        result = groups.setdefault(indicator.group_id, GroupResult(indicator.group, met=False))
        result.indicators.append(IndicatorResult(indicator, value, actual, percent))
    for result in groups.values():
        result.met = all(r.reached for r in result.indicators)
    ordered = list(groups.values())
    return TargetReport(year, last_month, ordered, sum(g.met for g in ordered), len(ordered))


def measure(figures: Figures, metric: str) -> float:
    """The actual for `metric`: a count, or a share in percent (0 without holding units)."""
    if metric == "active_units_share":
        return (figures.active_share or 0.0) * 100
    if metric == "active_every_month_share":
        return (figures.every_month_share or 0.0) * 100
    return float(getattr(figures, metric))


def periods_elapsed(indicator: Indicator, month: int) -> float:
    """How many of the target's periods January..month holds (1 for yearly and share targets)."""
    if indicator.metric in SHARE_METRICS or indicator.period == "year":
        return 1.0
    return month / 3 if indicator.period == "quarter" else float(month)


# -- Rules --------------------------------------------------------------------------------


class TargetError(ValueError):
    """A change that breaks a rule; `message` says which for a person to read, `field` names
    the form field or CSV column it is about."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


def may_define_indicators(user: User) -> bool:
    """Indicators are global: only an admin whose scope is a root unit may change them."""
    return user.active and user.has_role("admin") and user.scope_unit.parent_id is None


def _require_definer(actor: User | None) -> None:
    if actor is not None and not may_define_indicators(actor):
        raise TargetError(
            _("Only an administrator of the whole organisation may change indicators.")
        )


def parse_number(text: str) -> float | None:
    """'1500', '1 500', '12,5' or '12.5' -> a number; None for anything else, "1.500" and
    "1,500" included: they read differently in Vietnamese and in English."""
    cleaned = "".join(text.split())  # spaces group digits the same way in any language
    if not _NUMBER_RE.match(cleaned):
        return None
    return float(cleaned.replace(",", "."))


def not_a_number_message(text: str) -> str:
    return _(
        "“%(value)s” is not a number: write digits without thousands separators, "
        "such as 1500 or 12,5",
        value=text,
    )


def check_target_value(indicator: Indicator, value: float) -> None:
    if not math.isfinite(value) or value < 0:
        raise TargetError(_("A target cannot be negative."), "value")
    if indicator.metric in SHARE_METRICS and value > 100:
        raise TargetError(
            _("This indicator is a percentage: the target must be between 0 and 100."), "value"
        )


def check_year(year: int) -> None:
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise TargetError(
            _("The year must be between %(first)d and %(last)d.", first=FIRST_YEAR, last=LAST_YEAR),
            "year",
        )


def _clean_code(code: str) -> str:
    code = code.strip().lower()
    if not _CODE_RE.match(code):
        raise TargetError(
            _(
                "A code has 1 to 40 characters: lower-case letters without marks, digits, "
                "“_”, “.” or “-”, starting with a letter or digit."
            ),
            "code",
        )
    return code


def _clean_names(name_vi: str, name_en: str) -> tuple[str, str]:
    name_vi, name_en = " ".join(name_vi.split()), " ".join(name_en.split())
    if not name_vi:
        raise TargetError(_("The Vietnamese name is empty."), "name_vi")
    for value, name in ((name_vi, "name_vi"), (name_en, "name_en")):
        if len(value) > NAME_MAX:
            raise TargetError(_("The name is longer than %(max)d characters.", max=NAME_MAX), name)
    return name_vi, name_en


def _check_free_code(
    model: type[IndicatorGroup] | type[Indicator], code: str, own: int | None
) -> None:
    taken = db.session.scalars(select(model.id).where(model.code == code)).first()
    if taken is not None and taken != own:
        raise TargetError(_("The code “%(code)s” is already used.", code=code), "code")


# -- Indicator groups and indicators ------------------------------------------------------


def create_group(
    actor: User | None, *, code: str, name_vi: str, name_en: str = "", sort_order: int = 0
) -> IndicatorGroup:
    _require_definer(actor)
    code = _clean_code(code)
    name_vi, name_en = _clean_names(name_vi, name_en)
    _check_free_code(IndicatorGroup, code, None)
    group = IndicatorGroup(code=code, name_vi=name_vi, name_en=name_en, sort_order=sort_order)
    db.session.add(group)
    db.session.flush()
    _audit("indicator_group.create", group, actor, after=_group_snapshot(group))
    return group


def update_group(
    actor: User | None,
    group: IndicatorGroup,
    *,
    code: str,
    name_vi: str,
    name_en: str,
    sort_order: int,
) -> bool:
    """Rename or reorder a group; False if nothing changed."""
    _require_definer(actor)
    code = _clean_code(code)
    name_vi, name_en = _clean_names(name_vi, name_en)
    _check_free_code(IndicatorGroup, code, group.id)
    before = _group_snapshot(group)
    group.code, group.name_vi, group.name_en = code, name_vi, name_en
    group.sort_order = sort_order
    after = _group_snapshot(group)
    if after == before:
        return False
    db.session.flush()
    _audit("indicator_group.update", group, actor, before=before, after=after)
    return True


def deactivate_group(actor: User | None, group: IndicatorGroup) -> int:
    """Stop using a group: its indicators stop counting (targets kept). Returns how many."""
    _require_definer(actor)
    stopped = [i for i in group.indicators if i.active]
    for indicator in stopped:
        indicator.active = False
    if not stopped:
        return 0
    db.session.flush()
    _audit(
        "indicator_group.deactivate",
        group,
        actor,
        before={"active_indicators": [i.code for i in stopped]},
        after={"active_indicators": []},
    )
    return len(stopped)


def create_indicator(
    actor: User | None,
    *,
    group: IndicatorGroup,
    code: str,
    name_vi: str,
    name_en: str = "",
    metric: str,
    period: str = "year",
    sort_order: int = 0,
) -> Indicator:
    _require_definer(actor)
    code = _clean_code(code)
    name_vi, name_en = _clean_names(name_vi, name_en)
    _check_metric(metric, period)
    _check_free_code(Indicator, code, None)
    indicator = Indicator(
        group=group,
        code=code,
        name_vi=name_vi,
        name_en=name_en,
        metric=metric,
        period="year" if metric in SHARE_METRICS else period,
        sort_order=sort_order,
        active=True,
    )
    db.session.add(indicator)
    db.session.flush()
    _audit("indicator.create", indicator, actor, after=_indicator_snapshot(indicator))
    return indicator


def update_indicator(
    actor: User | None,
    indicator: Indicator,
    *,
    group: IndicatorGroup,
    code: str,
    name_vi: str,
    name_en: str,
    metric: str,
    period: str,
    sort_order: int,
    active: bool,
) -> bool:
    """Change an indicator; False if nothing changed. Its metric and period stay as they are
    once it has targets: those were set for what it measured."""
    _require_definer(actor)
    code = _clean_code(code)
    name_vi, name_en = _clean_names(name_vi, name_en)
    _check_metric(metric, period)
    _check_free_code(Indicator, code, indicator.id)
    period = "year" if metric in SHARE_METRICS else period
    if (metric, period) != (indicator.metric, indicator.period) and _has_targets(indicator):
        raise TargetError(
            _(
                "This indicator already has targets, so what it measures cannot change; "
                "add a new indicator instead."
            ),
            "metric",
        )
    before = _indicator_snapshot(indicator)
    indicator.group, indicator.code = group, code
    indicator.name_vi, indicator.name_en = name_vi, name_en
    indicator.metric, indicator.period = metric, period
    indicator.sort_order, indicator.active = sort_order, active
    after = _indicator_snapshot(indicator)
    if after == before:
        return False
    db.session.flush()
    action = "indicator.deactivate" if before["active"] and not active else "indicator.update"
    _audit(action, indicator, actor, before=before, after=after)
    return True


def deactivate_indicator(actor: User | None, indicator: Indicator) -> bool:
    """Stop counting an indicator (its targets are kept); False if it was not in use."""
    _require_definer(actor)
    if not indicator.active:
        return False
    indicator.active = False
    db.session.flush()
    _audit(
        "indicator.deactivate", indicator, actor, before={"active": True}, after={"active": False}
    )
    return True


def _check_metric(metric: str, period: str) -> None:
    if metric not in METRICS:
        raise TargetError(_("Unknown metric “%(metric)s”.", metric=metric), "metric")
    if period not in PERIODS:
        raise TargetError(_("Unknown period “%(period)s”.", period=period), "period")


def _has_targets(indicator: Indicator) -> bool:
    query = select(Target.year).where(Target.indicator_id == indicator.id).limit(1)
    return db.session.scalars(query).first() is not None


# -- Targets ------------------------------------------------------------------------------


def check_may_set(actor: User | None, unit: Unit) -> None:
    if actor is not None and not can_manage_unit(actor, unit):
        raise TargetError(
            _(
                "You may not set targets for “%(unit)s”: it is outside your scope.",
                unit=unit_label(unit),
            ),
            "unit",
        )


def get_target(indicator: Indicator, unit: Unit, year: int) -> Target | None:
    return db.session.get(Target, (indicator.id, unit.id, year))


def set_target(
    actor: User | None, indicator: Indicator, unit: Unit, year: int, value: float
) -> str:
    """Create or change a target: 'created', 'updated' or 'unchanged'."""
    if not indicator.active:
        raise TargetError(
            _("The indicator “%(code)s” is no longer in use.", code=indicator.code), "indicator"
        )
    check_may_set(actor, unit)
    check_year(year)
    check_target_value(indicator, value)
    target = get_target(indicator, unit, year)
    if target is not None and target.value == value:
        return "unchanged"
    before = None if target is None else {"value": target.value}
    if target is None:
        target = Target(indicator_id=indicator.id, unit_id=unit.id, year=year, value=value)
        db.session.add(target)
    else:
        target.value = value
    db.session.flush()
    _audit_target("target.set", indicator, unit, year, actor, before, {"value": value})
    return "created" if before is None else "updated"


def delete_target(actor: User | None, indicator: Indicator, unit: Unit, year: int) -> bool:
    """Remove a target; False if there was none."""
    check_may_set(actor, unit)
    target = get_target(indicator, unit, year)
    if target is None:
        return False
    before = {"value": target.value}
    db.session.delete(target)
    db.session.flush()
    _audit_target("target.delete", indicator, unit, year, actor, before, None)
    return True


# -- Audit --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _TargetRef:
    """What `audit.record` needs of a target, whose key has three parts."""

    __tablename__ = "target"
    id: str


def _audit(
    action: str,
    obj: IndicatorGroup | Indicator,
    actor: User | None,
    *,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    record(action, obj, actor_id=actor.id if actor else None, before=before, after=after)


def _audit_target(
    action: str,
    indicator: Indicator,
    unit: Unit,
    year: int,
    actor: User | None,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> None:
    ref = _TargetRef(f"{indicator.id}:{unit.id}:{year}")
    context = {"indicator": indicator.code, "unit_id": unit.id, "year": year}
    record(
        action,
        ref,
        actor_id=actor.id if actor else None,
        unit_id=unit.id,
        before=None if before is None else context | before,
        after=None if after is None else context | after,
    )


def _group_snapshot(group: IndicatorGroup) -> dict[str, Any]:
    return {
        "code": group.code,
        "name_vi": group.name_vi,
        "name_en": group.name_en,
        "sort_order": group.sort_order,
    }


def _indicator_snapshot(indicator: Indicator) -> dict[str, Any]:
    return {
        "group": indicator.group.code,
        "code": indicator.code,
        "name_vi": indicator.name_vi,
        "name_en": indicator.name_en,
        "metric": indicator.metric,
        "period": indicator.period,
        "sort_order": indicator.sort_order,
        "active": indicator.active,
    }
