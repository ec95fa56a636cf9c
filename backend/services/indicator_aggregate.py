"""The scheduled aggregation: time-dependent indicator figures, walked by key (never a Scan).

Runs nightly (`backend.tasks.indicators_nightly`) and is idempotent: it recounts this
month's figures of every facility and SETs them on the month item (`as_of` = when), so a
second run the same day writes the same numbers. Walk: counties (`by-parent` "root") →
centres → village clinics; residents by village (`by-village`) with the 65+ ledger rows
(BatchGet); chronic cases by team (`by-team-due`); slots by department bucket and month
(Query between); the duty roster (GetItem). Flows (follow-ups, contacts, duty sessions,
ratings) are not touched here: they are counted in the writing transactions.
"""
from __future__ import annotations

import logging
from collections import Counter
from datetime import date, timedelta

from backend.models.base import chunks, utcnow
from backend.models.booking import Slot
from backend.models.care import ChronicCase, Contract, ElderVisit
from backend.models.county import AGGREGATE_FIELDS, IndicatorCount
from backend.models.facility import Facility, Team
from backend.models.people import Resident
from backend.rules import duty as duty_rules
from backend.rules.booking import DUTY_MIN_WEEKDAYS  # noqa: F401  (the target shown)
from backend.services.indicators import NOW, month_of

__all__ = ["aggregate", "rebuild_stocks", "facility_tree"]

log = logging.getLogger(__name__)
PRIORITY_FLAGS_AGE = 65


def facility_tree() -> list[tuple[Facility, list[tuple[Facility, list[Facility]]]]]:
    """Every county with its centres/hospital and their village clinics (Queries only)."""
    out = []
    for county in Facility.by_parent.query("root"):
        centres = []
        for centre in Facility.by_parent.query(county.facility_id):
            villages = [v for v in Facility.by_parent.query(centre.facility_id) if v.kind == "village"]
            centres.append((centre, villages))
        out.append((county, centres))
    return out


def _years_before(day: date, years: int) -> str:
    try:
        return day.replace(year=day.year - years).isoformat()
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28).isoformat()


def _residents(village_id: str, today: date, c: Counter) -> None:
    cutoff = _years_before(today, PRIORITY_FLAGS_AGE)
    elders = []
    for r in Resident.by_village.query(village_id):
        c["residents"] += 1
        elder = r.birth_date <= cutoff
        priority = elder or bool(r.conditions) or bool(r.priority_flags) or bool(r.poor)
        c["priority"] += priority
        c["contracted_priority"] += priority and bool(r.team_id)
        if elder:
            c["elders"] += 1
            elders.append(r.resident_id)
    for ids in chunks(elders, 100):
        c["elders_in_ledger"] += sum(1 for _ in ElderVisit.batch_get([(i, "latest") for i in ids]))


def _cases(team_id: str, today: date, by_village: dict[str, Counter]) -> None:
    three = (today - timedelta(days=91)).isoformat()
    twelve = _years_before(today, 1)
    for case in ChronicCase.by_team_due.query(team_id):
        c = by_village.setdefault(case.village_id, Counter())
        c["cases_managed"] += 1
        if case.disease != "hypertension":
            continue
        registered = getattr(case, "registered_on", None)
        if registered and registered > three:
            continue  # registered in the last 3 months: too early to judge
        if not case.last_visit or case.last_visit < twelve:
            c["lost_12m"] += 1
            continue
        c["bp_denominator"] += 1
        if case.last_visit < three:
            c["missed_3m"] += 1
        elif (case.last_systolic or 999) < 140 and (case.last_diastolic or 999) < 90:
            c["bp_controlled"] += 1


def _slots(facility: Facility, today: date, c: Counter) -> None:
    first = today.replace(day=1)
    last = (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    weekend_days = set()
    for department in facility.departments or []:
        for slot in Slot.query(f"{facility.facility_id}#{department}",
                               Slot.start_key.between(first.isoformat(), f"{last.isoformat()}~")):
            cap = int(slot.capacity)
            if slot.kind == "exam":
                c["exam_slots"] += 1
                c["exam_booked"] += int(slot.booked)
                c["exam_booked_sliced"] += int(slot.booked)  # every exam here is booked in a slice
                continue
            c["slots_capacity"] += cap
            c["slots_online"] += int(slot.cap_online) + int(slot.cap_referral)
            if facility.kind == "hospital":
                c["hospital_capacity"] += cap
                c["referral_capacity"] += int(slot.cap_referral)
                c["referral_used"] += int(slot.cap_referral) - int(slot.left_referral)
            if "接种" in department and date.fromisoformat(slot.day).weekday() >= 5 \
                    and slot.day <= today.isoformat() and not slot.closed:
                weekend_days.add(slot.day)
    c["vaccine_weekend_sessions"] += len(weekend_days)


def _attending_days(facility: Facility) -> int | None:
    from backend.services.schedules import duty_report
    weeks = duty_report(facility, weeks=4)
    return min(w["attending_days"] for w in weeks) if weeks else None


def _duty_required(centre: Facility, today: date, by_village: dict[str, Counter]) -> None:
    from backend.services.duty import load_roster, roster_entries
    roster = load_roster(centre.facility_id, today.year)
    if roster is None:
        return
    first = today.replace(day=1)
    last = (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    for _, e in duty_rules.planned_sessions(roster_entries(roster), first, last):
        by_village.setdefault(e.village_id, Counter())["duty_required"] += 1


def _write(scope: str, period: str, c: Counter, now, extra: dict | None = None) -> None:
    actions = [IndicatorCount.as_of.set(now)]
    for field in AGGREGATE_FIELDS:
        if field in c and field not in (extra or {}):
            actions.append(getattr(IndicatorCount, field).set(int(c[field])))
    for field, value in (extra or {}).items():
        actions.append(getattr(IndicatorCount, field).set(value))
    IndicatorCount(scope, period).update(actions=actions)


def aggregate(today: date) -> dict:
    """Recount this month's time-dependent figures of every facility (idempotent)."""
    now = utcnow()
    period = month_of(today)
    written = 0
    base_fields = [f for f in AGGREGATE_FIELDS if f not in ("attending_days_min", "contracted_eom")]
    for county, centres in facility_tree():
        county_total = Counter({f: 0 for f in base_fields})
        attending = []
        for centre, villages in centres:
            by_village: dict[str, Counter] = {v.facility_id: Counter() for v in villages}
            for v in villages:
                _residents(v.facility_id, today, by_village[v.facility_id])
            for team in Team.by_facility.query(centre.facility_id):
                _cases(team.team_id, today, by_village)
            _duty_required(centre, today, by_village)
            own = Counter({f: 0 for f in base_fields})
            _slots(centre, today, own)
            extra = {}
            if centre.kind in ("township", "community"):
                days = _attending_days(centre)
                if days is not None:
                    extra["attending_days_min"] = days
                    attending.append(days)
            centre_total = Counter(own)
            for v in villages:
                c = Counter({f: 0 for f in base_fields})
                c.update(by_village.get(v.facility_id, Counter()))
                _write(v.facility_id, period, c, now, _snapshot(v.facility_id))
                centre_total.update(c)
                written += 1
            # Residents of a centre's own area without a village row (none in the demo).
            _write(centre.facility_id, period, centre_total, now,
                   {**extra, **_snapshot(centre.facility_id)})
            county_total.update(centre_total)
            written += 1
        extra = _snapshot(county.facility_id)
        if attending:
            extra["attending_days_min"] = min(attending)
        _write(county.facility_id, period, county_total, now, extra)
        written += 1
    return {"facilities": written, "period": period}


def _snapshot(scope: str) -> dict:
    """This month's end-of-month copy of the live stocks (the trend's contract line)."""
    try:
        item = IndicatorCount.get(scope, NOW)
    except IndicatorCount.DoesNotExist:
        return {"contracted_eom": 0}
    return {"contracted_eom": int(item.contracted or 0)}


def rebuild_stocks(today: date) -> dict:
    """Set the counters the app keeps in its transactions from the tables themselves (the
    seed, which writes rows directly, and repairs): the `now` contract stock, and this
    quarter's first contacts and follow-up cases in the month they happened. Walks teams
    by key: active contracts by-team-contact, cases by-team-due."""
    from backend.rules.contracts import quarter_start
    since = quarter_start(today).isoformat()
    stocks: dict[str, Counter] = {}
    months: dict[tuple[str, str], Counter] = {}
    for county, centres in facility_tree():
        for centre, villages in centres:
            ids = {v.facility_id for v in villages}
            for scope in [county.facility_id, centre.facility_id, *ids]:
                stocks.setdefault(scope, Counter())
            for team in Team.by_facility.query(centre.facility_id):
                for contract in Contract.by_team_contact.query(team.team_id):
                    scopes = [county.facility_id, centre.facility_id] + \
                        ([contract.village_id] if contract.village_id in ids else [])
                    for scope in scopes:
                        stocks[scope]["contracted"] += 1
                        if contract.last_contact and contract.last_contact >= since:
                            months.setdefault((scope, contract.last_contact[:7]), Counter())["contacts_first_q"] += 1
                for case in ChronicCase.by_team_due.query(team.team_id):
                    if not case.last_visit or case.last_visit < since:
                        continue
                    scopes = [county.facility_id, centre.facility_id] + \
                        ([case.village_id] if case.village_id in ids else [])
                    for scope in scopes:
                        months.setdefault((scope, case.last_visit[:7]), Counter())["followup_cases_q"] += 1
    for scope, c in stocks.items():
        IndicatorCount(scope, NOW).update(actions=[IndicatorCount.contracted.set(int(c["contracted"]))])
    for (scope, period), c in months.items():
        IndicatorCount(scope, period).update(actions=[getattr(IndicatorCount, f).set(int(n))
                                                      for f, n in c.items()])
    return {"scopes": len(stocks), "months": len(months)}
