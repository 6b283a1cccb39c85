"""Activity kinds and programmes on the web (issue 7).

Every administrator may read the lists (the phones of their cadres download them anyway); only
an administrator whose scope is a whole tree changes them, since they are global.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user

from webapp.auth.decorators import role_required
from webapp.database import begin_write
from webapp.extensions import db
from webapp.models import ActivityKind, Program
from webapp.reference import services
from webapp.reference.forms import ActionForm, KindForm, ProgramForm

bp = Blueprint("reference", __name__, url_prefix="/admin/reference", template_folder="templates")

# list name in the URL -> (model, form, saver, data class, activator)
LISTS: dict[str, tuple[Any, Any, Callable[..., Any], Any, Callable[..., bool]]] = {
    "kinds": (
        ActivityKind,
        KindForm,
        services.save_kind,
        services.KindData,
        services.set_kind_active,
    ),
    "programs": (
        Program,
        ProgramForm,
        services.save_program,
        services.ProgramData,
        services.set_program_active,
    ),
}


MAX_ID = 2**31 - 1  # ids are 32-bit integers: a larger number in a URL names nothing


def _editor_only() -> None:
    if not services.may_edit(current_user):
        abort(403)


@bp.get("/")
@role_required("admin")
def index() -> ResponseReturnValue:
    return render_template(
        "reference/index.html",
        kinds=services.kinds(),
        programs=services.programs(),
        may_edit=services.may_edit(current_user),
        action_form=ActionForm(),
    )


@bp.route("/<any(kinds, programs):which>/new", methods=["GET", "POST"])
@role_required("admin")
def create(which: str) -> ResponseReturnValue:
    return _edit(which, None)


@bp.route("/<any(kinds, programs):which>/<int:item_id>", methods=["GET", "POST"])
@role_required("admin")
def edit(which: str, item_id: int) -> ResponseReturnValue:
    return _edit(which, item_id)


def _get_or_404(model: Any, item_id: int) -> Any:
    item = db.session.get(model, item_id) if 0 < item_id <= MAX_ID else None
    if item is None:
        abort(404)
    return item


def _edit(which: str, item_id: int | None) -> ResponseReturnValue:
    _editor_only()
    model, form_class, save, data_class, _activate = LISTS[which]
    item = _get_or_404(model, item_id) if item_id is not None else None
    form = form_class(obj=item)
    if form.validate_on_submit():
        fields = {name: getattr(form, name).data for name in data_class.__dataclass_fields__}
        begin_write()
        item = _get_or_404(model, item_id) if item_id is not None else None
        try:
            saved = save(current_user, data_class(**fields), item)
        except services.ListError as refused:
            db.session.rollback()
            target = getattr(form, refused.field) if refused.field else form.code
            target.errors.append(refused.message)
        else:
            name = saved.name_vi
            db.session.commit()
            flash(_("Saved: %(name)s.", name=name), "info")
            return redirect(url_for("reference.index", _anchor=which))
    status = 422 if request.method == "POST" else 200
    return render_template(
        "reference/edit.html", form=form, which=which, item=item, item_id=item_id
    ), status


@bp.post("/<any(kinds, programs):which>/<int:item_id>/<any(activate, deactivate):action>")
@role_required("admin")
def set_active(which: str, item_id: int, action: str) -> ResponseReturnValue:
    _editor_only()
    model, _form, _save, _data, activate = LISTS[which]
    begin_write()  # the CSRF token was checked before the view ran (CSRFProtect)
    item = _get_or_404(model, item_id)
    name = item.name_vi
    activate(current_user, item, action == "activate")
    db.session.commit()
    if action == "activate":
        flash(_("%(name)s is in use again.", name=name), "info")
    else:
        flash(
            _("%(name)s is no longer offered for new entries; past entries keep it.", name=name),
            "info",
        )
    return redirect(url_for("reference.index", _anchor=which))
