"""Chronic-disease follow-up rules of the national basic public health service standard.

Pure functions: the service passes in the readings, the patient's age and the previous
visit's outcome; these say whether the readings are possible at all, how the visit is
classed, and when the next follow-up is due.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

__all__ = ["Readings", "ImpossibleReading", "validate_readings", "Classification",
           "classify_hypertension", "classify_diabetes", "classify", "add_months",
           "OUTCOMES", "DISEASES", "MIN_FOLLOWUPS_PER_YEAR", "REFERRAL_FOLLOWUP_DAYS",
           "is_high_risk", "followups_short"]

DISEASES = {"hypertension": "高血压", "diabetes": "2型糖尿病"}
OUTCOMES = {
    "urgent_referral": "紧急转诊",
    "controlled": "控制满意",
    "not_controlled_first": "控制不满意（首次）",
    "not_controlled_refer": "控制不满意需转诊",
}
MIN_FOLLOWUPS_PER_YEAR = 4
REFERRAL_FOLLOWUP_DAYS = 14
CONTROLLED_MONTHS = 3


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
    adverse_reaction: bool = False
    new_complication: bool = False


def validate_readings(r: Readings, disease: str | None = None) -> None:
    """Refuse readings no living person has; hypertension needs BP, diabetes glucose."""
    if (r.systolic is None) != (r.diastolic is None):
        raise ImpossibleReading("收缩压和舒张压须同时填写", "bp_incomplete")
    if r.systolic is not None:
        if not 50 <= r.systolic <= 300:
            raise ImpossibleReading(f"收缩压 {r.systolic} mmHg 不可能，请复测", "impossible_systolic")
        if not 20 <= r.diastolic <= 200:
            raise ImpossibleReading(f"舒张压 {r.diastolic} mmHg 不可能，请复测", "impossible_diastolic")
        if r.diastolic >= r.systolic:
            raise ImpossibleReading("舒张压不能高于或等于收缩压，请核对", "diastolic_above_systolic")
    if r.fasting_glucose is not None and not 0 < r.fasting_glucose <= 50:
        raise ImpossibleReading(f"血糖 {r.fasting_glucose} mmol/L 不可能（应在0到50之间），请复测",
                                "impossible_glucose")
    if r.heart_rate is not None and not 20 <= r.heart_rate <= 250:
        raise ImpossibleReading(f"心率 {r.heart_rate} 次/分 不可能，请复测", "impossible_heart_rate")
    if r.temperature is not None and not 30 <= r.temperature <= 45:
        raise ImpossibleReading(f"体温 {r.temperature} ℃ 不可能，请复测", "impossible_temperature")
    if disease == "hypertension" and r.systolic is None:
        raise ImpossibleReading("高血压随访须测量血压", "bp_required")
    if disease == "diabetes" and r.fasting_glucose is None:
        raise ImpossibleReading("糖尿病随访须测空腹血糖", "glucose_required")


@dataclass(frozen=True)
class Classification:
    outcome: str        # a key of OUTCOMES
    refer: bool         # refer up to the lead hospital
    urgent: bool
    next_due: date
    reasons: tuple[str, ...]

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


def _bp_danger(r: Readings) -> bool:
    return r.systolic is not None and (r.systolic >= 180 or r.diastolic >= 110)


def _after_danger_and_control(r: Readings, visit: date, controlled: bool,
                              previous_not_controlled: bool, danger: list[str]) -> Classification:
    soon = visit + timedelta(days=REFERRAL_FOLLOWUP_DAYS)
    if danger:
        return Classification("urgent_referral", True, True, soon, tuple(danger))
    if r.adverse_reaction or r.new_complication:
        why = (["药物不良反应"] if r.adverse_reaction else []) + (["新发并发症"] if r.new_complication else [])
        return Classification("not_controlled_refer", True, False, soon, tuple(why))
    if controlled:
        return Classification("controlled", False, False, add_months(visit, CONTROLLED_MONTHS), ())
    if previous_not_controlled:
        return Classification("not_controlled_refer", True, False, soon, ("连续两次控制不满意",))
    return Classification("not_controlled_first", False, False, soon, ("调整用药",))


def classify_hypertension(r: Readings, *, age: int, visit: date,
                          previous_not_controlled: bool = False) -> Classification:
    """Hypertension: danger ≥180/110 or acute symptoms; controlled <140/90 (65+: <150/90)."""
    danger = []
    if _bp_danger(r):
        danger.append(f"血压 {r.systolic}/{r.diastolic} mmHg 达到危急值")
    if r.danger_symptoms:
        danger.append("有危急症状")
    limit = 150 if age >= 65 else 140
    controlled = r.systolic < limit and r.diastolic < 90
    return _after_danger_and_control(r, visit, controlled, previous_not_controlled, danger)


def classify_diabetes(r: Readings, *, age: int, visit: date,
                      previous_not_controlled: bool = False) -> Classification:
    """Type 2 diabetes: danger glucose ≥16.7 or ≤3.9, BP ≥180/110, HR >100, T >39 ℃."""
    danger = []
    g = r.fasting_glucose
    if g >= 16.7 or g <= 3.9:
        danger.append(f"血糖 {g} mmol/L 达到危急值")
    if _bp_danger(r):
        danger.append(f"血压 {r.systolic}/{r.diastolic} mmHg 达到危急值")
    if r.heart_rate is not None and r.heart_rate > 100:
        danger.append(f"心率 {r.heart_rate} 次/分 超过100")
    if r.temperature is not None and r.temperature > 39:
        danger.append(f"体温 {r.temperature} ℃ 超过39")
    if r.danger_symptoms:
        danger.append("有危急症状")
    controlled = g < 7.0
    return _after_danger_and_control(r, visit, controlled, previous_not_controlled, danger)


def classify(disease: str, r: Readings, *, age: int, visit: date,
             previous_not_controlled: bool = False) -> Classification:
    validate_readings(r, disease)
    fn = {"hypertension": classify_hypertension, "diabetes": classify_diabetes}[disease]
    return fn(r, age=age, visit=visit, previous_not_controlled=previous_not_controlled)


def is_high_risk(systolic: int | None, diastolic: int | None) -> bool:
    """The overdue call list puts BP ≥ 180/110 at the last visit first."""
    return systolic is not None and diastolic is not None and (systolic >= 180 or diastolic >= 110)


def followups_short(count_this_year: int) -> int:
    """How many face-to-face follow-ups are still missing this year (at least 4 a year)."""
    return max(0, MIN_FOLLOWUPS_PER_YEAR - count_this_year)
