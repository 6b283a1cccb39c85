from __future__ import annotations

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user
from werkzeug.wrappers import Response

from webapp.auth.forms import LoginForm
from webapp.auth.services import authenticate, find_user, normalise_login, record_sign_in
from webapp.extensions import db, limiter
from webapp.security import safe_next

bp = Blueprint("auth", __name__, template_folder="templates")


def _account_key() -> str:
    """One count per account however it is named (username, any spelling of the phone);
    text that names no account is counted as written, so a miss reveals nothing."""
    login = request.form.get("login", "")
    user = find_user(login)
    return f"login-account:user:{user.id}" if user else f"login-account:{normalise_login(login)}"


def _failed(response: Response) -> bool:
    """Only failed attempts count towards the limits: a success redirects."""
    return response.status_code != 302


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(
    lambda: current_app.config["LOGIN_LIMIT_PER_ACCOUNT"],
    key_func=_account_key,
    methods=["POST"],
    deduct_when=_failed,
    scope="login-account",
)
@limiter.limit(
    lambda: current_app.config["LOGIN_LIMIT_PER_ADDRESS"],
    methods=["POST"],
    deduct_when=_failed,
    scope="login-address",
)
def login() -> ResponseReturnValue:
    if current_user.is_authenticated:
        return redirect(url_for("main.home"))
    form = LoginForm()
    status = 200
    if form.validate_on_submit():
        user = authenticate(form.login.data or "", form.password.data or "")
        if user is not None:
            record_sign_in(user)
            db.session.commit()
            # A fresh session (no fixation), keeping the language chosen on the sign-in page.
            locale = user.locale or session.get("locale")
            session.clear()
            session.permanent = True
            login_user(user)
            if locale:
                session["locale"] = locale
            return redirect(safe_next(request.args.get("next")))
        form.password.errors = [_("Wrong username or password.")]
        status = 401
    elif request.method == "POST":
        status = 400
    return render_template("auth/login.html", form=form), status


@bp.post("/logout")
def logout() -> ResponseReturnValue:
    locale = session.get("locale")
    logout_user()
    session.clear()
    if locale:
        session["locale"] = locale
    flash(_("You have signed out."), "info")
    return redirect(url_for("auth.login"))
