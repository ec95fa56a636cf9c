"""Booking rules, table-driven: slices, shares, calendar, duty, fees, no-shows."""
from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from backend.rules import booking as r
from backend.rules.booking import TemplateInvalid, TemplateSpec


def spec(**kw) -> TemplateSpec:
    base = dict(department="全科门诊", kind="outpatient", weekdays=(0, 1, 2, 3, 4), start=480,
                end=660, slice_minutes=30, capacity=10)
    base.update(kw)
    return TemplateSpec(**base)


@pytest.mark.parametrize("kw, kind, code", [
    ({"slice_minutes": 61, "end": 480 + 122}, "township", "slice_too_long"),
    ({"slice_minutes": 90, "end": 660}, "township", "slice_too_long"),
    ({"capacity": -1}, "township", "invalid_capacity"),
    ({"capacity": 0}, "township", "invalid_capacity"),
    ({"end": 480}, "township", "invalid_hours"),
    ({"end": 500}, "township", "uneven_slices"),
    ({"weekdays": ()}, "township", "no_days"),
    ({"online_pct": 79}, "township", "online_share_too_low"),
    ({"referral_pct": 19}, "hospital", "referral_share_too_low"),
    ({"referral_pct": 20}, "township", "referral_not_here"),
    ({"session": "evening", "start": 18 * 60, "end": 22 * 60 + 30}, "township", "evening_length"),
    ({"session": "evening", "start": 16 * 60, "end": 17 * 60}, "township", "evening_start"),
    ({"session": "evening", "start": 18 * 60, "end": 19 * 60, "weekdays": (5,)}, "township", "evening_weekdays"),
    # The evening extension is checked on the hours, whatever the label: the regular day
    # ends at 17:00 and the extension is at most 3 hours, on working weekdays only.
    ({"session": "day", "start": 18 * 60, "end": 23 * 60}, "township", "evening_too_late"),
    ({"session": "day", "start": 8 * 60, "end": 20 * 60 + 30}, "township", "evening_too_late"),
    ({"session": "evening", "start": 18 * 60, "end": 21 * 60}, "community", "evening_too_late"),
    ({"session": "day", "start": 16 * 60, "end": 18 * 60, "weekdays": (5, 6)}, "township", "evening_weekdays"),
    ({"session": "day", "start": 16 * 60, "end": 18 * 60, "on_holidays": True}, "township", "evening_weekdays"),
])
def test_template_rule_rejects(kw, kind, code):
    with pytest.raises(TemplateInvalid) as err:
        r.validate_template(spec(**kw), facility_kind=kind)
    assert err.value.code == code and str(err.value)


@pytest.mark.parametrize("kw, kind", [
    ({}, "township"),
    ({"slice_minutes": 60}, "township"),
    ({"referral_pct": 20}, "hospital"),
    ({"kind": "exam"}, "hospital"),
    ({"session": "evening", "start": 18 * 60, "end": 20 * 60, "weekdays": (1, 3)}, "community"),
    ({"session": "evening", "start": 17 * 60, "end": 20 * 60}, "township"),
    ({"session": "day", "start": 14 * 60, "end": 19 * 60}, "township"),       # a day running into the evening
    ({"session": "day", "start": 8 * 60, "end": 17 * 60, "weekdays": (5, 6)}, "township"),  # weekend, regular hours
])
def test_template_rule_accepts(kw, kind):
    r.validate_template(spec(**kw), facility_kind=kind)


@pytest.mark.parametrize("capacity, online, referral, expected", [
    (10, 80, 0, (8, 2, 0)),
    (20, 100, 0, (20, 0, 0)),
    (10, 80, 20, (6, 2, 2)),
    (7, 80, 20, (4, 1, 2)),
    (1, 80, 0, (1, 0, 0)),
])
def test_channel_split_keeps_online_share_at_least_80(capacity, online, referral, expected):
    got = r.channel_split(capacity, online, referral)
    assert got == expected
    assert (got[0] + got[2]) / capacity >= online / 100
    assert sum(got) == capacity


@pytest.mark.parametrize("a, b, overlap", [
    ({}, {"start": 600, "end": 720}, True),
    ({}, {"start": 660, "end": 720}, False),
    ({}, {"weekdays": (5, 6)}, False),
    ({}, {"doctor_login": "s:doc"}, False),
    ({}, {"department": "慢病门诊"}, False),
    ({"on_holidays": True, "weekdays": ()}, {"on_holidays": True, "weekdays": ()}, True),
])
def test_templates_overlap(a, b, overlap):
    assert r.templates_overlap(spec(**a), spec(**b)) is overlap


@pytest.mark.parametrize("day, kind, confirmed, adjusted", [
    (date(2026, 10, 1), "holiday", True, False),     # National Day
    (date(2026, 10, 3), "holiday", True, False),     # a Saturday inside the holiday
    (date(2026, 11, 25), "workday", True, False),
    (date(2026, 11, 28), "rest", True, False),
    (date(2027, 1, 1), "workday", False, False),     # unknown year: plain weekday rule
    (date(2027, 1, 2), "rest", False, False),
])
def test_day_info_uses_the_calendar_package_and_falls_back(day, kind, confirmed, adjusted):
    info = r.day_info(day)
    assert (info.kind, info.confirmed, info.adjusted) == (kind, confirmed, adjusted)


def test_day_info_takes_the_admin_arrangement_for_an_unknown_year():
    arrangement = {date(2027, 1, 1): ("holiday", "元旦"), date(2027, 2, 6): ("workday", None)}
    assert r.day_info(date(2027, 1, 1), arrangement, {2027}).kind == "holiday"
    sat = r.day_info(date(2027, 2, 6), arrangement, {2027})
    assert sat.kind == "workday" and sat.adjusted and sat.confirmed
    assert r.day_info(date(2027, 3, 3), arrangement, {2027}).confirmed


@pytest.mark.parametrize("info, template, applies", [
    (r.DayInfo(date(2026, 10, 1), "holiday", True), spec(), False),
    (r.DayInfo(date(2026, 10, 1), "holiday", True), spec(on_holidays=True), True),
    (r.DayInfo(date(2026, 11, 28), "rest", True), spec(weekdays=(5,)), True),
    (r.DayInfo(date(2026, 11, 28), "workday", True, adjusted=True), spec(weekdays=(0,)), True),
    (r.DayInfo(date(2026, 11, 25), "workday", True), spec(), True),
])
def test_template_applies(info, template, applies):
    assert r.template_applies(template, info) is applies


@pytest.mark.parametrize("attending_days, short", [((0, 1, 2), False), ((0, 1), True), ((), True)])
def test_duty_rule_needs_three_attending_weekdays(attending_days, short):
    monday = date(2026, 11, 23)
    days = [r.day_info(monday + timedelta(days=i)) for i in range(7)]
    specs = [spec(weekdays=attending_days, doctor_title="主治医师", doctor_login="s:a"),
             spec(weekdays=(3, 4), doctor_title="医师", doctor_login="s:b")] if attending_days else []
    counts = r.duty_days_by_week(specs, days)
    assert (counts[monday] < r.DUTY_MIN_WEEKDAYS) is short


@pytest.mark.parametrize("same_day, fee", [(0, 500), (1, 0), (2, 0)])
def test_registration_fee_once_per_department_per_day(same_day, fee):
    assert r.registration_fee(500, same_day) == fee


NOW = datetime(2026, 11, 25, 10, 0, tzinfo=r.CHINA)


@pytest.mark.parametrize("previous_days_ago, age, by_proxy, action, warn", [
    ((), 40, False, "counted", False),
    ((10, 20), 40, False, "paused", False),
    ((10, 100), 40, False, "counted", False),   # one is outside the 90-day window
    ((10, 20), 78, True, "exempt", True),       # 65+: exempt, the proxy is warned
    ((10, 20), 70, False, "exempt", False),
])
def test_noshow_rule(previous_days_ago, age, by_proxy, action, warn):
    previous = [NOW - timedelta(days=d) for d in previous_days_ago]
    out = r.noshow_outcome(previous, NOW, r.NoShowRule(3, 90, 30), subject_age=age, by_proxy=by_proxy)
    assert out.action == action and out.warn_proxy is warn
    if action == "paused":
        assert out.paused_until == NOW + timedelta(days=30)
