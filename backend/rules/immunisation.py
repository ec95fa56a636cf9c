"""The national child immunisation schedule: versioned tables read from JSON, and each child's plan.

`immunisation_schedule.json` holds every table with its effective date; later versions say
only what changed. From a birth date, the doses given and the table in force, `plan` tells
which next dose of each series is due, upcoming, overdue or no longer given, and
`check_dose` says whether a dose may be recorded. A dose given late moves the next dose of
its series by the minimum interval, not back to the calendar age. Month arithmetic follows
`dateutil.relativedelta` (31 March + 9 months = 31 December; 31 January + 1 month = the
last day of February), via `backend.rules.followup.add_months`.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path

from backend.rules.followup import add_months

__all__ = ["Age", "Dose", "Series", "Table", "Schedule", "GivenDose", "DoseStatus", "ChildPlan",
           "DoseRefused", "load_schedule", "plan", "check_dose", "parse_age", "dose_label",
           "SCHEDULE_FILE"]

SCHEDULE_FILE = Path(__file__).with_name("immunisation_schedule.json")
_AGE = re.compile(r"^(?:(\d+)y)?(?:(\d+)m)?(?:(\d+)d)?$")


@dataclass(frozen=True)
class Age:
    """An age or interval: calendar months (years are 12 months) plus days."""

    months: int = 0
    days: int = 0

    def after(self, day: date) -> date:
        return add_months(day, self.months) + timedelta(days=self.days) if self.months else \
            day + timedelta(days=self.days)

    def text(self) -> str:
        if not self.months:
            return f"{self.days}天" if self.days else "出生时"
        if self.months < 24:
            return f"{self.months}月龄"
        years, months = divmod(self.months, 12)
        return f"{years}岁{months}个月" if months else f"{years}岁"


def parse_age(text: str) -> Age:
    m = _AGE.match(text or "")
    if not text or not m:
        raise ValueError(f"bad age {text!r}")
    years, months, days = (int(g) if g else 0 for g in m.groups())
    return Age(months=years * 12 + months, days=days)


@dataclass(frozen=True)
class Dose:
    series: str
    number: int
    min_age: Age
    due_age: Age
    overdue_age: Age
    max_age: Age
    min_interval: Age | None = None
    satisfied_by: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True)
class Series:
    code: str
    name: str
    doses: tuple[Dose, ...]
    sex: str | None = None
    born_on_or_after: date | None = None

    def applies_to(self, birth: date, sex: str | None) -> bool:
        if self.sex and sex != self.sex:
            return False
        return self.born_on_or_after is None or birth >= self.born_on_or_after


@dataclass(frozen=True)
class Table:
    version: str
    effective: date
    title: str
    series: dict[str, Series] = field(hash=False, compare=False)

    def __hash__(self):
        return hash(self.version)


@dataclass(frozen=True)
class Schedule:
    tables: tuple[Table, ...]  # oldest first

    def in_force(self, day: date) -> Table:
        current = None
        for table in self.tables:
            if table.effective <= day:
                current = table
        if current is None:
            raise ValueError(f"no immunisation table in force on {day}")
        return current

    def version(self, version: str) -> Table:
        for table in self.tables:
            if table.version == version:
                return table
        raise KeyError(version)


@dataclass(frozen=True)
class GivenDose:
    vaccine: str   # series code, e.g. "HepB"
    dose: int      # 1-based
    on: date


@dataclass(frozen=True)
class DoseStatus:
    series: str
    name: str
    dose: int
    earliest: date      # minimum age and interval met
    due: date
    overdue: date       # from this day the dose is overdue
    last_day: date      # not given on or after this day
    status: str         # due | upcoming | overdue | no_longer_given

    @property
    def label(self) -> str:
        return f"{self.name} 第{self.dose}剂"


@dataclass(frozen=True)
class ChildPlan:
    table: str
    due: list[DoseStatus]
    upcoming: list[DoseStatus]
    overdue: list[DoseStatus]
    no_longer_given: list[DoseStatus]
    complete: list[str]   # series codes fully given

    def bookable(self) -> list[DoseStatus]:
        """Doses a parent can book now: due and overdue."""
        return sorted(self.overdue + self.due, key=lambda d: (d.due, d.series))


class DoseRefused(ValueError):
    """A dose that may not be recorded; `code` is stable, the message Chinese."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


def _series(code: str, raw: dict) -> Series:
    doses = []
    for i, d in enumerate(raw["doses"], start=1):
        sat = tuple((s.rsplit("-", 1)[0], int(s.rsplit("-", 1)[1])) for s in d.get("satisfied_by", ()))
        doses.append(Dose(code, i, parse_age(d["min_age"]), parse_age(d["due_age"]),
                          parse_age(d["overdue_age"]), parse_age(d["max_age"]),
                          parse_age(d["min_interval"]) if d.get("min_interval") else None, sat))
    born = raw.get("born_on_or_after")
    return Series(code, raw["name"], tuple(doses), raw.get("sex"),
                  date.fromisoformat(born) if born else None)


def parse_schedule(data: dict) -> Schedule:
    tables: list[Table] = []
    current: dict[str, Series] = {}
    for raw in sorted(data["versions"], key=lambda v: v["effective"]):
        current = dict(current)
        for code, s in (raw.get("series") or {}).items():
            current[code] = _series(code, s)
        for code, s in (raw.get("replace") or {}).items():
            current[code] = _series(code, s)
        for code in raw.get("remove") or ():
            current.pop(code, None)
        tables.append(Table(raw["version"], date.fromisoformat(raw["effective"]), raw["title"],
                            current))
    return Schedule(tuple(tables))


@lru_cache(maxsize=4)
def load_schedule(path: str | None = None) -> Schedule:
    return parse_schedule(json.loads(Path(path or SCHEDULE_FILE).read_text(encoding="utf-8")))


def dose_label(table: Table, vaccine: str, dose: int) -> str:
    series = table.series.get(vaccine)
    return f"{series.name if series else vaccine} 第{dose}剂"


# ---- a child's plan -----------------------------------------------------------------------

@lru_cache(maxsize=16384)
def _calendar(table: Table, birth: date) -> dict[tuple[str, int], tuple[date, date, date, date]]:
    """(earliest, due, overdue, last day) of every dose by age alone; shared by all children
    born on the same day (a county has a few thousand birth dates, not 100,000)."""
    return {(d.series, d.number): (d.min_age.after(birth), d.due_age.after(birth),
                                   d.overdue_age.after(birth), d.max_age.after(birth))
            for s in table.series.values() for d in s.doses}


def _given_map(given) -> dict[tuple[str, int], date]:
    out: dict[tuple[str, int], date] = {}
    for g in given:
        key = (g.vaccine, g.dose)
        if key not in out or g.on < out[key]:
            out[key] = g.on
    return out


def _given_on(dose: Dose, given: dict) -> date | None:
    day = given.get((dose.series, dose.number))
    if day is None:
        for alt in dose.satisfied_by:
            day = given.get(alt)
            if day is not None:
                break
    return day


def plan(birth: date, given, today: date, *, sex: str | None = None,
         table: Table | None = None, schedule: Schedule | None = None) -> ChildPlan:
    """The next dose of every series for a child on `today` under `table` (default: in force)."""
    if table is None:
        table = (schedule or load_schedule()).in_force(today)
    cal = _calendar(table, birth)
    have = _given_map(given)
    due, upcoming, overdue, gone, complete = [], [], [], [], []
    for series in table.series.values():
        if not series.applies_to(birth, sex):
            continue
        prev = None
        nxt = None
        for dose in series.doses:
            day = _given_on(dose, have)
            if day is None:
                nxt = dose
                break
            prev = day
        if nxt is None:
            complete.append(series.code)
            continue
        earliest, when, late, last = cal[(nxt.series, nxt.number)]
        if prev is not None and nxt.min_interval is not None:
            after = nxt.min_interval.after(prev)
            if after > earliest:
                earliest = after
            if after > when:
                late = min(late + (after - when), last)
                when = after
        if today >= last or earliest >= last:
            status, bucket = "no_longer_given", gone
        elif today >= late:
            status, bucket = "overdue", overdue
        elif today >= when:
            status, bucket = "due", due
        else:
            status, bucket = "upcoming", upcoming
        bucket.append(DoseStatus(series.code, series.name, nxt.number, earliest, when, late, last,
                                 status))
    upcoming.sort(key=lambda d: (d.due, d.series))
    return ChildPlan(table.version, due, upcoming, overdue, gone, complete)


def check_dose(birth: date, given, vaccine: str, dose_no: int, on: date, *,
               sex: str | None = None, table: Table | None = None,
               schedule: Schedule | None = None) -> Dose:
    """Whether dose `dose_no` of `vaccine` may be recorded as given on `on`; raises DoseRefused."""
    if table is None:
        table = (schedule or load_schedule()).in_force(on)
    series = table.series.get(vaccine)
    if series is None:
        raise DoseRefused("vaccine_not_in_schedule", "该疫苗不在现行国家免疫规划程序中")
    if not 1 <= dose_no <= len(series.doses):
        raise DoseRefused("no_such_dose", f"{series.name}共{len(series.doses)}剂，没有第{dose_no}剂")
    if on < birth:
        raise DoseRefused("before_birth", "接种日期早于出生日期")
    if not series.applies_to(birth, sex):
        raise DoseRefused("not_eligible", f"该儿童不在{series.name}的免疫规划对象范围内")
    have = _given_map(given)
    dose = series.doses[dose_no - 1]
    if _given_on(dose, have) is not None:
        raise DoseRefused("dose_already_given", f"{series.name}第{dose_no}剂已接种，不能重复登记")
    prev = None
    if dose_no > 1:
        prev = _given_on(series.doses[dose_no - 2], have)
        if prev is None:
            raise DoseRefused("previous_dose_missing",
                              f"请先登记{series.name}第{dose_no - 1}剂")
    earliest = dose.min_age.after(birth)
    if on < earliest:
        raise DoseRefused("below_minimum_age",
                          f"{series.name}第{dose_no}剂最小接种年龄为{dose.min_age.text()}"
                          f"（该儿童{earliest:%Y年%m月%d日}起可接种）")
    if prev is not None and dose.min_interval is not None:
        after = dose.min_interval.after(prev)
        if on < after:
            raise DoseRefused("interval_too_short",
                              f"{series.name}第{dose_no}剂与上一剂间隔不足"
                              f"（{after:%Y年%m月%d日}起可接种）")
    if on >= dose.max_age.after(birth):
        raise DoseRefused("past_maximum_age",
                          f"该儿童已超过{series.name}的补种年龄（{dose.max_age.text()}）")
    return dose
