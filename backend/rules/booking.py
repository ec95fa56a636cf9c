"""Booking rules: session templates, time slices, channel shares, calendar days, duty, fees, no-shows.

Pure functions (no I/O). Times are local China time (UTC+8, no daylight saving); a
"minute of day" is an int 0..1440.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone

__all__ = [
    "CHINA", "Policy", "TemplateInvalid", "TemplateSpec", "validate_template", "slices",
    "channel_split", "templates_overlap", "DayInfo", "day_info", "template_applies",
    "is_attending", "duty_days_by_week", "registration_fee", "NoShowRule", "noshow_outcome",
    "opens_at", "referral_release_at", "local_dt", "parse_hhmm", "fmt_hhmm", "EXAM_DEPARTMENTS",
    "ELDERLY_AGE", "ATTENDING_TITLES", "DUTY_MIN_WEEKDAYS", "MIN_ONLINE_PCT", "MIN_REFERRAL_PCT",
    "MAX_SLICE_MINUTES", "REGULAR_DAY_END", "MAX_EXTENSION_MINUTES",
]

CHINA = timezone(timedelta(hours=8), "Asia/Shanghai")
MAX_SLICE_MINUTES = 60
MIN_ONLINE_PCT = 80          # at least 80 % of outpatient capacity open online
MIN_REFERRAL_PCT = 20        # the lead hospital reserves at least 20 % for primary facilities
ELDERLY_AGE = 65
DUTY_MIN_WEEKDAYS = 3
# The regular outpatient day ends at 17:00 (the documents fix no hours; 17:00 is the usual end
# at township centres). What runs after it is the weekday evening extension (工作日门诊延时服务
# 1-3 小时): at most 3 hours, so no session runs past 20:00, and only on working weekdays.
REGULAR_DAY_END = 17 * 60
MAX_EXTENSION_MINUTES = 180
ATTENDING_TITLES = ("主治医师", "副主任医师", "主任医师")
EXAM_DEPARTMENTS = ("超声", "CT", "核磁共振", "胃镜", "肠镜")
# An adjusted working day (调休上班, a weekend the State Council makes a workday) runs the
# Monday sessions of the centre.
ADJUSTED_WORKDAY_RUNS = 0
_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


@dataclass(frozen=True)
class Policy:
    """What a facility may configure about booking (defaults from the policy documents)."""

    horizon_days: int = 14            # bookable this many days ahead
    release_hour: int = 8             # a new day opens for booking at this local hour
    cancel_notice_minutes: int = 120  # cancel at least this long before the slice
    referral_release_hours: int = 24  # unused referral capacity goes public this long before
    offer_minutes: int = 30           # a waitlisted person has this long to accept an offer
    max_future_per_department: int = 2
    noshow_limit: int = 3
    noshow_window_days: int = 90
    pause_days: int = 30

    LIMITS = {
        "horizon_days": (1, 60), "release_hour": (0, 23), "cancel_notice_minutes": (0, 2880),
        "referral_release_hours": (1, 168), "offer_minutes": (5, 720),
        "max_future_per_department": (1, 10), "noshow_limit": (1, 20),
        "noshow_window_days": (7, 365), "pause_days": (1, 365),
    }


class TemplateInvalid(ValueError):
    """A template that breaks a rule; `code` is stable, the message Chinese."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


def parse_hhmm(value: str) -> int:
    m = _HHMM.match(value or "")
    if not m:
        raise TemplateInvalid("invalid_time", "时间格式应为 HH:MM")
    return int(m.group(1)) * 60 + int(m.group(2))


def fmt_hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


@dataclass(frozen=True)
class TemplateSpec:
    department: str
    kind: str                       # outpatient | exam
    weekdays: tuple[int, ...]       # 0 = Monday
    start: int                      # minute of day
    end: int
    slice_minutes: int
    capacity: int                   # per slice
    session: str = "day"            # day | evening (weekday evening extension)
    on_holidays: bool = False       # also runs on public holidays
    doctor_login: str | None = None
    doctor_title: str | None = None
    online_pct: int = MIN_ONLINE_PCT
    referral_pct: int = 0


def validate_template(spec: TemplateSpec, *, facility_kind: str,
                      kinds: tuple[str, ...] = ("outpatient", "exam")) -> None:
    """Raise TemplateInvalid for anything the policy forbids."""
    if spec.slice_minutes > MAX_SLICE_MINUTES:
        raise TemplateInvalid("slice_too_long", "每个时段不能超过60分钟")
    if spec.slice_minutes < 5:
        raise TemplateInvalid("slice_too_short", "每个时段至少5分钟")
    if spec.capacity < 1:
        raise TemplateInvalid("invalid_capacity", "每个时段的号源数至少为1")
    if spec.capacity > 500:
        raise TemplateInvalid("invalid_capacity", "每个时段的号源数不能超过500")
    if spec.end <= spec.start:
        raise TemplateInvalid("invalid_hours", "结束时间应晚于开始时间")
    if (spec.end - spec.start) % spec.slice_minutes:
        raise TemplateInvalid("uneven_slices", "开诊时长应为时段长度的整数倍")
    if not spec.weekdays and not spec.on_holidays:
        raise TemplateInvalid("no_days", "请至少选择一天或节假日")
    if any(d not in range(7) for d in spec.weekdays) or len(set(spec.weekdays)) != len(spec.weekdays):
        raise TemplateInvalid("invalid_weekdays", "星期取值无效")
    if spec.kind not in kinds:
        raise TemplateInvalid("invalid_kind", "类型应为门诊或检查")
    if spec.session == "evening":
        length = spec.end - spec.start
        if not 60 <= length <= 180:
            raise TemplateInvalid("evening_length", "工作日晚间延时应为1至3小时")
        if spec.start < REGULAR_DAY_END:
            raise TemplateInvalid("evening_start", "晚间延时应在17:00以后开始")
    elif spec.session != "day":
        raise TemplateInvalid("invalid_session", "时段类型无效")
    if spec.end > REGULAR_DAY_END:
        # Whatever the label, hours after the regular day are the evening extension.
        if spec.end > REGULAR_DAY_END + MAX_EXTENSION_MINUTES:
            raise TemplateInvalid("evening_too_late", "工作日晚间延时最多3小时，应在20:00前结束")
        if any(d >= 5 for d in spec.weekdays) or spec.on_holidays:
            raise TemplateInvalid("evening_weekdays", "17:00以后的延时门诊只在工作日（周一至周五）")
    if not MIN_ONLINE_PCT <= spec.online_pct <= 100:
        raise TemplateInvalid("online_share_too_low", "线上号源不得少于80%")
    if spec.referral_pct < 0 or spec.referral_pct > 100:
        raise TemplateInvalid("invalid_referral_share", "预留比例无效")
    if facility_kind == "hospital" and spec.kind == "outpatient" and spec.referral_pct < MIN_REFERRAL_PCT:
        raise TemplateInvalid("referral_share_too_low", "牵头医院门诊须为基层转诊预留不少于20%的号源")
    if facility_kind != "hospital" and spec.referral_pct:
        raise TemplateInvalid("referral_not_here", "只有牵头医院设置转诊预留号源")
    online, desk, referral = channel_split(spec.capacity, spec.online_pct, spec.referral_pct)
    if referral > spec.capacity - desk:
        raise TemplateInvalid("invalid_referral_share", "预留号源不能超过线上号源")


def slices(start: int, end: int, slice_minutes: int) -> list[tuple[int, int]]:
    return [(s, s + slice_minutes) for s in range(start, end, slice_minutes)
            if s + slice_minutes <= end]


def channel_split(capacity: int, online_pct: int, referral_pct: int) -> tuple[int, int, int]:
    """(public online, desk/phone, referral) places of one slice.

    The online share counts the referral reserve (family doctors book it online too);
    rounding always favours the online side so the share never drops below the policy.
    """
    online_total = math.ceil(capacity * online_pct / 100)
    referral = min(online_total, math.ceil(capacity * referral_pct / 100))
    return online_total - referral, capacity - online_total, referral


def _weekday_set(spec: TemplateSpec) -> set:
    days: set = set(spec.weekdays)
    if spec.on_holidays:
        days.add("holiday")
    return days


def templates_overlap(a: TemplateSpec, b: TemplateSpec) -> bool:
    """Same department and doctor, a shared day, and intersecting hours."""
    if a.department != b.department or (a.doctor_login or "") != (b.doctor_login or ""):
        return False
    if not _weekday_set(a) & _weekday_set(b):
        return False
    return a.start < b.end and b.start < a.end


@dataclass(frozen=True)
class DayInfo:
    day: date
    kind: str                 # workday | rest | holiday
    confirmed: bool           # False: the year's official arrangement is not known yet
    name: str | None = None   # holiday name
    adjusted: bool = False    # a weekend made a working day


def day_info(day: date, arrangement: dict[date, tuple[str, str | None]] | None = None,
             confirmed_years: set[int] | None = None) -> DayInfo:
    """What kind of day `day` is in China.

    `arrangement` holds what an admin entered for years the package does not know
    (date -> (kind, name)); otherwise the `chinesecalendar` package decides; a year it
    does not know (NotImplementedError) falls back to plain weekday/weekend rules and is
    reported as not confirmed. Never raises for a valid date.
    """
    arrangement = arrangement or {}
    confirmed_years = confirmed_years or set()
    weekend = day.weekday() >= 5
    if day in arrangement:
        kind, name = arrangement[day]
        return DayInfo(day, kind, True, name, adjusted=weekend and kind == "workday")
    if day.year in confirmed_years:
        return DayInfo(day, "rest" if weekend else "workday", True)
    try:
        import chinese_calendar
        workday = chinese_calendar.is_workday(day)
        on_holiday, name = chinese_calendar.get_holiday_detail(day)
    except NotImplementedError:
        return DayInfo(day, "rest" if weekend else "workday", False)
    if workday:
        return DayInfo(day, "workday", True, adjusted=weekend)
    if name:  # a named public holiday (weekends inside the holiday period included)
        return DayInfo(day, "holiday", True, _HOLIDAY_NAMES.get(name, name))
    return DayInfo(day, "rest", True)


_HOLIDAY_NAMES = {
    "New Year's Day": "元旦", "Spring Festival": "春节", "Tomb-sweeping Day": "清明节",
    "Labour Day": "劳动节", "Dragon Boat Festival": "端午节", "National Day": "国庆节",
    "Mid-autumn Festival": "中秋节", "Anti-Fascist 70th Day": "抗战胜利纪念日",
}


def template_applies(spec: TemplateSpec, info: DayInfo) -> bool:
    if info.kind == "holiday":
        return spec.on_holidays
    if info.kind == "workday" and info.adjusted:
        return ADJUSTED_WORKDAY_RUNS in spec.weekdays and spec.session == "day"
    return info.day.weekday() in spec.weekdays


def is_attending(title: str | None) -> bool:
    return (title or "") in ATTENDING_TITLES


def duty_days_by_week(specs: list[TemplateSpec], days: list[DayInfo]) -> dict[date, int]:
    """Monday of each week -> how many working days have an attending-level doctor on duty."""
    out: dict[date, int] = {}
    for info in days:
        monday = info.day - timedelta(days=info.day.weekday())
        out.setdefault(monday, 0)
        if info.kind != "workday":
            continue
        if any(is_attending(s.doctor_title) and template_applies(s, info) for s in specs):
            out[monday] += 1
    return out


def registration_fee(fee: int, already_charged: int) -> int:
    """Registration is charged once per department per day (fee in fen): nothing when a
    booking of that person, department and day already carries it."""
    return 0 if already_charged > 0 else fee


@dataclass(frozen=True)
class NoShowRule:
    limit: int = 3
    window_days: int = 90
    pause_days: int = 30


@dataclass(frozen=True)
class NoShowOutcome:
    action: str                     # exempt | counted | paused
    warn_proxy: bool = False
    paused_until: datetime | None = None
    recent: tuple[datetime, ...] = field(default_factory=tuple)


def noshow_outcome(previous: list[datetime], now: datetime, rule: NoShowRule, *,
                   subject_age: int, by_proxy: bool) -> NoShowOutcome:
    """The consequence of one more no-show for the person booked for (who did not come),
    under the rule of the facility they did not come to.

    Residents aged 65+ are exempt; a relative who booked for them is warned instead.
    """
    if subject_age >= ELDERLY_AGE:
        return NoShowOutcome("exempt", warn_proxy=by_proxy)
    since = now - timedelta(days=rule.window_days)
    recent = tuple(sorted([t for t in previous if t > since] + [now]))
    if len(recent) >= rule.limit:
        return NoShowOutcome("paused", paused_until=now + timedelta(days=rule.pause_days),
                             recent=recent)
    return NoShowOutcome("counted", recent=recent)


def local_dt(day: date, minute: int) -> datetime:
    return datetime.combine(day, time(minute // 60, minute % 60), tzinfo=CHINA)


def opens_at(day: date, policy: Policy) -> datetime:
    """A day opens for booking `horizon_days` before, at the release hour."""
    return datetime.combine(day - timedelta(days=policy.horizon_days),
                            time(policy.release_hour), tzinfo=CHINA)


def referral_release_at(starts_at: datetime, policy: Policy) -> datetime:
    return starts_at - timedelta(hours=policy.referral_release_hours)
