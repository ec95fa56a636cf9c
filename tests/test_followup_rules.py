"""The follow-up rules: one table of cases (tests/cases/followup_cases.json), run here
against the Python rules and in Chromium against the browser's, so the two cannot drift."""
import json
from datetime import date
from pathlib import Path

import pytest

from backend.rules import followup as rules
from backend.rules.followup import ImpossibleReading, Readings, classify, validate_readings

CASES = json.loads((Path(__file__).parent / "cases" / "followup_cases.json").read_text("utf-8"))
VISIT = date.fromisoformat(CASES["visit"])
_FIELDS = {"systolic", "diastolic", "fasting_glucose", "heart_rate", "temperature",
           "danger_symptoms", "adverse_reaction", "new_complication"}


def readings(raw: dict) -> Readings:
    known = {k: (tuple(v) if k == "danger_symptoms" else v) for k, v in raw.items() if k in _FIELDS}
    return Readings(**known, extra={k: v for k, v in raw.items() if k not in _FIELDS})


@pytest.mark.parametrize("case", CASES["cases"], ids=[c["name"] for c in CASES["cases"]])
def test_follow_up_class_per_the_national_standard(case):
    r = classify(case["disease"], readings(case["readings"]), age=case["age"], visit=VISIT,
                 previous_uncontrolled=case["previous_uncontrolled"])
    want = case["expect"]
    assert (r.outcome, r.refer, r.urgent, r.next_due.isoformat()) == \
        (want["outcome"], want["refer"], want["urgent"], want["next_due"])
    if "reasons" in want:
        assert list(r.reasons) == want["reasons"]


@pytest.mark.parametrize("case", CASES["impossible"], ids=[c["name"] for c in CASES["impossible"]])
def test_impossible_readings_are_refused(case):
    with pytest.raises(ImpossibleReading) as err:
        validate_readings(readings(case["readings"]), case["disease"])
    assert err.value.code == case["code"]
    assert any("\u4e00" <= ch <= "\u9fff" for ch in str(err.value))  # a Chinese message


@pytest.mark.parametrize("case", CASES["possible"], ids=[c["name"] for c in CASES["possible"]])
def test_extreme_but_possible_readings_pass(case):
    validate_readings(readings(case["readings"]))


def test_every_outcome_of_the_table_has_a_label_and_every_range_a_unit():
    table = rules.RULES["classification"]
    assert table[-1]["when"] == {}  # the catch-all row comes last
    assert {row["outcome"] for row in table} <= set(rules.OUTCOMES)
    assert all(spec["unit"] and spec["min"] < spec["max"] for spec in rules.RULES["ranges"].values())


def test_the_case_table_reaches_every_row_of_the_classification_table():
    reached = {c["expect"]["outcome"] for c in CASES["cases"]}
    assert reached == {row["outcome"] for row in rules.RULES["classification"]}


@pytest.mark.parametrize("last_controlled,last_outcome,expected", [
    (False, "adverse_reaction_adjust", True), (True, "adverse_reaction_adjust", False),
    (True, "not_controlled_refer", False),
    # visits stored before the reaction kinds: their class stands as recorded
    (None, "not_controlled_first", True), (None, "not_controlled_refer", True),
    (None, "controlled", False), (None, None, False),
])
def test_twice_in_a_row_looks_at_the_readings_of_the_last_visit(last_controlled, last_outcome, expected):
    assert rules.previous_uncontrolled(last_controlled, last_outcome) is expected


@pytest.mark.parametrize("chosen,ok", [(None, True), (date(2026, 12, 1), True),
                                       (date(2026, 12, 9), True), (date(2026, 12, 10), False),
                                       (VISIT, False)])
def test_next_visit_may_be_earlier_than_the_standard_never_later(chosen, ok):
    r = classify("hypertension", Readings(systolic=150, diastolic=95), age=60, visit=VISIT)
    if ok:
        assert rules.latest_next_visit(r, chosen, VISIT) == (chosen or date(2026, 12, 9))
    else:
        with pytest.raises(ImpossibleReading):
            rules.latest_next_visit(r, chosen, VISIT)


@pytest.mark.parametrize("weight,height,value", [(70, 175, 22.9), (45.5, 158, 18.2), (None, 170, None)])
def test_bmi_from_weight_and_height(weight, height, value):
    assert rules.bmi(weight, height) == value
