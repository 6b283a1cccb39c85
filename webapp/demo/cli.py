"""`flask demo load`: a province full of realistic data, for trying the app and for load tests."""

from __future__ import annotations

from time import perf_counter

import click
from flask.cli import AppGroup
from flask_babel import format_decimal
from flask_babel import gettext as _

from webapp.csv_import import in_cli_language
from webapp.database import begin_write
from webapp.demo.services import (
    DEMO_PASSWORD,
    DatabaseNotEmpty,
    DemoReport,
    SignIn,
    database_is_empty,
    demo_sign_ins,
    load_demo,
)
from webapp.extensions import db
from webapp.units.divisions import UnknownProvince, find_province

demo_cli = AppGroup("demo", help="Demo data.")


@demo_cli.command("load")
@click.option(
    "--activities",
    default=6000,
    show_default=True,
    type=click.IntRange(0, 10**8),
    help="How many activities to generate over the last 24 months.",
)
@click.option(
    "--seed", default=2026, show_default=True, type=int, help="Same seed, same day: same data."
)
@click.option(
    "--province",
    "province_name",
    default="Tuyên Quang",
    show_default=True,
    help="Province whose communes and wards are imported.",
)
@in_cli_language
def load_command(activities: int, seed: int, province_name: str) -> None:
    """Load demo data into an EMPTY database; a database with any unit is left alone."""
    if not database_is_empty():
        click.echo(_("The database is not empty: demo data not loaded."))
        if sign_ins := demo_sign_ins():
            _echo_sign_ins(sign_ins)
        return
    try:
        province = find_province(name=province_name)
    except UnknownProvince as exc:
        raise click.ClickException(exc.message()) from None
    started = perf_counter()
    try:
        begin_write()
        report = load_demo(province, activities=activities, seed=seed)
        commit_started = perf_counter()
        db.session.commit()
    except DatabaseNotEmpty:
        db.session.rollback()
        click.echo(_("The database is not empty: demo data not loaded."))
        return
    except BaseException:
        db.session.rollback()
        raise
    report.timings.append(("commit", perf_counter() - commit_started))
    _echo_report(report, perf_counter() - started)


def _echo_report(report: DemoReport, seconds: float) -> None:
    click.echo(
        _(
            "Demo data for %(province)s loaded in %(seconds)s s.",
            province=report.province,
            seconds=format_decimal(round(seconds, 1)),
        )
    )
    labels = {
        "units": _("units"),
        "members": _("members"),
        "accounts": _("accounts"),
        "activities": _("activities"),
        "participations": _("participations"),
        "confirmed": _("confirmed"),
        "submitted": _("submitted"),
        "returned": _("returned"),
    }
    counts = ", ".join(f"{labels[k]} {format_decimal(v)}" for k, v in report.counts.items())
    statuses = ", ".join(f"{labels[k]} {format_decimal(v)}" for k, v in report.statuses.items())
    click.echo(f"  {counts}")
    click.echo(f"  {statuses}")
    steps = {
        "divisions": _("divisions"),
        "cells": _("cells"),
        "members": _("members"),
        "accounts": _("accounts"),
        "activities": _("activities"),
        "tallies": _("tallies"),
        "commit": _("commit"),
    }
    click.echo(
        "  "
        + ", ".join(f"{steps[name]} {format_decimal(round(t, 2))} s" for name, t in report.timings)
    )
    rate = report.counts["activities"] / max(dict(report.timings)["activities"], 1e-9)
    click.echo("  " + _("%(rate)s activities per second", rate=format_decimal(round(rate))))
    click.echo()
    _echo_sign_ins(report.sign_ins)


def _echo_sign_ins(sign_ins: list[SignIn]) -> None:
    click.echo(_("Sign in with:"))
    header = (_("username"), _("password"), _("role"), _("scope"))
    rows = [header] + [(s.username, DEMO_PASSWORD, s.role, s.scope) for s in sign_ins]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    for row in rows:
        cells = "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=False))
        click.echo(f"  {cells}  {row[3]}")


@demo_cli.command("logins")
@in_cli_language
def logins_command() -> None:
    """Print the demo sign-ins (one per role) that exist in this database."""
    sign_ins = demo_sign_ins()
    if not sign_ins:
        click.echo(_("There are no demo accounts in this database."))
        return
    _echo_sign_ins(sign_ins)
