"""Registration (建档): staff register residents into households; one person, one record.

`register_resident` is the one way a resident record is created by staff (the desk, the
doctor in a village, a resident's self-registration request handled by staff).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from pynamodb.exceptions import DoesNotExist, TransactWriteError

from backend.errors import Conflict, Forbidden, NotFound, ValidationFailed
from backend.models.base import condition_failed, new_id, transaction, utcnow
from backend.models.people import Resident, Uniqueness
from backend.models.registry import Household
from backend.rules import registry as rules
from backend.rules.followup import DISEASES
from backend.services import audit, places
from backend.services.auth import CurrentUser
from backend.services.residents import find_by_id_number, id_number_claim, valid_id_number
from backend.services.search import search_key_items, search_scope

__all__ = ["register_resident", "household", "HouseholdView", "RELATIONS"]

RELATIONS = rules.RELATIONS
_REQUEST_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")


def _head_claim_key(household_id: str) -> str:
    return f"hhhead#{household_id}"


def _may_see(user: CurrentUser, r: Resident) -> bool:
    if user.role == "township_admin":
        return r.township_id == user.facility_id
    return user.role == "doctor" and bool(user.team_id) and r.team_id == user.team_id


def _duplicate(user: CurrentUser, id_number: str) -> Conflict:
    """The refusal of a second record: it points at the first only for staff who may see it."""
    existing = find_by_id_number(id_number)
    if existing is not None and _may_see(user, existing):
        return Conflict(f"该身份证号已登记：{existing.name}（{places.name_of(existing.village_id)}）",
                        code="duplicate_id_number",
                        details=[{"resident_id": existing.resident_id, "name": existing.name,
                                  "url": f"/team/patients/{existing.resident_id}"}])
    return Conflict("该身份证号已登记。如需查看或迁入，请联系居民所在的乡镇卫生院",
                    code="duplicate_id_number")


def _replayed(request_key: str) -> Resident | None:
    try:
        return Resident.get(Uniqueness.get(request_key, consistent_read=True).owner)
    except DoesNotExist:
        return None


def register_resident(user: CurrentUser, *, id_number: str, name: str, phone: str | None,
                      village_id: str, household_id: str | None = None, relation: str = rules.HEAD,
                      address: str | None = None, conditions: set[str] | None = None,
                      request_id: str | None = None) -> Resident:
    """Register one person (建档) and return the stored record.

    - `user`: a family doctor (their team's centre) or a township admin (their centre).
    - `id_number`: as typed; normalised (NFKC, upper-case X) and validated (GB 11643) by
      `backend.rules.identity.parse_identity_number`; sex and birth date come from it.
    - `name`, `phone` (optional mainland mobile): normalised; `village_id`: a village clinic
      of the user's centre.
    - `household_id=None` opens a new household with this person as 户主; otherwise the
      person joins that household (same centre) with `relation` (one of `RELATIONS`; one
      户主 per household).
    - `conditions`: diseases already diagnosed (`hypertension`, `diabetes`).
    - `request_id` (8-64 of A-Z a-z 0-9 _ -): a retried call with the same id returns the
      record it created and writes nothing.
    Refusals: `ValidationFailed` (invalid_id_number, invalid_name, invalid_phone,
    invalid_village, invalid_household, invalid_relation, invalid_condition),
    `Conflict` (duplicate_id_number: `details[0]` names the existing record only when the
    user may see it; household_has_head), `Forbidden` for other roles. One transaction:
    the identity-number claim, the resident, the household (or its head claim) and the
    search terms; nothing is half-written. Audited.
    """
    township = search_scope(user)
    request_key = None
    if request_id is not None:
        if not _REQUEST_ID.match(request_id):
            raise ValidationFailed("请求编号格式不正确", code="invalid_request_id")
        request_key = f"register#{user.login}#{request_id}"
        if (done := _replayed(request_key)) is not None:
            return done
    ident = valid_id_number(id_number)
    try:
        name = rules.normalise_name(name)
        phone = rules.normalise_phone(phone)
    except rules.RegistryRuleError as err:
        raise ValidationFailed(str(err), code=err.code) from None
    if village_id not in {v.facility_id for v in places.villages_of(township)}:
        raise ValidationFailed("请选择本中心服务范围内的村", code="invalid_village")
    unknown = set(conditions or ()) - set(DISEASES)
    if unknown:
        raise ValidationFailed("慢病只能是高血压或2型糖尿病", code="invalid_condition")
    if relation not in RELATIONS:
        raise ValidationFailed("与户主关系不正确", code="invalid_relation")
    now = utcnow()
    resident_id = f"res-{new_id()}"
    new_household = household_id is None
    if new_household:
        household_id, relation = f"hh-{new_id()}", rules.HEAD
    else:
        try:
            home = Household.get(household_id)
        except DoesNotExist:
            raise ValidationFailed("找不到该家庭户", code="invalid_household") from None
        if home.township_id != township:
            raise ValidationFailed("该家庭户不在本中心服务范围", code="invalid_household")
    resident = Resident(resident_id, id_number=ident.value, name=name, sex=ident.sex,
                        birth_date=ident.birth_date.isoformat(), phone=phone,
                        household_id=household_id, household_relation=relation,
                        village_id=village_id, township_id=township,
                        conditions=set(conditions or ()), created_at=now)
    try:
        with transaction() as tx:
            tx.save(Uniqueness(id_number_claim(ident.value), owner=resident_id),
                    condition=Uniqueness.key.does_not_exist())
            tx.save(resident, condition=Resident.resident_id.does_not_exist())
            if request_key:
                tx.save(Uniqueness(request_key, owner=resident_id),
                        condition=Uniqueness.key.does_not_exist())
            if new_household:
                tx.save(Household(household_id, village_id=village_id, township_id=township,
                                  head_id=resident_id, head_name=name, address=address,
                                  created_by=user.login, created_at=now),
                        condition=Household.household_id.does_not_exist())
            elif relation == rules.HEAD:
                tx.save(Uniqueness(_head_claim_key(household_id), owner=resident_id),
                        condition=Uniqueness.key.does_not_exist())
                tx.update(Household(household_id), actions=[Household.head_id.set(resident_id),
                                                             Household.head_name.set(name)],
                          condition=Household.head_id.does_not_exist())
            for item in search_key_items(resident):
                tx.save(item)
    except TransactWriteError as err:
        if not condition_failed(err):
            raise
        if request_key and (done := _replayed(request_key)) is not None:
            return done
        try:
            owner = Uniqueness.get(id_number_claim(ident.value), consistent_read=True).owner
        except DoesNotExist:
            raise Conflict("该家庭户已有户主，请选择与户主的关系", code="household_has_head") from None
        if owner != resident_id:
            raise _duplicate(user, ident.value) from None
        # The SDK retried a transaction that had gone through: it is this very record.
    audit.record(user, subject_id=resident_id, action="write",
                 what="resident.register")
    return resident


@dataclass
class HouseholdView:
    household: Household
    members: list[Resident]   # the head first, then by birth date


def household(user: CurrentUser, household_id: str) -> HouseholdView:
    """A household and its members, for staff of its centre."""
    try:
        home = Household.get(household_id)
    except DoesNotExist:
        raise NotFound("找不到该家庭户") from None
    if home.township_id != search_scope(user):
        raise Forbidden("该家庭户不在本中心服务范围")
    ids = [k.resident_id for k in Resident.by_household.query(household_id)]
    members = sorted(Resident.batch_get(ids),
                     key=lambda r: (r.household_relation != rules.HEAD, r.birth_date))
    audit.record(user, subject_id=household_id, action="read",
                 what="household.members")
    return HouseholdView(home, members)
