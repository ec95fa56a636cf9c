"""The national-standard rules, one table per rule in DOMAIN.md."""
from datetime import date

import pytest

from backend.rules import contracts as cr
from backend.rules import elderly
from backend.rules.followup import add_months, followups_short, is_high_risk

VISIT = date(2026, 11, 25)


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
