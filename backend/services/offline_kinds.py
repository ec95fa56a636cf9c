"""The record kinds a phone's outbox uploads: follow-ups, 65+ visits, resident details.

Each reuses its area's own service (which holds the rules and the id claim); the
resident-details edit lives here because only phones edit from a stale copy.
"""
from __future__ import annotations

from pynamodb.exceptions import DoesNotExist, TransactWriteError

from backend.errors import Conflict, ValidationFailed
from backend.models.base import transaction
from backend.models.people import Resident, Uniqueness
from backend.rules import elderly
from backend.rules import followup as fu_rules
from backend.rules.identity import is_mobile
from backend.services import audit, followups, ledger, sync_log
from backend.services.auth import CurrentUser
from backend.services.care_common import condition_failed, team_patient
from backend.services.outbox import ALREADY, KINDS, REFUSED, STORED, Answer, Incoming

__all__ = ["followup", "elder_visit", "resident_details"]


def followup(user: CurrentUser, rec: Incoming) -> Answer:
    d = rec.data
    replay = followups.visit_recorded(user, rec.id)
    _, result, referral = followups.record_followup(
        user, rec.resident_id, disease=d.disease, readings=d.readings(), medication=d.medication,
        visit_date=d.visit_date, client_visit_id=rec.id)
    verdict = {"outcome": result.outcome, "label": result.label,
               "next_due": result.next_due.isoformat(), "refer": result.refer,
               "reasons": list(result.reasons),
               "referral_id": referral.referral_id if referral else None}
    return Answer(rec.id, ALREADY if replay else STORED, verdict=verdict,
                  message=f"{fu_rules.DISEASES[d.disease]}随访：{result.label}，"
                          f"下次随访 {result.next_due.isoformat()}")


def elder_visit(user: CurrentUser, rec: Incoming) -> Answer:
    d = rec.data
    replay = ledger.recorded_elder_visit(user, rec.resident_id, rec.id)
    v = replay or ledger.record_elder_visit(user, rec.resident_id, score=d.score, flags=d.flags,
                                            note=d.note, visit_date=d.visit_date,
                                            client_record_id=rec.id)
    verdict = {"grade": v.grade, "label": elderly.GRADES[v.grade], "score": int(v.score),
               "next_due": v.next_due}
    return Answer(rec.id, ALREADY if replay else STORED, verdict=verdict,
                  message=f"自理能力 {int(v.score)} 分：{elderly.GRADES[v.grade]}，下次 {v.next_due}")


def _edit_claim(user: CurrentUser, record_id: str) -> str:
    return f"residentedit#{user.login}#{record_id}"


def resident_details(user: CurrentUser, rec: Incoming) -> Answer:
    """Edit a resident's phone number from the version the phone started from.

    The update is conditional on `version = base_version`: a stale edit (someone changed
    the record since the phone's copy) is refused with what the server holds now, for
    the doctor to resolve; it never silently wins or loses.
    """
    d = rec.data
    resident = team_patient(user, rec.resident_id)
    try:
        Uniqueness.get(_edit_claim(user, rec.id), consistent_read=True)
        return Answer(rec.id, ALREADY, verdict={"version": int(resident.version or 0)})
    except DoesNotExist:
        pass
    if d.phone is not None and not is_mobile(d.phone):
        raise ValidationFailed("手机号应为11位数字，以1开头", code="invalid_phone")
    current = int(resident.version or 0)
    if d.base_version != current:
        return _stale(rec, resident)
    base = Resident.version == current if current else Resident.version.does_not_exist()
    try:
        with transaction() as tx:
            tx.update(Resident(rec.resident_id), actions=[
                Resident.phone.set(d.phone) if d.phone else Resident.phone.remove(),
                Resident.version.set(current + 1)],
                condition=base & (Resident.team_id == user.team_id))
            tx.save(Uniqueness(_edit_claim(user, rec.id), owner=rec.resident_id),
                    condition=Uniqueness.key.does_not_exist())
            sync_log.stamp(tx, user.team_id, [rec.resident_id], "resident.details")
    except TransactWriteError as err:
        if condition_failed(err):
            now = Resident.get(rec.resident_id, consistent_read=True)
            if int(now.version or 0) == current and now.team_id == user.team_id:
                raise Conflict() from None  # the team's log moved: the outbox tries again
            return _stale(rec, now)
        raise
    audit.record(user, subject_id=rec.resident_id,
                 action="write", what="resident.details")
    return Answer(rec.id, STORED, verdict={"version": current + 1, "phone": d.phone},
                  message="已更新联系电话")


def _stale(rec: Incoming, resident: Resident) -> Answer:
    return Answer(rec.id, REFUSED, code="stale_edit",
                  message="该居民的信息在您离线期间已被他人修改，请核对后选择保留哪一个",
                  current={"phone": resident.phone, "version": int(resident.version or 0)})


KINDS.update({"followup": followup, "elder_visit": elder_visit,
              "resident_details": resident_details})
