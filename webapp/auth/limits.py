"""The per-account limit on failed sign-ins: its bucket, whether it is full, and emptying it.

The sign-in route counts failures in a shared Flask-Limiter bucket named `ACCOUNT_SCOPE`, keyed
by `account_key(user.id)` (every spelling of an account - username in any case, any format of
its phone number - lands in the same bucket). An administrator reads and clears that bucket
through the `limits` strategy Flask-Limiter runs on (`get_window_stats`, `test`, `clear`), so
it works with any storage (memory in development, Redis and the like in production).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from flask import current_app
from limits import RateLimitItem, parse

from webapp.extensions import limiter

ACCOUNT_SCOPE = "login-account"


def account_key(user_id: int) -> str:
    return f"{ACCOUNT_SCOPE}:user:{user_id}"


def account_limit() -> RateLimitItem:
    """The limit in force now (read at request time, as the sign-in route does)."""
    return parse(current_app.config["LOGIN_LIMIT_PER_ACCOUNT"])


def _identifiers(user_id: int) -> list[str]:
    # What Flask-Limiter passes to the strategy for a shared limit: [prefix,] key, scope.
    prefix = current_app.config.get("RATELIMIT_KEY_PREFIX") or ""
    identifiers = [account_key(user_id), ACCOUNT_SCOPE]
    return [prefix, *identifiers] if prefix else identifiers


@dataclass(frozen=True)
class SignInLock:
    locked: bool
    failures: int
    allowed: int
    resets_at: datetime | None  # end of the current window, if any failure is counted


def sign_in_lock(user_id: int) -> SignInLock:
    item = account_limit()
    identifiers = _identifiers(user_id)
    strategy = limiter.limiter
    stats = strategy.get_window_stats(item, *identifiers)
    failures = max(0, item.amount - stats.remaining)
    return SignInLock(
        locked=not strategy.test(item, *identifiers),
        failures=failures,
        allowed=item.amount,
        resets_at=datetime.fromtimestamp(stats.reset_time, UTC) if failures else None,
    )


def clear_sign_in_failures(user_id: int) -> None:
    limiter.limiter.clear(account_limit(), *_identifiers(user_id))
