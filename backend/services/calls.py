"""The overdue call list: who to call now, who asked to be called later, who must stay.

"Call later" keeps the person on the page, in a 稍后再打 section with the day they come
back; a high-risk patient (BP ≥ 180/110 at the last visit, or a last outcome of urgent
referral or uncontrolled twice) is never hidden by a call outcome: they stay in the list,
marked with what the last call said. One Query on by-team-due (the team's overdue cases).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from backend.models.care import ChronicCase
from backend.rules import followup as rules
from backend.services.care_common import local_today

__all__ = ["CallBoard", "call_board", "high_risk", "HIGH_RISK_OUTCOMES"]

# The last visit's classes after which a patient never leaves the list by a call outcome.
HIGH_RISK_OUTCOMES = frozenset({"urgent_referral", "not_controlled_refer"})


def high_risk(case: ChronicCase) -> bool:
    return (rules.is_high_risk(case.last_systolic, case.last_diastolic)
            or case.last_outcome in HIGH_RISK_OUTCOMES)


@dataclass
class CallBoard:
    today: date
    rows: list[ChronicCase] = field(default_factory=list)    # to call now, riskiest first
    later: list[ChronicCase] = field(default_factory=list)   # asked to be called later
    agreed: int = 0                                          # agreed to come (hidden 7 days)


REFERRING_OUTCOMES = frozenset(row["outcome"] for row in rules.RULES["classification"]
                               if row["refer"])


def _risk_key(case: ChronicCase) -> tuple:
    referred = case.last_outcome in REFERRING_OUTCOMES
    return (not high_risk(case), not referred, case.next_due, case.resident_id)


def call_board(team_id: str, today: date | None = None) -> CallBoard:
    today = today or local_today()
    iso = today.isoformat()
    cases = list(ChronicCase.by_team_due.query(team_id, ChronicCase.due_key < f"{iso}#"))
    board = CallBoard(today)
    for c in cases:
        hidden = bool(c.hidden_until) and c.hidden_until > iso
        if not hidden or high_risk(c):
            board.rows.append(c)
        elif c.call_outcome == "later":
            board.later.append(c)
        else:
            board.agreed += 1
    board.rows.sort(key=_risk_key)
    board.later.sort(key=lambda c: (c.hidden_until, c.resident_id))
    return board
