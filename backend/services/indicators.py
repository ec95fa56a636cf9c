"""Indicator counters: added to inside the writing transactions, read by key on the dashboard.

    tally = indicators.Tally()
    tally.month(resident.village_id, "followups")        # a flow in this month
    tally.stock(resident.village_id, "contracted", +1)   # what is true now
    with transaction() as tx:
        ...the service's own writes...
        tally.apply(tx)                                  # one update per counter item

Every change is added at each level of the facility tree (village → centre → county), so a
page reads only its own scope's items. Which figure comes from which mechanism:
`FIGURES` (source "live" = these transactional counters, "nightly" = the scheduled
aggregation in `services.indicator_aggregate`, which walks the tables by key).
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache

from pynamodb.exceptions import DoesNotExist

from backend.models.county import FLOW_FIELDS, STOCK_FIELDS, IndicatorCount
from backend.models.facility import Facility

__all__ = ["Tally", "chain", "month_of", "months_back", "Figure", "FIGURES", "figures",
           "scope_items", "children_items", "NOW", "quarter_months"]

NOW = "now"


def month_of(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def months_back(today: date, n: int = 12) -> list[str]:
    """The last `n` months, oldest first, ending with today's month."""
    y, m = today.year, today.month
    out = []
    for _ in range(n):
        out.append(f"{y:04d}-{m:02d}")
        y, m = (y - 1, 12) if m == 1 else (y, m - 1)
    return out[::-1]


def quarter_months(today: date) -> list[str]:
    first = (today.month - 1) // 3 * 3 + 1
    return [f"{today.year:04d}-{m:02d}" for m in range(first, today.month + 1)]


@lru_cache(maxsize=8192)
def chain(facility_id: str) -> tuple[str, ...]:
    """The facility and its ancestors up to the county (GetItems, cached per process:
    the facility tree changes only when a clinic is founded)."""
    out = []
    current = facility_id
    while current and current != "root" and len(out) < 4:
        out.append(current)
        try:
            f = Facility.get(current)
        except DoesNotExist:
            break
        if f.kind == "county":
            break
        current = f.parent_id
    return tuple(out)


class Tally:
    """Counter changes gathered during a use case, applied inside its transaction."""

    def __init__(self) -> None:
        self._adds: dict[tuple[str, str], Counter] = {}

    def _add(self, facility_id: str | None, period: str, field: str, n: int) -> None:
        if not facility_id or not n:
            return
        for scope in chain(facility_id):
            self._adds.setdefault((scope, period), Counter())[field] += n

    def month(self, facility_id: str | None, field: str, n: int = 1, *, day: date | None = None) -> None:
        assert field in FLOW_FIELDS, field
        from backend.services.schedules import today
        self._add(facility_id, month_of(day or today()), field, n)

    def stock(self, facility_id: str | None, field: str, n: int) -> None:
        assert field in STOCK_FIELDS, field
        self._add(facility_id, NOW, field, n)

    def __len__(self) -> int:
        """How many items `apply` writes (a transaction holds at most 100)."""
        return sum(1 for c in self._adds.values() if any(c.values()))

    def apply(self, tx) -> None:
        for (scope, period), fields in sorted(self._adds.items()):
            actions = [getattr(IndicatorCount, f).add(n) for f, n in sorted(fields.items()) if n]
            if actions:
                tx.update(IndicatorCount(scope, period), actions=actions)


# ---- reading ---------------------------------------------------------------------------

def scope_items(scope: str, today: date, months: int = 12) -> dict[str, IndicatorCount]:
    """One Query: the scope's month items of the trend window and its `now` item."""
    first = months_back(today, months)[0]
    return {i.period: i for i in IndicatorCount.query(scope, IndicatorCount.period >= first)}


def children_items(scopes: list[str], today: date) -> dict[str, dict[str, IndicatorCount]]:
    """This quarter's month items and the `now` item of each child scope (BatchGet)."""
    periods = quarter_months(today) + [NOW]
    keys = [(s, p) for s in scopes for p in periods]
    out: dict[str, dict[str, IndicatorCount]] = {s: {} for s in scopes}
    for item in IndicatorCount.batch_get(keys):
        out[item.scope][item.period] = item
    return out


@dataclass(frozen=True)
class Figure:
    key: str
    label: str
    numerator: int | None
    denominator: int | None
    target: float | None      # share to reach (0.8 = 80 %), or a count for counts
    source: str               # live | nightly | both
    unit: str = "%"

    @property
    def value(self) -> float | None:
        if self.unit != "%":
            return self.numerator
        if not self.denominator or self.numerator is None:
            return None
        return self.numerator / self.denominator

    @property
    def text(self) -> str:
        v = self.value
        if v is None:
            return "暂无数据"
        if self.unit == "%":
            return f"{v * 100:.1f}%"
        return f"{int(v)}{self.unit}"

    @property
    def detail(self) -> str:
        if self.unit == "%" and self.denominator:
            return f"{self.numerator or 0} / {self.denominator}"
        return ""

    @property
    def met(self) -> bool | None:
        v = self.value
        if v is None or self.target is None:
            return None
        return v >= self.target


# key -> (label, target, source, unit): the order of the dashboard.
FIGURES: dict[str, tuple[str, float | None, str, str]] = {
    "contract_rate": ("签约率（全人群）", None, "both", "%"),
    "priority_contract_rate": ("重点人群签约率", 0.9, "nightly", "%"),
    "elder_ledger": ("65岁及以上老年人建台账", None, "nightly", "%"),
    "contacted_q": ("本季度已联系的签约居民", 1.0, "both", "%"),
    "followups_q": ("本季度随访：已随访/应随访病例", 1.0, "both", "%"),
    "bp_controlled": ("血压控制率（末次血压<140/90，近3个月）", None, "nightly", "%"),
    "missed_3m": ("3个月未随访（高血压）", None, "nightly", "%"),
    "lost_12m": ("12个月未随访（失访，高血压）", None, "nightly", "%"),
    "online_share": ("门诊号源线上开放占比", 0.8, "nightly", "%"),
    "exam_sliced": ("检查分时段预约占比", 0.6, "nightly", "%"),
    "referral_share": ("牵头医院为基层预留号源占比", 0.2, "nightly", "%"),
    "referral_used": ("预留号源使用率", None, "nightly", "%"),
    "vaccine_weekend": ("本月周末预防接种门诊场次", None, "nightly", "场"),
    "attending_days": ("主治医师每周坐诊天数（最少的一周）", 3, "nightly", "天"),
    "duty_sessions": ("巡回坐诊：已坐诊/应坐诊（本月）", 1.0, "both", "%"),
    "satisfaction": ("满意度（4-5星占比）", 0.9, "live", "%"),
}


def _n(item: IndicatorCount | None, field: str) -> int:
    return int(getattr(item, field) or 0) if item is not None else 0


def figures(month: IndicatorCount | None, now: IndicatorCount | None,
            quarter: list[IndicatorCount]) -> list[Figure]:
    """Every dashboard figure of one scope from its items (no further reads)."""
    def q(field: str) -> int:
        return sum(_n(i, field) for i in quarter)

    values = {
        "contract_rate": (_n(now, "contracted"), _n(month, "residents")),
        "priority_contract_rate": (_n(month, "contracted_priority"), _n(month, "priority")),
        "elder_ledger": (_n(month, "elders_in_ledger"), _n(month, "elders")),
        "contacted_q": (q("contacts_first_q"), _n(now, "contracted")),
        "followups_q": (q("followup_cases_q"), _n(month, "cases_managed")),
        "bp_controlled": (_n(month, "bp_controlled"), _n(month, "bp_denominator")),
        "missed_3m": (_n(month, "missed_3m"), _n(month, "bp_denominator")),
        "lost_12m": (_n(month, "lost_12m"), _n(month, "bp_denominator") + _n(month, "lost_12m")),
        "online_share": (_n(month, "slots_online"), _n(month, "slots_capacity")),
        "exam_sliced": (_n(month, "exam_booked_sliced"), _n(month, "exam_booked")),
        "referral_share": (_n(month, "referral_capacity"), _n(month, "hospital_capacity")),
        "referral_used": (_n(month, "referral_used"), _n(month, "referral_capacity")),
        "vaccine_weekend": (_n(month, "vaccine_weekend_sessions"), None),
        "attending_days": (_n(month, "attending_days_min") if month is not None
                           and month.attending_days_min is not None else None, None),
        "duty_sessions": (_n(month, "duty_held"), _n(month, "duty_required")),
        "satisfaction": (_n(month, "ratings_satisfied"), _n(month, "ratings")),
    }
    out = []
    for key, (label, target, source, unit) in FIGURES.items():
        num, den = values[key]
        out.append(Figure(key, label, num, den, target, source, unit))
    return out


def as_of(items: list[IndicatorCount | None]) -> datetime | None:
    """When the nightly aggregation behind these items last ran (the oldest of them)."""
    stamps = [i.as_of for i in items if i is not None and i.as_of is not None]
    return min(stamps) if stamps else None
