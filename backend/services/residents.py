"""Residents' records: who may see whom, and every look recorded in the audit trail."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from pynamodb.exceptions import DoesNotExist

from backend.errors import Forbidden, NotFoundOrNotPermitted, ValidationFailed
from backend.models.base import utcnow
from backend.models.people import ProxyGrant, Resident, Uniqueness, save_with_claim
from backend.rules.access_reasons import AccessReason
from backend.rules.identity import IdentityNumber, parse_identity_number
from backend.services import audit
from backend.services.auth import CurrentUser

__all__ = ["get_resident", "open_record", "may_act_for", "people_i_act_for", "create_resident",
           "find_by_id_number", "id_number_claim", "valid_id_number", "RecordView", "age_of"]


@dataclass(frozen=True)
class RecordView:
    resident: Resident
    full_id_number: bool  # staff who need the whole number see it; everyone else masked


def get_resident(resident_id: str) -> Resident:
    """The resident, for callers that check the relation next (they raise the same error)."""
    if not resident_id or len(resident_id) > 64:
        raise NotFoundOrNotPermitted()
    try:
        return Resident.get(resident_id)
    except DoesNotExist:
        raise NotFoundOrNotPermitted() from None


def may_act_for(user: CurrentUser, subject_id: str) -> bool:
    """A resident acts for themself and for people who authorised them (one GetItem)."""
    if user.role != "resident" or not user.resident_id:
        return False
    if subject_id == user.resident_id:
        return True
    try:
        ProxyGrant.get(user.resident_id, subject_id)
        return True
    except DoesNotExist:
        return False


def people_i_act_for(user: CurrentUser) -> list[Resident]:
    """Self first, then everyone who authorised this resident."""
    if not user.resident_id:
        return []
    ids = [user.resident_id] + [g.subject_id for g in ProxyGrant.query(user.resident_id)]
    found = {r.resident_id: r for r in Resident.batch_get(ids)}
    return [found[i] for i in ids if i in found]


def _check_access(user: CurrentUser, resident: Resident, reason: AccessReason | None) -> bool:
    """Whether `user` may open `resident`'s record; returns whether the full id is shown."""
    if user.role == "resident":
        if may_act_for(user, resident.resident_id):
            return False
    elif user.role == "doctor":
        if resident.team_id and resident.team_id == user.team_id:
            return True
    elif user.role == "township_admin":
        if resident.township_id == user.facility_id:
            return True
    elif user.role == "county":
        # The commission sees indicators; a single record only with a reason from the list
        # (routes.residents takes it from a POST body, never from the URL).
        if isinstance(reason, AccessReason):
            return False
        raise Forbidden("查看个人健康档案须选择查看理由", code="reason_required")
    raise NotFoundOrNotPermitted()


def open_record(user: CurrentUser, resident_id: str, *,
                reason: AccessReason | None = None) -> RecordView:
    """Read a health record after the access check; the read (and its reason) is audited."""
    resident = get_resident(resident_id)
    full = _check_access(user, resident, reason)
    audit.record(user, subject_id=resident.resident_id, action="read", what="resident.record",
                 reason=reason.code if reason else None,
                 reason_note=reason.note if reason else None)
    return RecordView(resident=resident, full_id_number=full)


def age_of(resident: Resident, today: date | None = None) -> int:
    from backend.rules.identity import age_on
    return age_on(date.fromisoformat(resident.birth_date), today or date.today())


def id_number_claim(normalised: str) -> str:
    """The uniqueness key of an identity number, always of its normalised spelling."""
    return f"idno#{normalised}"


def valid_id_number(raw: str) -> IdentityNumber:
    """Normalised (NFKC, upper-case X) and checked; 422 invalid_id_number with the reason."""
    try:
        return parse_identity_number(raw)
    except ValueError as err:
        raise ValidationFailed(str(err), code="invalid_id_number") from None


def find_by_id_number(raw: str) -> Resident | None:
    """Who is registered under this number, however it was typed (two GetItems)."""
    ident = valid_id_number(raw)
    try:
        claim = Uniqueness.get(id_number_claim(ident.value))
    except DoesNotExist:
        return None
    try:
        return Resident.get(claim.owner)
    except DoesNotExist:
        return None


def create_resident(*, resident_id: str, id_number: str, name: str, phone: str | None,
                    household_id: str, village_id: str, township_id: str,
                    team_id: str | None = None, conditions: set[str] | None = None) -> Resident:
    """Register a person; the normalised identity number is claimed in the same transaction."""
    ident = valid_id_number(id_number)
    resident = Resident(resident_id, id_number=ident.value, name=name, sex=ident.sex,
                        birth_date=ident.birth_date.isoformat(), phone=phone,
                        household_id=household_id, village_id=village_id,
                        township_id=township_id, team_id=team_id,
                        conditions=conditions or set(), created_at=utcnow())
    if not save_with_claim(resident, id_number_claim(ident.value), resident_id):
        raise ValidationFailed("该身份证号已登记", code="duplicate_id_number")
    return resident
