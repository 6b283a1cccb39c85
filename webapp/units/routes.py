"""Administration of the unit tree on the web (issue 7).

Administrators only, and only inside their scope: a unit outside it answers 404, as one that
does not exist. Each change starts the write transaction (`begin_write`), looks the unit up and
checks the scope again inside it, and commits once. Large trees are never rendered whole: a
page shows one unit's children, and deeper levels load on demand (a <details> that fetches a
fragment with JavaScript, or a plain link to the unit's page without it).
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user

from webapp import scope
from webapp.auth.decorators import role_required
from webapp.database import begin_write
from webapp.extensions import db
from webapp.models import Unit
from webapp.units import province_import, tree
from webapp.units.forms import ActionForm, ImportForm, MoveForm, RenameForm, UnitForm

bp = Blueprint("units", __name__, url_prefix="/admin/units", template_folder="templates")

QUERY_MAX = 100
# The kind a new unit most likely has, given its parent's.
NEXT_KIND = {"province": "commune", "district": "commune", "commune": "cell", "committee": "cell"}


@bp.app_template_global("unit_kind_label")
def _unit_kind_label(kind: str) -> str:
    return tree.kind_label(kind)


MAX_ID = 2**31 - 1  # ids are 32-bit integers: a larger number in a URL names nothing


def _unit_or_404(unit_id: int | None) -> Unit:
    unit = db.session.get(Unit, unit_id) if unit_id is not None and 0 < unit_id <= MAX_ID else None
    if unit is None or not scope.can_manage_unit(current_user, unit):
        abort(404)
    return unit


def _query() -> str:
    return request.args.get("q", "").strip()[:QUERY_MAX]


# -- Browsing -------------------------------------------------------------------------------


@bp.get("/")
@role_required("admin")
def index() -> ResponseReturnValue:
    root = current_user.scope_unit
    q = _query()
    if q:
        found = tree.search(current_user, q)
        return render_template(
            "units/search.html",
            q=q,
            results=tree.nodes(found),
            labels=tree.labels(found, root, own=False),
            limit=tree.SEARCH_LIMIT,
        )
    [root_node] = tree.nodes([root])
    return render_template(
        "units/tree.html",
        root=root_node,
        children=tree.child_nodes(root),
        limit=tree.CHILDREN_LIMIT,
        may_import=tree.is_root_admin(current_user),
    )


@bp.get("/<int:unit_id>/children")
@role_required("admin")
def children(unit_id: int) -> ResponseReturnValue:
    """The children of one unit as an HTML fragment, for the tree's lazy <details>."""
    unit = _unit_or_404(unit_id)
    return render_template(
        "units/_children.html", parent=unit, nodes=tree.child_nodes(unit), limit=tree.CHILDREN_LIMIT
    )


@bp.get("/<int:unit_id>")
@role_required("admin")
def show(unit_id: int) -> ResponseReturnValue:
    unit = _unit_or_404(unit_id)
    return _unit_page(unit, RenameForm(name=unit.name))


def _unit_page(unit: Unit, rename_form: RenameForm, status: int = 200) -> ResponseReturnValue:
    [node] = tree.nodes([unit])
    occupied = tree.occupancy(unit)
    return render_template(
        "units/unit.html",
        node=node,
        unit=unit,
        crumbs=tree.ancestors_within(unit, current_user.scope_unit),
        children=tree.child_nodes(unit),
        limit=tree.CHILDREN_LIMIT,
        occupied=occupied,
        refusal=tree.deactivation_refusal(unit, occupied),
        is_scope_root=unit.id == current_user.scope_unit_id,
        rename_form=rename_form,
        action_form=ActionForm(),
    ), status


# -- Changing -------------------------------------------------------------------------------


@bp.route("/new", methods=["GET", "POST"])
@role_required("admin")
def create() -> ResponseReturnValue:
    parent_id = request.args.get("parent", type=int) or current_user.scope_unit_id
    parent = _unit_or_404(parent_id)
    form = UnitForm()
    if request.method == "GET":
        form.kind.data = NEXT_KIND.get(parent.kind, "cell")
    error = None
    if form.validate_on_submit():
        begin_write()
        parent = _unit_or_404(parent_id)
        try:
            unit = tree.add_unit(
                current_user, parent, form.name.data, form.kind.data, form.division_code.data
            )
        except tree.UnitError as refused:
            db.session.rollback()
            error = refused.message
            parent = _unit_or_404(parent_id)
        else:
            unit_id, name = unit.id, unit.name
            db.session.commit()
            flash(_("%(unit)s added.", unit=name), "info")
            return redirect(url_for("units.show", unit_id=unit_id))
    status = 422 if request.method == "POST" else 200
    return render_template(
        "units/new.html",
        form=form,
        parent=parent,
        parent_label=tree.labels([parent])[parent.id],
        error=error,
    ), status


@bp.post("/<int:unit_id>/rename")
@role_required("admin")
def rename(unit_id: int) -> ResponseReturnValue:
    form = RenameForm()
    if not form.validate_on_submit():
        return _unit_page(_unit_or_404(unit_id), form, 422)
    begin_write()
    unit = _unit_or_404(unit_id)
    try:
        changed = tree.rename_unit(current_user, unit, form.name.data)
    except tree.UnitError as refused:
        db.session.rollback()
        form.name.errors.append(refused.message)
        return _unit_page(_unit_or_404(unit_id), form, 422)
    name = unit.name
    db.session.commit()
    if changed:
        flash(_("Renamed to %(name)s.", name=name), "info")
    return redirect(url_for("units.show", unit_id=unit_id))


@bp.get("/<int:unit_id>/move")
@role_required("admin")
def move_form(unit_id: int) -> ResponseReturnValue:
    unit = _unit_or_404(unit_id)
    q = _query()
    candidates = []
    if q:
        candidates = [
            c
            for c in tree.search(current_user, q, exclude=unit, active_only=True)
            if c.id != unit.parent_id
        ]
    shown = [unit, *candidates]
    return render_template(
        "units/move.html",
        unit=unit,
        q=q,
        candidates=candidates,
        labels=tree.labels(shown, current_user.scope_unit),
        parent_label=tree.labels([unit.parent])[unit.parent.id] if unit.parent else "",
        below=tree.occupancy(unit).units - 1,
        is_scope_root=unit.id == current_user.scope_unit_id,
        limit=tree.SEARCH_LIMIT,
        form=MoveForm(),
    )


@bp.post("/<int:unit_id>/move")
@role_required("admin")
def move(unit_id: int) -> ResponseReturnValue:
    form = MoveForm()
    back = url_for("units.move_form", unit_id=unit_id, q=request.form.get("q", "")[:QUERY_MAX])
    if not form.validate_on_submit():
        flash(_("Choose the unit to move it under."), "error")
        return redirect(back)
    begin_write()
    unit = _unit_or_404(unit_id)
    new_parent = _unit_or_404(form.new_parent.data)
    try:
        moved = tree.move(current_user, unit, new_parent)
    except tree.UnitError as refused:
        db.session.rollback()
        flash(refused.message, "error")
        return redirect(back)
    message = _(
        "%(unit)s moved under %(parent)s, with the units below it.",
        unit=moved.name,
        parent=new_parent.name,
    )
    db.session.commit()
    flash(message, "info")
    return redirect(url_for("units.show", unit_id=unit_id))


@bp.post("/<int:unit_id>/<any(deactivate, reactivate):action>")
@role_required("admin")
def set_active(unit_id: int, action: str) -> ResponseReturnValue:
    begin_write()  # the CSRF token was checked before the view ran (CSRFProtect)
    unit = _unit_or_404(unit_id)
    name = unit.name
    try:
        if action == "deactivate":
            count = tree.deactivate(current_user, unit)
            message = ngettext("%(num)d unit deactivated.", "%(num)d units deactivated.", count)
        else:
            tree.reactivate(current_user, unit)
            message = _("%(unit)s is active again.", unit=name)
    except tree.UnitError as refused:
        db.session.rollback()
        flash(refused.message, "error")
        return redirect(url_for("units.show", unit_id=unit_id))
    db.session.commit()
    flash(message, "info")
    return redirect(url_for("units.show", unit_id=unit_id))


# -- Importing the official communes of a province -------------------------------------------


def _import_form() -> ImportForm:
    if not tree.is_root_admin(current_user):
        abort(403)
    form = ImportForm()
    mine = set(
        db.session.scalars(
            scope.units(current_user)
            .where(Unit.parent_id.is_(None), Unit.division_code.is_not(None))
            .with_only_columns(Unit.division_code)
        )
    )
    form.province.choices = [
        (code, _("%(province)s (in your tree)", province=name) if code in mine else name)
        for code, name in province_import.provinces()
    ]
    if request.method == "GET" and mine:
        form.province.data = sorted(mine)[0]
    return form


@bp.get("/import")
@role_required("admin")
def import_form() -> ResponseReturnValue:
    return render_template("units/import.html", form=_import_form())


@bp.post("/import/preview")
@role_required("admin")
def import_preview() -> ResponseReturnValue:
    """Run the import inside a transaction that is rolled back: the preview is exactly what
    applying will do."""
    return _run_import(apply=False)


@bp.post("/import")
@role_required("admin")
def import_apply() -> ResponseReturnValue:
    return _run_import(apply=True)


def _run_import(*, apply: bool) -> ResponseReturnValue:
    form = _import_form()
    if not form.validate_on_submit():
        return render_template("units/import.html", form=form), 422
    province = province_import.province_by_code(form.province.data)
    if province is None:
        abort(404)
    begin_write()
    try:
        plan = province_import.import_province(current_user, province)
    except tree.UnitError as refused:
        db.session.rollback()
        flash(refused.message, "error")
        return redirect(url_for("units.import_form"))
    if not apply:
        db.session.rollback()
        return render_template("units/import_preview.html", form=form, plan=plan)
    db.session.commit()
    flash(
        _(
            "%(province)s: %(created)d created, %(updated)d updated, %(unchanged)d unchanged.",
            province=plan.province,
            created=len(plan.created),
            updated=len(plan.updated),
            unchanged=plan.unchanged,
        ),
        "info",
    )
    return redirect(url_for("units.show", unit_id=plan.root_id))
