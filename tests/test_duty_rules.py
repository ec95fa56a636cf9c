"""The village duty rule of seed 003, as tables of cases (pure rules, no I/O)."""
from __future__ import annotations

from datetime import date

import pytest

from backend.rules import duty as rules
from backend.rules.duty import Entry

V = ["v1", "v2", "v3"]
EVERY = (1, 2, 3, 4, 5)


def codes(model, entries, villages=V, year=2026):
    return sorted(v.code for v in rules.check_roster(model, entries, villages, year))


@pytest.mark.parametrize("name,model,entries,expected", [
    ("fixed: one doctor per village every week is compliant", "fixed",
     [Entry("v1", "a", 0, "am", EVERY), Entry("v2", "b", 0, "am", EVERY), Entry("v3", "a", 2, "pm", EVERY)], []),
    ("fixed: a village missed in some weeks breaks the weekly minimum", "fixed",
     [Entry("v1", "a", 0, "am", EVERY), Entry("v2", "b", 0, "am", (1, 2, 3, 4)), Entry("v3", "a", 2, "pm", EVERY)],
     ["fixed_weekly"]),
    ("fixed: two doctors in one village is not a fixed doctor", "fixed",
     [Entry("v1", "a", 0, "am", EVERY), Entry("v1", "b", 3, "am", EVERY), Entry("v2", "b", 0, "am", EVERY),
      Entry("v3", "a", 2, "pm", EVERY)], ["fixed_one_doctor"]),
    ("any model: a village without a session is uncovered", "fixed",
     [Entry("v1", "a", 0, "am", EVERY), Entry("v2", "b", 0, "am", EVERY)], ["village_uncovered"]),
    ("rotating: 3 doctors, twice a month everywhere is compliant", "rotating",
     [Entry("v1", "a", 0, "am", (1, 3)), Entry("v2", "b", 1, "am", (2, 4)), Entry("v3", "c", 2, "pm", (1, 3))], []),
    ("rotating: once a month is under the minimum of two", "rotating",
     [Entry("v1", "a", 0, "am", (1, 3)), Entry("v2", "b", 1, "am", (2,)), Entry("v3", "c", 2, "pm", (1, 3))],
     ["rotating_monthly"]),
    ("rotating: only the 5th weekday is missing in most months", "rotating",
     [Entry("v1", "a", 0, "am", (1, 5)), Entry("v2", "b", 1, "am", (2, 4)), Entry("v3", "c", 2, "pm", (1, 3))],
     ["rotating_monthly"]),
    ("rotating: one doctor alone is not a rotation", "rotating",
     [Entry("v1", "a", 0, "am", (1, 3)), Entry("v2", "a", 1, "am", (2, 4)), Entry("v3", "a", 2, "pm", (1, 3))],
     ["rotating_doctor_count"]),
    ("rotating: four doctors are more than 2-3", "rotating",
     [Entry("v1", "a", 0, "am", (1, 3)), Entry("v2", "b", 1, "am", (2, 4)), Entry("v3", "c", 2, "pm", (1, 3)),
      Entry("v3", "d", 3, "pm", (2, 4))], ["rotating_doctor_count"]),
])
def test_roster_rule(name, model, entries, expected):
    assert codes(model, entries) == expected, name


def test_a_violating_roster_is_never_reported_compliant():
    entries = [Entry("v1", "a", 0, "am", (1,))]
    assert rules.check_roster("fixed", entries, V, 2026) != []
    assert rules.check_roster("rotating", entries, V, 2026) != []


def test_unknown_model_is_an_error():
    with pytest.raises(rules.RosterError) as err:
        rules.check_roster("weekly", [], V, 2026)
    assert err.value.code == "invalid_model"


@pytest.mark.parametrize("entries,clash", [
    ([Entry("v1", "a", 0, "am", (1, 3)), Entry("v2", "a", 0, "am", (3,))], [("a", 0, "am", 3, ("v1", "v2"))]),
    ([Entry("v1", "a", 0, "am", (1, 3)), Entry("v2", "a", 0, "pm", (1, 3))], []),   # other half-day
    ([Entry("v1", "a", 0, "am", (1, 3)), Entry("v2", "a", 0, "am", (2, 4))], []),   # other weeks
    ([Entry("v1", "a", 0, "am", (1,)), Entry("v2", "b", 0, "am", (1,))], []),       # other doctor
])
def test_a_doctor_in_two_villages_at_the_same_time(entries, clash):
    assert rules.clashes(entries) == clash


@pytest.mark.parametrize("entry,year,month,dates", [
    (Entry("v", "a", 0, "am", (1, 3)), 2026, 12, [date(2026, 12, 7), date(2026, 12, 21)]),
    (Entry("v", "a", 3, "pm", (5,)), 2026, 12, [date(2026, 12, 31)]),   # five Thursdays
    (Entry("v", "a", 3, "pm", (5,)), 2026, 11, []),                      # four Thursdays
])
def test_session_dates_are_the_nth_weekday_of_the_month(entry, year, month, dates):
    assert rules.session_dates(entry, year, month) == dates


@pytest.mark.parametrize("bad,code", [
    (Entry("v", "a", 7, "am", (1,)), "invalid_weekday"),
    (Entry("v", "a", 0, "evening", (1,)), "invalid_half"),
    (Entry("v", "a", 0, "am", ()), "invalid_weeks"),
    (Entry("v", "a", 0, "am", (6,)), "invalid_weeks"),
    (Entry("v", "a", 0, "am", (1, 1)), "invalid_weeks"),
])
def test_invalid_entries(bad, code):
    with pytest.raises(rules.RosterError) as err:
        rules.validate_entry(bad)
    assert err.value.code == code


@pytest.mark.parametrize("year,q,due", [
    (2026, 1, date(2026, 4, 10)), (2026, 2, date(2026, 7, 10)),
    (2026, 3, date(2026, 10, 10)), (2026, 4, date(2027, 1, 10)),
])
def test_quarterly_statistics_due_the_10th_after_the_quarter(year, q, due):
    assert rules.stats_due(year, q) == due


@pytest.mark.parametrize("due,filed,today,opens,status", [
    (date(2026, 4, 30), date(2026, 4, 20), date(2026, 12, 2), None, "filed"),
    (date(2026, 4, 30), date(2026, 5, 3), date(2026, 12, 2), None, "filed_late"),
    (date(2026, 4, 30), None, date(2026, 5, 1), None, "late"),
    (date(2026, 4, 30), None, date(2026, 4, 30), None, "due"),
    (date(2027, 1, 10), None, date(2026, 12, 2), date(2027, 1, 1), "upcoming"),
])
def test_deadline_status(due, filed, today, opens, status):
    assert rules.deadline_status(due, filed, today, opens) == status


def test_roster_filed_by_end_of_april_and_weekday_labels():
    assert rules.roster_due(2026) == date(2026, 4, 30)
    assert rules.weekday_label(date(2026, 12, 3)) == "12月3日 周四"
    assert rules.parse_quarter("2026Q3") == (2026, 3)
    with pytest.raises(rules.RosterError):
        rules.parse_quarter("2026Q5")
