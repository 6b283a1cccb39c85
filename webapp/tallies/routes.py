"""The tally page (DESIGN.md §7) and its exports: a unit's figures by child and month.

Figures come from the rollup only (`query.tally`), never from raw activities. Secretaries and
above may look at any unit of their subtree; a unit outside it is answered 404, like the review
pages do for entries. A query string that cannot be read gets the page back with a message (400).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import abort, render_template, request
from flask.typing import ResponseReturnValue
from flask_babel import format_date, format_percent, get_locale
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from webapp import scope
from webapp.auth.decorators import role_required
from webapp.clock import local_today
from webapp.extensions import db
from webapp.i18n import fmt_number
from webapp.models import ActivityKind, Program, Unit
from webapp.tallies import bp, chart, export, forms, targets
from webapp.tallies.months import first_day
from webapp.tallies.query import Figures, TallyView, tally
from webapp.text import fold

SHORT_MONTH = {"vi": "MM/yyyy", "en": "MMM yyyy"}


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    numeric: bool = True


def metric_labels() -> dict[str, str]:
    return {
        "activities": _("Activities"),
        "unit_activities": _("Cell and committee activities"),
        "participations": _("Member participations"),
        "members_engaged": _("Members engaged"),
        "people_reached": _("People reached"),
        "households_reached": _("Households reached"),
        "active_units": _("Active units"),
    }


def _columns() -> list[Column]:
    labels = metric_labels()
    return [
        Column("name", _("Unit"), numeric=False),
        Column("activities", labels["activities"]),
        Column("pending_activities", _("Activities waiting for review")),
        *(Column(key, labels[key]) for key in forms.METRICS[1:]),
        Column("share", _("Share of units active")),
    ]


def _lang() -> str:
    return str(get_locale() or "vi").split("_")[0]


def short_month(month: int) -> str:
    return format_date(first_day(month), SHORT_MONTH.get(_lang(), "MMM yyyy"))


def percent(share: float | None) -> str:
    return "" if share is None else format_percent(share)


def _parsed() -> forms.Parsed:
    """The query string read and scoped: 404 for a unit that is missing or out of scope."""
    parsed = forms.parse(request.args, current_user.scope_unit, local_today())
    if parsed.unit_missing:
        abort(404)
    if parsed.unit is not None and not scope.can_read_unit(current_user, parsed.unit):
        abort(404)
    return parsed


def _targets(query: forms.TallyQuery) -> targets.TargetReport | None:
    """Progress toward the unit's targets of the last month's year (None: it has none)."""
    return targets.evaluate(query.unit, query.last)


@bp.get("/")
@role_required("secretary")
def index() -> ResponseReturnValue:
    parsed = _parsed()
    if parsed.query is None:
        return _refused(parsed)
    query = parsed.query
    view = tally(query.unit, query.first, query.last, query.filters)
    return render_template(
        "tallies/page.html", **_page(parsed, query, view), targets=_targets(query)
    )


@bp.get("/export.<any(xlsx, csv):fmt>")
@role_required("secretary")
def export_file(fmt: str) -> ResponseReturnValue:
    parsed = _parsed()
    if parsed.query is None:
        return _refused(parsed)
    query = parsed.query
    view = tally(query.unit, query.first, query.last, query.filters)
    make = export.tally_xlsx if fmt == "xlsx" else export.tally_csv
    return make(view, _targets(query))


def _refused(parsed: forms.Parsed) -> ResponseReturnValue:
    return render_template("tallies/page.html", **_form_context(parsed), query=None), 400


def _form_context(parsed: forms.Parsed) -> dict[str, Any]:
    lang = _lang()
    kinds = db.session.scalars(
        select(ActivityKind).order_by(ActivityKind.sort_order, ActivityKind.id)
    )
    programs = db.session.scalars(select(Program).order_by(Program.id))
    return {
        "errors": parsed.errors,
        "open_filters": True,
        "values": parsed.values,
        "quick_choices": forms.quick_choices(local_today()),
        "kinds": [(k.id, k.name(lang)) for k in kinds],
        "programs": [(p.id, p.name(lang)) for p in programs],
        "metric_labels": metric_labels(),
    }


def _page(parsed: forms.Parsed, query: forms.TallyQuery, view: TallyView) -> dict[str, Any]:
    labels = metric_labels()
    kinds_and_programs = _form_context(parsed)
    return {
        **kinds_and_programs,
        "query": query,
        "view": view,
        "period": forms.period_label(query.first, query.last),
        "range_text": _range_text(query),
        "open_filters": bool(
            query.filters.any or not forms.is_quick(query.first, query.last, local_today())
        ),
        "filter_text": _filter_text(query, kinds_and_programs),
        "breadcrumb": _breadcrumb(query.unit),
        "cards": _cards(view.total, labels),
        "columns": _columns(),
        "children": _sorted_children(view, query),
        "monthly": [(short_month(month), figures) for month, figures in view.monthly],
        "chart": _chart(view, query, labels),
        "percent": percent,
        "printed_on": local_today(),
    }


def _range_text(query: forms.TallyQuery) -> str | None:
    """The months of a named quarter or year; a single month or a range says them already."""
    if not forms.is_named(query.first, query.last):
        return None
    return f"{short_month(query.first)} – {short_month(query.last)}"


def _filter_text(query: forms.TallyQuery, context: dict[str, Any]) -> str:
    parts = []
    if query.filters.kind_id is not None:
        parts.append(dict(context["kinds"]).get(query.filters.kind_id, ""))
    if query.filters.program_id == 0:
        parts.append(_("No programme"))
    elif query.filters.program_id is not None:
        parts.append(dict(context["programs"]).get(query.filters.program_id, ""))
    return " · ".join(p for p in parts if p)


def _breadcrumb(unit: Unit) -> list[Unit]:
    """The unit's ancestors the user may read, top first, the unit itself last."""
    found = db.session.scalars(select(Unit).where(Unit.id.in_(unit.ancestor_ids))).all()
    visible = [u for u in found if scope.can_read_unit(current_user, u)]
    return sorted(visible, key=lambda u: u.depth)


def _cards(total: Figures, labels: dict[str, str]) -> list[dict[str, Any]]:
    pending = {
        "activities": total.pending_activities,
        "participations": total.pending_participations,
        "people_reached": total.pending_people_reached,
        "households_reached": total.pending_households_reached,
    }
    cards = [
        {
            "key": key,
            "label": labels[key],
            "value": getattr(total, key),
            "pending": pending.get(key),
        }
        for key in forms.METRICS
    ]
    cards[-1]["note"] = _(
        "of %(total)s units (%(share)s)",
        total=fmt_number(total.holding_units),
        share=percent(total.active_share) or "–",
    )
    return cards


def _sorted_children(view: TallyView, query: forms.TallyQuery) -> list[tuple[Unit, Figures]]:
    rows = sorted(view.children, key=lambda row: (fold(row[0].name), row[0].name))
    if query.sort == "name":
        return rows[::-1] if query.descending else rows

    def value(row: tuple[Unit, Figures]) -> float:
        figures = row[1]
        if query.sort == "share":
            return -1.0 if figures.active_share is None else figures.active_share
        return float(getattr(figures, query.sort))

    return sorted(rows, key=value, reverse=query.descending)  # stable: ties stay by name


def _chart(view: TallyView, query: forms.TallyQuery, labels: dict[str, str]) -> Any:
    metric = labels[query.metric]
    return chart.bar_chart(
        [chart.Bar(short_month(m), getattr(f, query.metric)) for m, f in view.monthly],
        title=_(
            "%(metric)s by month, %(period)s",
            metric=metric,
            period=forms.period_label(query.first, query.last),
        ),
        desc=_(
            "One bar per month; confirmed activities only. "
            "The same figures are in the table of months below."
        ),
        category_axis=_("Month"),
        value_axis=metric,
        number=fmt_number,
        chart_id="tally-chart",
    )
