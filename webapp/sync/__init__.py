"""The sync API: push, pull, reference data and the session, under /api/v1."""

from webapp.sync.routes import bp

__all__ = ["bp"]
