"""Villages and facilities by name: every id a person would otherwise see, turned into words.

Facilities change a few times a year; a warm Lambda keeps their names for five minutes
(one BatchGet for the ids it has not seen) instead of reading them on every page.
"""
from __future__ import annotations

import time

from pynamodb.exceptions import DoesNotExist

from backend.models.facility import Facility, Team

__all__ = ["name_of", "names_of", "villages_of", "villages_named", "team_centre", "forget"]

_TTL = 300.0
_names: dict[str, tuple[float, str]] = {}
_children: dict[str, tuple[float, list[Facility]]] = {}
_team_centre: dict[str, tuple[float, str]] = {}


def forget() -> None:
    """Drop the cached names (tests that rename a facility, an admin's edit)."""
    _names.clear()
    _children.clear()
    _team_centre.clear()


def names_of(ids) -> dict[str, str]:
    """Facility id → name for every id given (unknown ids map to 未知地点)."""
    now = time.monotonic()
    wanted = {i for i in ids if i}
    missing = [i for i in wanted if i not in _names or _names[i][0] < now]
    if missing:
        for f in Facility.batch_get(missing):
            _names[f.facility_id] = (now + _TTL, f.name)
    return {i: _names[i][1] if i in _names else "未知地点" for i in wanted}


def name_of(facility_id: str | None) -> str:
    if not facility_id:
        return ""
    return names_of([facility_id])[facility_id]


def villages_of(township_id: str) -> list[Facility]:
    """A centre's village clinics, by name (one Query, cached)."""
    now = time.monotonic()
    hit = _children.get(township_id)
    if hit is None or hit[0] < now:
        kids = sorted((f for f in Facility.by_parent.query(township_id) if f.kind == "village"),
                      key=lambda f: f.name)
        _children[township_id] = hit = (now + _TTL, kids)
        for f in kids:
            _names[f.facility_id] = (now + _TTL, f.name)
    return hit[1]


def villages_named(township_id: str, text: str) -> list[Facility]:
    """The centre's villages whose name contains `text` (村 and 嘎查 optional)."""
    text = text.strip()
    if not text:
        return []
    return [v for v in villages_of(township_id) if text in v.name]


def team_centre(team_id: str) -> str:
    """The township or community centre a team belongs to (cached)."""
    now = time.monotonic()
    hit = _team_centre.get(team_id)
    if hit is None or hit[0] < now:
        try:
            centre = Team.get(team_id).facility_id
        except DoesNotExist:
            centre = ""
        _team_centre[team_id] = hit = (now + _TTL, centre)
    return hit[1]
