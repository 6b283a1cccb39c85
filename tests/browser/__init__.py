"""Browser tests of the field app (headless Chromium against a live server)."""
