"""Administration of member rosters on the web (issue 7).

Admins only, and only inside their scope: a unit or member outside it is "not found".
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from webapp.auth.decorators import role_required
from webapp.database import begin_write
from webapp.extensions import db
from webapp.members import roster, roster_io
from webapp.members.forms import ActionForm, ApplyForm, MemberForm, TransferForm, UploadForm
from webapp.members.roster import RosterError, RosterFilters
from webapp.models import AuditEvent, Unit, User
from webapp.spreadsheet_import import MAX_UPLOAD_BYTES

bp = Blueprint("members", __name__, url_prefix="/admin/members", template_folder="templates")

PREVIEW_ROWS = 300  # rows to add or update listed on the preview; the counts cover them all


def _int_arg(name: str) -> int | None:
    value = request.args.get(name, "")
    return int(value) if value.isdigit() and len(value) < 10 else None


def _filters() -> RosterFilters:
    status = request.args.get("status", "active")
    party = request.args.get("party", "")
    return RosterFilters(
        unit_id=_int_arg("unit"),
        q=request.args.get("q", "").strip()[:80],
        status=status if status in roster.STATUSES else "active",
        party=party if party in roster.PARTY else "",
        page=_int_arg("page") or 1,
    )


def _unit_or_404(unit_id: int | None) -> Unit:
    unit = roster.manageable_unit(current_user, unit_id)
    if unit is None:
        abort(404)
    return unit


def _member_or_404(member_id: int, *, for_update: bool = False) -> Any:
    member = roster.member_in_scope(current_user, member_id, for_update=for_update)
    if member is None:
        abort(404)
    return member


@bp.get("/")
@role_required("admin")
def index() -> ResponseReturnValue:
    filters = _filters()
    unit = _unit_or_404(filters.unit_id)
    return render_template(
        "members/index.html",
        page=roster.roster_page(current_user, unit, filters),
        filters=filters,
        units=roster.unit_choices(current_user),
        args=filters.args(),
    )


@bp.get("/export.<any(xlsx, csv):fmt>")
@role_required("admin")
def export(fmt: str) -> ResponseReturnValue:
    filters = _filters()
    unit = _unit_or_404(filters.unit_id)
    if fmt == "xlsx":
        return roster_io.export_xlsx(current_user, unit, filters)
    return roster_io.export_csv(current_user, unit, filters)


# -- one member -------------------------------------------------------------------------------


@bp.route("/new", methods=["GET", "POST"])
@role_required("admin")
def new() -> ResponseReturnValue:
    form = MemberForm()
    form.unit.choices = roster.unit_choices(current_user, active_only=True)
    if request.method == "GET":
        form.unit.data = _int_arg("unit") or current_user.scope_unit_id
    if form.validate_on_submit():
        begin_write()
        user = _me()
        unit = _unit_or_404(form.unit.data)
        try:
            member = roster.add_member(
                user,
                unit,
                full_name=form.full_name.data or "",
                is_party_member=form.is_party_member.data,
                position=form.position.data,
                phone=form.phone.data,
            )
        except RosterError as error:
            db.session.rollback()
            flash(error.message, "error")
        else:
            db.session.commit()
            flash(_("%(name)s added to the roster.", name=member.full_name), "info")
            return redirect(url_for(".index", unit=unit.id))
    return render_template("members/form.html", form=form, member=None)


@bp.route("/<int:member_id>", methods=["GET", "POST"])
@role_required("admin")
def edit(member_id: int) -> ResponseReturnValue:
    member = _member_or_404(member_id)
    form = MemberForm(obj=member)
    del form.unit  # a member changes unit by a transfer
    if form.validate_on_submit():
        begin_write()
        user = _me()
        member = _member_or_404(member_id, for_update=True)
        try:
            changed = roster.edit_member(
                user,
                member,
                full_name=form.full_name.data or "",
                is_party_member=form.is_party_member.data,
                position=form.position.data,
                phone=form.phone.data,
            )
        except RosterError as error:
            db.session.rollback()
            flash(error.message, "error")
        else:
            db.session.commit()
            flash(_("Saved.") if changed else _("Nothing was changed."), "info")
            return redirect(url_for(".edit", member_id=member_id))
    return _member_page(member, form)


def _member_page(member: Any, form: MemberForm) -> ResponseReturnValue:
    events = roster.history(member)
    transfer_form = TransferForm()
    transfer_form.unit.choices = [
        (0, _("Choose a unit…")),
        *(
            choice
            for choice in roster.unit_choices(current_user, active_only=True)
            if choice[0] != member.unit_id
        ),
    ]
    return render_template(
        "members/form.html",
        form=form,
        member=member,
        unit_name=roster.unit_names(current_user.scope_unit, {member.unit_id})[member.unit_id],
        transfer_form=transfer_form,
        action_form=ActionForm(),
        history=events,
        actors=_actors(events),
        field_labels={**_column_labels(), "active": _("Active")},
        action_labels={
            "member.create": _("Added to the roster"),
            "member.update": _("Details changed"),
            "member.transfer": _("Transferred"),
            "member.deactivate": _("Marked as no longer active"),
            "member.reactivate": _("Made active again"),
        },
    )


def _actors(events: list[AuditEvent]) -> dict[int, User]:
    ids = {e.actor_id for e in events if e.actor_id}
    if not ids:
        return {}
    return {u.id: u for u in db.session.scalars(select(User).where(User.id.in_(ids)))}


@bp.post("/<int:member_id>/<any(deactivate, reactivate):action>")
@role_required("admin")
def set_active(member_id: int, action: str) -> ResponseReturnValue:
    if not ActionForm().validate_on_submit():
        abort(400)
    begin_write()
    user = _me()
    member = _member_or_404(member_id, for_update=True)
    try:
        roster.set_active(user, member, action == "reactivate")
    except RosterError as error:
        db.session.rollback()
        flash(error.message, "error")
        return redirect(url_for(".edit", member_id=member_id))
    db.session.commit()
    if action == "reactivate":
        flash(_("%(name)s is active again.", name=member.full_name), "info")
    else:
        flash(_("%(name)s is no longer active.", name=member.full_name), "info")
    return redirect(url_for(".edit", member_id=member_id))


@bp.post("/<int:member_id>/transfer")
@role_required("admin")
def transfer(member_id: int) -> ResponseReturnValue:
    form = TransferForm()
    form.unit.choices = roster.unit_choices(current_user, active_only=True)
    if not form.validate_on_submit():
        flash(_("Choose a unit you manage."), "error")
        return redirect(url_for(".edit", member_id=member_id))
    begin_write()
    user = _me()
    member = _member_or_404(member_id, for_update=True)
    unit = db.session.get(Unit, form.unit.data)
    try:
        if unit is None:
            raise RosterError(_("Choose a unit you manage."))
        moved = roster.transfer(user, member, unit)
    except RosterError as error:
        db.session.rollback()
        flash(error.message, "error")
        return redirect(url_for(".edit", member_id=member_id))
    db.session.commit()
    if moved:
        flash(_("%(name)s now belongs to %(unit)s.", name=member.full_name, unit=unit.name), "info")
    return redirect(url_for(".edit", member_id=member_id))


def _me() -> User:
    """The signed-in user, read again inside the write transaction `begin_write` opened."""
    user: User = current_user._get_current_object()  # type: ignore[attr-defined]
    return user


# -- import -----------------------------------------------------------------------------------


def _upload_form() -> UploadForm:
    form = UploadForm()
    form.default_unit.choices = [
        (0, _("None: every row names its unit")),
        *roster.unit_choices(current_user, active_only=True),
    ]
    return form


@bp.get("/import")
@role_required("admin")
def import_form() -> ResponseReturnValue:
    form = _upload_form()
    form.default_unit.data = 0
    return render_template("members/import.html", form=form, help=roster_io.template_help())


@bp.post("/import")
@role_required("admin")
def import_preview() -> ResponseReturnValue:
    form = _upload_form()
    if not form.validate_on_submit():
        return render_template(
            "members/import.html", form=form, help=roster_io.template_help()
        ), 400
    default_unit = None
    if form.default_unit.data:
        default_unit = _unit_or_404(form.default_unit.data)
    storage = form.file.data
    data = storage.stream.read(MAX_UPLOAD_BYTES + 1)
    if len(data) > MAX_UPLOAD_BYTES:
        form.file.errors = [
            _("The file is larger than %(size)s MB.", size=MAX_UPLOAD_BYTES // (1024 * 1024))
        ]
        return render_template(
            "members/import.html", form=form, help=roster_io.template_help()
        ), 413
    upload = roster_io.Upload(
        data, (storage.filename or "")[:200], default_unit.id if default_unit else None
    )
    return _preview(upload, default_unit)


def _preview(upload: roster_io.Upload, default_unit: Unit | None) -> ResponseReturnValue:
    report = roster_io.run_import(_me(), upload.data, upload.filename, default_unit)
    db.session.rollback()  # a preview changes nothing
    if report.problem:
        form = _upload_form()
        form.file.errors = [report.problem]
        return render_template(
            "members/import.html", form=form, help=roster_io.template_help()
        ), 422
    return _render_preview(report, upload, default_unit)


def _render_preview(
    report: roster_io.ImportReport,
    upload: roster_io.Upload,
    default_unit: Unit | None,
    status: int = 200,
) -> ResponseReturnValue:
    chunks, token = roster_io.pack_upload(_me(), upload) if report.ok else ([], "")
    return render_template(
        "members/preview.html",
        report=report,
        upload=upload,
        default_unit=default_unit,
        chunks=chunks,
        apply_form=ApplyForm(token=token),
        upload_form=_upload_form(),
        preview_rows=PREVIEW_ROWS,
        column_labels=_column_labels(),
    ), status


@bp.post("/import/apply")
@role_required("admin")
def import_apply() -> ResponseReturnValue:
    form = ApplyForm()
    if not form.validate_on_submit():
        abort(400)
    user = _me()
    upload = roster_io.unpack_upload(user, request.form.getlist("content"), form.token.data or "")
    if upload is None:
        flash(_("The preview has expired or the file was changed. Upload the file again."), "error")
        return redirect(url_for(".import_form"))
    default_unit = _unit_or_404(upload.default_unit_id) if upload.default_unit_id else None
    report = roster_io.run_import(user, upload.data, upload.filename, default_unit)
    if not report.ok:
        db.session.rollback()
        flash(_("Nothing was imported: the file has problems. Fix them and try again."), "error")
        return _render_preview(report, upload, default_unit, status=422)
    db.session.commit()
    counts = report.counts
    flash(
        _(
            "Imported: %(created)d added, %(updated)d updated, %(unchanged)d unchanged.",
            created=counts.created,
            updated=counts.updated,
            unchanged=counts.unchanged,
        ),
        "info",
    )
    return redirect(url_for(".index", unit=default_unit.id if default_unit else None))


@bp.get("/template.<any(xlsx, csv):fmt>")
@role_required("admin")
def template(fmt: str) -> ResponseReturnValue:
    return roster_io.template_xlsx() if fmt == "xlsx" else roster_io.template_csv()


def _column_labels() -> dict[str, str]:
    return {
        "unit": _("Unit"),
        "full_name": _("Full name"),
        "is_party_member": _("Party member"),
        "position": _("Position held"),
        "phone": _("Phone number"),
        "active": _("Active"),
    }
