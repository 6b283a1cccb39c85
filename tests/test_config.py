"""Configuration from the environment: clear start-up errors, safe defaults."""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from webapp import create_app
from webapp.config import Config, ConfigError
from webapp.extensions import db

ROOT = Path(__file__).resolve().parent.parent
CONFIG_SOURCE = (ROOT / "webapp" / "config.py").read_text()
# Every variable config.py reads, so the developer's own environment cannot leak into a test.
ENV_NAMES = sorted(
    set(re.findall(r'(?:environ\.get|_env_int|_env_bool)\(\s*"([A-Z_]+)"', CONFIG_SOURCE))
    | {"APP_ENV", "SECRET_KEY", "DATABASE_URL"}
)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ENV_NAMES:
        monkeypatch.delenv(name, raising=False)


def test_the_environment_names_were_found():
    assert {"SECRET_KEY", "DATABASE_URL", "SESSION_DAYS", "TRUSTED_PROXIES"} <= set(ENV_NAMES)


# -- the secret key --------------------------------------------------------------------------


def test_production_without_secret_key_refuses_with_one_line(tmp_path):
    with pytest.raises(ConfigError) as caught:
        Config(tmp_path, "production")
    message = str(caught.value)
    assert "SECRET_KEY" in message
    assert "\n" not in message
    assert not (tmp_path / "secret_key").exists()  # no silent fallback secret


def test_production_chosen_by_app_env_refuses_too(tmp_path, monkeypatch):
    monkeypatch.setenv("APP_ENV", "production")
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        Config.from_env(tmp_path)
    monkeypatch.setenv("SECRET_KEY", "")
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        Config.from_env(tmp_path)  # set but empty is the same as missing


def test_production_with_secret_key_in_the_environment_starts(tmp_path, monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "s" * 64)
    config = Config(tmp_path, "production")
    assert config.SECRET_KEY == "s" * 64
    assert not config.TESTING
    assert config.SESSION_COOKIE_SECURE is True  # production defaults to HTTPS-only cookies


def _wsgi_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ENV_NAMES}
    env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'wsgi.sqlite3'}"
    env.update(extra)
    return env


def test_wsgi_without_secret_key_exits_with_one_line_naming_it(tmp_path):
    result = subprocess.run(
        [sys.executable, "-c", "import wsgi"],
        cwd=ROOT,
        env=_wsgi_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "SECRET_KEY" in lines[0]
    assert "Traceback" not in result.stderr


def test_wsgi_with_secret_key_starts(tmp_path):
    result = subprocess.run(
        [sys.executable, "-c", "import wsgi; print(wsgi.app.config['APP_ENV'])"],
        cwd=ROOT,
        env=_wsgi_env(tmp_path, SECRET_KEY="k" * 64),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "production"  # wsgi defaults to production


def test_development_writes_a_random_secret_into_the_instance_folder_and_reuses_it(tmp_path):
    instance = tmp_path / "instance"  # does not exist yet
    first = Config(instance, "development").SECRET_KEY
    stored = instance / "secret_key"
    assert stored.exists()
    assert re.fullmatch(r"[0-9a-f]{64}", first)
    assert stored.read_text().strip() == first
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600
    again = Config(instance, "development").SECRET_KEY
    assert again == first  # a restart keeps sessions
    other = Config(tmp_path / "elsewhere", "development").SECRET_KEY
    assert other != first  # random, not a constant


def test_development_prefers_the_secret_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "from-the-environment")
    assert Config(tmp_path, "development").SECRET_KEY == "from-the-environment"
    assert not (tmp_path / "secret_key").exists()


def test_an_explicit_secret_key_writes_no_file(tmp_path):
    assert Config(tmp_path, "development", SECRET_KEY="given").SECRET_KEY == "given"
    assert not (tmp_path / "secret_key").exists()


def test_production_accepts_a_secret_key_given_as_an_override(tmp_path):
    config = Config(tmp_path, "production", SECRET_KEY="given")
    assert config.SECRET_KEY == "given"


# -- the database URL --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (
            "postgres://u:p@db.example:5432/nhatky",
            "postgresql+psycopg://u:p@db.example:5432/nhatky",
        ),
        ("postgresql://u@db/nhatky", "postgresql+psycopg://u@db/nhatky"),
        ("postgresql+psycopg://u@db/nhatky", "postgresql+psycopg://u@db/nhatky"),
        ("postgresql+psycopg2://u@db/nhatky", "postgresql+psycopg2://u@db/nhatky"),
        ("sqlite:////var/lib/nhatky/data.sqlite3", "sqlite:////var/lib/nhatky/data.sqlite3"),
    ],
)
def test_database_url_is_normalised_to_the_psycopg3_driver(tmp_path, monkeypatch, given, expected):
    monkeypatch.setenv("DATABASE_URL", given)
    url = Config(tmp_path, "development").SQLALCHEMY_DATABASE_URI
    assert url == expected


def test_default_database_is_sqlite_in_the_instance_folder(tmp_path):
    config = Config(tmp_path, "development")
    url = config.SQLALCHEMY_DATABASE_URI
    assert url == f"sqlite:///{tmp_path / 'nhatky.sqlite3'}"
    assert config.SQLALCHEMY_ENGINE_OPTIONS == {"connect_args": {"timeout": 30}}


def test_server_database_gets_pre_ping(tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgres://u@db/nhatky")
    assert Config(tmp_path, "development").SQLALCHEMY_ENGINE_OPTIONS == {"pool_pre_ping": True}


def test_production_on_sqlite_is_allowed_but_logged(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SECRET_KEY", "k" * 64)
    monkeypatch.setenv("APP_ENV", "production")
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'prod.sqlite3'}")
    app = create_app()
    try:
        assert app.config["SQLITE_IN_PRODUCTION"] is True
        # Production logs are JSON lines on standard error (webapp/logs.py).
        lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line]
        [warning] = [line for line in lines if "SQLite" in line["message"]]
        assert warning["level"] == "WARNING" and warning["name"] == "webapp"
    finally:
        with app.app_context():
            db.engine.dispose()
    monkeypatch.setenv("DATABASE_URL", "postgres://u@db/nhatky")
    assert not hasattr(Config(tmp_path, "production"), "SQLITE_IN_PRODUCTION")


# -- numbers and flags -------------------------------------------------------------------


@pytest.mark.parametrize("name", ["SESSION_DAYS", "MAX_CONTENT_LENGTH", "TRUSTED_PROXIES"])
@pytest.mark.parametrize("value", ["thirty", "1.5", "16MB", "1e6"])
def test_a_non_integer_number_setting_is_a_config_error_naming_it(
    tmp_path, monkeypatch, name, value
):
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as caught:
        Config(tmp_path, "development")
    assert name in str(caught.value)
    assert value in str(caught.value)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("name", "value"), [("SESSION_DAYS", "-1"), ("SESSION_DAYS", "0"), ("TRUSTED_PROXIES", "-1")]
)
def test_out_of_range_numbers_are_config_errors(tmp_path, monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=name):
        Config(tmp_path, "development")


def test_number_settings_are_read_and_blank_means_default(tmp_path, monkeypatch):
    defaults = Config(tmp_path, "development")
    lifetime = defaults.PERMANENT_SESSION_LIFETIME
    assert lifetime == timedelta(days=30)
    assert defaults.MAX_CONTENT_LENGTH == 16 * 1024 * 1024
    assert defaults.TRUSTED_PROXIES == 0
    monkeypatch.setenv("SESSION_DAYS", "7")
    monkeypatch.setenv("TRUSTED_PROXIES", " 1 ")
    monkeypatch.setenv("MAX_CONTENT_LENGTH", "")
    config = Config(tmp_path, "development")
    lifetime = config.PERMANENT_SESSION_LIFETIME
    assert lifetime == timedelta(days=7)
    assert config.TRUSTED_PROXIES == 1
    assert config.MAX_CONTENT_LENGTH == 16 * 1024 * 1024


@pytest.mark.parametrize(
    ("env", "value", "expected"),
    [
        ("development", None, False),
        ("development", "yes", True),
        ("development", "1", True),
        ("production", None, True),
        ("production", "false", False),
        ("production", "0", False),
        ("production", "", True),
    ],
)
def test_secure_cookie_flag_defaults_by_environment(tmp_path, monkeypatch, env, value, expected):
    monkeypatch.setenv("SECRET_KEY", "k" * 64)
    if value is not None:
        monkeypatch.setenv("SESSION_COOKIE_SECURE", value)
    assert Config(tmp_path, env).SESSION_COOKIE_SECURE is expected


def test_session_and_login_defaults(tmp_path):
    config = Config(tmp_path, "development")
    assert config.SESSION_COOKIE_HTTPONLY is True
    assert config.SESSION_COOKIE_SAMESITE == "Lax"
    assert config.LOGIN_LIMIT_PER_ACCOUNT == "5 per 15 minutes"
    assert config.LOGIN_LIMIT_PER_ADDRESS == "30 per 15 minutes"
    assert config.PASSWORD_HASH_METHOD == "scrypt"  # full cost outside the test suite
    assert config.BABEL_DEFAULT_LOCALE == "vi"
    assert config.LANGUAGES[0] == "vi"


def test_app_env_precedence_override_then_environment_then_development(tmp_path, monkeypatch):
    assert Config.from_env(tmp_path).APP_ENV == "development"
    monkeypatch.setenv("APP_ENV", "production")
    with pytest.raises(ConfigError):
        Config.from_env(tmp_path)
    testing = Config.from_env(tmp_path, APP_ENV="testing")
    assert testing.APP_ENV == "testing"
    assert testing.TESTING is True
