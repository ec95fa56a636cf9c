"""Children's health checks 0-6 years as due items (newborn visit, month one, 3 ... 36 months, 4-6 years).

Read from `child_health_checks.json`; ages use the immunisation schedule's calendar arithmetic.
A check is due from its age, overdue from `overdue`, and no longer offered once `until` is
reached (the next check takes over). The newborn home visit counts from the discharge date.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path

from backend.rules.immunisation import Age, parse_age

__all__ = ["Check", "CheckStatus", "checks", "check_plan", "CHECKS_FILE"]

CHECKS_FILE = Path(__file__).with_name("child_health_checks.json")


@dataclass(frozen=True)
class Check:
    key: str
    name: str
    due: Age
    overdue: Age
    until: Age
    place: str
    from_discharge: bool = False


@dataclass(frozen=True)
class CheckStatus:
    key: str
    name: str
    place: str
    due: date
    overdue: date
    until: date
    status: str   # due | overdue | upcoming


@lru_cache(maxsize=1)
def checks() -> tuple[Check, ...]:
    data = json.loads(CHECKS_FILE.read_text(encoding="utf-8"))
    return tuple(Check(c["key"], c["name"], parse_age(c["due"]), parse_age(c["overdue"]),
                       parse_age(c["until"]), c["place"], c.get("from") == "discharge")
                 for c in data["checks"])


def check_plan(birth: date, done: set[str], today: date, *,
               discharge: date | None = None) -> list[CheckStatus]:
    """Checks not yet done that are due, overdue or next upcoming (missed ones drop out)."""
    out: list[CheckStatus] = []
    upcoming_added = False
    for c in checks():
        if c.key in done:
            continue
        start = (discharge or birth) if c.from_discharge else birth
        due, overdue, until = c.due.after(start), c.overdue.after(start), c.until.after(birth)
        if today >= until:
            continue
        if today >= overdue:
            status = "overdue"
        elif today >= due:
            status = "due"
        elif not upcoming_added:
            status, upcoming_added = "upcoming", True
        else:
            continue
        out.append(CheckStatus(c.key, c.name, c.place, due, overdue, until, status))
    return out
