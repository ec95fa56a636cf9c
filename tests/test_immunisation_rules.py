"""The national immunisation schedule as versioned data: one table of children per rule."""
from datetime import date, timedelta

import pytest
from dateutil.relativedelta import relativedelta

from backend.rules.immunisation import (Age, DoseRefused, GivenDose, check_dose, load_schedule,
                                        parse_age, plan)

SCHEDULE = load_schedule()
T2021 = SCHEDULE.version("2021")
T2025 = SCHEDULE.version("2025-01")
THPV = SCHEDULE.version("2025-11")


def d(text: str) -> date:
    return date.fromisoformat(text)


def given(*items: str) -> list[GivenDose]:
    """'HepB-1@2026-06-01' → GivenDose."""
    out = []
    for item in items:
        what, on = item.split("@")
        vaccine, dose = what.rsplit("-", 1)
        out.append(GivenDose(vaccine, int(dose), d(on)))
    return out


# ---- calendar arithmetic -------------------------------------------------------------------

@pytest.mark.parametrize("start,age,expected", [
    ("2025-03-31", "9m", "2025-12-31"),     # OpenSRP's bug: must not be 30 or 1 January
    ("2025-03-31", "6m", "2025-09-30"),
    ("2024-01-31", "1m", "2024-02-29"),
    ("2023-01-31", "1m", "2023-02-28"),
    ("2024-02-29", "1y", "2025-02-28"),
    ("2024-02-29", "4y", "2028-02-29"),
    ("2024-08-31", "18m", "2026-02-28"),
    ("2025-05-31", "28d", "2025-06-28"),
    ("2012-03-01", "13y6m", "2025-09-01"),
    ("2026-06-01", "0d", "2026-06-01"),
])
def test_ages_add_calendar_months_like_relativedelta(start, age, expected):
    assert parse_age(age).after(d(start)) == d(expected)


def test_month_arithmetic_matches_relativedelta_on_every_day_of_eight_years():
    ages = [Age(m, 0) for m in (1, 2, 3, 4, 5, 6, 8, 9, 12, 18, 24, 36, 48, 72, 156, 162)]
    day = d("2019-01-01")
    while day < d("2027-01-01"):
        for age in ages:
            assert age.after(day) == day + relativedelta(months=age.months), (day, age)
        day += timedelta(days=1)


@pytest.mark.parametrize("bad", ["", "m", "3x", "1m2y", "-1m"])
def test_malformed_ages_in_the_data_file_are_refused(bad):
    with pytest.raises(ValueError):
        parse_age(bad)


# ---- which table is in force ---------------------------------------------------------------

@pytest.mark.parametrize("day,version", [
    ("2021-06-01", "2021"), ("2024-12-31", "2021"), ("2025-01-01", "2025-01"),
    ("2025-11-09", "2025-01"), ("2025-11-10", "2025-11"), ("2026-12-02", "2025-11"),
])
def test_the_table_in_force_follows_its_effective_date(day, version):
    assert SCHEDULE.in_force(d(day)).version == version


def test_2025_dtap_change_replaces_dt_and_hpv_joins_in_november():
    assert "DT" in T2021.series and "DT" not in T2025.series
    assert [x.due_age.months for x in T2021.series["DTaP"].doses] == [3, 4, 5, 18]
    assert [x.due_age.months for x in T2025.series["DTaP"].doses] == [2, 4, 6, 18, 72]
    assert "HPV2" not in T2025.series and "HPV2" in THPV.series
    assert T2021.series["HepB"] is THPV.series["HepB"]  # unchanged series are carried over


# ---- each child's due, overdue, upcoming and no-longer-given doses -------------------------

def keys(doses) -> set[str]:
    return {f"{x.series}-{x.dose}" for x in doses}


ON_TIME_JUNE_2026 = ("HepB-1@2026-06-01", "BCG-1@2026-06-01")
FULL_2019_BORN = ("HepB-1@2019-09-01", "HepB-2@2019-10-01", "HepB-3@2020-03-01", "BCG-1@2019-09-01",
                  "IPV-1@2019-11-01", "IPV-2@2019-12-01", "bOPV-1@2020-01-01", "bOPV-2@2023-09-01",
                  "DTaP-1@2019-12-01", "DTaP-2@2020-01-01", "DTaP-3@2020-02-01",
                  "DTaP-4@2021-03-01", "MMR-1@2020-05-01", "MMR-2@2021-03-01",
                  "JE-L-1@2020-05-01", "JE-L-2@2021-09-01", "MPSV-A-1@2020-03-01",
                  "MPSV-A-2@2020-06-01", "MPSV-AC-1@2022-09-01", "HepA-L-1@2021-03-01")

CHILDREN = [
    # name, birth, sex, history, today, table, due, overdue, no longer given
    ("six-month-old with only birth doses", "2026-06-01", "F", ON_TIME_JUNE_2026, "2026-12-02",
     THPV, {"MPSV-A-1"}, {"HepB-2", "IPV-1", "bOPV-1", "DTaP-1"}, set()),
    ("same child under the 2021 table: DTaP starts at 3 months", "2026-06-01", "F",
     ON_TIME_JUNE_2026, "2026-12-02", T2021, {"MPSV-A-1"},
     {"HepB-2", "IPV-1", "bOPV-1", "DTaP-1"}, set()),
    ("two-month-old: 2025 table makes DTaP 1 due with IPV 1", "2026-06-01", "M",
     ON_TIME_JUNE_2026 + ("HepB-2@2026-07-01",), "2026-08-05", THPV, {"IPV-1", "DTaP-1"}, set(),
     set()),
    ("two-month-old under 2021: DTaP 1 not yet due", "2026-06-01", "M",
     ON_TIME_JUNE_2026 + ("HepB-2@2026-07-01",), "2026-08-05", T2021, {"IPV-1"}, set(), set()),
    ("newborn on the day of birth", "2026-12-02", "M", (), "2026-12-02", THPV,
     {"HepB-1", "BCG-1"}, set(), set()),
    ("six-year-old with DTaP 1-4: 2025 adds DTaP 5", "2019-09-01", "M", FULL_2019_BORN,
     "2026-01-10", T2025, {"DTaP-5", "MPSV-AC-2"}, set(), set()),
    ("the same six-year-old under 2021: DT instead", "2019-09-01", "M", FULL_2019_BORN,
     "2026-01-10", T2021, {"DT-1", "MPSV-AC-2"}, set(), set()),
    ("DT given under 2021 counts as DTaP 5 under 2025", "2019-09-01", "M",
     FULL_2019_BORN + ("DT-1@2025-09-02", "MPSV-AC-2@2025-09-02"), "2026-01-10", T2025, set(),
     set(), set()),
    ("BCG is not given after 4 years", "2021-01-10", "F", (), "2025-02-01", T2025,
     set(), {"HepB-1", "IPV-1", "bOPV-1", "DTaP-1", "MMR-1", "JE-L-1", "MPSV-AC-1", "HepA-L-1"},
     {"BCG-1", "MPSV-A-1"}),
    ("girl of 13 born after 2011-11-10: HPV due", "2012-03-01", "F", (), "2025-12-01", THPV,
     {"HPV2-1"}, {"HepB-1", "IPV-1", "bOPV-1", "MMR-1", "JE-L-1", "MPSV-AC-1",
                  "HepA-L-1"}, {"BCG-1", "MPSV-A-1", "DTaP-1"}),
    ("the same girl before 2025-11-10: no HPV", "2012-03-01", "F", (), "2025-11-09", T2025,
     set(), {"HepB-1", "IPV-1", "bOPV-1", "MMR-1", "JE-L-1", "MPSV-AC-1", "HepA-L-1"},
     {"BCG-1", "MPSV-A-1", "DTaP-1"}),
]


@pytest.mark.parametrize("name,birth,sex,history,today,table,due,overdue,gone", CHILDREN,
                         ids=[c[0] for c in CHILDREN])
def test_due_lists_of_children_under_each_table(name, birth, sex, history, today, table, due,
                                                overdue, gone):
    p = plan(d(birth), given(*history), d(today), sex=sex, table=table)
    assert keys(p.due) == due
    assert keys(p.overdue) == overdue
    assert keys(p.no_longer_given) == gone
    assert p.table == table.version


def test_hpv_is_only_for_girls_born_on_or_after_2011_11_10():
    today = d("2025-12-01")
    first = plan(d("2011-11-10"), [], today, sex="F", table=THPV)   # 14 on the launch day
    assert "HPV2-1" in keys(first.overdue)
    for birth, sex in (("2011-11-09", "F"), ("2012-03-01", "M")):
        p = plan(d(birth), [], today, sex=sex, table=THPV)
        assert "HPV2" not in {x.series for x in p.due + p.upcoming + p.overdue + p.no_longer_given}


def test_a_late_dose_moves_the_next_by_the_minimum_interval():
    # HepB 2 given 3 months late: HepB 3 is due 60 days after it, not at 6 months.
    history = given("HepB-1@2026-01-15", "HepB-2@2026-05-20")
    before = plan(d("2026-01-15"), history, d("2026-07-17"), table=THPV)
    hepb3 = next(x for x in before.upcoming if x.series == "HepB")
    assert (hepb3.dose, hepb3.earliest, hepb3.due) == (3, d("2026-07-19"), d("2026-07-19"))
    assert hepb3.overdue == d("2027-01-19")           # the window moves with it
    on_day = plan(d("2026-01-15"), history, d("2026-07-19"), table=THPV)
    assert "HepB-3" in keys(on_day.due)
    # On time, the calendar age decides: 6 months after birth.
    timely = plan(d("2026-01-15"), given("HepB-1@2026-01-15", "HepB-2@2026-02-15"),
                  d("2026-07-15"), table=THPV)
    assert "HepB-3" in keys(timely.due)


def test_month_end_birth_due_dates():
    # Born 31 March: MPSV-A 2 at 9 months is 31 December, not 30 December or 1 January.
    history = given("MPSV-A-1@2025-09-30")
    born = d("2025-03-31")
    assert "MPSV-A-2" not in keys(plan(born, history, d("2025-12-30"), table=THPV).due)
    p = plan(born, history, d("2025-12-31"), table=THPV)
    assert next(x for x in p.due if x.series == "MPSV-A").due == d("2025-12-31")


def test_a_finished_series_is_complete_and_not_listed():
    p = plan(d("2026-06-01"), given(*ON_TIME_JUNE_2026), d("2026-06-02"), table=THPV)
    assert "BCG" in p.complete
    assert "BCG" not in {x.series for x in p.due + p.upcoming + p.overdue}


# ---- recording a dose ----------------------------------------------------------------------

@pytest.mark.parametrize("history,vaccine,dose,on,code", [
    ((), "Rabies", 1, "2026-08-01", "vaccine_not_in_schedule"),
    ((), "DT", 1, "2026-08-01", "vaccine_not_in_schedule"),          # removed in 2025
    ((), "HepB", 4, "2026-08-01", "no_such_dose"),
    (("HepB-1@2026-06-01",), "HepB", 1, "2026-06-02", "dose_already_given"),
    ((), "HepB", 2, "2026-07-01", "previous_dose_missing"),
    ((), "IPV", 1, "2026-07-31", "below_minimum_age"),                # 2 months is 1 August
    (("HepB-1@2026-06-20",), "HepB", 2, "2026-07-17", "interval_too_short"),  # 28 days: 18 July
    ((), "BCG", 1, "2030-06-01", "past_maximum_age"),
    ((), "HepB", 1, "2026-05-31", "before_birth"),
    ((), "HPV2", 1, "2039-06-01", "not_eligible"),                    # a boy
])
def test_doses_that_may_not_be_recorded(history, vaccine, dose, on, code):
    with pytest.raises(DoseRefused) as err:
        check_dose(d("2026-06-01"), given(*history), vaccine, dose, d(on), sex="M")
    assert err.value.code == code
    assert any("\u4e00" <= ch <= "\u9fff" for ch in str(err.value))  # said in Chinese


@pytest.mark.parametrize("history,vaccine,dose,on", [
    ((), "IPV", 1, "2026-08-01"),
    (("HepB-1@2026-06-20",), "HepB", 2, "2026-07-18"),
    ((), "HepB", 1, "2026-06-01"),
])
def test_doses_on_the_first_allowed_day_are_accepted(history, vaccine, dose, on):
    assert check_dose(d("2026-06-01"), given(*history), vaccine, dose, d(on)).number == dose


# ---- children's health checks --------------------------------------------------------------

from backend.rules.child_checks import check_plan  # noqa: E402


@pytest.mark.parametrize("birth,done,today,discharge,expected", [
    ("2026-11-28", set(), "2026-11-30", None, {"newborn": "due", "m1": "upcoming"}),
    # 7 days from discharge, not from birth
    ("2026-11-20", set(), "2026-11-28", "2026-11-25", {"newborn": "due", "m1": "upcoming"}),
    ("2026-11-20", set(), "2026-11-28", None, {"newborn": "overdue", "m1": "upcoming"}),
    ("2026-10-31", {"newborn"}, "2026-11-28", None, {"m1": "due", "m3": "upcoming"}),
    ("2026-08-31", {"newborn", "m1"}, "2026-11-30", None, {"m3": "due", "m6": "upcoming"}),
    ("2026-05-15", {"newborn", "m1"}, "2026-11-20", None, {"m6": "due", "m8": "upcoming"}),
    ("2022-06-01", set(), "2026-06-02", None, {"y4": "due", "y5": "upcoming"}),   # missed ones drop
    ("2019-06-01", set(), "2026-06-01", None, {}),                                # 7: programme ends
])
def test_child_health_checks_are_due_items(birth, done, today, discharge, expected):
    got = check_plan(d(birth), done, d(today), discharge=d(discharge) if discharge else None)
    assert {c.key: c.status for c in got} == expected
