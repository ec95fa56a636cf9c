"""Demo vaccination: every centre's 预防接种门诊 (Tuesday and Thursday mornings and a Saturday
session), a baby in the demo resident's household with the doses of her first months, and a
flu-vaccine queue for older residents at the demo household's centre."""
from __future__ import annotations

__all__ = ["seed_extra", "vaccination_templates", "DEMO_CHILD"]

DEMO_CHILD = "chd-demo-0001"


def vaccination_templates(county) -> list[dict]:
    out = []
    for f in county.facilities:
        if f["kind"] not in ("township", "community"):
            continue
        fid = f["facility_id"]
        base = dict(facility_id=fid, department="预防接种门诊", kind="vaccination", fee=0,
                    online_pct=80, referral_pct=0, doctor_login=None, doctor_name=None,
                    doctor_title=None, place="二楼预防接种门诊")
        out += [dict(base, template_id=f"tpl-{fid}-vac-wk", weekdays=[1, 3], session="day",
                     start="08:00", end="11:30", slice_minutes=30, capacity=6),
                dict(base, template_id=f"tpl-{fid}-vac-sat", weekdays=[5], on_holidays=True,
                     session="day", start="08:30", end="11:30", slice_minutes=60, capacity=8)]
    return out


def seed_extra(county) -> None:
    import time
    from datetime import timedelta

    from backend.models.base import utcnow
    from backend.models.booking import ScheduleTemplate
    from backend.models.facility import Facility
    from backend.models.people import ProxyGrant, Resident
    from backend.models.vaccination import AllocationWindow, VaccinationDose
    from backend.rules.allocation import commitment
    from backend.rules.immunisation import load_schedule
    from backend.services.schedules import generate_slots, today

    now = utcnow()
    templates = vaccination_templates(county)
    with ScheduleTemplate.batch_write() as batch:
        for t in templates:
            batch.save(ScheduleTemplate(active=True, version=1, updated_at=now, **t))
    county.slots_from = today()
    for fid in sorted({t["facility_id"] for t in templates}):
        generate_slots(Facility.get(fid), start=county.slots_from, days=8, batch=True)

    parent = county.demo_resident
    born = today() - timedelta(days=125)
    Resident(DEMO_CHILD, id_number="", name="小禾", sex="F", birth_date=born.isoformat(),
             phone=None, household_id=parent["household_id"], village_id=parent["village_id"],
             township_id=parent["township_id"], team_id=parent["team_id"], created_at=now).save()
    ProxyGrant(parent["resident_id"], DEMO_CHILD, relation="父亲", granted_at=now).save()
    table = load_schedule().in_force(born)
    centre = Facility.get(parent["township_id"])
    given = [("HepB", 1, 0), ("BCG", 1, 0), ("HepB", 2, 31), ("IPV", 1, 62), ("DTaP", 1, 62)]
    with VaccinationDose.batch_write() as batch:
        for series, n, day in given:
            batch.save(VaccinationDose(
                DEMO_CHILD, f"{series}#{n}", vaccine=series, vaccine_name=table.series[series].name,
                dose=n, given_on=(born + timedelta(days=day)).isoformat(), batch=f"2026{series[:2].upper()}0{n}",
                manufacturer="北京生物制品研究所", body_site="左上臂三角肌" if day else "右上臂三角肌",
                facility_id=centre.facility_id, facility_name=centre.name, given_by="演示接种员",
                given_by_login="s:admin-" + centre.facility_id, programme=True, recorded_at=now))
    seed = "demo-flu-" + parent["township_id"]
    AllocationWindow("win-demo-flu", county_id=centre.county_id, facility_id=centre.facility_id,
                     facility_name=centre.name, vaccine_name="流感疫苗（60岁及以上）",
                     doses_per_person=1, stock=200, remaining=200, mode="queue",
                     opens_at=int(time.time()) - 3600, closes_at=int(time.time()) + 30 * 86400,
                     min_age=60, max_age=120, hold_hours=72, state="open", seed=seed,
                     seed_commitment=commitment(seed), created_by="s:county",
                     created_at=now).save()
