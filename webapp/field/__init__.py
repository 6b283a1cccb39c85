"""The field app: offline-first capture and "my entries" (DESIGN.md §1, §5)."""

from webapp.field.routes import bp

__all__ = ["bp"]
