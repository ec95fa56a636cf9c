"""Consent to a family-doctor contract: the evidence (app or paper) and desk offers that the
resident confirms in the app.

    evidence(user, ...)        what a form or API call sent → rules.Consent (or None)
    offer(doctor, ...)         the desk prepares a contract; the resident gets a notice
    get_offer(resident, id)    the offer, for the person(s) it is for (or their proxy)
    confirm(resident, id, v)   the resident confirms version v in the app → contracts.sign
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from pynamodb.exceptions import DoesNotExist

from backend.errors import Conflict, Forbidden, NotFound, NotFoundOrNotPermitted, ValidationFailed
from backend.models.base import new_id, utcnow
from backend.models.care import Contract, ContractOffer
from backend.models.people import Resident
from backend.rules import contracts as rules
from backend.services import audit, links, notify
from backend.services.auth import CurrentUser
from backend.services.care_common import local_today
from backend.services.contracts import MAX_GROUP, current_contract, get_team, sign
from backend.services.residents import may_act_for

__all__ = ["evidence", "offer", "get_offer", "confirm", "OFFER_DAYS"]

OFFER_DAYS = 14


def evidence(user: CurrentUser, *, accepted: bool = False, version: str | None = None,
             paper_form_no: str | None = None) -> rules.Consent | None:
    """A resident's confirmation in the app, or the paper form a doctor witnessed.

    None when nothing was given (the signing service then says what is missing).
    """
    try:
        if user.role == "resident":
            if not accepted:
                return None
            return rules.app_consent(version, audit.actor_id(user))
        if not paper_form_no:
            return None
        return rules.paper_consent(paper_form_no, version, audit.actor_id(user))
    except rules.ContractRuleError as err:
        raise ValidationFailed(str(err), code=err.code) from None


def offer(user: CurrentUser, *, resident_ids: list[str], kind: str, years: int,
          workplace: str | None = None) -> ContractOffer:
    """A desk contract waiting for the resident's own confirmation in the app."""
    if user.role != "doctor" or not user.team_id:
        raise Forbidden("只有家庭医生团队成员可以发起签约")
    try:
        rules.check_contract_years(years)
    except rules.ContractRuleError as err:
        raise ValidationFailed(str(err), code=err.code) from None
    ids = list(dict.fromkeys(resident_ids))
    if kind not in rules.CONTRACT_KINDS:
        raise ValidationFailed("签约类型只能是个人、家庭或单位", code="invalid_contract_kind")
    if not ids or len(ids) > MAX_GROUP or (kind == "individual" and len(ids) != 1):
        raise ValidationFailed(f"一次签约1到{MAX_GROUP}人，个人签约只能有一人",
                               code="invalid_group_size")
    team = get_team(user.team_id)
    people = {r.resident_id: r for r in Resident.batch_get(ids)}
    # The same answer for an unknown id and a resident outside the team's area.
    if len(people) != len(ids) or any(r.township_id != team.facility_id
                                      for r in people.values()):
        raise NotFoundOrNotPermitted()
    for rid in ids:
        held = current_contract(rid)
        if held is not None and held.status == "active" and held.end >= local_today().isoformat():
            raise Conflict("该居民已有有效的家庭医生签约，不能重复签约", code="already_contracted")
    now = utcnow()
    item = ContractOffer(new_id(), resident_ids=ids, team_id=team.team_id, kind=kind,
                         years=years, workplace=workplace or None,
                         offered_by=audit.actor_id(user), offered_by_name=user.display_name,
                         status="open", created_at=now,
                         expires_at=now + timedelta(days=OFFER_DAYS))
    item.save(condition=ContractOffer.offer_id.does_not_exist())
    notify.notify_many([notify.NoticeRequest(
        notify.resident_recipient(rid), "contract_offer", "请确认家庭医生签约",
        f"{team.name}的{user.display_name}为{people[rid].name}办理了家庭医生签约（{years}年）。"
        f"请在应用中阅读签约协议并确认，{OFFER_DAYS}天内有效；不确认则不会签约。",
        links.my_doctor(item.offer_id), False, f"contract_offer#{item.offer_id}#{rid}")
        for rid in ids])
    for rid in ids:
        audit.record(actor=audit.actor_id(user), actor_role=user.role, subject_id=rid,
                     action="write", what="contract.offer")
    return item


def get_offer(user: CurrentUser, offer_id: str) -> ContractOffer:
    """An open offer, for a resident who may act for everyone it names; else one answer."""
    missing = NotFound("签约邀请不存在、已失效或不属于您", code="offer_not_found")
    if not offer_id or len(offer_id) > 64:
        raise missing
    try:
        item = ContractOffer.get(offer_id)
    except DoesNotExist:
        raise missing from None
    if (item.status != "open" or item.expires_at < datetime.now(timezone.utc)
            or not all(may_act_for(user, rid) for rid in item.resident_ids)):
        raise missing
    return item


def confirm(user: CurrentUser, offer_id: str, *, version: str | None) -> list[Contract]:
    """The resident confirms the offered contract in the app: signed, witnessed by the
    doctor who offered it; the offer is accepted in the same transaction (at most once)."""
    item = get_offer(user, offer_id)
    try:
        consent = rules.app_consent(version, audit.actor_id(user), witness=item.offered_by)
    except rules.ContractRuleError as err:
        raise ValidationFailed(str(err), code=err.code) from None

    def accept(tx):
        tx.update(ContractOffer(item.offer_id), actions=[ContractOffer.status.set("accepted")],
                  condition=ContractOffer.status == "open")

    return sign(user, resident_ids=list(item.resident_ids), team_id=item.team_id,
                kind=item.kind, years=int(item.years), channel="online", consent=consent,
                workplace=item.workplace, offer_id=item.offer_id, extra=accept)
