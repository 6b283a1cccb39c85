"""`flask review act`: the same state machine as the pages, for scripts and support staff."""

from __future__ import annotations

import uuid

import click
from flask.cli import AppGroup
from sqlalchemy import func, select

from webapp.extensions import db
from webapp.models import User
from webapp.review import services

review_cli = AppGroup("review", help="Confirm, return or unconfirm entries.")


@review_cli.command("act")
@click.argument("activity_id", type=click.UUID)
@click.argument("action", type=click.Choice(sorted(services.TRANSITIONS)))
@click.option("--as", "username", required=True, help="the reviewer's username")
@click.option("--reason", default=None, help="required to return or unconfirm")
def act(activity_id: uuid.UUID, action: str, username: str, reason: str | None) -> None:
    """Apply ACTION to the entry ACTIVITY_ID as the user --as."""
    actor = db.session.scalars(
        select(User).where(func.lower(User.username) == username.lower())
    ).one_or_none()
    if actor is None or not actor.active:
        raise click.ClickException(f"no active user {username!r}")
    services.start()
    try:
        activity = services.transition(actor, activity_id, action, reason)
    except services.ReviewError as error:
        db.session.rollback()
        raise click.ClickException(error.message) from error
    db.session.commit()
    click.echo(f"{activity.id}: {activity.status} (revision {activity.revision})")
