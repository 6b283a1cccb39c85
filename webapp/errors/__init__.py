"""Error pages in the user's language, and JSON errors for API requests."""

from webapp.errors.handlers import register_error_handlers

__all__ = ["register_error_handlers"]
