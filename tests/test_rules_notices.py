"""The inbox's Chinese relative times and day groups (Asia/Shanghai)."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from backend.rules.notices import day_label, group_by_day, relative_time

TZ = "Asia/Shanghai"
# 2026-03-11 15:30 in China (a Wednesday)
NOW = datetime(2026, 3, 11, 7, 30, tzinfo=timezone.utc)


@pytest.mark.parametrize("ago, expected", [
    (timedelta(seconds=0), "刚刚"),
    (timedelta(seconds=59), "刚刚"),
    (timedelta(seconds=-30), "刚刚"),                 # a little clock skew
    (timedelta(minutes=1), "1分钟前"),
    (timedelta(minutes=59, seconds=59), "59分钟前"),
    (timedelta(hours=1), "1小时前"),
    (timedelta(hours=15, minutes=29), "15小时前"),     # 00:01 today, China time
    (timedelta(hours=15, minutes=31), "昨天 23:59"),   # yesterday in China, same UTC day
    (timedelta(days=1, hours=8), "昨天 07:30"),
    (timedelta(days=2), "3月9日 15:30"),
    (timedelta(days=69, hours=15, minutes=30), "1月1日 00:00"),
    (timedelta(days=70), "2025年12月31日"),
])
def test_relative_time_in_chinese(ago, expected):
    assert relative_time(NOW - ago, NOW, TZ) == expected


@pytest.mark.parametrize("day, expected", [
    (date(2026, 3, 11), "今天"),
    (date(2026, 3, 10), "昨天"),
    (date(2026, 3, 9), "3月9日 星期一"),
    (date(2026, 3, 8), "3月8日 星期日"),
    (date(2026, 1, 1), "1月1日 星期四"),
    (date(2025, 12, 31), "2025年12月31日"),
])
def test_day_label(day, expected):
    assert day_label(day, date(2026, 3, 11)) == expected


def test_group_by_day_uses_the_local_day_and_keeps_order():
    times = [NOW, NOW - timedelta(hours=15, minutes=29), NOW - timedelta(hours=15, minutes=31),
             NOW - timedelta(days=2)]
    groups = group_by_day(times, lambda t: t, NOW, TZ)
    assert [(label, len(items)) for label, items in groups] == [
        ("今天", 2), ("昨天", 1), ("3月9日 星期一", 1)]
    assert [t for _, items in groups for t in items] == times
