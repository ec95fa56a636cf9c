"""Fixed-window rate limits held in DynamoDB (one conditional update per check)."""
from __future__ import annotations

import hashlib
import time
from datetime import datetime, timezone

from pynamodb.exceptions import UpdateError

from backend.errors import RateLimited
from backend.models.account import RateCounter

__all__ = ["hit", "subject_key"]


def subject_key(secret: str, value: str) -> str:
    """A stable, non-reversible key for a phone number or address."""
    return hashlib.sha256(f"{secret}:{value}".encode()).hexdigest()[:32]


def hit(action: str, subject: str, limit: int, window: int, *, message: str | None = None,
        now: float | None = None) -> int:
    """Count one request; raise RateLimited (with Retry-After) past `limit` per `window` s."""
    now = now or time.time()
    start = int(now // window * window)
    counter = RateCounter(f"{action}#{subject}#{start}")
    try:
        counter.update(
            actions=[RateCounter.count.add(1), RateCounter.expires_at.set(
                datetime.fromtimestamp(start + window + 60, tz=timezone.utc))],
            condition=RateCounter.count.does_not_exist() | (RateCounter.count < limit),
        )
    except UpdateError as err:
        if err.cause_response_code == "ConditionalCheckFailedException":
            retry_after = max(1, int(start + window - now))
            raise RateLimited(message, retry_after=retry_after) from None
        raise
    return counter.count
