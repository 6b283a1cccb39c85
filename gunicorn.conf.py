"""gunicorn's settings for production; `gunicorn wsgi:app` in this folder reads this file.

Threaded workers (gthread): a request that waits (the database, the photo store, a client that
reads its answer slowly) holds one thread, not a whole worker, while Pillow and psycopg release
the interpreter for their work. Slow phones are absorbed by nginx in front, which takes a whole
upload before passing it on (deploy/nginx/, docs/DEPLOY.md); without nginx every 2G upload would
hold a thread for its whole duration.

Each setting can be changed from the environment (GUNICORN_*), so a systemd unit or a test can
size a node without editing this file.
"""

from __future__ import annotations

import os


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "")
    return int(value) if value.strip() else default


bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
# One process per core, a few threads each: measured on 2 cores in bench/slow_clients.py.
workers = _env_int("GUNICORN_WORKERS", len(os.sched_getaffinity(0)))
worker_class = "gthread"
threads = _env_int("GUNICORN_THREADS", 8)
# A photo upload already buffered by nginx takes well under a second; a hung request is cut.
timeout = _env_int("GUNICORN_TIMEOUT", 60)
graceful_timeout = _env_int("GUNICORN_GRACEFUL_TIMEOUT", 30)
keepalive = 5  # nginx keeps connections to the app open (upstream keepalive)
# Recycle workers now and then (memory kept by the image pipeline); jitter avoids all at once.
max_requests = _env_int("GUNICORN_MAX_REQUESTS", 5000)
max_requests_jitter = 500
# Only nginx on this machine may say who the client is (X-Forwarded-*); see TRUSTED_PROXIES.
forwarded_allow_ips = os.environ.get("GUNICORN_FORWARDED_ALLOW_IPS", "127.0.0.1")
# The app logs each request as JSON (webapp/logs.py) and nginx keeps the access log.
accesslog = None
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s %(message)s",
            "rename_fields": {"asctime": "time", "levelname": "level"},
        }
    },
    # gunicorn's own defaults name these two handlers; both write JSON lines to stderr.
    "handlers": {
        name: {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}
        for name in ("console", "error_console")
    },
    "root": {"level": "INFO", "handlers": ["console"]},
    "loggers": {
        "gunicorn.error": {"level": "INFO", "handlers": ["error_console"], "propagate": False},
        # No access log from gunicorn (its lines are not JSON): the app and nginx log requests.
        "gunicorn.access": {"level": "WARNING", "handlers": ["console"], "propagate": False},
    },
}
