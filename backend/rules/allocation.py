"""The scarce-vaccine lottery: a draw anyone can repeat from the published seed (pure, no I/O).

The order is a Fisher-Yates shuffle of the request ids sorted as text, where the swap at
position i takes j = SHA-256(seed ":" i) mod (i + 1). So a draw is fixed by the seed and
the entry list alone, can be re-run in any language, and the county can check it: the
seed's SHA-256 is published when the window opens (it cannot be changed after entries
arrive), the seed itself when the draw is made, with digests of the entries and winners.
"""
from __future__ import annotations

import hashlib

__all__ = ["draw_order", "digest", "commitment", "winners_count"]


def draw_order(seed: str, request_ids: list[str]) -> list[str]:
    order = sorted(request_ids)
    key = seed.encode()
    for i in range(len(order) - 1, 0, -1):
        j = int.from_bytes(hashlib.sha256(key + b":" + str(i).encode()).digest(), "big") % (i + 1)
        order[i], order[j] = order[j], order[i]
    return order


def digest(ids: list[str]) -> str:
    return hashlib.sha256("\n".join(ids).encode()).hexdigest()


def commitment(seed: str) -> str:
    return hashlib.sha256(seed.encode()).hexdigest()


def winners_count(entries: int, remaining_doses: int, doses_per_person: int) -> int:
    """Whole series only: a winner gets every dose of the series reserved."""
    return max(0, min(entries, remaining_doses // max(1, doses_per_person)))
