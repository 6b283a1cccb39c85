"""GET /healthz: the database and the photo store, each checked; 503 says which failed."""

from __future__ import annotations

from pathlib import Path

from webapp import create_app


def test_healthy_needs_no_sign_in_and_sets_no_cookie(app, client) -> None:
    Path(app.config["PHOTO_DIR"]).mkdir(parents=True, exist_ok=True)
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "ok"
    assert body["checks"]["database"]["ok"] and body["checks"]["storage"]["ok"]
    assert response.headers["Cache-Control"] == "no-store"
    assert "Set-Cookie" not in response.headers


def test_a_missing_photo_folder_is_unhealthy(app, client, tmp_path: Path) -> None:
    app.config["PHOTO_DIR"] = str(tmp_path / "not-there")
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["checks"]["storage"] == {
        "ok": False,
        "error": "unavailable",
        "ms": response.get_json()["checks"]["storage"]["ms"],
    }


def test_a_database_that_does_not_answer_is_unhealthy(tmp_path: Path) -> None:
    (tmp_path / "photos").mkdir()
    app = create_app(
        {
            "APP_ENV": "testing",
            "SECRET_KEY": "x",
            "SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://nobody@127.0.0.1:1/none",
            "SQLALCHEMY_ENGINE_OPTIONS": {"connect_args": {"connect_timeout": 2}},
            "PHOTO_DIR": str(tmp_path / "photos"),
        }
    )
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    checks = response.get_json()["checks"]
    assert checks["database"]["ok"] is False and checks["storage"]["ok"] is True
    assert "nobody" not in response.get_data(as_text=True)  # no connection details
