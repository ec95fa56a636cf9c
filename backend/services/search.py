"""Finding residents: search terms written with the resident, one Query per term kind.

`search_residents` is what the doctor's search box calls (and what bench.search times):
one Query `begins_with` on `search-keys` per kind the typed text can be (name, pinyin
initials, full pinyin, last digits of the identity number or phone), plus residents
by-village for a typed village name; then one BatchGet of the hits and the access check
on the fresh records (a doctor sees the team's residents; a centre admin the centre's).
"""
from __future__ import annotations

from dataclasses import dataclass

from backend.errors import Forbidden, ValidationFailed
from backend.models.people import Resident
from backend.models.registry import SearchKey
from backend.rules import search as rules
from backend.services import audit, places
from backend.services.auth import CurrentUser

__all__ = ["search_terms", "search_key_items", "search_residents", "SearchResult", "search_scope",
           "reindex"]

_PER_KIND = 60   # rows read per kind: enough for a page of 20 after the access filter


def search_terms(resident: Resident) -> list[str]:
    """Every `<kind>:<term>` a resident is found by."""
    terms = rules.name_terms(resident.name)
    terms.update(rules.digit_terms(resident.id_number, resident.phone))
    return sorted(f"{kind}:{t}" for kind, values in terms.items() for t in values if t)


def search_key_items(resident: Resident) -> list[SearchKey]:
    out = []
    for term in search_terms(resident):
        kind, _, text = term.partition(":")
        out.append(SearchKey(SearchKey.shard_of(resident.township_id, kind, text),
                             f"{term}#{resident.resident_id}", resident_id=resident.resident_id,
                             township_id=resident.township_id))
    return out


def reindex(residents: list[Resident]) -> int:
    """Write the search terms of residents written without them (seed, migrations)."""
    n = 0
    with SearchKey.batch_write() as batch:
        for r in residents:
            for item in search_key_items(r):
                batch.save(item)
                n += 1
    return n


@dataclass
class SearchResult:
    query: str
    residents: list[Resident]
    message: str | None = None    # a hint when the text cannot find anyone (too few digits)


def search_scope(user: CurrentUser) -> str:
    """The centre whose residents this staff member searches."""
    if user.role == "doctor" and user.team_id:
        return places.team_centre(user.team_id)
    if user.role == "township_admin" and user.facility_id:
        return user.facility_id
    raise Forbidden("只有家庭医生团队和乡镇卫生院可以查找居民")


def _visible(user: CurrentUser, r: Resident, uncontracted: bool) -> bool:
    if user.role == "township_admin":
        return True
    return r.team_id is None if uncontracted else r.team_id == user.team_id


@audit.list_view("resident.search", shown=lambda res: [r.resident_id for r in res.residents])
def search_residents(user: CurrentUser, text: str, *, limit: int = 20,
                     uncontracted: bool = False) -> SearchResult:
    """The team's residents matching `text` (or, with `uncontracted`, the centre's people
    not yet contracted to any team: to register or sign them)."""
    if not 1 <= limit <= 50:
        raise ValidationFailed("每页人数应在1到50之间", code="invalid_limit")
    township = search_scope(user)
    q = rules.parse_query(text)
    if q.error:
        return SearchResult(q.text, [], q.error)
    ids: list[str] = []
    for kind, prefix in q.kinds:
        for row in SearchKey.query(SearchKey.shard_of(township, kind, prefix),
                                   SearchKey.term_key.startswith(f"{kind}:{prefix}"),
                                   limit=_PER_KIND, page_size=_PER_KIND):
            ids.append(row.resident_id)
    found: dict[str, Resident] = {}
    if ids:
        unique = list(dict.fromkeys(ids))[:100]
        found = {r.resident_id: r for r in Resident.batch_get(unique)}
        ordered = [found[i] for i in unique if i in found]
    else:
        ordered = []
    if q.kinds and q.kinds[0][0] == "n":   # a typed village name finds its residents too
        for village in places.villages_named(township, q.text):
            team = None if user.role == "township_admin" or uncontracted else user.team_id
            cond = (Resident.team_id == team) if team else None
            ordered.extend(Resident.by_village.query(village.facility_id, filter_condition=cond,
                                                     limit=limit * 2))
    shown, seen = [], set()
    for r in ordered:
        if r.resident_id in seen or r.township_id != township or not _visible(user, r, uncontracted):
            continue
        seen.add(r.resident_id)
        shown.append(r)
        if len(shown) >= limit:
            break
    return SearchResult(q.text, shown, None if shown or not q.text else "没有找到符合条件的居民")
