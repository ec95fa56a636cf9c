"""The top of the patient page: who, how to reach them, their latest readings, what is due.

Reads by key only: the relatives who may act for the patient (proxy grants, medicine
collectors) and their phones (one BatchGet), the village's name (cached).
"""
from __future__ import annotations

from datetime import date

from backend.models.care import MedicineCollector
from backend.models.people import ProxyGrant, Resident
from backend.rules import followup as fu_rules
from backend.services import places

__all__ = ["summary"]


def _relative_phones(resident: Resident) -> list[dict]:
    """Authorised relatives' phones (app proxies and medicine collectors) with relation."""
    relation = {g.proxy_id: g.relation for g in ProxyGrant.by_subject.query(resident.resident_id)}
    for c in MedicineCollector.query(resident.resident_id):
        relation.setdefault(c.collector_id, c.relation)
    relation.pop(resident.resident_id, None)
    if not relation:
        return []
    people = Resident.batch_get(sorted(relation))
    return [{"name": p.name, "relation": relation[p.resident_id], "phone": p.phone}
            for p in sorted(people, key=lambda p: p.resident_id) if p.phone]


def summary(resident: Resident, cases: list, followups: list, today: date) -> dict:
    """`followups` newest first (followups.history)."""
    bp = next((f for f in followups if f.systolic), None)
    glucose = next((f for f in followups if f.fasting_glucose), None)
    due = [{"disease": c.disease, "label": fu_rules.DISEASES.get(c.disease, c.disease),
            "next_due": c.next_due, "overdue": c.next_due < today.isoformat(),
            "overdue_days": max(0, (today - date.fromisoformat(c.next_due)).days)}
           for c in sorted(cases, key=lambda c: c.next_due) if c.due_key]
    return {"village": places.name_of(resident.village_id),
            "phone": resident.phone,
            "relatives": [] if resident.phone else _relative_phones(resident),
            "conditions": [fu_rules.DISEASES.get(c, c) for c in sorted(resident.conditions or [])],
            "bp": bp, "glucose": glucose, "due": due}
