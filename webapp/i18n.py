"""Locale choice, number and date formatting, and the `flask translate` commands."""

from __future__ import annotations

import subprocess
import sys
from datetime import date, datetime
from pathlib import Path

import click
from flask import Flask, current_app, has_request_context, request, session
from flask.cli import AppGroup
from flask_babel import format_date, format_datetime, format_decimal, get_locale
from flask_login import current_user

ROOT = Path(__file__).resolve().parent.parent
TRANSLATIONS = ROOT / "translations"

# Vietnamese writes dates day-first with two-digit day and month: 26/07/2023.
DATE_FORMATS = {"vi": "dd/MM/yyyy", "en": "d MMM yyyy"}
MONTH_FORMATS = {"vi": "MM/yyyy", "en": "MMMM yyyy"}
DATETIME_FORMATS = {"vi": "HH:mm dd/MM/yyyy", "en": "d MMM yyyy, HH:mm"}


def select_locale() -> str:
    """User setting, then the session's choice, then the browser, then Vietnamese.

    Outside a request (command line, background work) the default language applies.
    """
    languages = current_app.config["LANGUAGES"]
    if not has_request_context():
        return str(current_app.config["BABEL_DEFAULT_LOCALE"])
    if current_user and current_user.is_authenticated and current_user.locale in languages:
        return current_user.locale
    chosen = session.get("locale")
    if chosen in languages:
        return chosen
    return request.accept_languages.best_match(languages) or "vi"


def _lang() -> str:
    return str(get_locale() or "vi").split("_")[0]


def fmt_number(value: float | int | None) -> str:
    return "" if value is None else format_decimal(value)


def fmt_date(value: date | None) -> str:
    return "" if value is None else format_date(value, DATE_FORMATS.get(_lang(), "medium"))


def fmt_month(value: date | None) -> str:
    return "" if value is None else format_date(value, MONTH_FORMATS.get(_lang(), "MMM yyyy"))


def fmt_datetime(value: datetime | None) -> str:
    if value is None:
        return ""
    return format_datetime(value, DATETIME_FORMATS.get(_lang(), "medium"))


def register_i18n(app: Flask) -> None:
    app.jinja_env.filters["number"] = fmt_number
    app.jinja_env.filters["date"] = fmt_date
    app.jinja_env.filters["month"] = fmt_month
    app.jinja_env.filters["datetime"] = fmt_datetime
    app.jinja_env.globals["current_lang"] = _lang
    app.cli.add_command(translate)


translate = AppGroup("translate", help="Extract, update and compile the translations.")


def _pybabel(*args: str) -> None:
    # Fixed arguments from this module only; the interpreter is our own.
    command = [sys.executable, "-m", "babel.messages.frontend", *args]
    subprocess.run(command, check=True, cwd=ROOT)  # noqa: S603


@translate.command()
def extract() -> None:
    """Collect messages from the code and templates into messages.pot."""
    _pybabel(
        "extract",
        "-F",
        "babel.cfg",
        "-k",
        "_l",
        "--no-location",
        "--sort-output",
        "-o",
        "translations/messages.pot",
        ".",
    )


@translate.command()
def update() -> None:
    """Extract, then merge new messages into every language's .po file."""
    extract.callback()
    _pybabel(
        "update",
        "-i",
        "translations/messages.pot",
        "-d",
        "translations",
        "--no-fuzzy-matching",
        # The width the catalogs were written with: an update then changes only what changed.
        "--width",
        "100",
    )


@translate.command()
def compile() -> None:
    """Build the .mo files the app reads."""
    _pybabel("compile", "-d", "translations", "--statistics")


@translate.command()
@click.argument("lang")
def init(lang: str) -> None:
    """Start a new language."""
    _pybabel("init", "-i", "translations/messages.pot", "-d", "translations", "-l", lang)
