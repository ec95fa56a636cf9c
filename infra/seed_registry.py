"""Demo households (with each member's relationship to the head) and search terms."""
from __future__ import annotations

from datetime import date

__all__ = ["seed_extra", "relations_of"]


def relations_of(members: list[dict]) -> list[str]:
    """The first member is the head; the others by age against the head's."""
    head_born = date.fromisoformat(members[0]["birth_date"])
    out, spouse = ["户主"], False
    for m in members[1:]:
        gap = (date.fromisoformat(m["birth_date"]) - head_born).days / 365.25
        if gap >= 16:
            out.append("子女")
        elif gap <= -16:
            out.append("父母")
        elif not spouse and m["sex"] != members[0]["sex"]:
            out.append("配偶")
            spouse = True
        else:
            out.append("兄弟姐妹")
    return out


def seed_extra(county) -> None:
    from backend.models.base import utcnow
    from backend.models.people import Resident
    from backend.models.registry import Household
    from backend.services.search import reindex

    now = utcnow()
    homes: dict[str, list[dict]] = {}
    for r in county.residents:
        homes.setdefault(r["household_id"], []).append(r)
    residents = []
    with Household.batch_write() as batch:
        for hid, members in homes.items():
            head = members[0]
            batch.save(Household(hid, village_id=head["village_id"], township_id=head["township_id"],
                                 head_id=head["resident_id"], head_name=head["name"],
                                 created_by="seed", created_at=now))
            for m, relation in zip(members, relations_of(members)):
                residents.append(Resident(created_at=now, household_relation=relation, **m))
    with Resident.batch_write() as batch:
        for r in residents:
            batch.save(r)
    reindex(residents)
