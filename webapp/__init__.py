"""Nhật ký cơ sở: the application factory."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from werkzeug.middleware.proxy_fix import ProxyFix

from webapp.config import Config
from webapp.cookie_session import CookieSessionInterface
from webapp.extensions import api, babel, compress, csrf, db, limiter, login_manager, migrate
from webapp.logs import register_logging
from webapp.photos.storage import storage_from_config

ROOT = Path(__file__).resolve().parent.parent


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    app = Flask(
        __name__,
        instance_path=str(ROOT / "instance"),
        static_folder=str(ROOT / "static"),
        static_url_path="/static",
    )
    app.config.from_object(Config.from_env(Path(app.instance_path), **dict(config or {})))
    app.session_interface = CookieSessionInterface()
    register_logging(app)
    if app.config["TRUSTED_PROXIES"]:
        hops = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)  # type: ignore[method-assign]
    if app.config.get("SQLITE_IN_PRODUCTION"):
        app.logger.warning("Production is running on SQLite: fine for one box, not for several.")
    # A PHOTO_STORAGE that names nothing usable stops the start here, with its reason.
    storage_from_config(app.config)
    register_extensions(app)
    register_blueprints(app)
    register_commands(app)
    return app


def register_extensions(app: Flask) -> None:
    from webapp import database, models  # noqa: F401  (engine events; every table registered)
    from webapp.i18n import register_i18n, select_locale
    from webapp.tallies import rollup  # noqa: F401  (the session hook that keeps tallies exact)

    db.init_app(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"))
    csrf.init_app(app)
    babel.init_app(
        app,
        locale_selector=select_locale,
        default_translation_directories=str(ROOT / "translations"),
    )
    limiter.init_app(app)
    login_manager.init_app(app)
    api.init_app(app)
    compress.init_app(app)
    register_i18n(app)


def register_blueprints(app: Flask) -> None:
    from webapp import auth, field, health, main, review, sync, tallies
    from webapp.auditlog.routes import bp as auditlog_bp
    from webapp.auth import api as session_api
    from webapp.errors import register_error_handlers
    from webapp.members.routes import bp as members_bp
    from webapp.photos import routes as photo_routes
    from webapp.reference.routes import bp as reference_bp
    from webapp.review import api as review_api
    from webapp.security import register_security_headers
    from webapp.tallies import routes as tally_routes  # noqa: F401  (the routes on tallies.bp)
    from webapp.tallies import targets_routes  # noqa: F401
    from webapp.units.routes import bp as units_bp
    from webapp.users.routes import bp as users_bp

    app.register_blueprint(health.bp)
    app.register_blueprint(auth.bp)
    app.register_blueprint(main.bp)
    app.register_blueprint(field.bp)
    app.register_blueprint(review.bp)
    app.register_blueprint(tallies.bp)
    for admin_bp in (units_bp, members_bp, users_bp, reference_bp, auditlog_bp):
        app.register_blueprint(admin_bp)
    api.register_blueprint(session_api.bp)
    api.register_blueprint(sync.bp)
    api.register_blueprint(photo_routes.bp)
    api.register_blueprint(review_api.bp)
    # After api.init_app: these replace flask-smorest's handlers, so pages get HTML errors.
    register_error_handlers(app)
    register_security_headers(app)


def register_commands(app: Flask) -> None:
    from webapp.backup_cli import backup_cli
    from webapp.demo.cli import demo_cli
    from webapp.members.cli import members_cli
    from webapp.review.cli import review_cli
    from webapp.tallies.cli import tallies_cli
    from webapp.units.cli import units_cli
    from webapp.users.cli import users_cli

    for group in (units_cli, members_cli, users_cli, demo_cli, review_cli, tallies_cli, backup_cli):
        app.cli.add_command(group)


@login_manager.user_loader
def _load_user(token: str) -> Any:
    from webapp.auth import sessions

    return sessions.load_user(token, sessions.current_token())


@login_manager.unauthorized_handler
def _unauthorized() -> ResponseReturnValue:
    from webapp.api_errors import json_error
    from webapp.errors.handlers import wants_json

    if wants_json():
        return json_error(401, _("Sign in to continue."), title=_("Sign-in required"))
    return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
