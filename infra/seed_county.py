"""Demo village duty rosters and sessions, then the county's counters and aggregation.

Runs after the other seeders (alphabetical), because it counts what they wrote: the
seeders write rows directly, so the counters the app keeps in its transactions are set
once from the tables (`rebuild_stocks`) and the nightly aggregation is run once.
"""
from __future__ import annotations

import random
from datetime import timedelta

__all__ = ["seed_extra", "demo_rosters"]


def _user(login: str, role: str, facility_id: str, team_id: str | None = None):
    from backend.services.auth import CurrentUser
    return CurrentUser(login=login, role=role, display_name=login, resident_id=None,
                       facility_id=facility_id, team_id=team_id, csrf_token="", session_hash="")


def demo_rosters(today) -> dict:
    """twp-01: 3 doctors rotating (compliant); twp-02: fixed doctors, one village short."""
    from backend.services import duty
    out = {}
    for township, model in (("twp-01", "rotating"), ("twp-02", "fixed")):
        villages = sorted(duty.villages_of(township))
        staff = list(duty.centre_staff(township))
        if not villages or len(staff) < 3:
            continue
        entries = []
        for i, v in enumerate(villages):
            if model == "rotating":
                entries.append({"village_id": v, "doctor_login": staff[i % 3], "weekday": i % 5,
                                "half": "am" if i % 2 else "pm", "weeks": [1, 3]})
            else:
                weeks = [1, 2, 3] if i == len(villages) - 1 else [1, 2, 3, 4, 5]
                entries.append({"village_id": v, "doctor_login": staff[i % len(staff)],
                                "weekday": i // len(staff), "half": "am", "weeks": weeks})
        admin = _user(f"s:admin-{township}", "township_admin", township)
        old = duty.load_roster(township, today.year)
        duty.save_roster(admin, year=today.year, model=model, entries=entries,
                         version=old.version if old else None)
        out[township] = entries
    return out


def _demo_sessions(today) -> int:
    """Sessions of twp-01 this month up to yesterday, logged through the service."""
    from backend.errors import AppError
    from backend.rules import duty as rules
    from backend.services import duty
    rng = random.Random(13)
    roster = duty.load_roster("twp-01", today.year)
    start = today.replace(day=1)
    logged = 0
    for day, e in rules.planned_sessions(duty.roster_entries(roster), start, today - timedelta(days=1)):
        held = rng.random() < 0.85
        try:
            duty.log_session(_user(e.doctor_login, "doctor", "twp-01"), day=day,
                             village_id=e.village_id, half=e.half,
                             status="held" if held else "missed",
                             patients=rng.randint(3, 15) if held else 0,
                             client_id=f"seed-{day.isoformat()}-{e.village_id}-{e.half}")
            logged += 1
        except AppError:
            continue
    return logged


def seed_extra(county) -> None:
    from backend.services.care_common import local_today
    from backend.services.indicator_aggregate import aggregate, rebuild_stocks
    today = local_today()
    demo_rosters(today)
    _demo_sessions(today)
    rebuild_stocks(today)
    aggregate(today)
