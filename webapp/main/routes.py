from __future__ import annotations

from flask import Blueprint, current_app, redirect, render_template, request, session
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required
from sqlalchemy import update

from webapp.clock import local_today
from webapp.database import begin_write
from webapp.extensions import db
from webapp.main import services
from webapp.models import User
from webapp.security import safe_next

bp = Blueprint("main", __name__, template_folder="templates")

HOME_TEMPLATES = {
    "cadre": "main/home_cadre.html",
    "secretary": "main/home_secretary.html",
    "staff": "main/home_staff.html",
    "admin": "main/home_staff.html",
}


@bp.get("/")
@login_required
def home() -> ResponseReturnValue:
    user = current_user._get_current_object()
    context: dict[str, object] = {"scope_unit": user.scope_unit}
    if user.role == "cadre":
        context["recent"] = services.recent_entries(user)
    elif user.role == "secretary":
        context["waiting_count"], context["waiting"] = services.waiting_entries(user)
    else:
        context["totals"] = services.month_totals(user, local_today())
        context["waiting_count"], _ = services.waiting_entries(user, limit=0)
    return render_template(HOME_TEMPLATES[user.role], **context)


@bp.post("/language")
def set_language() -> ResponseReturnValue:
    lang = request.form.get("lang", "")
    if lang in current_app.config["LANGUAGES"]:
        session["locale"] = lang
        if current_user.is_authenticated:
            user_id = current_user.id
            begin_write()
            db.session.execute(update(User).where(User.id == user_id).values(locale=lang))
            db.session.commit()
    return redirect(safe_next(request.form.get("next")))
