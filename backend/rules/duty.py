"""Rotating village duty (巡回坐诊, seed 003): the roster rule, session dates, deadlines.

Pure rules: no I/O. A roster is a list of recurring half-days (a doctor in a village clinic
on a weekday, on some of that weekday's occurrences in the month). Two models:
- fixed: one fixed doctor per village, at least one half-day every week;
- rotating: 2-3 doctors rotate over the villages, each village at least 2 half-days a month.
A roster that breaks the minimum is still a roster (saved, shown with its violations); one
that puts a doctor in two villages at the same time is impossible and refused.
"""
from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, timedelta

__all__ = ["MODELS", "HALVES", "Entry", "Violation", "RosterError", "check_roster", "clashes",
           "session_dates", "planned_sessions", "validate_entry", "roster_due", "stats_due",
           "parse_quarter", "quarter_of", "quarter_bounds", "deadline_status", "weekday_label",
           "FIXED_MIN_PER_WEEK", "ROTATING_MIN_PER_MONTH", "ROTATING_DOCTORS"]

MODELS = {"fixed": "村少的乡镇：固定一名医生，每村每周至少坐诊1次（半天）",
          "rotating": "村多的乡镇：2-3名医生轮岗，每村每月至少坐诊2次（半天）"}
HALVES = {"am": "上午", "pm": "下午"}
HALF_LABELS = {**HALVES, "day": "全天（派驻）"}
FIXED_MIN_PER_WEEK = 1
ROTATING_MIN_PER_MONTH = 2
ROTATING_DOCTORS = (2, 3)
_WEEKDAYS = "一二三四五六日"


def weekday_label(day: date) -> str:
    return f"{day.month}月{day.day}日 周{_WEEKDAYS[day.weekday()]}"


class RosterError(ValueError):
    def __init__(self, message: str, code: str):
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Entry:
    village_id: str
    doctor_login: str
    weekday: int           # 0 = Monday
    half: str              # am | pm
    weeks: tuple[int, ...]  # which occurrences of that weekday in the month (1-5)


@dataclass(frozen=True)
class Violation:
    code: str
    message: str
    village_id: str | None = None


def validate_entry(e: Entry) -> None:
    if not 0 <= e.weekday <= 6:
        raise RosterError("星期应为周一到周日", "invalid_weekday")
    if e.half not in HALVES:
        raise RosterError("坐诊时段只能是上午或下午", "invalid_half")
    if not e.weeks or any(w not in (1, 2, 3, 4, 5) for w in e.weeks) or len(set(e.weeks)) != len(e.weeks):
        raise RosterError("每月第几周应为1到5，且不重复", "invalid_weeks")


def session_dates(e: Entry, year: int, month: int) -> list[date]:
    """The dates of `e` in one month: the n-th `weekday` of the month for each n in weeks."""
    days = calendar.monthrange(year, month)[1]
    same = [date(year, month, d) for d in range(1, days + 1)
            if date(year, month, d).weekday() == e.weekday]
    return [same[n - 1] for n in sorted(e.weeks) if n <= len(same)]


def planned_sessions(entries: list[Entry], start: date, end: date) -> list[tuple[date, Entry]]:
    """Every planned half-day from `start` to `end` (inclusive), in date order."""
    out = []
    y, m = start.year, start.month
    while (y, m) <= (end.year, end.month):
        for e in entries:
            out += [(d, e) for d in session_dates(e, y, m) if start <= d <= end]
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return sorted(out, key=lambda p: (p[0], p[1].half, p[1].village_id))


def clashes(entries: list[Entry]) -> list[tuple[str, int, str, int, tuple[str, ...]]]:
    """A doctor in two villages at the same time: (doctor, weekday, half, week, villages)."""
    seen: dict[tuple, set] = {}
    for e in entries:
        for w in e.weeks:
            seen.setdefault((e.doctor_login, e.weekday, e.half, w), set()).add(e.village_id)
    return [(k[0], k[1], k[2], k[3], tuple(sorted(v))) for k, v in sorted(seen.items()) if len(v) > 1]


def _every_week(weeks: set[int]) -> bool:
    # Every week has that weekday once: "every week" is occurrences 1-4 and the 5th
    # whenever a month has one.
    return {1, 2, 3, 4, 5} <= weeks


def check_roster(model: str, entries: list[Entry], villages: list[str], year: int) -> list[Violation]:
    """What in this roster breaks the seed's minimum (empty list: compliant)."""
    if model not in MODELS:
        raise RosterError("坐诊模式只能是固定坐诊或轮岗坐诊", "invalid_model")
    out: list[Violation] = []
    by_village: dict[str, list[Entry]] = {v: [] for v in villages}
    for e in entries:
        by_village.setdefault(e.village_id, []).append(e)
    if model == "rotating":
        doctors = {e.doctor_login for e in entries}
        low, high = ROTATING_DOCTORS
        if not low <= len(doctors) <= high:
            out.append(Violation("rotating_doctor_count",
                                 f"轮岗模式应由{low}-{high}名医生轮岗，现为{len(doctors)}名"))
    for village, mine in by_village.items():
        if not mine:
            out.append(Violation("village_uncovered", "没有安排坐诊", village))
            continue
        if model == "fixed":
            if len({e.doctor_login for e in mine}) > 1:
                out.append(Violation("fixed_one_doctor", "固定模式每村应固定一名医生", village))
            weekly = any(_every_week(set(e.weeks)) for e in mine)
            if not weekly:
                out.append(Violation("fixed_weekly", "每周至少坐诊1次（半天），现有的周没有安排", village))
        else:
            fewest = min(sum(len(session_dates(e, year, m)) for e in mine) for m in range(1, 13))
            if fewest < ROTATING_MIN_PER_MONTH:
                out.append(Violation("rotating_monthly",
                                     f"每月至少坐诊{ROTATING_MIN_PER_MONTH}次（半天），最少的月份只有{fewest}次",
                                     village))
    return out


# ---- deadlines --------------------------------------------------------------------------

_QUARTER = re.compile(r"^(\d{4})Q([1-4])$")


def parse_quarter(text: str) -> tuple[int, int]:
    m = _QUARTER.match(text or "")
    if not m:
        raise RosterError("季度格式应为 2026Q3", "invalid_quarter")
    return int(m.group(1)), int(m.group(2))


def quarter_of(day: date) -> str:
    return f"{day.year}Q{(day.month - 1) // 3 + 1}"


def quarter_bounds(year: int, q: int) -> tuple[date, date]:
    start = date(year, 3 * q - 2, 1)
    end = (date(year + 1, 1, 1) if q == 4 else date(year, 3 * q + 1, 1)) - timedelta(days=1)
    return start, end


def roster_due(year: int) -> date:
    """The roster of doctors is filed (备案) by the end of April."""
    return date(year, 4, 30)


def stats_due(year: int, q: int) -> date:
    """Quarterly activity statistics by the 10th of the month after the quarter."""
    end = quarter_bounds(year, q)[1]
    return date(end.year + (end.month == 12), 1 if end.month == 12 else end.month + 1, 10)


def deadline_status(due: date, filed_on: date | None, today: date, opens: date | None = None) -> str:
    """filed | filed_late | late | due (open, not yet late) | upcoming (not yet open)."""
    if filed_on is not None:
        return "filed" if filed_on <= due else "filed_late"
    if today > due:
        return "late"
    if opens is not None and today < opens:
        return "upcoming"
    return "due"
