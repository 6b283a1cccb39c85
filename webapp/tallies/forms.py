"""The tally page's GET form: reading and checking its query string, and the period choices.

The canonical period is `from`/`to` (YYYY-MM). `period` is a one-shot quick choice (a month,
quarter or year, the year so far, the last 12 months): when present it wins and the page comes
back showing the months it stands for, so the next submission uses `from`/`to` again.
Values that decide which figures are shown are checked and refused with a message; values that
only change the presentation (sort, direction, chart metric) fall back to their defaults.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date

from flask_babel import gettext as _

from webapp.extensions import db
from webapp.i18n import fmt_month
from webapp.models import ActivityKind, Program, Unit
from webapp.tallies.months import add_months, first_day, month_of, parse_month
from webapp.tallies.query import Filters

MAX_MONTHS = 120
METRICS = (
    "activities",
    "unit_activities",
    "participations",
    "members_engaged",
    "people_reached",
    "households_reached",
    "active_units",
)
SORT_KEYS = ("name", *METRICS, "pending_activities", "share")
_QUICK = re.compile(r"^(?:(m)(\d{4})-(\d{1,2})|(q)(\d{4})-([1-4])|(y)(\d{4})|(ytd)|(12m))$")


@dataclass(frozen=True)
class TallyQuery:
    unit: Unit
    first: int  # YYYYMM
    last: int
    filters: Filters
    sort: str = "name"
    descending: bool = False
    metric: str = "activities"

    def args(self, **overrides: object) -> dict[str, object]:
        """The canonical query string, defaults left out; `overrides` replace or add."""
        args: dict[str, object] = {
            "unit": self.unit.id,
            "from": _month_text(self.first),
            "to": _month_text(self.last),
            "kind": self.filters.kind_id,
            "program": self.filters.program_id,
            "metric": self.metric if self.metric != "activities" else None,
            "sort": self.sort if self.sort != "name" else None,
            "dir": ("desc" if self.descending else "asc") if self.sort != "name" else None,
        }
        args.update(overrides)
        return {k: v for k, v in args.items() if v is not None}

    def data_args(self) -> dict[str, object]:
        """What decides the figures: for exports, which have no sort or chart."""
        return self.args(metric=None, sort=None, dir=None)


@dataclass
class Parsed:
    """The outcome: a query, or the messages saying what to correct; `values` refill the form."""

    query: TallyQuery | None
    errors: list[str] = field(default_factory=list)
    values: dict[str, str] = field(default_factory=dict)
    unit: Unit | None = None  # the unit asked for, even when other values are wrong: scope it
    unit_missing: bool = False  # no such unit id: the caller answers 404, like an unseen one


def _month_text(month: int) -> str:
    return f"{month // 100:04d}-{month % 100:02d}"


def month_count(first: int, last: int) -> int:
    return (last // 100 - first // 100) * 12 + last % 100 - first % 100 + 1


def quick_period(value: str, today: date) -> tuple[int, int] | None:
    """'m2026-03', 'q2026-1', 'y2026', 'ytd', '12m' -> (first, last); None if not one of them."""
    match = _QUICK.match(value)
    if not match:
        return None
    g = match.groups()
    year = next((int(y) for y in (g[1], g[4], g[7]) if y), today.year)
    if not 1900 <= year <= 9999:
        return None
    this_month = month_of(today)
    if g[0]:
        month = int(g[2])
        return (int(g[1]) * 100 + month,) * 2 if 1 <= month <= 12 else None
    if g[3]:
        start = int(g[4]) * 100 + (int(g[5]) - 1) * 3 + 1
        return start, start + 2
    if g[6]:
        return int(g[7]) * 100 + 1, int(g[7]) * 100 + 12
    if g[8]:
        return today.year * 100 + 1, this_month
    return add_months(this_month, -12), add_months(this_month, -1)


def quick_choices(today: date) -> list[tuple[str, list[tuple[str, str]]]]:
    """Option groups for the quick-choice select: (group label, [(value, label), ...])."""
    this_month = month_of(today)
    months = [add_months(this_month, -i) for i in range(12)]
    quarter = (today.month - 1) // 3 + 1
    quarters = [(today.year, q) for q in range(quarter, 0, -1)]
    quarters += [(today.year - 1, q) for q in range(4, 0, -1)]
    return [
        (
            _("Common periods"),
            [("ytd", _("This year so far")), ("12m", _("The last 12 full months"))],
        ),
        (
            _("Months"),
            [(f"m{_month_text(m)}", fmt_month(first_day(m))) for m in months],
        ),
        (
            _("Quarters"),
            [(f"q{y}-{q}", _("Q%(q)s %(year)s", q=q, year=y)) for y, q in quarters],
        ),
        (
            _("Years"),
            [(f"y{y}", _("Year %(year)s", year=y)) for y in range(today.year, today.year - 5, -1)],
        ),
    ]


def is_named(first: int, last: int) -> bool:
    """A whole quarter or year: its label does not say which months it holds."""
    return _quarter(first, last) is not None or (first % 100 == 1 and last == first + 11)


def is_quick(first: int, last: int, today: date) -> bool:
    """Whether first..last is one of the quick choices' kinds of period (any year's)."""
    return (
        first == last
        or is_named(first, last)
        or (first, last) in (quick_period("ytd", today), quick_period("12m", today))
    )


def _quarter(first: int, last: int) -> int | None:
    if first % 100 in (1, 4, 7, 10) and last == first + 2:
        return (first % 100 - 1) // 3 + 1
    return None


def period_label(first: int, last: int) -> str:
    """'03/2026', 'Q1 2026', 'Year 2026' or 'From 01/2026 to 05/2026', in the reader's language."""
    if first == last:
        return _("Month %(month)s", month=fmt_month(first_day(first)))
    year = first // 100
    if quarter := _quarter(first, last):
        return _("Q%(q)s %(year)s", q=quarter, year=year)
    if first == year * 100 + 1 and last == year * 100 + 12:
        return _("Year %(year)s", year=year)
    return _(
        "From %(first)s to %(last)s",
        first=fmt_month(first_day(first)),
        last=fmt_month(first_day(last)),
    )


def _id(text: str) -> int | None:
    return int(text) if text.isdigit() and len(text) < 10 else None


def parse(args: Mapping[str, str], scope_unit: Unit, today: date) -> Parsed:
    """Read the query string. Scope is the caller's business (it answers 404 outside it)."""
    raw = {k: args.get(k, "").strip() for k in ("unit", "from", "to", "period", "kind", "program")}
    errors: list[str] = []
    parsed = Parsed(None, errors, raw)

    unit: Unit | None = scope_unit
    if raw["unit"]:
        unit_id = _id(raw["unit"])
        if unit_id is None:
            errors.append(_("The unit is not valid. Use the links on the page to choose one."))
            unit = None
        else:
            unit = db.session.get(Unit, unit_id)
            if unit is None:
                parsed.unit_missing = True
                return parsed

    parsed.unit = unit
    period = _period(raw, today, errors)

    kind_id = _id(raw["kind"]) if raw["kind"] else None
    if raw["kind"] and (kind_id is None or db.session.get(ActivityKind, kind_id) is None):
        errors.append(_("This activity kind does not exist. Choose one from the list."))
    program_id = _id(raw["program"]) if raw["program"] else None
    if raw["program"] and (
        program_id is None or (program_id != 0 and db.session.get(Program, program_id) is None)
    ):
        errors.append(_("This programme does not exist. Choose one from the list."))

    if errors or unit is None or period is None:
        return parsed
    first, last = period
    raw["from"], raw["to"], raw["period"] = _month_text(first), _month_text(last), ""
    sort = args.get("sort", "name")
    sort = sort if sort in SORT_KEYS else "name"
    direction = args.get("dir", "")
    descending = direction == "desc" if direction in ("asc", "desc") else sort != "name"
    metric = args.get("metric", "activities")
    parsed.query = TallyQuery(
        unit,
        first,
        last,
        Filters(kind_id, program_id),
        sort,
        descending,
        metric if metric in METRICS else "activities",
    )
    return parsed


def _period(raw: dict[str, str], today: date, errors: list[str]) -> tuple[int, int] | None:
    if raw["period"]:
        period = quick_period(raw["period"], today)
        if period is None:
            errors.append(_("The period is not valid. Choose one from the list."))
        return period
    if not raw["from"] and not raw["to"]:
        return today.year * 100 + 1, month_of(today)
    first = parse_month(raw["from"] or raw["to"])
    last = parse_month(raw["to"] or raw["from"])
    if first is None or last is None:
        errors.append(_("Enter months as year and month, for example 2026-03."))
        return None
    if first > last:
        errors.append(_("The first month comes after the last month."))
        return None
    if month_count(first, last) > MAX_MONTHS:
        errors.append(
            _(
                "The period is too long: at most %(n)s months at a time. Choose a shorter one.",
                n=MAX_MONTHS,
            )
        )
        return None
    return first, last
