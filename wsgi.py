"""Entry point for gunicorn: `gunicorn wsgi:app` runs in production mode unless told otherwise."""

import os

from webapp import create_app
from webapp.config import ConfigError

os.environ.setdefault("APP_ENV", "production")
try:
    app = create_app()
except ConfigError as exc:
    raise SystemExit(f"nhatky: cannot start: {exc}") from None
