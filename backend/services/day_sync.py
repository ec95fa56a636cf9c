"""The day's download for a doctor's phone: the team's residents changed after a cursor.

One page = one strongly consistent Query of the team's change log, then BatchGets of the
residents, their chronic cases and their 65+ ledger rows, and of the villages' names:
no Query per resident, no Scan. A resident who left the team comes back in `removed`,
so the phone deletes its copy. Every resident sent is an audited read.
"""
from __future__ import annotations

from datetime import date

from backend.errors import Forbidden
from backend.models.base import chunks
from backend.models.care import ChronicCase, ElderVisit
from backend.models.facility import Facility
from backend.models.people import Resident
from backend.rules import elderly
from backend.rules import followup as fu_rules
from backend.rules.identity import age_on
from backend.services import audit, sync_log
from backend.services.auth import CurrentUser
from backend.services.care_common import local_today

__all__ = ["download", "PAGE_ROWS", "DEVICE_SAFE_RESIDENTS", "resident_payload"]

PAGE_ROWS = 100
# Above this many residents on one phone the sync page warns (see bench.offline_sync:
# the download and the phone's roster search are measured at 600 and at this size).
DEVICE_SAFE_RESIDENTS = 3000


def _batch(model, keys: list) -> list:
    out = []
    for part in chunks(keys, 100):
        out.extend(model.batch_get(part))
    return out


def _due_items(cases: list[ChronicCase], elder: ElderVisit | None, is_elder: bool,
               today: date) -> list[dict]:
    soon = today.toordinal() + 7
    items = []
    for c in cases:
        if c.due_key and date.fromisoformat(c.next_due).toordinal() <= soon:
            items.append({"what": f"{fu_rules.DISEASES[c.disease]}随访", "due": c.next_due})
    if is_elder:
        due = elder.next_due if elder else today.isoformat()
        if (elder is None or elder.visit_date < f"{today.year}-01-01"
                or date.fromisoformat(due).toordinal() <= soon):
            items.append({"what": "老年人年度健康管理", "due": due})
    return items


def resident_payload(r: Resident, cases: list[ChronicCase], elder: ElderVisit | None,
                     village_name: str, today: date) -> dict:
    born = date.fromisoformat(r.birth_date)
    is_elder = elderly.is_elder(born, today)
    return {
        "id": r.resident_id, "name": r.name, "sex": r.sex, "birth_date": r.birth_date,
        "age": age_on(born, today), "phone": r.phone, "village": village_name,
        "household_id": r.household_id, "conditions": sorted(r.conditions or []),
        "version": int(r.version or 0),
        "cases": [{"disease": c.disease, "next_due": c.next_due, "last_visit": c.last_visit,
                   "last_outcome": c.last_outcome,
                   "previous_uncontrolled": fu_rules.previous_uncontrolled(c.last_controlled,
                                                                         c.last_outcome),
                   "last_bp": [int(c.last_systolic), int(c.last_diastolic)]
                   if c.last_systolic is not None else None,
                   "visits_this_year": int(c.visits_count or 0)
                   if c.visits_year == str(today.year) else 0} for c in cases],
        "elder": ({"grade": elder.grade, "score": int(elder.score), "last_visit": elder.visit_date,
                   "next_due": elder.next_due} if elder else None) if is_elder else None,
        "due": _due_items([c for c in cases if c.team_id], elder, is_elder, today),
    }


def download(user: CurrentUser, after: int, *, limit: int = PAGE_ROWS) -> dict:
    """One page of the team's changes after `after` (the phone's stored cursor)."""
    if user.role != "doctor" or not user.team_id:
        raise Forbidden("只有家庭医生团队成员可以下载本团队居民", code="not_a_team_member")
    today = local_today()
    page = sync_log.changes_after(user.team_id, max(0, after), limit=limit)
    people = {r.resident_id: r for r in _batch(Resident, page.resident_ids)}
    mine = [people[i] for i in page.resident_ids
            if i in people and people[i].team_id == user.team_id]
    removed = [i for i in page.resident_ids if i not in people or people[i].team_id != user.team_id]
    case_keys = [(r.resident_id, d) for r in mine for d in fu_rules.DISEASES
                 if d in (r.conditions or set())]
    cases: dict[str, list[ChronicCase]] = {}
    for c in _batch(ChronicCase, case_keys):
        cases.setdefault(c.resident_id, []).append(c)
    elder_keys = [(r.resident_id, "latest") for r in mine
                  if elderly.is_elder(date.fromisoformat(r.birth_date), today)]
    elders = {v.resident_id: v for v in _batch(ElderVisit, elder_keys)}
    villages = {f.facility_id: f.name for f in
                _batch(Facility, sorted({r.village_id for r in mine}))}
    residents = [resident_payload(r, sorted(cases.get(r.resident_id, []), key=lambda c: c.disease),
                                  elders.get(r.resident_id), villages.get(r.village_id, "未知村"),
                                  today) for r in mine]
    audit.record_list(user, "sync.download", [r.resident_id for r in mine])
    return {"after": page.after, "next_after": page.next_after, "head": page.head,
            "more": page.more, "today": today.isoformat(), "residents": residents,
            "removed": removed, "device_safe_residents": DEVICE_SAFE_RESIDENTS,
            "self_care": elderly.self_care_data() if page.after == 0 else None}
