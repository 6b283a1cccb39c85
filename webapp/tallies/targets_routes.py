"""Targets on the web (issue 6): indicators and their groups, each unit's targets for a year,
and their import from a spreadsheet. Administrators only; the rules are in `targets`."""

from __future__ import annotations

from typing import Any

from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import get_locale, ngettext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from sqlalchemy import select
from wtforms import BooleanField, HiddenField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, NumberRange, Optional

from webapp import scope
from webapp.auth.decorators import role_required
from webapp.clock import local_today
from webapp.csv_import import ImportCounts, ImportFailed, RowError, read_rows
from webapp.database import begin_write
from webapp.extensions import db
from webapp.models import HOLDING_KINDS, METRICS, PERIODS, Indicator, IndicatorGroup, Target, Unit
from webapp.tallies import bp
from webapp.tallies.months import month_of
from webapp.tallies.targets import (
    METRIC_LABELS,
    PERIOD_LABELS,
    TargetError,
    create_group,
    create_indicator,
    deactivate_group,
    delete_target,
    evaluate,
    may_define_indicators,
    not_a_number_message,
    parse_number,
    set_target,
    update_group,
    update_indicator,
)
from webapp.tallies.targets_import import (
    TARGET_COLUMNS,
    TargetChange,
    import_targets,
    plain_number,
    template_csv,
)
from webapp.text import fold

CSV_MAX_BYTES = 2 * 1024 * 1024
UNIT_CHOICES_MAX = 2000
PREVIEW_ROWS = 200


class GroupForm(FlaskForm):
    group_id = HiddenField()
    code = StringField(_l("Code"), validators=[InputRequired(), Length(max=40)])
    name_vi = StringField(_l("Name in Vietnamese"), validators=[InputRequired(), Length(max=200)])
    name_en = StringField(_l("Name in English"), validators=[Optional(), Length(max=200)])
    sort_order = IntegerField(
        _l("Order"), default=0, validators=[Optional(), NumberRange(min=0, max=9999)]
    )


class IndicatorForm(FlaskForm):
    indicator_id = HiddenField()
    group_id = SelectField(_l("Group"), coerce=int, validate_choice=True)
    code = StringField(_l("Code"), validators=[InputRequired(), Length(max=40)])
    name_vi = StringField(_l("Name in Vietnamese"), validators=[InputRequired(), Length(max=200)])
    name_en = StringField(_l("Name in English"), validators=[Optional(), Length(max=200)])
    metric = SelectField(
        _l("What it counts"), choices=[SelectChoice(m, METRIC_LABELS[m]) for m in METRICS]
    )
    period = SelectField(
        _l("Target stated"),
        choices=[SelectChoice(p, PERIOD_LABELS[p]) for p in PERIODS],
        description=_l("Percentages are for the year so far, whatever is chosen here."),
    )
    sort_order = IntegerField(
        _l("Order"), default=0, validators=[Optional(), NumberRange(min=0, max=9999)]
    )
    active = BooleanField(_l("In use"), default=True)


class ActionForm(FlaskForm):
    """A button that changes something: the CSRF token and the object it is about."""

    object_id = HiddenField()


class ImportForm(FlaskForm):
    file = FileField(_l("CSV file (UTF-8)"))
    csv_text = TextAreaField(validators=[Optional(), Length(max=CSV_MAX_BYTES)])


# -- The page ----------------------------------------------------------------------------


@bp.route("/targets", methods=["GET", "POST"])
@role_required("admin")
def targets() -> ResponseReturnValue:
    unit, year = _selected_unit(), _selected_year()
    bound: dict[tuple[str, Any], FlaskForm] = {}
    target_errors: dict[int, str] = {}
    entered: dict[int, str] = {}
    if request.method == "POST":
        action = request.form.get("action", "")
        if action == "targets":
            done = _save_targets(unit, year, target_errors, entered)
            if done is not None:
                return done
        elif action in ("group", "indicator", "deactivate_group"):
            if not may_define_indicators(current_user):
                abort(403)
            handler = {
                "group": _save_group,
                "indicator": _save_indicator,
                "deactivate_group": _deactivate_group,
            }[action]
            result = handler()
            if result is None:
                return redirect(url_for("tallies.targets", unit=unit.id, year=year))
            bound[result[0]] = result[1]
        else:
            abort(400)
    return _render_page(unit, year, bound, target_errors, entered)


def _selected_unit() -> Unit:
    """The unit of `?unit=`, or the admin's own; one outside their scope does not exist
    for them (404), and may not be changed (403)."""
    raw = request.args.get("unit", "")
    if not raw:
        return current_user.scope_unit
    unit = db.session.get(Unit, int(raw)) if raw.isdigit() and len(raw) < 10 else None
    if unit is None or not scope.can_manage_unit(current_user, unit):
        abort(403 if request.method == "POST" else 404)
    return unit


def _selected_year() -> int:
    raw = request.args.get("year", "")
    if raw.isdigit() and len(raw) == 4 and 2000 <= int(raw) <= 2100:
        return int(raw)
    return local_today().year


def _render_page(
    unit: Unit,
    year: int,
    bound: dict[tuple[str, Any], FlaskForm],
    target_errors: dict[int, str],
    entered: dict[int, str],
) -> str:
    groups = db.session.scalars(
        select(IndicatorGroup).order_by(IndicatorGroup.sort_order, IndicatorGroup.code)
    ).all()
    group_choices = [SelectChoice(str(g.id), g.name(_lang())) for g in groups]
    group_forms = {
        g.id: bound.get(("group", g.id)) or GroupForm(formdata=None, obj=g, group_id=str(g.id))
        for g in groups
    }
    indicator_forms: dict[int, FlaskForm] = {}
    for g in groups:
        for i in g.indicators:
            form = bound.get(("indicator", i.id)) or IndicatorForm(
                formdata=None, obj=i, indicator_id=str(i.id)
            )
            form.group_id.choices = group_choices
            indicator_forms[i.id] = form
    new_group = bound.get(("group", None)) or GroupForm(formdata=None)
    new_indicator = bound.get(("indicator", None)) or IndicatorForm(formdata=None)
    new_indicator.group_id.choices = group_choices
    values = {
        t.indicator_id: plain_number(t.value)
        for t in db.session.scalars(
            select(Target).where(Target.unit_id == unit.id, Target.year == year)
        )
    }
    this_month = month_of(local_today())
    last_month = min(this_month, year * 100 + 12) if year <= this_month // 100 else None
    return render_template(
        "tallies/targets.html",
        unit=unit,
        year=year,
        years=_year_choices(year),
        units=_unit_choices(unit),
        groups=groups,
        group_forms=group_forms,
        indicator_forms=indicator_forms,
        new_group=new_group,
        new_indicator=new_indicator,
        bound=bound,
        action_form=ActionForm(formdata=None),
        values=values,
        target_errors=target_errors,
        entered=entered,
        report=evaluate(unit, last_month) if last_month else None,
        may_define=may_define_indicators(current_user),
        metric_labels=METRIC_LABELS,
        period_labels=PERIOD_LABELS,
        share_metrics=("active_units_share", "active_every_month_share"),
    )


def _lang() -> str:
    return str(get_locale() or "vi").split("_")[0]


def _year_choices(year: int) -> list[int]:
    now = local_today().year
    return sorted({*range(now - 3, now + 2), year})


def _unit_choices(selected: Unit) -> list[tuple[int, str]]:
    """The admin's units that usually have targets (not cells and associations: those are
    many), in tree order and indented; the selected unit always among them."""
    units = list(
        db.session.scalars(
            scope.units(current_user)
            .where(Unit.kind.not_in(HOLDING_KINDS))
            .order_by(Unit.path)
            .limit(UNIT_CHOICES_MAX)
        )
    )
    if selected not in units:
        units.append(selected)
    names = {u.id: fold(u.name) for u in units}
    base = current_user.scope_unit.depth
    units.sort(key=lambda u: [names.get(i, "") for i in u.ancestor_ids])
    return [(u.id, "— " * max(u.depth - base, 0) + u.name) for u in units]


# -- Actions -------------------------------------------------------------------------------


def _save_targets(
    unit: Unit, year: int, errors: dict[int, str], entered: dict[int, str]
) -> ResponseReturnValue | None:
    """One box per active indicator: a number sets the target, an empty box removes it.
    All or nothing: on any problem nothing is saved, `errors` and `entered` say what to show
    and None is returned."""
    if not ActionForm().validate_on_submit():
        abort(400)
    begin_write()
    unit = db.session.get_one(Unit, unit.id)
    indicators = db.session.scalars(select(Indicator).where(Indicator.active)).all()
    changed = 0
    for indicator in indicators:
        name = f"value-{indicator.id}"
        if name not in request.form:
            continue  # not on the page the admin saw: leave it alone
        raw = request.form[name].strip()
        entered[indicator.id] = raw
        try:
            if not raw:
                changed += delete_target(current_user, indicator, unit, year)
                continue
            value = parse_number(raw)
            if value is None:
                errors[indicator.id] = not_a_number_message(raw)
                continue
            changed += set_target(current_user, indicator, unit, year, value) != "unchanged"
        except TargetError as exc:
            errors[indicator.id] = exc.message
    if errors:
        db.session.rollback()
        flash(_("Nothing was saved: correct the values marked below."), "error")
        return None
    db.session.commit()
    flash(ngettext("%(num)d target changed.", "%(num)d targets changed.", changed), "info")
    return redirect(url_for("tallies.targets", unit=unit.id, year=year))


def _save_group() -> tuple[tuple[str, Any], FlaskForm] | None:
    form = GroupForm()
    group_id = int(form.group_id.data) if (form.group_id.data or "").isdigit() else None
    key = ("group", group_id)
    if not form.validate_on_submit():
        return key, form
    begin_write()
    try:
        if group_id is None:
            create_group(current_user, **_group_values(form))
        else:
            group = db.session.get(IndicatorGroup, group_id) or abort(404)
            update_group(current_user, group, **_group_values(form))
    except TargetError as exc:
        db.session.rollback()
        _field_error(form, exc)
        return key, form
    db.session.commit()
    flash(_("Indicator group saved."), "info")
    return None


def _group_values(form: GroupForm) -> dict[str, Any]:
    return {
        "code": form.code.data or "",
        "name_vi": form.name_vi.data or "",
        "name_en": form.name_en.data or "",
        "sort_order": form.sort_order.data or 0,
    }


def _save_indicator() -> tuple[tuple[str, Any], FlaskForm] | None:
    form = IndicatorForm()
    form.group_id.choices = [
        SelectChoice(str(g.id), g.code) for g in db.session.scalars(select(IndicatorGroup))
    ]
    indicator_id = int(form.indicator_id.data) if (form.indicator_id.data or "").isdigit() else None
    key = ("indicator", indicator_id)
    if not form.validate_on_submit():
        return key, form
    begin_write()
    group = db.session.get_one(IndicatorGroup, form.group_id.data)
    values = {
        "group": group,
        "code": form.code.data or "",
        "name_vi": form.name_vi.data or "",
        "name_en": form.name_en.data or "",
        "metric": form.metric.data,
        "period": form.period.data,
        "sort_order": form.sort_order.data or 0,
    }
    try:
        if indicator_id is None:
            create_indicator(current_user, **values)
        else:
            indicator = db.session.get(Indicator, indicator_id) or abort(404)
            update_indicator(current_user, indicator, active=bool(form.active.data), **values)
    except TargetError as exc:
        db.session.rollback()
        _field_error(form, exc)
        return key, form
    db.session.commit()
    flash(_("Indicator saved."), "info")
    return None


def _deactivate_group() -> None:
    form = ActionForm()
    if not form.validate_on_submit() or not (form.object_id.data or "").isdigit():
        abort(400)
    begin_write()
    group = db.session.get(IndicatorGroup, int(form.object_id.data)) or abort(404)
    stopped = deactivate_group(current_user, group)
    db.session.commit()
    flash(
        ngettext(
            "%(num)d indicator of this group is no longer counted.",
            "%(num)d indicators of this group are no longer counted.",
            stopped,
        ),
        "info",
    )


def _field_error(form: FlaskForm, exc: TargetError) -> None:
    field = getattr(form, exc.field or "", None)
    if field is None:
        field = form.code
    field.errors = [*field.errors, exc.message]


# -- Import ------------------------------------------------------------------------------


@bp.route("/targets/import", methods=["GET", "POST"])
@role_required("admin")
def import_targets_page() -> ResponseReturnValue:
    """Upload → preview (nothing saved; the file comes back in a hidden field) → apply."""
    form = ImportForm()
    if request.method == "GET":
        return render_template("tallies/targets_import.html", form=form, stage="upload")
    if not form.validate_on_submit():
        abort(400)
    applying = request.form.get("apply") == "1" and bool(form.csv_text.data)
    if applying:
        raw = (form.csv_text.data or "").encode("utf-8")
    else:
        upload = form.file.data
        raw = upload.read(CSV_MAX_BYTES + 1) if upload else b""
    if not raw:
        flash(_("Choose a CSV file to import."), "error")
        return render_template("tallies/targets_import.html", form=form, stage="upload")
    if len(raw) > CSV_MAX_BYTES:
        flash(_("The file is too large: at most 2 MB."), "error")
        return render_template("tallies/targets_import.html", form=form, stage="upload")
    counts, changes, errors = _run_import(raw, keep=applying)
    if applying and not errors:
        flash(_imported_message(counts), "info")
        return redirect(url_for("tallies.targets"))
    text = "" if errors else raw.decode("utf-8-sig")
    preview = ImportForm(formdata=None, csv_text=text)
    return render_template(
        "tallies/targets_import.html",
        form=preview,
        stage="preview",
        counts=counts,
        changes=changes[:PREVIEW_ROWS],
        more=max(len(changes) - PREVIEW_ROWS, 0),
        errors=errors,
    )


def _run_import(
    raw: bytes, *, keep: bool
) -> tuple[ImportCounts, list[TargetChange], list[RowError]]:
    """Import as the signed-in admin; committed only when `keep` and every row is right."""
    changes: list[TargetChange] = []
    try:
        rows = read_rows(raw, TARGET_COLUMNS)
        begin_write()
        counts = import_targets(rows, current_user, changes=changes)
    except ImportFailed as exc:
        db.session.rollback()
        return ImportCounts(), [], exc.errors
    if keep:
        db.session.commit()
    else:
        db.session.rollback()
    return counts, changes, []


def _imported_message(counts: ImportCounts) -> str:
    return _(
        "Targets imported: %(created)d new, %(updated)d changed, %(unchanged)d unchanged.",
        created=counts.created,
        updated=counts.updated,
        unchanged=counts.unchanged,
    )


@bp.get("/targets/template.csv")
@role_required("admin")
def targets_template() -> ResponseReturnValue:
    """A CSV to fill in: the selected unit and its children, every indicator in use."""
    unit, year = _selected_unit(), _selected_year()
    children = db.session.scalars(
        select(Unit).where(Unit.parent_id == unit.id, Unit.active).order_by(Unit.name)
    ).all()
    body = template_csv([unit, *children], year)
    return Response(
        body,
        mimetype="text/csv",
        headers={
            "Content-Disposition": f'attachment; filename="targets-{year}-{unit.id}.csv"',
            "Cache-Control": "no-store",
        },
    )
