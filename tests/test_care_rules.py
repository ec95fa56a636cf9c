"""The national-standard rules, one table per rule in DOMAIN.md."""
from datetime import date

import pytest

from backend.rules import contracts as cr
from backend.rules import elderly
from backend.rules.followup import (ImpossibleReading, Readings, add_months, classify,
                                    followups_short, is_high_risk, validate_readings)

VISIT = date(2026, 11, 25)
TWO_WEEKS = date(2026, 12, 9)
THREE_MONTHS = date(2027, 2, 25)


@pytest.mark.parametrize("readings,code", [
    (Readings(systolic=400, diastolic=90), "impossible_systolic"),
    (Readings(systolic=30, diastolic=20), "impossible_systolic"),
    (Readings(systolic=120, diastolic=130), "diastolic_above_systolic"),
    (Readings(systolic=120, diastolic=120), "diastolic_above_systolic"),
    (Readings(systolic=120, diastolic=None), "bp_incomplete"),
    (Readings(fasting_glucose=-1), "impossible_glucose"),
    (Readings(fasting_glucose=0), "impossible_glucose"),
    (Readings(fasting_glucose=50.1), "impossible_glucose"),
    (Readings(heart_rate=0), "impossible_heart_rate"),
    (Readings(heart_rate=300), "impossible_heart_rate"),
    (Readings(temperature=50), "impossible_temperature"),
])
def test_physiologically_impossible_readings_are_refused(readings, code):
    with pytest.raises(ImpossibleReading) as err:
        validate_readings(readings)
    assert err.value.code == code
    assert str(err.value)  # a Chinese message


@pytest.mark.parametrize("readings", [
    Readings(systolic=300, diastolic=200 - 1), Readings(systolic=50, diastolic=20),
    Readings(fasting_glucose=50), Readings(fasting_glucose=0.5), Readings(heart_rate=20),
])
def test_extreme_but_possible_readings_pass(readings):
    validate_readings(readings)


@pytest.mark.parametrize("disease,readings,code", [
    ("hypertension", Readings(fasting_glucose=6.0), "bp_required"),
    ("diabetes", Readings(systolic=130, diastolic=80), "glucose_required"),
])
def test_each_disease_needs_its_reading(disease, readings, code):
    with pytest.raises(ImpossibleReading) as err:
        classify(disease, readings, age=60, visit=VISIT)
    assert err.value.code == code


# Hypertension (35+): danger ≥180/110 or symptoms → urgent referral, 2 weeks;
# controlled <140/90 (65+: <150/90) → 3 months; not controlled first → 2 weeks;
# twice, adverse reaction or new complication → refer, 2 weeks.
@pytest.mark.parametrize("sbp,dbp,age,prev_bad,extra,outcome,refer,due", [
    (180, 90, 60, False, {}, "urgent_referral", True, TWO_WEEKS),
    (150, 110, 60, False, {}, "urgent_referral", True, TWO_WEEKS),
    (130, 80, 60, False, {"danger_symptoms": ("剧烈头痛",)}, "urgent_referral", True, TWO_WEEKS),
    (139, 89, 60, False, {}, "controlled", False, THREE_MONTHS),
    (140, 80, 60, False, {}, "not_controlled_first", False, TWO_WEEKS),
    (130, 90, 60, False, {}, "not_controlled_first", False, TWO_WEEKS),
    (145, 85, 65, False, {}, "controlled", False, THREE_MONTHS),       # 65+: <150/90
    (149, 89, 80, False, {}, "controlled", False, THREE_MONTHS),
    (150, 85, 70, False, {}, "not_controlled_first", False, TWO_WEEKS),
    (145, 85, 64, False, {}, "not_controlled_first", False, TWO_WEEKS),  # 64 is not 65+
    (150, 95, 60, True, {}, "not_controlled_refer", True, TWO_WEEKS),     # twice in a row
    (130, 80, 60, True, {}, "controlled", False, THREE_MONTHS),
    (130, 80, 60, False, {"adverse_reaction": True}, "not_controlled_refer", True, TWO_WEEKS),
    (130, 80, 60, False, {"new_complication": True}, "not_controlled_refer", True, TWO_WEEKS),
    (185, 100, 60, True, {"adverse_reaction": True}, "urgent_referral", True, TWO_WEEKS),
])
def test_hypertension_classification(sbp, dbp, age, prev_bad, extra, outcome, refer, due):
    r = classify("hypertension", Readings(systolic=sbp, diastolic=dbp, **extra), age=age,
                 visit=VISIT, previous_not_controlled=prev_bad)
    assert (r.outcome, r.refer, r.next_due) == (outcome, refer, due)
    assert r.urgent == (outcome == "urgent_referral")


# Type 2 diabetes: danger glucose ≥16.7 or ≤3.9, BP ≥180/110, HR >100, T >39 → urgent;
# controlled fasting glucose <7.0 → 3 months; otherwise as hypertension.
@pytest.mark.parametrize("glucose,extra,prev_bad,outcome,due", [
    (16.7, {}, False, "urgent_referral", TWO_WEEKS),
    (3.9, {}, False, "urgent_referral", TWO_WEEKS),
    (6.0, {"systolic": 182, "diastolic": 100}, False, "urgent_referral", TWO_WEEKS),
    (6.0, {"systolic": 150, "diastolic": 110}, False, "urgent_referral", TWO_WEEKS),
    (6.0, {"heart_rate": 101}, False, "urgent_referral", TWO_WEEKS),
    (6.0, {"heart_rate": 100}, False, "controlled", THREE_MONTHS),
    (6.0, {"temperature": 39.1}, False, "urgent_referral", TWO_WEEKS),
    (6.0, {"temperature": 39.0}, False, "controlled", THREE_MONTHS),
    (6.9, {}, False, "controlled", THREE_MONTHS),
    (4.0, {}, False, "controlled", THREE_MONTHS),
    (7.0, {}, False, "not_controlled_first", TWO_WEEKS),
    (9.5, {}, True, "not_controlled_refer", TWO_WEEKS),
    (6.0, {"adverse_reaction": True}, False, "not_controlled_refer", TWO_WEEKS),
    (6.0, {"new_complication": True}, False, "not_controlled_refer", TWO_WEEKS),
])
def test_diabetes_classification(glucose, extra, prev_bad, outcome, due):
    r = classify("diabetes", Readings(fasting_glucose=glucose, **extra), age=55, visit=VISIT,
                 previous_not_controlled=prev_bad)
    assert (r.outcome, r.next_due) == (outcome, due)


@pytest.mark.parametrize("count,short", [(0, 4), (1, 3), (3, 1), (4, 0), (6, 0)])
def test_at_least_four_followups_a_year(count, short):
    assert followups_short(count) == short


@pytest.mark.parametrize("day,months,expected", [
    (date(2026, 11, 30), 3, date(2027, 2, 28)), (date(2026, 1, 31), 1, date(2026, 2, 28)),
    (date(2026, 12, 15), 3, date(2027, 3, 15)), (date(2027, 2, 28), -3, date(2026, 11, 28)),
])
def test_next_due_months_stay_in_the_month(day, months, expected):
    assert add_months(day, months) == expected


@pytest.mark.parametrize("sbp,dbp,high", [(180, 90, True), (150, 110, True), (179, 109, False),
                                          (None, None, False)])
def test_overdue_call_list_risk_is_bp_180_110(sbp, dbp, high):
    assert is_high_risk(sbp, dbp) is high


# Elderly 65+: self-care score 0-3 independent, 4-8 mild, 9-18 moderate, 19+ dependent.
@pytest.mark.parametrize("score,grade", [(0, "independent"), (3, "independent"), (4, "mild"),
                                         (8, "mild"), (9, "moderate"), (18, "moderate"),
                                         (19, "dependent"), (37, "dependent")])
def test_self_care_score_grades_the_elder(score, grade):
    assert elderly.self_care_grade(score) == grade


@pytest.mark.parametrize("score", [-1, 38, 4.5, True])
def test_self_care_score_out_of_range(score):
    with pytest.raises(ValueError):
        elderly.self_care_grade(score)


@pytest.mark.parametrize("born,today,member", [
    (date(1961, 11, 25), date(2026, 11, 25), True), (date(1961, 11, 26), date(2026, 11, 25), False),
    (date(1930, 1, 1), date(2026, 11, 25), True), (date(1960, 2, 29), date(2025, 2, 28), False),
    (date(1960, 2, 29), date(2025, 3, 1), True),
])
def test_65_plus_ledger_membership_from_birth_date(born, today, member):
    assert elderly.is_elder(born, today) is member
    assert (born <= elderly.elder_cutoff_birth_date(today)) is member


@pytest.mark.parametrize("start,years,end", [
    (date(2026, 11, 25), 1, date(2027, 11, 24)), (date(2026, 1, 1), 3, date(2028, 12, 31)),
    (date(2024, 2, 29), 1, date(2025, 2, 28)),
])
def test_contract_runs_one_two_or_three_years(start, years, end):
    assert cr.contract_term(start, years) == (start, end)
    assert cr.renewal_reminder_day(end) == date.fromordinal(end.toordinal() - 30)


@pytest.mark.parametrize("years", [0, 4, 5, -1])
def test_contract_of_other_length_refused(years):
    with pytest.raises(cr.ContractRuleError) as err:
        cr.contract_term(date(2026, 1, 1), years)
    assert err.value.code == "invalid_contract_years"


@pytest.mark.parametrize("weeks,ok", [(3, False), (4, True), (12, True), (13, False)])
def test_long_prescription_4_to_12_weeks(weeks, ok):
    if ok:
        assert cr.prescription_refill(date(2026, 1, 1), weeks) == date.fromordinal(
            date(2026, 1, 1).toordinal() + 7 * weeks)
    else:
        with pytest.raises(cr.ContractRuleError) as err:
            cr.prescription_refill(date(2026, 1, 1), weeks)
        assert err.value.code == "invalid_prescription_weeks"


@pytest.mark.parametrize("sbp,dbp,glu,hr,flags", [
    (120, 80, 5.5, 72, []), (140, 80, 5.5, 72, ["suspected_hypertension"]),
    (120, 90, 7.0, 72, ["suspected_hypertension", "suspected_diabetes"]),
    (120, 80, 5.5, 101, ["abnormal_heart_rate"]), (120, 80, 5.5, 59, ["abnormal_heart_rate"]),
])
def test_free_health_check_screening_flags(sbp, dbp, glu, hr, flags):
    assert cr.screen_health_check(sbp, dbp, glu, hr).flags == flags


@pytest.mark.parametrize("outcome,until", [("agreed", date(2026, 12, 2)),
                                           ("later", date(2026, 12, 25)), ("remove", None)])
def test_call_outcome_hides_the_patient(outcome, until):
    assert cr.hidden_until(outcome, VISIT) == until


@pytest.mark.parametrize("day,start", [(date(2026, 11, 25), date(2026, 10, 1)),
                                       (date(2026, 3, 31), date(2026, 1, 1)),
                                       (date(2026, 4, 1), date(2026, 4, 1))])
def test_contact_every_quarter_starts_on_quarter_day(day, start):
    assert cr.quarter_start(day) == start
