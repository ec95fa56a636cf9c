"""How the inbox shows time: Chinese relative times and day groups (pure, no I/O)."""
from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

__all__ = ["relative_time", "day_label", "group_by_day", "full_date"]

WEEKDAYS = "一二三四五六日"


def _local(moment: datetime, tz: str) -> datetime:
    return moment.astimezone(ZoneInfo(tz))


def relative_time(moment: datetime, now: datetime, tz: str) -> str:
    """刚刚 / 5分钟前 / 3小时前 (same day) / 昨天 08:30 / 3月5日 08:30 / 2024年3月5日."""
    local, today = _local(moment, tz), _local(now, tz)
    seconds = (now - moment).total_seconds()
    if seconds < 60:          # includes a little clock skew into the future
        return "刚刚"
    if seconds < 3600:
        return f"{int(seconds // 60)}分钟前"
    days = (today.date() - local.date()).days
    if days == 0:
        return f"{int(seconds // 3600)}小时前"
    if days == 1:
        return f"昨天 {local:%H:%M}"
    if local.year == today.year:
        return f"{local.month}月{local.day}日 {local:%H:%M}"
    return f"{local.year}年{local.month}月{local.day}日"


def full_date(day: date | str) -> str:
    """2026年12月3日 周四: a date in a notice or a record, always with its weekday."""
    day = date.fromisoformat(day) if isinstance(day, str) else day
    return f"{day.year}年{day.month}月{day.day}日 周{WEEKDAYS[day.weekday()]}"


def day_label(day: date, today: date) -> str:
    """今天 / 昨天 / 3月5日 星期三 / 2024年3月5日."""
    days = (today - day).days
    if days == 0:
        return "今天"
    if days == 1:
        return "昨天"
    if day.year == today.year:
        return f"{day.month}月{day.day}日 星期{WEEKDAYS[day.weekday()]}"
    return f"{day.year}年{day.month}月{day.day}日"


def group_by_day(items: list, moment_of, now: datetime, tz: str) -> list[tuple[str, list]]:
    """[(day label, items of that local day)] keeping the given order (newest first)."""
    today = _local(now, tz).date()
    groups: list[tuple[date, list]] = []
    for item in items:
        day = _local(moment_of(item), tz).date()
        if not groups or groups[-1][0] != day:
            groups.append((day, []))
        groups[-1][1].append(item)
    return [(day_label(day, today), members) for day, members in groups]
