"""`flask users ...`: accounts from the command line (audited with no actor)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TypeVar

import click
from flask.cli import AppGroup
from flask_babel import gettext as _
from sqlalchemy import select

from webapp.csv_import import in_cli_language
from webapp.database import begin_write
from webapp.extensions import db
from webapp.models import ROLES, Member
from webapp.units.services import find_unit, unit_label
from webapp.users.services import (
    LOCALES,
    AccountError,
    create_user,
    deactivate,
    get_by_username,
    reactivate,
    reset_password,
    set_password,
)

users_cli = AppGroup("users", help="Accounts.")

T = TypeVar("T")

_password_stdin = click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the password from the first line of standard input (for scripts).",
)


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    password: str = click.prompt(_("Password"), hide_input=True, confirmation_prompt=True)
    return password


def _in_transaction(change: Callable[[], T]) -> T:
    """Run `change`, commit once; a broken rule becomes a clean error and a rollback."""
    try:
        begin_write()
        result = change()
        db.session.commit()
    except AccountError as exc:
        db.session.rollback()
        raise click.ClickException(str(exc)) from None
    except BaseException:
        db.session.rollback()
        raise
    return result


@users_cli.command("create")
@click.option("--username", required=True)
@click.option("--role", required=True, type=click.Choice(ROLES))
@click.option(
    "--scope",
    "scope_ref",
    required=True,
    metavar="UNIT",
    help="Division code or name path, e.g. “Tuyên Quang / Xã Lâm Bình”.",
)
@click.option(
    "--member-id",
    type=int,
    help="Roster entry of this person (required for entries to count as their participation).",
)
@click.option("--phone", help="Phone number, to sign in with instead of the username.")
@click.option("--full-name", help="Defaults to the member's name, else the username.")
@click.option("--locale", type=click.Choice(LOCALES))
@_password_stdin
@in_cli_language
def create_command(
    username: str,
    role: str,
    scope_ref: str,
    member_id: int | None,
    phone: str | None,
    full_name: str | None,
    locale: str | None,
    password_stdin: bool,
) -> None:
    """Create an account with a role and the unit subtree it may see."""
    scope_unit = find_unit(scope_ref)
    if scope_unit is None:
        raise click.ClickException(_("There is no unit “%(ref)s”.", ref=scope_ref))
    member = None
    if member_id is not None:
        member = db.session.scalars(select(Member).where(Member.id == member_id)).first()
        if member is None:
            raise click.ClickException(_("There is no member with id %(id)d.", id=member_id))
    password = _read_password(password_stdin)
    user = _in_transaction(
        lambda: create_user(
            username=username,
            role=role,
            scope_unit=scope_unit,
            password=password,
            member=member,
            phone=phone,
            full_name=full_name,
            locale=locale,
        )
    )
    click.echo(
        _(
            "Created %(username)s (%(role)s, scope “%(scope)s”).",
            username=user.username,
            role=user.role,
            scope=unit_label(scope_unit),
        )
    )


@users_cli.command("set-password")
@click.argument("username")
@_password_stdin
@in_cli_language
def set_password_command(username: str, password_stdin: bool) -> None:
    """Give an account a new password; its existing sessions end."""
    try:
        user = get_by_username(username)
    except AccountError as exc:
        raise click.ClickException(str(exc)) from None
    password = _read_password(password_stdin)
    _in_transaction(lambda: set_password(user, password))
    click.echo(_("New password set for %(username)s.", username=user.username))


@users_cli.command("deactivate")
@click.argument("username")
@in_cli_language
def deactivate_command(username: str) -> None:
    """Stop an account from signing in; its existing sessions end."""

    def change() -> tuple[str, bool]:
        user = get_by_username(username)
        return user.username, deactivate(user)

    name, changed = _in_transaction(change)
    if changed:
        click.echo(_("%(username)s is deactivated.", username=name))
    else:
        click.echo(_("%(username)s was already inactive.", username=name))


@users_cli.command("reactivate")
@click.argument("username")
@in_cli_language
def reactivate_command(username: str) -> None:
    """Let a deactivated account sign in again (its old sessions stay ended)."""

    def change() -> tuple[str, bool]:
        user = get_by_username(username)
        return user.username, reactivate(user)

    name, changed = _in_transaction(change)
    if changed:
        click.echo(_("%(username)s is active again.", username=name))
    else:
        click.echo(_("%(username)s was already active.", username=name))


@users_cli.command("reset-password")
@click.argument("username")
@in_cli_language
def reset_password_command(username: str) -> None:
    """Give an account a one-time password, printed once; the person chooses their own at the
    next sign-in and their existing sessions end."""

    def change() -> tuple[str, str]:
        user = get_by_username(username)
        return user.username, reset_password(user, actor=None)

    name, password = _in_transaction(change)
    click.echo(
        _("Temporary password for %(username)s: %(password)s", username=name, password=password)
    )


@users_cli.command("prune-sessions")
@in_cli_language
def prune_sessions_command() -> None:
    """Remove signed-in sessions that ended by themselves (unused for SESSION_DAYS, or from
    before a password change or deactivation); safe to run from cron."""
    from flask import current_app

    from webapp.auth.sessions import prune

    removed = _in_transaction(lambda: prune(current_app.config["PERMANENT_SESSION_LIFETIME"]))
    click.echo(_("Sessions removed: %(n)d", n=removed))
