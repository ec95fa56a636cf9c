"""Family-doctor teams and contracts: signing, renewal, ending, contacts, the service card."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from pynamodb.exceptions import DoesNotExist, TransactWriteError

from backend.errors import Conflict, Forbidden, NotFound, NotFoundOrNotPermitted, ValidationFailed
from backend.models.base import new_id, transaction, utcnow
from backend.models.care import (ChronicCase, Contact, Contract, ElderVisit, FollowUp,
                                 HealthCheck, Prescription, Referral)
from backend.models.facility import Facility, Team
from backend.models.people import Resident, Uniqueness
from backend.rules import contracts as rules
from backend.rules.notices import full_date
from backend.services import audit, links, notify, sync_log
from backend.services.auth import CurrentUser
from backend.services.care_common import condition_failed, local_today, team_patient
from backend.services.indicators import Tally
from backend.services.residents import get_resident, may_act_for
from backend.services.teams import get_team

__all__ = ["get_team", "teams_of_facility", "sign", "current_contract",
           "end_contract", "renew", "log_contact", "not_contacted", "service_card",
           "DEFAULT_SERVICES", "CHRONIC", "send_renewal_reminders", "expire_contracts",
           "team_residents"]

CHRONIC = ("hypertension", "diabetes")
DEFAULT_SERVICES = ["基本医疗服务", "健康档案管理", "慢病随访（每年至少4次）", "65岁及以上老年人年度健康管理",
                    "长处方与代取药", "上转就诊绿色通道", "每季度至少一次主动联系"]
MAX_GROUP = 19  # 5 writes a person + 2 for the team change log (sync) + indicator counters (checked); a transaction holds 100


def _claim_key(resident_id: str) -> str:
    return f"contract#{resident_id}"


def teams_of_facility(facility_id: str) -> list[Team]:
    return list(Team.by_facility.query(facility_id))


def current_contract(resident_id: str) -> Contract | None:
    """The contract that holds the person's claim (the running one, or its renewal)."""
    try:
        claim = Uniqueness.get(_claim_key(resident_id))
    except DoesNotExist:
        return None
    try:
        return Contract.get(resident_id, claim.owner)
    except DoesNotExist:
        return None


def _check_related(user: CurrentUser, resident_id: str) -> None:
    """Residents for themselves and whoever authorised them; doctors for their team's
    contracted residents. Anyone else: the answer an unknown id gets, before any state."""
    if user.role == "resident" and may_act_for(user, resident_id):
        return
    if user.role == "doctor":
        team_patient(user, resident_id)
        return
    raise NotFoundOrNotPermitted()


def _running(contract: Contract | None, today: date) -> bool:
    return contract is not None and contract.status == "active" and contract.end >= today.isoformat()


@dataclass
class _Plan:
    resident: Resident
    contract: Contract
    expired_owner: str | None
    cases: list[ChronicCase] = field(default_factory=list)
    new_cases: list[str] = field(default_factory=list)


def sign(user: CurrentUser, *, resident_ids: list[str], team_id: str | None, kind: str,
         years: int, channel: str, consent: rules.Consent | None, workplace: str | None = None,
         start: date | None = None, offer_id: str | None = None, extra=None) -> list[Contract]:
    """Sign one person, a household or a workplace group to a team, all or nothing.

    Online the resident (or their proxy) confirms `consent` in the app; at the desk the
    doctor records the signed paper form (`rules.paper_consent`) or sends an offer for the
    resident to confirm in the app (`services.consent.offer`). Each person is notified.
    `extra(tx)` adds a caller's writes to the signing transaction (the accepted offer).
    """
    today = local_today()
    try:
        begin, end = rules.contract_term(start or today, years)
    except rules.ContractRuleError as err:
        raise ValidationFailed(str(err), code=err.code) from None
    if kind not in rules.CONTRACT_KINDS:
        raise ValidationFailed("签约类型只能是个人、家庭或单位", code="invalid_contract_kind")
    ids = list(dict.fromkeys(resident_ids))
    if not ids or len(ids) > MAX_GROUP:
        raise ValidationFailed(f"一次签约1到{MAX_GROUP}人", code="invalid_group_size")
    if kind == "individual" and len(ids) != 1:
        raise ValidationFailed("个人签约只能有一人", code="invalid_group_size")
    if kind == "workplace" and not (workplace or "").strip():
        raise ValidationFailed("单位签约须填写单位名称", code="workplace_required")
    if begin < today:
        raise ValidationFailed("签约开始日期不能早于今天", code="start_in_past")

    if channel == "online":
        if user.role != "resident":
            raise Forbidden("线上签约须由居民本人或其授权人办理")
        if consent is None or consent.method != "app":
            raise ValidationFailed("请先阅读并同意签约协议", code="consent_required")
        for rid in ids:
            if not may_act_for(user, rid):
                raise NotFoundOrNotPermitted()
    elif channel == "desk":
        if user.role != "doctor" or not user.team_id:
            raise Forbidden("窗口签约须由家庭医生团队成员办理")
        if team_id and team_id != user.team_id:
            raise Forbidden("只能签约到您所在的团队")
        if consent is None or consent.method != "paper" or consent.witness != audit.actor_id(user):
            raise ValidationFailed("窗口签约须填写居民签字的纸质协议编号，或发送到居民手机上确认",
                                   code="paper_form_required")
        team_id = user.team_id
    else:
        raise ValidationFailed("签约方式只能是线上或窗口", code="invalid_channel")
    if not team_id:
        raise ValidationFailed("请选择家庭医生团队", code="team_required")
    team = get_team(team_id)

    residents = {r.resident_id: r for r in Resident.batch_get(ids)}
    if len(residents) != len(ids):
        raise NotFoundOrNotPermitted()
    if kind == "household" and len({r.household_id for r in residents.values()}) != 1:
        raise ValidationFailed("家庭签约的成员须属于同一户", code="not_one_household")
    for r in residents.values():
        if r.township_id != team.facility_id:
            if channel == "desk":  # a doctor learns nothing of people outside their area
                raise NotFoundOrNotPermitted()
            raise ValidationFailed(f"{r.name}不在该团队的服务范围内", code="outside_team_area")

    claims = {c.key: c for c in Uniqueness.batch_get([_claim_key(i) for i in ids])}
    cases = {(c.resident_id, c.disease): c for c in ChronicCase.batch_get(
        [(i, d) for i in ids for d in CHRONIC if d in (residents[i].conditions or set())])}
    group_id = new_id()
    now = utcnow()
    plans = []
    tally = Tally()
    for rid in ids:
        r = residents[rid]
        expired_owner = None
        claim = claims.get(_claim_key(rid))
        if claim is not None:
            held = current_contract(rid)
            if _running(held, today) or (held is not None and held.status == "active"
                                         and held.start > today.isoformat()):
                who = r.name if channel == "online" else "该居民"
                raise Conflict(f"{who}已有有效的家庭医生签约，不能重复签约",
                               code="already_contracted")
            expired_owner = claim.owner
        contract = Contract(rid, new_id(), group_id=group_id, team_id=team.team_id, kind=kind,
                            workplace=(workplace or None), years=years, start=begin.isoformat(),
                            end=end.isoformat(), status="active", channel=channel,
                            **_consent_fields(consent), offer_id=offer_id,
                            signed_by=audit.actor_id(user), signed_at=now,
                            services=list(team.services or DEFAULT_SERVICES), name=r.name,
                            village_id=r.village_id, active_team=team.team_id,
                            contact_key=f"0000-00-00#{rid}")
        plan = _Plan(r, contract, expired_owner)
        # county indicators: a contract past its end but not yet expired by the nightly
        # task is still counted, so signing again replaces it in the count
        replaces = claim is not None and held is not None and held.status == "active"
        tally.stock(r.village_id, "contracted", 0 if replaces else 1)
        tally.month(r.village_id, "contracts_signed")
        for d in CHRONIC:
            if d not in (r.conditions or set()):
                continue
            if (rid, d) in cases:
                plan.cases.append(cases[(rid, d)])
            else:
                plan.new_cases.append(d)
        plans.append(plan)

    writes = sum(3 + len(p.new_cases) + len(p.cases) for p in plans) + 2 + (2 if extra is not None else 0)
    if writes + len(tally) > 100:
        raise ValidationFailed("一次签约的人数太多（跨村太多），请分批签约", code="invalid_group_size")
    try:
        with transaction() as tx:
            tally.apply(tx)
            for p in plans:
                rid = p.resident.resident_id
                if p.expired_owner is None:
                    tx.save(Uniqueness(_claim_key(rid), owner=p.contract.contract_id),
                            condition=Uniqueness.key.does_not_exist())
                else:
                    tx.update(Uniqueness(_claim_key(rid)),
                              actions=[Uniqueness.owner.set(p.contract.contract_id)],
                              condition=Uniqueness.owner == p.expired_owner)
                tx.save(p.contract, condition=Contract.contract_id.does_not_exist())
                tx.update(Resident(rid), actions=[Resident.team_id.set(team.team_id)],
                          condition=Resident.resident_id.exists())
                for d in p.new_cases:
                    tx.save(ChronicCase(rid, d, team_id=team.team_id, next_due=today.isoformat(),
                                        registered_on=today.isoformat(),
                                        due_key=f"{today.isoformat()}#{rid}#{d}",
                                        name=p.resident.name, village_id=p.resident.village_id,
                                        birth_date=p.resident.birth_date, revision=1),
                            condition=ChronicCase.disease.does_not_exist())
                for c in p.cases:
                    tx.update(ChronicCase(rid, c.disease), actions=[
                        ChronicCase.team_id.set(team.team_id),
                        ChronicCase.due_key.set(f"{c.next_due}#{rid}#{c.disease}"),
                        ChronicCase.removed_reason.remove(),
                        ChronicCase.revision.set(c.revision + 1)],
                        condition=ChronicCase.revision == c.revision)
            # Phones of the new team get these people; a previous team's phones drop them.
            moves: dict[str, list[str]] = {team.team_id: [p.resident.resident_id for p in plans]}
            for p in plans:
                if p.resident.team_id and p.resident.team_id != team.team_id:
                    moves.setdefault(p.resident.team_id, []).append(p.resident.resident_id)
            sync_log.stamp_many(tx, moves, "contract.sign")
            if extra is not None:
                extra(tx)
    except TransactWriteError as err:
        if condition_failed(err):
            raise Conflict("签约时数据已变化（可能已有有效签约），请刷新后重试",
                           code="already_contracted") from None
        raise
    for p in plans:
        audit.record(actor=audit.actor_id(user), actor_role=user.role,
                     subject_id=p.resident.resident_id, action="write", what="contract.sign")
    _notify_signed(team, [p.contract for p in plans])
    return [p.contract for p in plans]


def _consent_fields(consent: rules.Consent) -> dict:
    return {"consent_version": consent.version, "consent_text": rules.CONSENT_TEXT,
            "consent_method": consent.method, "consent_witness": consent.witness,
            "consent_form_no": consent.form_no, "consent_confirmed_by": consent.confirmed_by}


def _notify_signed(team: Team, signed: list[Contract]) -> None:
    """Everyone signed learns of it in their inbox, whoever did the signing."""
    requests = []
    for c in signed:
        how = (f"纸质协议编号 {c.consent_form_no}" if c.consent_method == "paper"
               else "已在应用中确认")
        requests.append(notify.NoticeRequest(
            notify.resident_recipient(c.resident_id), "contract_signed", "家庭医生签约已生效",
            f"{c.name}已与{team.name}签约，{full_date(c.start)}至{full_date(c.end)}（{how}）。"
            "如非本人意愿，可在“家庭医生”页面解约，或联系所在卫生院。",
            links.my_doctor(), False, f"contract_signed#{c.contract_id}"))
    notify.notify_many(requests)


def _end_actions(tx, contract: Contract, cases: list[ChronicCase], status: str,
                 reason: str | None) -> None:
    rid = contract.resident_id
    tx.update(Contract(rid, contract.contract_id), actions=[
        Contract.status.set(status), Contract.active_team.remove(), Contract.contact_key.remove(),
        Contract.ended_reason.set(reason or status)],
        condition=Contract.status == "active")
    tx.update(Resident(rid), actions=[Resident.team_id.remove()],
              condition=Resident.team_id == contract.team_id)
    sync_log.stamp(tx, contract.team_id, [rid], f"contract.{status}")
    for c in cases:
        tx.update(ChronicCase(rid, c.disease), actions=[
            ChronicCase.team_id.remove(), ChronicCase.due_key.remove(),
            ChronicCase.revision.set(c.revision + 1)], condition=ChronicCase.revision == c.revision)


def end_contract(user: CurrentUser | None, resident_id: str, *, reason: str,
                 status: str = "cancelled") -> Contract:
    """Cancel (the person or their team) or expire (the daily task, user None)."""
    if user is not None:
        _check_related(user, resident_id)
    contract = current_contract(resident_id)
    if contract is None or contract.status != "active":
        raise NotFound("该居民没有有效签约", code="no_active_contract")
    if user is not None and user.role == "doctor" and user.team_id != contract.team_id:
        raise NotFoundOrNotPermitted()
    cases = list(ChronicCase.query(resident_id))
    tally = Tally()  # county indicators, in the same transaction
    tally.stock(contract.village_id, "contracted", -1)
    tally.month(contract.village_id, "contracts_ended")
    try:
        with transaction() as tx:
            tally.apply(tx)
            tx.delete(Uniqueness(_claim_key(resident_id)),
                      condition=Uniqueness.owner == contract.contract_id)
            _end_actions(tx, contract, [c for c in cases if c.team_id], status, reason)
    except TransactWriteError as err:
        if condition_failed(err):
            raise Conflict("签约状态已变化，请刷新后重试") from None
        raise
    audit.record(actor=user.login if user else "system", actor_role=user.role if user else "task",
                 subject_id=resident_id, action="write", what=f"contract.{status}")
    contract.status = status
    return contract


def renew(user: CurrentUser, resident_id: str, *, years: int,
          consent: rules.Consent | None) -> Contract:
    """A new term from the day after the running one ends; the claim moves with it.

    A renewal is a new agreement: the same consent evidence as signing (app or paper)."""
    try:
        rules.check_contract_years(years)
    except rules.ContractRuleError as err:
        raise ValidationFailed(str(err), code=err.code) from None
    _check_related(user, resident_id)
    today = local_today()
    old = current_contract(resident_id)
    if not _running(old, today) or old.start > today.isoformat():
        raise NotFound("没有可续约的有效签约", code="no_active_contract")
    if user.role == "resident":
        if consent is None or consent.method != "app":
            raise ValidationFailed("请先阅读并同意签约协议", code="consent_required")
        channel = "online"
    elif user.role == "doctor" and user.team_id == old.team_id:
        if consent is None or consent.method != "paper" or consent.witness != audit.actor_id(user):
            raise ValidationFailed("窗口续约须填写居民签字的纸质协议编号", code="paper_form_required")
        channel = "desk"
    else:
        raise NotFoundOrNotPermitted()
    begin, end = rules.contract_term(date.fromisoformat(old.end) + timedelta(days=1), years)
    new = Contract(resident_id, new_id(), group_id=old.group_id, team_id=old.team_id,
                   kind=old.kind, workplace=old.workplace, years=years, start=begin.isoformat(),
                   end=end.isoformat(), status="active", channel=channel,
                   **_consent_fields(consent),
                   signed_by=audit.actor_id(user), signed_at=utcnow(), services=list(old.services),
                   name=old.name, village_id=old.village_id, active_team=old.team_id,
                   contact_key=old.contact_key, last_contact=old.last_contact)
    try:
        with transaction() as tx:
            tx.update(Uniqueness(_claim_key(resident_id)),
                      actions=[Uniqueness.owner.set(new.contract_id)],
                      condition=Uniqueness.owner == old.contract_id)
            tx.update(Contract(resident_id, old.contract_id), actions=[
                Contract.status.set("renewed"), Contract.active_team.remove(),
                Contract.contact_key.remove()], condition=Contract.status == "active")
            tx.save(new, condition=Contract.contract_id.does_not_exist())
    except TransactWriteError as err:
        if condition_failed(err):
            raise Conflict("签约已续约或已变化，请刷新后重试", code="already_renewed") from None
        raise
    audit.record(actor=audit.actor_id(user), actor_role=user.role, subject_id=resident_id,
                 action="write", what="contract.renew")
    _notify_signed(get_team(old.team_id), [new])
    return new


def log_contact(user: CurrentUser, resident_id: str, *, channel: str, note: str | None = None,
                call_outcome: str | None = None, disease: str | None = None,
                extra=None) -> Contact:
    """Log a contact; the contract's last-contact key moves in the same transaction.

    `extra(tx)` lets a caller (the overdue call list) add its writes to the same transaction.
    """
    team_patient(user, resident_id)
    if channel not in rules.CONTACT_CHANNELS:
        raise ValidationFailed("联系方式只能是电话、微信、短信、应用消息或上门", code="invalid_channel")
    contract = current_contract(resident_id)
    if contract is None or contract.status != "active":
        raise Conflict("该居民没有有效签约", code="no_active_contract")
    now = utcnow()
    today = local_today().isoformat()
    contact = Contact(resident_id, f"{now.isoformat()}#{new_id()}", channel=channel, note=note,
                      call_outcome=call_outcome, disease=disease, team_id=user.team_id,
                      by=user.login, at=now)
    # county indicators: the first contact of the quarter counts, guarded by the condition
    since = rules.quarter_start(local_today()).isoformat()
    condition = Contract.active_team == user.team_id
    tally = Tally()
    if not contract.last_contact or contract.last_contact < since:
        tally.month(contract.village_id, "contacts_first_q")
        condition &= Contract.last_contact.does_not_exist() | (Contract.last_contact < since)
    try:
        with transaction() as tx:
            tally.apply(tx)
            tx.save(contact, condition=Contact.contact_key.does_not_exist())
            tx.update(Contract(resident_id, contract.contract_id), actions=[
                Contract.last_contact.set(today),
                Contract.contact_key.set(f"{today}#{resident_id}")],
                condition=condition)
            if extra is not None:
                extra(tx)
    except TransactWriteError as err:
        if condition_failed(err):
            raise Conflict("数据已变化，请刷新后重试") from None
        raise
    audit.record(actor=user.login, actor_role=user.role, subject_id=resident_id,
                 action="write", what="contact.log")
    return contact


def not_contacted(user: CurrentUser, today: date | None = None) -> list[Contract]:
    """The team's contracted residents with no contact since this quarter began (one Query)."""
    if user.role != "doctor" or not user.team_id:
        raise Forbidden()
    since = rules.quarter_start(today or local_today()).isoformat()
    return list(Contract.by_team_contact.query(user.team_id, Contract.contact_key < since))


def team_residents(user: CurrentUser) -> list[Resident]:
    """A family doctor's contracted residents (`Resident.team_id` == the doctor's team), by name.

    One Query on the sparse by-team-contact index (active contracts), then one BatchGetItem
    of the people; anyone whose `Resident.team_id` has moved on is left out.
    """
    if user.role != "doctor" or not user.team_id:
        raise Forbidden("只有家庭医生团队成员可以查看签约居民")
    ids = list(dict.fromkeys(c.resident_id for c in Contract.by_team_contact.query(user.team_id)))
    people = [r for r in Resident.batch_get(ids) if r.team_id == user.team_id] if ids else []
    return sorted(people, key=lambda r: (r.name, r.resident_id))


def service_card(user: CurrentUser, resident_id: str) -> dict:
    """签约服务卡: person, conditions, team with phones, contracted services, services given."""
    if user.role == "resident":
        if not may_act_for(user, resident_id):
            raise NotFoundOrNotPermitted()
        resident = get_resident(resident_id)
    else:
        resident = team_patient(user, resident_id)
    contract = current_contract(resident_id)
    team = get_team(contract.team_id) if contract else None
    from backend.rules.elderly import GRADES
    from backend.rules.followup import DISEASES, OUTCOMES
    screening = {"suspected_hypertension": "疑似高血压", "suspected_diabetes": "疑似糖尿病",
                 "abnormal_heart_rate": "心率异常"}
    given: list[dict] = []
    for f in FollowUp.query(resident_id):
        given.append({"date": f.visit_date, "what": f"{DISEASES.get(f.disease, '')}随访",
                      "detail": OUTCOMES.get(f.outcome, f.outcome)})
    for e in ElderVisit.query(resident_id, ElderVisit.visit_key.startswith("visit#")):
        given.append({"date": e.visit_date, "what": "老年人健康管理",
                      "detail": GRADES.get(e.grade, e.grade)})
    for c in Contact.query(resident_id):
        given.append({"date": c.at.date().isoformat(), "what": "联系",
                      "detail": rules.CONTACT_CHANNELS.get(c.channel, c.channel)})
    for r in Referral.query(resident_id):
        given.append({"date": r.created_at.date().isoformat(), "what": "转诊",
                      "detail": "已下转" if r.status == "returned" else "已上转"})
    for p in Prescription.query(resident_id):
        given.append({"date": p.start, "what": "长处方", "detail": f"{p.weeks}周"})
    for h in HealthCheck.query(resident_id):
        given.append({"date": h.check_date, "what": "免费健康体检",
                      "detail": "、".join(screening.get(x, x) for x in h.flags) or "未见异常"})
    given.sort(key=lambda g: g["date"], reverse=True)
    audit.record(actor=user.login, actor_role=user.role, subject_id=resident_id, action="read",
                 what="contract.service_card")
    facility = None
    if team is not None:
        try:
            facility = Facility.get(team.facility_id)
        except DoesNotExist:
            facility = None
    return {"resident": resident, "contract": contract, "team": team, "facility": facility,
            "given": given}


def send_renewal_reminders(today: date) -> int:
    """Contracts ending in 30 days: one reminder each (deduplicated per contract)."""
    day = (today + timedelta(days=30)).isoformat()
    sent = 0
    for c in Contract.by_end.query(day, filter_condition=Contract.status == "active"):
        notice = notify.notify(notify.resident_recipient(c.resident_id), kind="contract_renewal",
                               title="家庭医生签约即将到期",
                               body=f"{c.name}的家庭医生签约将于{c.end}到期，请及时续约。",
                               url=links.my_doctor(), dedupe_key=f"renewal#{c.contract_id}")
        sent += notice is not None
    return sent


def expire_contracts(today: date) -> int:
    """Contracts that ended yesterday and were not renewed lose their claim and team."""
    day = (today - timedelta(days=1)).isoformat()
    ended = 0
    for c in Contract.by_end.query(day, filter_condition=Contract.status == "active"):
        held = current_contract(c.resident_id)
        if held is None or held.contract_id != c.contract_id:
            continue
        try:
            end_contract(None, c.resident_id, reason="到期", status="ended")
            ended += 1
        except (Conflict, NotFound):
            continue
    return ended
