"""Structured logs (webapp/logs.py): one JSON line per request, with the request id nginx sends,
the signed-in user, and nothing of the body, query string or cookies."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import csrf_token_from, make_config
from tests.factories import PASSWORD
from webapp import create_app
from webapp.extensions import db
from webapp.models import Base


def test_each_request_is_one_json_line(app, world, database_url: str, tmp_path: Path, capsys):
    logged = create_app(make_config(database_url, tmp_path, LOG_FORMAT="json", LOG_REQUESTS=True))
    client = logged.test_client()
    with logged.app_context():
        Base.metadata.create_all(db.engine)  # the shared schema already exists: a no-op
    token = csrf_token_from(client, "/login")
    client.post("/login", data={"login": "canbo", "password": PASSWORD, "csrf_token": token})
    capsys.readouterr()
    client.get("/?secret=abc", headers={"X-Request-ID": "req-42"})
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line]
    [line] = [entry for entry in lines if entry.get("message") == "request"]
    assert (line["method"], line["path"], line["status"]) == ("GET", "/", 200)
    assert line["request_id"] == "req-42"
    assert line["user"] == str(world.users["cadre"].id)
    assert isinstance(line["ms"], float) and line["level"] == "INFO"
    assert "secret" not in json.dumps(lines)
    with logged.app_context():
        db.engine.dispose()
