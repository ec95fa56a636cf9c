"""How long a login must wait after failed guesses: a rolling-day cap with growing waits.

Pure rule: the failure ledger (`services.guesses`) keeps the times of recent failures of
one subject (a phone number, a trusted device, an account at one address) and asks here
whether one more guess may be checked now.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["FailurePolicy", "wait_before_next"]


@dataclass(frozen=True)
class FailurePolicy:
    """`cap` failures per rolling `window` seconds; after `free` failures each further
    guess waits `base_wait * 2**(n - free)` seconds after the previous failure."""

    cap: int = 10
    window: int = 24 * 3600
    free: int = 3
    base_wait: int = 30


def wait_before_next(failures: list[float], now: float, policy: FailurePolicy) -> int:
    """Seconds until one more guess may be checked (0: now). `failures` are epoch times."""
    recent = sorted(t for t in failures if now - policy.window < t <= now)
    n = len(recent)
    if n >= policy.cap:
        # Rolling: a guess is free again when the oldest of the last `cap` leaves the day.
        return max(1, math.ceil(recent[n - policy.cap] + policy.window - now))
    if n < policy.free:
        return 0
    due = recent[-1] + policy.base_wait * 2 ** (n - policy.free)
    return max(0, math.ceil(due - now))
