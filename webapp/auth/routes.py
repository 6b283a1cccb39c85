from __future__ import annotations

from flask import (
    Blueprint,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import force_locale, get_locale, ngettext
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user
from sqlalchemy import update
from werkzeug.wrappers import Response

from webapp.api_errors import json_error
from webapp.auth import sessions
from webapp.auth.forms import ChangePasswordForm, LanguageForm, LoginForm, SignOutOthersForm
from webapp.auth.limits import ACCOUNT_SCOPE, account_key
from webapp.auth.services import (
    PASSWORD_MIN,
    AccountError,
    authenticate,
    change_own_password,
    find_user,
    normalise_login,
    record_sign_in,
)
from webapp.database import begin_write
from webapp.errors.handlers import wants_json
from webapp.extensions import db, limiter
from webapp.field.shell import shell_version
from webapp.models import User
from webapp.security import safe_next

bp = Blueprint("auth", __name__, template_folder="templates")


def _account_key() -> str:
    """One count per account however it is named (username, any spelling of the phone);
    text that names no account is counted as written, so a miss reveals nothing."""
    login = request.form.get("login", "")
    user = find_user(login)
    return account_key(user.id) if user else f"{ACCOUNT_SCOPE}:{normalise_login(login)}"


def _failed(response: Response) -> bool:
    """Only failed attempts count towards the limits: a success redirects."""
    return response.status_code != 302


@bp.route("/login", methods=["GET", "POST"])
# A shared limit: its bucket is named by ACCOUNT_SCOPE alone, so an administrator can read and
# clear it (webapp.auth.limits) without knowing how Flask-Limiter names per-route buckets.
@limiter.shared_limit(
    lambda: current_app.config["LOGIN_LIMIT_PER_ACCOUNT"],
    scope=ACCOUNT_SCOPE,
    key_func=_account_key,
    methods=["POST"],
    deduct_when=_failed,
)
@limiter.limit(
    lambda: current_app.config["LOGIN_LIMIT_PER_ADDRESS"],
    methods=["POST"],
    deduct_when=_failed,
    scope="login-address",
)
def login() -> ResponseReturnValue:
    # The phone's service worker keeps a copy of this page (fetched, not navigated to): it must
    # get the form whoever is signed in. A person who opens the page while signed in goes home.
    if current_user.is_authenticated and request.method == "GET" and _navigating():
        return redirect(url_for("main.home"))
    form = LoginForm()
    status = 200
    if form.validate_on_submit():
        user = authenticate(form.login.data or "", form.password.data or "")
        if user is not None:
            replaced = sessions.current_token()
            record_sign_in(user)
            # Signing in over an open session (a shared phone) ends that session.
            sessions.end_session(replaced)
            token = sessions.open_session(user, request.user_agent.string)
            db.session.commit()
            # A fresh session (no fixation), keeping the language chosen on the sign-in page.
            locale = user.locale or session.get("locale")
            session.clear()
            session.permanent = True
            login_user(user)
            sessions.remember(token)
            if locale:
                session["locale"] = locale
            if user.must_change_password:
                return redirect(url_for("auth.change_password"))
            return redirect(safe_next(request.args.get("next")))
        form.password.errors = [_("Wrong username or password.")]
        status = 401
    elif request.method == "POST":
        status = 400
    # The worker's copy is fetched, not shown: it must not take a message meant for the page.
    shell_copy = request.method == "GET" and not _navigating()
    cacheable = status == 200 and (shell_copy or not session.get("_flashes"))
    page = render_template("auth/login.html", form=form, shell_copy=shell_copy)
    response = make_response(page, status)
    if cacheable:
        # The page belongs to the app shell: the service worker stores it for this version.
        response.headers["Cache-Control"] = "no-cache"
        response.headers["X-Shell-Version"] = shell_version()
    return response


def _navigating() -> bool:
    """A page the browser opens, not the service worker's fetch(). A browser too old to say
    (no Sec-Fetch-Dest) gets the form: harmless, and its worker can then install."""
    return request.headers.get("Sec-Fetch-Dest") in ("document", "iframe")


@bp.post("/logout")
def logout() -> ResponseReturnValue:
    sessions.end_current()
    db.session.commit()
    sessions.forget_in_cookie()
    flash(_("You have signed out."), "info")
    return redirect(url_for("auth.login"))


@bp.app_context_processor
def _session_context() -> dict[str, object]:
    """For base.html's sign-out form on server pages: which session it ends."""
    return {"current_session_id": lambda: sessions.public_id(sessions.current_token())}


# -- the person's own account ---------------------------------------------------------------

# What a person holding a temporary password may still open: the change-password page, signing
# out, the language switch, and what pages and the phone app's shell are built from (the service
# worker refuses to precache a redirected response).
OPEN_WHILE_PASSWORD_MUST_CHANGE = frozenset(
    {
        "auth.change_password",
        "auth.login",
        "auth.logout",
        "session_api.end_session",
        "session_api.csrf_token",
        "main.set_language",
        "static",
        "field.asset",
        "field.manifest",
        "field.offline",
        "field.service_worker",
    }
)


@bp.before_app_request
def _require_own_password() -> ResponseReturnValue | None:
    """Until a temporary password is replaced, pages lead to the change-password page and
    the API answers 403."""
    if request.endpoint is None or request.endpoint in OPEN_WHILE_PASSWORD_MUST_CHANGE:
        return None
    if not (current_user.is_authenticated and current_user.must_change_password):
        return None
    if wants_json():
        return json_error(
            403,
            _(
                "Your password is temporary: open the app in a browser and choose a new "
                "password to continue."
            ),
            title=_("New password required"),
        )
    return redirect(url_for("auth.change_password"))


def _sign_in_again(user: User, token: str) -> None:
    """After a password change: a fresh session for the new epoch (the others have ended)."""
    locale = session.get("locale")
    session.clear()
    session.permanent = True
    login_user(user)
    sessions.remember(token)
    if locale:
        session["locale"] = locale


@bp.get("/account")
@login_required
def account() -> ResponseReturnValue:
    lang = current_user.locale or str(get_locale() or "vi").split("_")[0]
    return render_template(
        "auth/account.html",
        language_form=LanguageForm(lang=lang),
        sign_out_form=SignOutOthersForm(),
        session_count=sessions.count_sessions(current_user),
    )


@bp.post("/account/sessions/end-others")
@login_required
def end_other_sessions() -> ResponseReturnValue:
    if SignOutOthersForm().validate_on_submit():
        user = current_user._get_current_object()
        begin_write()
        ended = sessions.end_other_sessions(user, sessions.current_token())
        db.session.commit()
        flash(
            ngettext(
                "Signed out on %(num)d other device.", "Signed out on %(num)d other devices.", ended
            ),
            "info",
        )
    return redirect(url_for("auth.account"))


def _own_account_key() -> str:
    return f"password-change:user:{current_user.id}"


def _wrong_current_password(response: Response) -> bool:
    return response.status_code == 401


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
# Guessing the current password here is limited like signing in (a session left open on a
# shared computer must not become a way to find the password out).
@limiter.limit(
    lambda: current_app.config["LOGIN_LIMIT_PER_ACCOUNT"],
    key_func=_own_account_key,
    methods=["POST"],
    deduct_when=_wrong_current_password,
    scope="password-change",
)
def change_password() -> ResponseReturnValue:
    form = ChangePasswordForm()
    forced = bool(current_user.must_change_password)
    if forced:
        form.current_password.label.text = _("Temporary password")
    status = 200
    if form.validate_on_submit():
        user = current_user._get_current_object()
        begin_write()
        try:
            change_own_password(
                user, form.current_password.data or "", form.new_password.data or ""
            )
        except AccountError as error:
            db.session.rollback()
            if error.field == "current":
                form.current_password.errors = [str(error)]
                status = 401
            else:
                form.new_password.errors = [str(error)]
                status = 422
        else:
            token = sessions.open_session(user, request.user_agent.string)
            db.session.commit()
            _sign_in_again(user, token)
            flash(_("Your password has been changed. Other devices are signed out."), "info")
            return redirect(url_for("main.home") if forced else url_for("auth.account"))
    elif request.method == "POST":
        status = 400
    return render_template(
        "auth/change_password.html", form=form, forced=forced, password_min=PASSWORD_MIN
    ), status


@bp.post("/account/language")
@login_required
def language() -> ResponseReturnValue:
    form = LanguageForm()
    if form.validate_on_submit():
        user_id = current_user.id
        begin_write()
        db.session.execute(update(User).where(User.id == user_id).values(locale=form.lang.data))
        db.session.commit()
        session["locale"] = form.lang.data
        with force_locale(form.lang.data):
            flash(_("Language saved."), "info")
    else:
        flash(_("Choose a language."), "error")
    return redirect(url_for("auth.account"))
