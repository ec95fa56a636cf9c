"""Demo family-doctor care: every seeded resident with a team_id holds a contract.

Deterministic choices (a fixed random seed); dates are relative to the county's today so
the demo always has some follow-ups due, some overdue and some residents not contacted.
"""
from __future__ import annotations

import random
from datetime import date, timedelta

__all__ = ["seed_extra", "care_plan"]

CHRONIC = ("hypertension", "diabetes")


def care_plan(county, today: date, seed_value: int = 6) -> dict[str, list]:
    """Plain rows to write (models built by `seed_extra`)."""
    from backend.rules.contracts import contract_term
    from backend.rules.elderly import elder_cutoff_birth_date, self_care_grade
    from backend.rules.followup import add_months

    rng = random.Random(seed_value)
    out: dict[str, list] = {"contracts": [], "cases": [], "followups": [], "elders": []}
    cutoff = elder_cutoff_birth_date(today).isoformat()
    quarter_start = date(today.year, 3 * ((today.month - 1) // 3) + 1, 1)
    for n, r in enumerate(county.residents):
        if not r.get("team_id"):
            continue
        rid = r["resident_id"]
        years = rng.choice((1, 2, 3))
        start = today - timedelta(days=rng.randint(0, 365 * years - 31))
        start, end = contract_term(start, years)
        contacted = rng.random() < 0.55
        last_contact = (quarter_start + timedelta(days=rng.randint(0, max(0, (today - quarter_start).days)))
                        ).isoformat() if contacted else None
        out["contracts"].append(dict(
            resident_id=rid, contract_id=f"ctr-{n:06d}", group_id=f"grp-{r['household_id']}",
            team_id=r["team_id"], kind="household", years=years, start=start.isoformat(),
            end=end.isoformat(), status="active", channel="desk", signed_by="s:doctor01",
            name=r["name"], village_id=r["village_id"], active_team=r["team_id"],
            last_contact=last_contact, contact_key=f"{last_contact or '0000-00-00'}#{rid}"))
        for disease in CHRONIC:
            if disease not in r["conditions"]:
                continue
            next_due = today + timedelta(days=rng.randint(-40, 80))
            last_visit = add_months(next_due, -3)
            high = rng.random() < 0.12
            sys_, dia = (rng.randint(180, 196), rng.randint(95, 112)) if high else \
                (rng.randint(118, 138), rng.randint(70, 88))
            outcome = "urgent_referral" if high else "controlled"
            if high:
                last_visit = next_due - timedelta(days=14)
            out["cases"].append(dict(
                resident_id=rid, disease=disease, team_id=r["team_id"],
                due_key=f"{next_due.isoformat()}#{rid}#{disease}", next_due=next_due.isoformat(),
                name=r["name"], village_id=r["village_id"], birth_date=r["birth_date"],
                last_visit=last_visit.isoformat(), last_outcome=outcome, last_systolic=sys_,
                last_diastolic=dia, visits_year=str(last_visit.year),
                visits_count=rng.randint(1, 3), revision=1))
            out["followups"].append(dict(
                resident_id=rid, visit_key=f"{disease}#{last_visit.isoformat()}#seed{n:06d}",
                disease=disease, visit_date=last_visit.isoformat(), team_id=r["team_id"],
                systolic=sys_, diastolic=dia,
                fasting_glucose=round(rng.uniform(5.2, 6.8), 1) if disease == "diabetes" else None,
                heart_rate=rng.randint(62, 90), outcome=outcome, refer=high,
                next_due=next_due.isoformat(), recorded_by="s:doctor01"))
        if r["birth_date"] <= cutoff and rng.random() < 0.5:
            visit = today - timedelta(days=rng.randint(20, 400))
            score = rng.choice((0, 1, 2, 5, 7, 12, 20))
            out["elders"].append(dict(
                resident_id=rid, visit_key="latest", visit_date=visit.isoformat(), score=score,
                grade=self_care_grade(score), next_due=(visit + timedelta(days=365)).isoformat(),
                team_id=r["team_id"], recorded_by="s:doctor01"))
    return out


def seed_extra(county) -> None:
    from backend.models.base import utcnow
    from backend.models.care import ChronicCase, Contract, ElderVisit, FollowUp
    from backend.models.people import Uniqueness
    from backend.services.care_common import local_today

    plan = care_plan(county, local_today())
    now = utcnow()
    with Contract.batch_write() as batch:
        for c in plan["contracts"]:
            batch.save(Contract(signed_at=now, **c))
    with Uniqueness.batch_write() as batch:
        for c in plan["contracts"]:
            batch.save(Uniqueness(f"contract#{c['resident_id']}", owner=c["contract_id"]))
    with ChronicCase.batch_write() as batch:
        for c in plan["cases"]:
            batch.save(ChronicCase(**c))
    with FollowUp.batch_write() as batch:
        for f in plan["followups"]:
            batch.save(FollowUp(recorded_at=now, **f))
    with ElderVisit.batch_write() as batch:
        for e in plan["elders"]:
            batch.save(ElderVisit(recorded_at=now, **e))
    # The phones' change feed starts with each team's roster (offline tool: batch writes).
    from backend.services import sync_log
    rosters: dict[str, list[str]] = {}
    for c in plan["contracts"]:
        rosters.setdefault(c["team_id"], []).append(c["resident_id"])
    for team_id, ids in sorted(rosters.items()):
        sync_log.backfill(team_id, ids)
