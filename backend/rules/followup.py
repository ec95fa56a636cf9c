"""Chronic-disease follow-up rules of the national basic public health service standard.

The thresholds, possible ranges, intervals and the classification table are data,
`followup_rules.json` beside this module, which the browser's offline rules read too
(served at `/rules/followup.json`). This module is the server's reading of that data and
its verdict is final. Pure functions: the service passes in the readings, the patient's
age and whether the previous visit was uncontrolled; these say whether the readings are
possible at all, how the visit is classed, and when the next follow-up is due.
"""
from __future__ import annotations

import json
import operator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

__all__ = ["Readings", "ImpossibleReading", "validate_readings", "validate_range", "Classification",
           "classify", "add_months", "RULES", "RULES_PATH", "OUTCOMES", "DISEASES",
           "ADVERSE_REACTIONS", "MIN_FOLLOWUPS_PER_YEAR", "REFERRAL_FOLLOWUP_DAYS", "is_high_risk",
           "followups_short", "previous_uncontrolled", "bmi", "latest_next_visit"]

RULES_PATH = Path(__file__).with_name("followup_rules.json")
RULES: dict = json.loads(RULES_PATH.read_text(encoding="utf-8"))  # a few kB, read once

DISEASES: dict[str, str] = RULES["diseases"]
OUTCOMES: dict[str, str] = RULES["outcomes"]
ADVERSE_REACTIONS: dict[str, str] = RULES["adverse_reactions"]
MIN_FOLLOWUPS_PER_YEAR: int = RULES["min_followups_per_year"]
REFERRAL_FOLLOWUP_DAYS: int = RULES["next_visit"]["referral"]["days"]

_OPS = {">=": operator.ge, ">": operator.gt, "<=": operator.le, "<": operator.lt}


class ImpossibleReading(ValueError):
    """A physiologically impossible reading; `code` is stable, the message Chinese."""

    def __init__(self, message: str, code: str):
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Readings:
    systolic: int | None = None
    diastolic: int | None = None
    fasting_glucose: float | None = None   # mmol/L
    heart_rate: int | None = None          # beats per minute
    temperature: float | None = None       # degrees Celsius
    danger_symptoms: tuple[str, ...] = ()
    adverse_reaction: str = "none"         # a key of ADVERSE_REACTIONS
    new_complication: bool = False         # a new complication or an existing one worse
    extra: dict = field(default_factory=dict)  # the sheet's other measured fields (weight ...)

    def value(self, name: str):
        return getattr(self, name) if name in _READING_FIELDS else self.extra.get(name)


_READING_FIELDS = ("systolic", "diastolic", "fasting_glucose", "heart_rate", "temperature")


def _fmt(value) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def validate_range(name: str, value) -> None:
    """One measured field against its possible range in the rules data."""
    spec = RULES["ranges"][name]
    if value is None:
        return
    code = spec.get("code", f"impossible_{name}")
    if spec.get("integer") and float(value) != int(value):
        raise ImpossibleReading(f"{spec['label']}应为整数", code)
    if not spec["min"] <= value <= spec["max"]:
        raise ImpossibleReading(
            f"{spec['label']} {_fmt(value)} {spec['unit']} 不可能"
            f"（应在{_fmt(spec['min'])}到{_fmt(spec['max'])}之间），请复测", code)


def validate_readings(r: Readings, disease: str | None = None) -> None:
    """Refuse readings no living person has; hypertension needs BP, diabetes glucose."""
    for pair in RULES["pairs"]:
        present = [r.value(f) is not None for f in pair["fields"]]
        if any(present) and not all(present):
            raise ImpossibleReading(pair["message"], pair["code"])
    for name in RULES["ranges"]:
        validate_range(name, r.value(name))
    for rule in RULES["order"]:
        low, high = r.value(rule["lower"]), r.value(rule["upper"])
        if low is not None and high is not None and low >= high:
            raise ImpossibleReading(rule["message"], rule["code"])
    if r.adverse_reaction not in ADVERSE_REACTIONS:
        raise ImpossibleReading("药物不良反应只能是无、首次或难以控制", "invalid_adverse_reaction")
    for need in RULES["required"].get(disease or "", []):
        if r.value(need["field"]) is None:
            raise ImpossibleReading(need["message"], need["code"])


@dataclass(frozen=True)
class Classification:
    outcome: str        # a key of OUTCOMES
    refer: bool         # refer up to the lead hospital
    urgent: bool
    next_due: date      # the latest date the standard allows for the next visit
    reasons: tuple[str, ...]
    controlled: bool = True   # the readings themselves were controlled (the "twice" rule)

    @property
    def label(self) -> str:
        return OUTCOMES[self.outcome]


def add_months(day: date, months: int) -> date:
    """The same day `months` later (the last day of a shorter month)."""
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    for d in (day.day, 30, 29, 28):
        try:
            return date(year, month, d)
        except ValueError:
            continue
    raise AssertionError("unreachable")


def _holds(cond: dict, r: Readings, age: int | None = None) -> bool:
    value = r.value(cond["field"])
    if value is None:
        return False
    limit = cond["value"]
    for step in cond.get("by_age", []):
        if age is not None and age >= step["min_age"]:
            limit = step["value"]
    return _OPS[cond["op"]](value, limit)


def _danger_reasons(disease: str, r: Readings) -> list[str]:
    values = {name: _fmt(r.value(name)) for name in _READING_FIELDS}
    reasons: list[str] = []
    for cond in RULES["danger"][disease]:
        if _holds(cond, r):
            text = cond["reason"].format_map(values)
            if text not in reasons:
                reasons.append(text)
    if r.danger_symptoms:
        reasons.append(RULES["danger"]["symptoms_reason"])
    return reasons


def _next_due(kind: str, visit: date) -> date:
    step = RULES["next_visit"][kind]
    return add_months(visit, step["months"]) if "months" in step else visit + timedelta(days=step["days"])


def classify(disease: str, r: Readings, *, age: int, visit: date,
             previous_uncontrolled: bool = False) -> Classification:
    """Validate, then the first row of the classification table whose `when` holds."""
    validate_readings(r, disease)
    danger = _danger_reasons(disease, r)
    controlled = all(_holds(c, r, age) for c in RULES["controlled"][disease])
    facts = {"danger": bool(danger), "adverse_reaction": r.adverse_reaction,
             "complication": r.new_complication, "controlled": controlled,
             "previous_uncontrolled": previous_uncontrolled}
    for row in RULES["classification"]:
        if all(facts[k] == v for k, v in row["when"].items()):
            reasons = danger if row["outcome"] == "urgent_referral" else \
                ([row["reason"]] if row.get("reason") else [])
            return Classification(row["outcome"], row["refer"], row["urgent"],
                                  _next_due(row["next"], visit), tuple(reasons), controlled)
    raise AssertionError("the classification table ends with a catch-all row")


def previous_uncontrolled(last_controlled: bool | None, last_outcome: str | None) -> bool:
    """Whether the last visit's readings were uncontrolled (for "twice in a row").

    Visits stored before readings were kept apart from reactions have only their class.
    """
    if last_controlled is not None:
        return not last_controlled
    return last_outcome in RULES["uncontrolled_outcomes_before_kinds"]


def latest_next_visit(result: Classification, chosen: date | None, visit: date) -> date:
    """The next visit: the standard's date, or earlier if the doctor says so, never later."""
    if chosen is None:
        return result.next_due
    if chosen <= visit:
        raise ImpossibleReading("下次随访日期须晚于本次随访", "next_visit_not_after_visit")
    if chosen > result.next_due:
        raise ImpossibleReading(
            f"下次随访日期不能晚于规范要求的 {result.next_due.isoformat()}", "next_visit_too_late")
    return chosen


def bmi(weight_kg: float | None, height_cm: float | None) -> float | None:
    """Body mass index, one decimal, when both are measured."""
    if not weight_kg or not height_cm:
        return None
    return round(weight_kg / (height_cm / 100) ** 2, 1)


def is_high_risk(systolic: int | None, diastolic: int | None) -> bool:
    """The overdue call list puts BP ≥ 180/110 at the last visit first."""
    if systolic is None or diastolic is None:
        return False
    r = Readings(systolic=systolic, diastolic=diastolic)
    return any(_holds(c, r) for c in RULES["high_risk_call"])


def followups_short(count_this_year: int) -> int:
    """How many face-to-face follow-ups are still missing this year (at least 4 a year)."""
    return max(0, MIN_FOLLOWUPS_PER_YEAR - count_this_year)
