"""The phones' outbox on the server side: many records per upload, one answer per record.

Each record carries the id its phone generated; every kind writes with a conditional claim
on that id (kept as long as the record), so the same batch uploaded twice stores nothing
twice and answers `already_stored`. A record the rules refuse is answered `refused` with
its code and stays on the phone, marked, for the doctor; the others go on. A record for a
resident who is no longer on the doctor's team is kept for the centre (`held`), never
dropped. Kinds are pluggable: `KINDS[name] = handler(user, record) -> Answer`.
"""
from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

from pynamodb.exceptions import PutError

from backend.errors import AppError, Conflict, Forbidden, NotFound
from backend.models.base import utcnow
from backend.models.sync import Device, HeldRecord
from backend.services.auth import CurrentUser

__all__ = ["Incoming", "Answer", "KINDS", "receive", "report_device", "MAX_RECORDS", "centre_phones",
           "unsynced_phones", "PhoneRow",
           "STORED", "ALREADY", "REFUSED", "HELD", "RETRY"]

log = logging.getLogger(__name__)

MAX_RECORDS = 50          # per request: 1,000 records are 20 requests, well inside 6 MB
STORED, ALREADY, REFUSED, HELD, RETRY = "stored", "already_stored", "refused", "held", "retry"
# Codes that mean "this person is not (or no longer) on your team": keep it for the centre.
NOT_ON_TEAM = {"not_found_or_not_permitted", "not_found"}
CONTENTION_RETRIES = 3


@dataclass
class Incoming:
    id: str
    kind: str
    resident_id: str
    made_at: str | None
    data: Any                      # the kind's validated schema instance
    raw: dict = field(default_factory=dict)


@dataclass
class Answer:
    id: str
    status: str
    code: str | None = None
    message: str | None = None
    verdict: dict | None = None    # the server's classification (replaces the phone's)
    current: dict | None = None    # a stale edit: what the server holds now

    def as_json(self) -> dict:
        return {k: v for k, v in asdict(self).items() if v is not None}


KINDS: dict[str, Callable[[CurrentUser, Incoming], Answer]] = {}


def _hold(user: CurrentUser, rec: Incoming, err: AppError) -> Answer:
    from backend.models.people import Resident
    from backend.services.contracts import get_team
    facility = get_team(user.team_id).facility_id
    try:
        name = Resident.get(rec.resident_id).name
    except Resident.DoesNotExist:
        name = None
    item = HeldRecord(facility, f"{user.login}#{rec.id}", login=user.login, team_id=user.team_id,
                      kind=rec.kind, resident_id=rec.resident_id, resident_name=name,
                      reason=err.code, data=rec.raw, made_at=rec.made_at, received_at=utcnow())
    try:
        item.save(condition=HeldRecord.record_key.does_not_exist())
    except PutError as e:
        if getattr(e, "cause_response_code", "") != "ConditionalCheckFailedException":
            raise
    return Answer(rec.id, HELD, code="not_on_team",
                  message="该居民已不在您的团队，记录已保存并交给中心核对")


def _one(user: CurrentUser, rec: Incoming) -> Answer:
    handler = KINDS.get(rec.kind)
    if handler is None:
        return Answer(rec.id, REFUSED, code="unknown_kind", message="不认识的记录类型，请更新应用")
    for attempt in range(CONTENTION_RETRIES + 1):
        try:
            return handler(user, rec)
        except (Forbidden, NotFound) as err:
            if err.code in NOT_ON_TEAM or isinstance(err, NotFound):
                return _hold(user, rec, err)
            return Answer(rec.id, REFUSED, code=err.code, message=err.message)
        except Conflict as err:
            # Another write of the same team claimed the next sequence number a moment
            # ago: try again (the claim on the record id keeps it once-only).
            if err.code in ("followup_conflict", "conflict") and attempt < CONTENTION_RETRIES:
                continue
            status = RETRY if err.code in ("followup_conflict", "conflict") else REFUSED
            return Answer(rec.id, status, code=err.code, message=err.message)
        except AppError as err:
            if err.status >= 500:
                return Answer(rec.id, RETRY, code=err.code, message=err.message)
            return Answer(rec.id, REFUSED, code=err.code, message=err.message)
    raise AssertionError("unreachable")


def receive(user: CurrentUser, records: list[Incoming]) -> list[Answer]:
    """Store each record (in order); one record's refusal never stops the others."""
    answers = []
    for rec in records:
        try:
            answers.append(_one(user, rec))
        except Exception:  # a bug in one record must not lose the acknowledgements of others
            log.exception("outbox record failed: %s %s", rec.kind, rec.id)
            answers.append(Answer(rec.id, RETRY, code="server_error",
                                  message="服务器处理这条记录时出错，稍后会自动重试"))
    return answers


def report_device(user: CurrentUser, *, device_id: str, pending: int, refused: int,
                  set_aside: int, residents: int, last_sync, label: str | None) -> Device:
    """A phone's last report (what it holds unsynced), seen by the centre's admin."""
    device = Device(user.login, device_id, team_id=user.team_id, label=label, pending=pending,
                    refused=refused, set_aside=set_aside, residents=residents,
                    last_sync=last_sync, reported_at=utcnow())
    device.save()
    return device


@dataclass
class PhoneRow:
    doctor: str
    team: str
    label: str | None
    pending: int
    refused: int
    set_aside: int
    last_sync: Any
    reported_at: Any


def centre_phones(user: CurrentUser) -> tuple[list[PhoneRow], list[HeldRecord]]:
    """The centre admin's view: each team member's phones (unsynced first) and held records.

    Teams of the centre (Query), then one Query per member; records held for the centre
    (Query). Seen before a doctor is moved or deactivated.
    """
    from backend.services.contracts import teams_of_facility
    if user.role != "township_admin" or not user.facility_id:
        raise Forbidden("只有中心管理员可以查看本中心的手机同步情况")
    rows = []
    for team in teams_of_facility(user.facility_id):
        for member in team.members:
            for d in Device.query(member.login):
                rows.append(PhoneRow(member.name, team.name, d.label, int(d.pending or 0),
                                     int(d.refused or 0), int(d.set_aside or 0), d.last_sync,
                                     d.reported_at))
    rows.sort(key=lambda r: (-(r.pending + r.refused + r.set_aside), r.team, r.doctor))
    held = list(HeldRecord.query(user.facility_id))
    return rows, held


def unsynced_phones(logins: list[str]) -> dict[str, int]:
    """Records each login's phones still hold unsynced (pending + refused + set aside)."""
    out = {}
    for login in logins:
        total = sum(int(d.pending or 0) + int(d.refused or 0) + int(d.set_aside or 0)
                    for d in Device.query(login))
        if total:
            out[login] = total
    return out
