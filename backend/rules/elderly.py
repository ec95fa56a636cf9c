"""The 65+ ledger: membership from the birth date and the self-care ability grade."""
from __future__ import annotations

from datetime import date

from backend.rules.identity import age_on

__all__ = ["ELDER_AGE", "is_elder", "self_care_grade", "GRADES", "MAX_SELF_CARE_SCORE",
           "next_yearly_visit", "elder_cutoff_birth_date"]

ELDER_AGE = 65
# The self-care assessment form of the standard: eating 5 + grooming 7 + dressing 5 +
# toilet 10 + moving 10 = 37 at most.
MAX_SELF_CARE_SCORE = 37
GRADES = {"independent": "可自理", "mild": "轻度依赖", "moderate": "中度依赖", "dependent": "不能自理"}


def is_elder(birth: date, today: date) -> bool:
    return age_on(birth, today) >= ELDER_AGE


def elder_cutoff_birth_date(today: date) -> date:
    """Everyone born on or before this day is 65 or older today."""
    try:
        return today.replace(year=today.year - ELDER_AGE)
    except ValueError:  # 29 February
        return today.replace(year=today.year - ELDER_AGE, day=28)


def self_care_grade(score: int) -> str:
    """0-3 independent, 4-8 mild dependence, 9-18 moderate, 19+ dependent."""
    if not isinstance(score, int) or isinstance(score, bool) or not 0 <= score <= MAX_SELF_CARE_SCORE:
        raise ValueError(f"自理能力评分应为0到{MAX_SELF_CARE_SCORE}的整数")
    if score <= 3:
        return "independent"
    if score <= 8:
        return "mild"
    if score <= 18:
        return "moderate"
    return "dependent"


def next_yearly_visit(last_visit: date | None, today: date) -> date:
    """The yearly health-management visit: due a year after the last, now if never."""
    if last_visit is None:
        return today
    try:
        return last_visit.replace(year=last_visit.year + 1)
    except ValueError:
        return last_visit.replace(year=last_visit.year + 1, day=28)
