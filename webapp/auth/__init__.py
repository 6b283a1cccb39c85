"""Signing in and out, role checks."""

from webapp.auth.routes import bp

__all__ = ["bp"]
