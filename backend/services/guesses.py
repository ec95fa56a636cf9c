"""The failed-guess ledger: a guess is counted before it is checked, refunded if right.

    reserve(kind, subject, policy)   count one guess or raise RateLimited (Retry-After)
    refund(reservation)              the guess was right: it was not a failure

Counting before checking is what makes the cap hold under concurrency: two parallel
guesses cannot both see "9 failures" and both be checked, because each must win a
conditional write on the ledger's `revision` first. A guess that loses the race a few
times is refused (the safe side). The limits count failures only, never code requests
or correct logins. `clock` is the one time source of login limits (tests may replace it).
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timezone

from pynamodb.exceptions import DoesNotExist, PutError

from backend.errors import RateLimited
from backend.models.account import LoginFailures
from backend.rules.login_limits import FailurePolicy, wait_before_next

__all__ = ["Reservation", "reserve", "refund", "clock", "failures_of"]

clock = time.time
_TRIES = 4


@dataclass(frozen=True)
class Reservation:
    key: str
    stamp: float


def _load(key: str) -> LoginFailures | None:
    try:
        return LoginFailures.get(key, consistent_read=True)
    except DoesNotExist:
        return None


def _write(key: str, item: LoginFailures | None, failures: list[float], window: int) -> bool:
    """Replace the ledger if nobody changed it since `item` was read."""
    condition = (LoginFailures.key.does_not_exist() if item is None
                 else LoginFailures.revision == item.revision)
    last = max(failures, default=clock())
    try:
        LoginFailures(key, failures=failures, revision=(item.revision + 1 if item else 1),
                      expires_at=datetime.fromtimestamp(last + window + 60, tz=timezone.utc),
                      ).save(condition=condition)
    except PutError as err:
        if err.cause_response_code == "ConditionalCheckFailedException":
            return False
        raise
    return True


def reserve(kind: str, subject: str, policy: FailurePolicy, *, message: str) -> Reservation:
    """Count one guess for `subject` now, or refuse it with the wait the policy sets."""
    key = f"{kind}#{subject}"
    for _ in range(_TRIES):
        now = clock()
        item = _load(key)
        recent = [float(t) for t in (item.failures if item else []) if t > now - policy.window]
        wait = wait_before_next(recent, now, policy)
        if wait:
            raise RateLimited(message, retry_after=wait)
        stamp = max([now, *(t + 0.001 for t in recent)])  # unique within the ledger
        if _write(key, item, sorted(recent + [stamp]), policy.window):
            return Reservation(key, stamp)
    raise RateLimited(message, retry_after=1)


def refund(reservation: Reservation, window: int) -> None:
    """Take a right guess out of the ledger (best effort: left in, it only errs safe)."""
    for _ in range(_TRIES):
        item = _load(reservation.key)
        if item is None or reservation.stamp not in [float(t) for t in item.failures]:
            return
        kept = [float(t) for t in item.failures if float(t) != reservation.stamp]
        if _write(reservation.key, item, kept, window):
            return


def failures_of(kind: str, subject: str, window: int) -> int:
    """How many failures `subject` has in the current window (tests, support)."""
    item = _load(f"{kind}#{subject}")
    now = clock()
    return sum(1 for t in (item.failures if item else []) if t > now - window)
