"""All configuration, read from the environment in one place."""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path


class ConfigError(RuntimeError):
    """The environment does not describe a runnable configuration."""


def _env_int(name: str, default: int, minimum: int = 1) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from exc
    if value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, got {raw!r}")
    return value


def _env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    return raw.strip().lower() in {"1", "true", "yes", "on"}


def _dev_secret(instance_path: Path) -> str:
    """A random secret kept in instance/ so sessions survive a restart in development."""
    path = instance_path / "secret_key"
    if path.exists():
        return path.read_text().strip()
    instance_path.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_hex(32)
    path.write_text(secret)
    path.chmod(0o600)
    return secret


class Config:
    """Settings for one app instance.

    Built from the environment (`Config.from_env`) or, in tests, from explicit overrides.
    Production (`APP_ENV=production`) has no default secret and must use a server database.
    """

    def __init__(self, instance_path: Path, env: str, **overrides: object) -> None:
        self.APP_ENV = env
        production = env == "production"
        self.TESTING = env == "testing"
        self.SECRET_KEY = (
            overrides.get("SECRET_KEY")
            or os.environ.get("SECRET_KEY")
            or (None if production else _dev_secret(instance_path))
        )
        if production and not self.SECRET_KEY:
            raise ConfigError(
                "SECRET_KEY is not set: production refuses to start without it "
                "(generate one with: python -c 'import secrets; print(secrets.token_hex(32))')"
            )
        self.SQLALCHEMY_DATABASE_URI = _normalise_db_url(
            os.environ.get("DATABASE_URL") or f"sqlite:///{instance_path / 'nhatky.sqlite3'}"
        )
        self.SQLALCHEMY_ENGINE_OPTIONS: dict[str, object] = {"pool_pre_ping": True}
        self.PHOTO_DIR = os.environ.get("PHOTO_DIR") or str(instance_path / "photos")
        self.PERMANENT_SESSION_LIFETIME = timedelta(days=_env_int("SESSION_DAYS", 30))
        self.SESSION_COOKIE_NAME = "nhatky_session"
        self.SESSION_COOKIE_HTTPONLY = True
        self.SESSION_COOKIE_SAMESITE = "Lax"
        self.SESSION_COOKIE_SECURE = _env_bool("SESSION_COOKIE_SECURE", production)
        self.REMEMBER_COOKIE_HTTPONLY = True
        self.MAX_CONTENT_LENGTH = _env_int("MAX_CONTENT_LENGTH", 16 * 1024 * 1024)
        self.PHOTO_MAX_BYTES = _env_int("PHOTO_MAX_BYTES", 15 * 1024 * 1024)
        # "folder" (PHOTO_DIR), or "s3://bucket/prefix" with the S3_* settings below and the
        # credentials from boto3's chain (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, a role).
        self.PHOTO_STORAGE = os.environ.get("PHOTO_STORAGE", "folder")
        self.S3_ENDPOINT_URL = os.environ.get("S3_ENDPOINT_URL") or None
        self.S3_REGION = os.environ.get("S3_REGION", "us-east-1")
        self.S3_TIMEOUT = _env_int("S3_TIMEOUT", 10)
        self.WTF_CSRF_TIME_LIMIT = None  # the session lifetime bounds the token
        self.WTF_CSRF_HEADERS = ["X-CSRFToken"]
        self.PASSWORD_HASH_METHOD = "scrypt"  # noqa: S105  (a method name: Werkzeug's default cost)
        # Flask-Compress: whole responses only. Streamed ones (files, exports) stay as they are:
        # its streaming path never closes the file it streams from.
        self.COMPRESS_STREAMS = False
        self.RATELIMIT_STORAGE_URI = os.environ.get("RATELIMIT_STORAGE_URI", "memory://")
        self.RATELIMIT_HEADERS_ENABLED = True
        self.LOGIN_LIMIT_PER_ACCOUNT = os.environ.get("LOGIN_LIMIT_PER_ACCOUNT", "5 per 15 minutes")
        self.LOGIN_LIMIT_PER_ADDRESS = os.environ.get(
            "LOGIN_LIMIT_PER_ADDRESS", "30 per 15 minutes"
        )
        # JSON lines for log collectors in production (webapp/logs.py), Flask's own elsewhere.
        self.LOG_FORMAT = os.environ.get("LOG_FORMAT") or ("json" if production else "text")
        if self.LOG_FORMAT not in ("json", "text"):
            raise ConfigError(f"LOG_FORMAT must be json or text, got {self.LOG_FORMAT!r}")
        self.LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO").upper()
        self.LOG_REQUESTS = _env_bool("LOG_REQUESTS", production)
        self.BABEL_DEFAULT_LOCALE = "vi"
        self.BABEL_DEFAULT_TIMEZONE = os.environ.get("APP_TIMEZONE", "Asia/Ho_Chi_Minh")
        self.LANGUAGES = ("vi", "en")
        self.TRUSTED_PROXIES = _env_int("TRUSTED_PROXIES", 0, minimum=0)
        # flask-smorest: the OpenAPI document at /api/v1/openapi.json (no UI: it would load
        # third-party scripts from a CDN).
        self.API_TITLE = "Nhật ký cơ sở sync API"
        self.API_VERSION = "v1"
        self.OPENAPI_VERSION = "3.0.3"
        self.OPENAPI_URL_PREFIX = "/api/v1"
        self.OPENAPI_JSON_PATH = "openapi.json"
        for key, value in overrides.items():
            setattr(self, key, value)
        if production and self.SQLALCHEMY_DATABASE_URI.startswith("sqlite"):
            # Allowed (a single box can run on SQLite) but say so loudly in the log.
            self.SQLITE_IN_PRODUCTION = True
        if self.SQLALCHEMY_DATABASE_URI.startswith("sqlite"):
            self.SQLALCHEMY_ENGINE_OPTIONS = {"connect_args": {"timeout": 30}}

    @classmethod
    def from_env(cls, instance_path: Path, **overrides: object) -> Config:
        env = str(overrides.pop("APP_ENV", None) or os.environ.get("APP_ENV") or "development")
        return cls(instance_path, env, **overrides)


def _normalise_db_url(url: str) -> str:
    """Hosting platforms hand out postgres:// URLs; SQLAlchemy wants the psycopg 3 driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url
