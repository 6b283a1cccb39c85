"""Administration of accounts on the web (issue 7).

Every route needs an administrator; an account or member outside the administrator's subtree
is answered 404 (not even its existence shows). What may change is decided by
`services.may_manage`, the same rule the command line follows.
"""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    abort,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from webapp.auth.decorators import role_required
from webapp.auth.limits import sign_in_lock
from webapp.database import begin_write
from webapp.extensions import db
from webapp.models import AuditEvent, Member, Unit, User
from webapp.units.services import find_unit, unit_label
from webapp.users import queries, services
from webapp.users.forms import AccessForm, ActionForm, CreateAccountForm, role_choices

bp = Blueprint("users", __name__, url_prefix="/admin/accounts", template_folder="templates")

HISTORY_LENGTH = 20


def _actor() -> User:
    user: User = current_user._get_current_object()
    return user


def _account_or_404(user_id: int) -> User:
    account = queries.visible_account(_actor(), user_id)
    if account is None:
        abort(404)
    return account


def _no_store(response: Any) -> Any:
    """A page showing a temporary password must not be kept by the browser or a proxy."""
    response = make_response(response)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/")
@role_required("admin")
def index() -> ResponseReturnValue:
    filters = queries.AccountFilters.from_args(request.args.to_dict())
    return render_template(
        "users/index.html",
        page=queries.account_page(_actor(), filters),
        filters=filters,
        args=request.args.to_dict(),
        role_label=services.role_label,
        roles=role_choices("admin"),
    )


# -- one account -------------------------------------------------------------------------------


def _access_form(account: User, form: AccessForm | None = None) -> AccessForm:
    actor = _actor()
    form = form or AccessForm(role=account.role, scope_unit=account.scope_unit_id)
    form.role.choices = role_choices(actor.role)
    form.scope_unit.choices = queries.scope_choices(
        actor, account.scope_unit, account.member.unit if account.member else None
    )
    return form


def _detail(
    account: User,
    *,
    access_form: AccessForm | None = None,
    access_error: str | None = None,
    temporary_password: str | None = None,
    status: int = 200,
) -> ResponseReturnValue:
    actor = _actor()
    events = db.session.scalars(
        select(AuditEvent)
        .where(AuditEvent.object_type == "app_user", AuditEvent.object_id == str(account.id))
        .order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
        .limit(HISTORY_LENGTH)
    ).all()
    actor_ids = {e.actor_id for e in events if e.actor_id}
    actors = {u.id: u for u in db.session.scalars(select(User).where(User.id.in_(actor_ids)))}
    html = render_template(
        "users/detail.html",
        account=account,
        scope_label=unit_label(account.scope_unit),
        member_unit_label=unit_label(account.member.unit) if account.member else None,
        lock=sign_in_lock(account.id),
        refusal=services.may_manage(actor, account.role, account.scope_unit, account=account),
        is_self=account.id == actor.id,
        access_form=_access_form(account, access_form),
        access_error=access_error,
        action_form=ActionForm(),
        temporary_password=temporary_password,
        events=events,
        actors=actors,
        role_label=services.role_label,
        unit_names=_unit_names(events),
    )
    response = make_response(html, status)
    return _no_store(response) if temporary_password else response


def _unit_names(events: list[AuditEvent]) -> dict[int, str]:
    ids: set[int] = set()
    for event in events:
        for values in (event.before or {}, event.after or {}):
            if isinstance(values.get("scope_unit_id"), int):
                ids.add(values["scope_unit_id"])
    rows = db.session.execute(select(Unit.id, Unit.name).where(Unit.id.in_(ids)))
    return {unit_id: name for unit_id, name in rows}


@bp.get("/<int:user_id>")
@role_required("admin")
def detail(user_id: int) -> ResponseReturnValue:
    return _detail(_account_or_404(user_id))


def _chosen_scope(form: AccessForm) -> Unit | None:
    """The unit typed in "another unit", else the one picked; None after noting an error."""
    ref = (form.scope_other.data or "").strip()
    if ref:
        unit = find_unit(ref)
        if unit is None:
            form.scope_other.errors = [_("There is no unit “%(ref)s”.", ref=ref)]
        return unit
    unit = db.session.get(Unit, form.scope_unit.data)
    if unit is None:
        form.scope_unit.errors = [_("Choose a unit.")]
    return unit


@bp.post("/<int:user_id>/access")
@role_required("admin")
def change_access(user_id: int) -> ResponseReturnValue:
    account = _account_or_404(user_id)
    form = _access_form(account, AccessForm())
    if not form.validate_on_submit():
        return _detail(account, access_form=form, status=422)
    unit = _chosen_scope(form)
    if unit is None:
        return _detail(account, access_form=form, status=422)
    role = form.role.data or ""
    begin_write()
    try:
        changed = services.update_access(account, role=role, scope_unit=unit, actor=_actor())
    except services.AccountError as error:
        db.session.rollback()
        return _detail(account, access_form=form, access_error=str(error), status=422)
    db.session.commit()
    if changed:
        flash(_("Role and scope saved."), "info")
    return redirect(url_for("users.detail", user_id=account.id))


def _act(user_id: int, change: Any) -> tuple[User, Any] | ResponseReturnValue:
    """Run one button's change in a write transaction; a refusal is flashed."""
    account = _account_or_404(user_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    begin_write()
    try:
        result = change(account, _actor())
    except services.AccountError as error:
        db.session.rollback()
        flash(str(error), "error")
        return redirect(url_for("users.detail", user_id=account.id))
    db.session.commit()
    return account, result


@bp.post("/<int:user_id>/reset-password")
@role_required("admin")
def reset_password(user_id: int) -> ResponseReturnValue:
    outcome = _act(user_id, lambda account, actor: services.reset_password(account, actor=actor))
    if not isinstance(outcome, tuple):
        return outcome
    account, password = outcome
    return _detail(account, temporary_password=password)


def _toggle(user_id: int, change: Any, done: str, unchanged: str) -> ResponseReturnValue:
    outcome = _act(user_id, change)
    if not isinstance(outcome, tuple):
        return outcome
    account, changed = outcome
    flash(done if changed else unchanged, "info")
    return redirect(url_for("users.detail", user_id=account.id))


@bp.post("/<int:user_id>/deactivate")
@role_required("admin")
def deactivate(user_id: int) -> ResponseReturnValue:
    return _toggle(
        user_id,
        lambda account, actor: services.deactivate(account, actor=actor),
        _("Account deactivated; it is signed out everywhere."),
        _("The account was already inactive."),
    )


@bp.post("/<int:user_id>/reactivate")
@role_required("admin")
def reactivate(user_id: int) -> ResponseReturnValue:
    return _toggle(
        user_id,
        lambda account, actor: services.reactivate(account, actor=actor),
        _("Account reactivated."),
        _("The account was already active."),
    )


@bp.post("/<int:user_id>/unlock")
@role_required("admin")
def unlock(user_id: int) -> ResponseReturnValue:
    return _toggle(
        user_id,
        lambda account, actor: services.unlock(account, actor=actor),
        _("Failed sign-ins forgotten: the account can sign in again."),
        _("No failed sign-ins were counted for this account."),
    )


# -- a new account for a member ----------------------------------------------------------------


def _create_form(member: Member, form: CreateAccountForm | None = None) -> CreateAccountForm:
    actor = _actor()
    if form is None:
        form = CreateAccountForm(
            member_id=str(member.id),
            username=queries.suggest_username(member),
            role="cadre",
            scope_unit=member.unit_id,
        )
    form.role.choices = role_choices(actor.role)
    form.scope_unit.choices = queries.scope_choices(actor, member.unit)
    return form


def _member_arg(value: str | None) -> Member | None:
    if not value or not value.isdigit() or len(value) > 9:
        return None
    return queries.visible_member(_actor(), int(value))


@bp.get("/new")
@role_required("admin")
def new() -> ResponseReturnValue:
    q = request.args.get("q", "").strip()[:100]
    member = _member_arg(request.args.get("member"))
    if request.args.get("member") and member is None:
        abort(404)
    return render_template(
        "users/new.html",
        q=q,
        matches=queries.members_without_account(_actor(), q) if member is None else [],
        max_matches=queries.MEMBER_MATCHES,
        member=member,
        member_unit_label=unit_label(member.unit) if member else None,
        form=_create_form(member) if member else None,
    )


@bp.post("/new")
@role_required("admin")
def create() -> ResponseReturnValue:
    member = _member_arg(request.form.get("member_id"))
    if member is None:
        abort(404)
    form = _create_form(member, CreateAccountForm())

    def again(error: str | None = None) -> ResponseReturnValue:
        html = render_template(
            "users/new.html",
            q="",
            matches=[],
            max_matches=queries.MEMBER_MATCHES,
            member=member,
            member_unit_label=unit_label(member.unit),
            form=form,
            form_error=error,
        )
        return html, 422

    if not form.validate_on_submit():
        return again()
    unit = _chosen_scope(form)
    if unit is None:
        return again()
    password = services.temporary_password()
    begin_write()
    try:
        account = services.create_user(
            username=form.username.data or "",
            role=form.role.data or "",
            scope_unit=unit,
            password=password,
            member=member,
            phone=member.phone,
            full_name=member.full_name,
            must_change_password=True,
            actor=_actor(),
        )
    except services.AccountError as error:
        db.session.rollback()
        return again(str(error))
    db.session.commit()
    flash(_("Account created."), "info")
    return _detail(account, temporary_password=password)
