"""The restore drill (issue 11, item 5): back up a running database and its photos, restore
them into a fresh database server and an empty photo folder, and check the copy: the same rows,
exact tallies, every photo readable through the app."""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from tests import hostile_images
from tests.conftest import IsolatedClient, csrf_token_from, make_config
from tests.factories import PASSWORD
from tests.pg_server import postgres_server
from tests.sync_helpers import activity_payload, push
from tests.test_photo_api import put_photo
from webapp import create_app
from webapp.extensions import db
from webapp.review import services as review


def signed_in(app: Flask, login: str):
    client = app.test_client()
    token = csrf_token_from(client, "/login")
    client.post("/login", data={"login": login, "password": PASSWORD, "csrf_token": token})
    return client


@pytest.fixture
def logged(app, world, client, auth) -> dict[str, list[str]]:
    """Entries with photos, some confirmed, some returned: every table has something."""
    assert auth.login("canbo").status_code == 302
    items = [activity_payload(world, photos_expected=1) for _ in range(4)]
    push(client, items)
    photos = []
    for n, item in enumerate(items):
        photo_id = str(uuid.uuid4())
        answer = put_photo(
            client, item["id"], hostile_images.oriented_jpeg(n + 1), photo_id=photo_id
        )
        assert answer.status_code == 201
        photos.append(photo_id)
    secretary = world.users["secretary_x"]
    review.start()
    review.transition(secretary, uuid.UUID(items[0]["id"]), "confirm")
    review.transition(secretary, uuid.UUID(items[1]["id"]), "return", "Thiếu ảnh")
    db.session.commit()
    return {"entries": [i["id"] for i in items], "photos": photos}


@contextlib.contextmanager
def fresh_database(database_url: str, tmp_path: Path) -> Iterator[str]:
    if database_url.startswith("postgresql"):
        with postgres_server() as url:  # another server altogether, as after losing one
            yield url
    else:
        yield f"sqlite:///{tmp_path / 'restored.sqlite3'}"


def test_backup_then_restore_into_a_fresh_server(
    app, database_url: str, tmp_path: Path, logged, runner
) -> None:
    backup_dir = tmp_path / "backup"
    made = runner.invoke(args=["backup", "create", str(backup_dir)])
    assert made.exit_code == 0, made.output
    manifest = json.loads((backup_dir / "manifest.json").read_text())
    assert manifest["tables"]["activity"] == 4 and manifest["tables"]["photo"] == 4
    assert len(manifest["photos"]) == 8  # display and thumbnail of each
    again = runner.invoke(args=["backup", "create", str(backup_dir)])
    assert "(0 new)" in again.output  # content-addressed: nothing copied twice

    with fresh_database(database_url, tmp_path) as target_url:
        restored = create_app(make_config(target_url, tmp_path / "restored"))
        restored.test_client_class = IsolatedClient
        (tmp_path / "restored" / "photos").mkdir(parents=True)
        try:
            with restored.app_context():
                cli = restored.test_cli_runner()
                result = cli.invoke(args=["backup", "restore", str(backup_dir)])
                assert result.exit_code == 0, result.output
                assert "tallies exact: yes" in result.output
                assert cli.invoke(args=["tallies", "verify"]).exit_code == 0
                from webapp.backup import table_counts

                assert table_counts() == manifest["tables"]
                # The restored copy serves the photos to who may see them.
                reader = signed_in(restored, "bithu.x")
                for photo_id in logged["photos"]:
                    shown = reader.get(f"/api/v1/photos/{photo_id}/thumb")
                    assert shown.status_code == 200 and shown.data[:2] == b"\xff\xd8"
                # And it refuses to restore over data.
                twice = cli.invoke(args=["backup", "restore", str(backup_dir)])
                assert twice.exit_code != 0 and "not empty" in twice.output
                db.session.remove()
        finally:
            with restored.app_context():
                db.engine.dispose()
