"""Home pages per role and the language switch."""

from webapp.main.routes import bp

__all__ = ["bp"]
