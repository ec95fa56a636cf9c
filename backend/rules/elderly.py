"""The 65+ ledger: membership from the birth date and the self-care ability grade."""
from __future__ import annotations

from datetime import date

from backend.rules.identity import age_on

__all__ = ["ELDER_AGE", "is_elder", "self_care_grade", "GRADES", "MAX_SELF_CARE_SCORE",
           "next_yearly_visit", "elder_cutoff_birth_date", "GRADE_BANDS", "SELF_CARE_ITEMS",
           "SELF_CARE_LEVELS", "self_care_data"]

ELDER_AGE = 65
# The self-care assessment form of the standard: eating 5 + grooming 7 + dressing 5 +
# toilet 10 + moving 10 = 37 at most.
MAX_SELF_CARE_SCORE = 37
GRADES = {"independent": "可自理", "mild": "轻度依赖", "moderate": "中度依赖", "dependent": "不能自理"}
# The highest score of each grade, in order (the browser's offline form reads these too).
GRADE_BANDS = ((3, "independent"), (8, "mild"), (18, "moderate"), (MAX_SELF_CARE_SCORE, "dependent"))
# The five items of the standard's self-care assessment form (老年人生活自理能力评估表):
# the score of each level (independent, mild, moderate, unable).
SELF_CARE_LEVELS = ("可自理", "轻度依赖", "中度依赖", "不能自理")
SELF_CARE_ITEMS = {
    "eating": ("进餐", (0, 0, 3, 5)),
    "grooming": ("梳洗", (0, 1, 3, 7)),
    "dressing": ("穿衣", (0, 0, 3, 5)),
    "toileting": ("如厕", (0, 1, 5, 10)),
    "moving": ("活动", (0, 1, 5, 10)),
}


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
    return next(grade for top, grade in GRADE_BANDS if score <= top)


def self_care_data() -> dict:
    """The form and the bands as data, for the phone's offline assessment (provisional)."""
    return {"levels": list(SELF_CARE_LEVELS), "grades": GRADES,
            "bands": [list(b) for b in GRADE_BANDS],
            "items": [{"key": k, "label": label, "scores": list(scores)}
                      for k, (label, scores) in SELF_CARE_ITEMS.items()]}


def next_yearly_visit(last_visit: date | None, today: date) -> date:
    """The yearly health-management visit: due a year after the last, now if never."""
    if last_visit is None:
        return today
    try:
        return last_visit.replace(year=last_visit.year + 1)
    except ValueError:
        return last_visit.replace(year=last_visit.year + 1, day=28)
