"""Demo schedules and slots: every centre's general clinic (with an evening extension and a
Saturday session), the chronic-disease clinic, and the lead hospital's outpatients (20 %
reserved for referrals) and exam rooms. Deterministic template ids; slots generated for the
booking horizon with the same code as the daily task."""
from __future__ import annotations

__all__ = ["seed_extra", "demo_templates"]


def demo_templates(county) -> list[dict]:
    gps = {s["facility_id"]: s for s in county.staff
           if s["role"] == "doctor" and s["username"].startswith("doctor")}
    out = []
    for f in county.facilities:
        fid = f["facility_id"]
        if f["kind"] in ("township", "community"):
            gp = gps.get(fid, {})
            base = dict(kind="outpatient", fee=100, online_pct=80, referral_pct=0,
                        doctor_login=f"s:{gp['username']}" if gp else None,
                        doctor_name=gp.get("name"), doctor_title=gp.get("title"))
            out += [
                dict(base, facility_id=fid, template_id=f"tpl-{fid}-gp-am", department="全科门诊",
                     weekdays=[0, 1, 2, 3, 4], session="day", start="08:00", end="11:30",
                     slice_minutes=30, capacity=8, place="一楼全科诊室"),
                dict(base, facility_id=fid, template_id=f"tpl-{fid}-gp-eve", department="全科门诊",
                     weekdays=[1, 3], session="evening", start="18:00", end="20:00",
                     slice_minutes=30, capacity=4, place="一楼全科诊室"),
                dict(base, facility_id=fid, template_id=f"tpl-{fid}-gp-sat", department="全科门诊",
                     weekdays=[5], on_holidays=True, session="day", start="08:30", end="11:30",
                     slice_minutes=60, capacity=10, place="一楼全科诊室"),
                dict(base, facility_id=fid, template_id=f"tpl-{fid}-chronic", department="慢病门诊",
                     weekdays=[0, 2], session="day", start="14:30", end="17:00",
                     slice_minutes=30, capacity=6, place="二楼慢病门诊",
                     doctor_login=None, doctor_name=None, doctor_title=None),
            ]
        elif f["kind"] == "hospital":
            for i, dept in enumerate(("内科", "外科", "儿科", "中蒙医科")):
                out.append(dict(facility_id=fid, template_id=f"tpl-{fid}-out-{i}", department=dept,
                                kind="outpatient", weekdays=[0, 1, 2, 3, 4], session="day",
                                start="08:00", end="12:00", slice_minutes=30, capacity=10,
                                online_pct=80, referral_pct=20, fee=500,
                                doctor_name=None, doctor_title="主治医师", place=f"门诊楼{dept}"))
            for i, exam in enumerate(("超声", "CT", "核磁共振", "胃镜", "肠镜")):
                out.append(dict(facility_id=fid, template_id=f"tpl-{fid}-exam-{i}", department=exam,
                                kind="exam", weekdays=[0, 1, 2, 3, 4, 5], session="day",
                                start="08:00", end="12:00", slice_minutes=60 if i < 2 else 30,
                                capacity=6 if i < 2 else 2, online_pct=80, referral_pct=0, fee=0,
                                doctor_name=None, doctor_title=None, place=f"医技楼{exam}室"))
    return out


def seed_extra(county) -> None:
    from backend.models.base import utcnow
    from backend.models.booking import ScheduleTemplate
    from backend.models.facility import Facility
    from backend.services.schedules import generate_slots, get_policy, today

    now = utcnow()
    templates = demo_templates(county)
    with ScheduleTemplate.batch_write() as batch:
        for t in templates:
            batch.save(ScheduleTemplate(active=True, version=1, updated_at=now, **t))
    for fid in sorted({t["facility_id"] for t in templates}):
        facility = Facility.get(fid)
        # A week ahead keeps the local (moto) tables small; the daily task fills the horizon.
        generate_slots(facility, start=today(), days=8, batch=True)
