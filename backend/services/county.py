"""The county dashboard: figures of one scope (county, centre or village clinic), its
monthly trend and its children, read by key (a Query, a BatchGet; never a Scan)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from pynamodb.exceptions import DoesNotExist

from backend.errors import Forbidden, NotFound
from backend.models.county import IndicatorCount
from backend.models.facility import Facility
from backend.services import indicators as ind
from backend.services.auth import CurrentUser
from backend.services.schedules import today as local_today

__all__ = ["facility_in_county", "scope_name", "centres_under", "dashboard", "Dashboard",
           "indicator_rows", "LEVELS", "TREND_KEYS", "county_deadlines"]

LEVELS = {"county": "旗县", "hospital": "医院", "township": "乡镇卫生院",
          "community": "社区卫生服务中心", "village": "村卫生室"}
TREND_KEYS = ("contract_rate", "followups_q", "bp_controlled", "duty_sessions", "satisfaction")
REFUSED = ("县级账号只能查看旗县、乡镇、村卫生室三级的汇总指标，看板不提供个人记录",
           "individual_record_refused")


def _facility(facility_id: str) -> Facility | None:
    if not facility_id or len(facility_id) > 40:
        return None
    try:
        return Facility.get(facility_id)
    except DoesNotExist:
        return None


def facility_in_county(user: CurrentUser, facility_id: str) -> Facility:
    """A facility of the user's county; anything else (a person's id) is refused."""
    if user.role != "county":
        raise Forbidden("只有卫健委账号可以查看全旗指标")
    f = _facility(facility_id)
    if f is None or f.kind not in LEVELS:
        raise Forbidden(REFUSED[0], code=REFUSED[1])
    if f.county_id != user.facility_id:
        raise Forbidden("只能查看本旗县的机构", code="other_county")
    return f


def scope_name(scope: str) -> str:
    f = _facility(scope)
    return f.name if f else ""


def centres_under(scope: str) -> list[Facility]:
    f = _facility(scope)
    if f is None:
        raise NotFound("找不到该医疗机构", code="facility_not_found")
    if f.kind == "county":
        return [c for c in Facility.by_parent.query(f.facility_id) if c.kind in ("township", "community")]
    if f.kind in ("township", "community"):
        return [f]
    raise Forbidden("只能按旗县或乡镇卫生院导出", code="scope_not_exportable")


@dataclass
class Row:
    facility: Facility
    figures: list[ind.Figure]


@dataclass
class Dashboard:
    scope: Facility
    level: str
    crumbs: list[Facility]
    today: date
    figures: list[ind.Figure]
    as_of: object            # when the nightly figures were aggregated (None: not yet)
    trend: dict[str, list[tuple[str, float | None]]]
    children: list[Row]
    child_level: str | None


def _figures_for(items: dict[str, IndicatorCount], month: str, current: bool) -> list[ind.Figure]:
    y, m = int(month[:4]), int(month[5:])
    first = (m - 1) // 3 * 3 + 1
    quarter = [items.get(f"{y:04d}-{k:02d}") for k in range(first, m + 1)]
    item = items.get(month)
    if current:
        now = items.get(ind.NOW)
    else:  # a past month: its end-of-month copy of the stocks
        now = IndicatorCount("", ind.NOW, contracted=item.contracted_eom) if item is not None else None
    return ind.figures(item, now, [q for q in quarter if q is not None])


def dashboard(user: CurrentUser, facility_id: str | None = None) -> Dashboard:
    """One scope's page: this month, the 12-month trend, and the scopes one level down."""
    scope = facility_in_county(user, facility_id or user.facility_id)
    today = local_today()
    month = ind.month_of(today)
    items = ind.scope_items(scope.facility_id, today)
    figures = _figures_for(items, month, True)
    trend = {}
    for m in ind.months_back(today):
        by_key = {f.key: f for f in _figures_for(items, m, m == month)}
        for key in TREND_KEYS:
            trend.setdefault(key, []).append((m, by_key[key].value))
    crumbs = [scope]
    parent = scope
    while parent.kind != "county":
        parent = _facility(parent.parent_id)
        if parent is None:
            break
        crumbs.insert(0, parent)
    children: list[Row] = []
    child_level = None
    if scope.kind != "village":
        kids = sorted(Facility.by_parent.query(scope.facility_id), key=lambda f: f.facility_id)
        got = ind.children_items([k.facility_id for k in kids], today) if kids else {}
        for k in kids:
            children.append(Row(k, _figures_for(got.get(k.facility_id, {}), month, True)))
        child_level = "village" if scope.kind != "county" else "township"
    return Dashboard(scope, LEVELS[scope.kind], crumbs, today, figures,
                     ind.as_of([items.get(month)]), trend, children, child_level)


def indicator_rows(scope: str, period: str) -> list[dict]:
    """Rows for the indicator export: the scope, its centres and their village clinics."""
    f = _facility(scope)
    if f is None:
        return []
    y, m = int(period[:4]), int(period[5:])
    on = date(y, m, 28)
    current = period == ind.month_of(local_today())
    rows = []

    def add(fac: Facility, depth: int) -> None:
        items = ind.scope_items(fac.facility_id, on, months=3)
        rows.append({"name": "　" * depth + fac.name, "level": LEVELS.get(fac.kind, ""),
                     "figures": _figures_for(items, period, current)})
        if fac.kind != "village" and depth < 2:
            for k in sorted(Facility.by_parent.query(fac.facility_id), key=lambda x: x.facility_id):
                add(k, depth + 1)

    add(f, 0)
    return rows


def county_deadlines(user: CurrentUser, year: int) -> list[dict]:
    """Each centre's filings due and late, with its roster's compliance."""
    from backend.services.duty import deadlines, roster_view
    county = facility_in_county(user, user.facility_id)
    out = []
    for centre in centres_under(county.facility_id):
        view = roster_view(centre.facility_id, year)
        out.append({"centre": centre, "rows": deadlines(centre.facility_id, year),
                    "has_roster": view["roster"] is not None, "compliant": view["compliant"],
                    "violations": len(view["violations"])})
    return out
