"""Review: secretaries confirm or return entries (DESIGN.md §6)."""

from webapp.review.routes import bp

__all__ = ["bp"]
