"""Hypertension and diabetes follow-ups: record, classify, due lists, calls, referrals, digest."""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import date, timedelta

from pynamodb.exceptions import DoesNotExist, TransactWriteError

from backend.errors import Conflict, Forbidden, NotFound, ValidationFailed
from backend.models.base import new_id, transaction, utcnow
from backend.models.care import CareCounter, ChronicCase, FollowUp, Referral
from backend.models.facility import Team
from backend.models.people import Uniqueness
from backend.rules import contracts as contract_rules
from backend.rules import followup as rules
from backend.rules.identity import age_on
from backend.rules.duty import quarter_of
from backend.services import audit, links, notify, satisfaction, sync_log
from backend.services.indicators import Tally
from backend.services.auth import CurrentUser
from backend.services.care_common import condition_failed, local_today, team_patient

__all__ = ["record_followup", "visit_recorded", "due_list", "overdue_list", "DueList", "call_list", "record_call", "refer_up",
           "refer_back", "referral_booking", "referral_bookings", "history", "send_due_digests", "overdue_contacted",
           "LEAD_HOSPITAL"]

log = logging.getLogger(__name__)
LEAD_HOSPITAL = "hosp-01"


def _due_key(next_due: str, resident_id: str, disease: str) -> str:
    return f"{next_due}#{resident_id}#{disease}"


def _get_case(resident_id: str, disease: str) -> ChronicCase | None:
    try:
        return ChronicCase.get(resident_id, disease)
    except DoesNotExist:
        return None


def referral_booking(user: CurrentUser, referral: Referral) -> str | None:
    """Book the earliest place of the lead hospital's referral reserve for the patient.

    The referral is already stored; when no place is free (or booking fails) it stays
    without `booking_ref` and the hospital books it by phone.
    """
    from backend.services import booking
    try:
        return booking.book_referral(user, resident_id=referral.resident_id,
                                     facility_id=referral.to_facility,
                                     department=referral.department,
                                     referral_id=referral.referral_id)
    except Exception:  # a failed booking never loses the referral itself
        log.exception("referral booking failed")
        return None


def _new_referral(user: CurrentUser, resident_id: str, *, disease: str | None, reason: str,
                  department: str | None, urgent: bool) -> Referral:
    return Referral(resident_id, new_id(), team_id=user.team_id, disease=disease, reason=reason,
                    to_facility=LEAD_HOSPITAL, department=department or "内科", urgent=urgent,
                    status="referred", created_by=user.login, created_at=utcnow())


def _attach_booking(user: CurrentUser, referral: Referral) -> None:
    ref = referral_booking(user, referral)
    if ref:
        referral.update(actions=[Referral.booking_ref.set(ref)])
        _tell_referral_booked(referral, ref)


def _tell_referral_booked(referral: Referral, booking_id: str) -> None:
    """The patient referred up learns of the hospital appointment made for them (once)."""
    from datetime import date as _date

    from backend.models.booking import Booking
    b = Booking.get(booking_id)
    d = _date.fromisoformat(b.day)
    when = f"{d.month}月{d.day}日 周{'一二三四五六日'[d.weekday()]} {b.start}"
    notify.notify(notify.resident_recipient(referral.resident_id), kind="referral_booked",
                  title="转诊预约已为您挂号",
                  body=f"{b.subject_name}：家庭医生已为您转诊并预约了{b.facility_name}{b.department} "
                       f"{when}，请带好身份证和医保卡按时就诊。",
                  url=links.booking(booking_id), dedupe_key=f"referral_booked#{referral.referral_id}")


CLIENT_VISIT_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")


def _visit_claim_key(user: CurrentUser, client_visit_id: str) -> str:
    return f"visit#{user.login}#{client_visit_id}"


def _replayed_visit(user: CurrentUser, resident_id: str, disease: str, claim: Uniqueness
                    ) -> tuple[FollowUp, rules.Classification, Referral | None]:
    """The follow-up a client id already recorded (a retried POST writes nothing twice)."""
    owner_resident, _, visit_key = claim.owner.partition("|")
    if owner_resident != resident_id or not visit_key.startswith(f"{disease}#"):
        raise Conflict("该随访编号已用于另一条随访记录", code="client_visit_id_reused")
    try:
        followup = FollowUp.get(resident_id, visit_key, consistent_read=True)
    except DoesNotExist:
        raise Conflict("该随访编号已用于另一条随访记录", code="client_visit_id_reused") from None
    result = rules.Classification(outcome=followup.outcome, refer=bool(followup.refer),
                                  urgent=followup.outcome == "urgent_referral",
                                  next_due=date.fromisoformat(followup.next_due),
                                  reasons=tuple(followup.reasons or ()),
                                  controlled=followup.controlled is not False)
    referral = None
    if followup.referral_id:
        try:
            referral = Referral.get(resident_id, followup.referral_id, consistent_read=True)
        except DoesNotExist:
            referral = None
    audit.record(user, subject_id=resident_id, action="read",
                 what=f"followup.{disease}.replay")
    if referral is not None and not referral.booking_ref:
        _attach_booking(user, referral)  # idempotent by the referral id
    return followup, result, referral


def _visit_claim(user: CurrentUser, client_visit_id: str | None) -> Uniqueness | None:
    if client_visit_id is None:
        return None
    try:
        return Uniqueness.get(_visit_claim_key(user, client_visit_id), consistent_read=True)
    except DoesNotExist:
        return None


def visit_recorded(user: CurrentUser, client_visit_id: str) -> bool:
    """Whether this client id already recorded a follow-up (the outbox reports replays)."""
    return _visit_claim(user, client_visit_id) is not None


def record_followup(user: CurrentUser, resident_id: str, *, disease: str, readings: rules.Readings,
                    medication: str | None = None, visit_date: date | None = None,
                    client_visit_id: str | None = None
                    ) -> tuple[FollowUp, rules.Classification, Referral | None]:
    """Classify the visit, set the next due date, all in one transaction (never half-written).

    With `client_visit_id` (the client's id for this visit) the claim
    `visit#<login>#<client id>` is written in the same transaction, so a retried POST (a flaky
    network, an offline outbox replaying) returns the stored follow-up and writes nothing.
    """
    resident = team_patient(user, resident_id)
    if client_visit_id is not None and not CLIENT_VISIT_ID.match(client_visit_id):
        raise ValidationFailed("随访编号格式不正确（8-64位字母、数字、-或_）",
                               code="invalid_client_visit_id")
    claim = _visit_claim(user, client_visit_id)
    if claim is not None:
        return _replayed_visit(user, resident_id, disease, claim)
    if disease not in rules.DISEASES:
        raise ValidationFailed("随访病种只能是高血压或2型糖尿病", code="invalid_disease")
    if disease not in (resident.conditions or set()):
        raise ValidationFailed(f"该居民未登记为{rules.DISEASES[disease]}患者", code="not_a_patient")
    today = local_today()
    visit = visit_date or today
    if visit > today or visit < today - timedelta(days=30):
        raise ValidationFailed("随访日期须在最近30天内且不晚于今天", code="invalid_visit_date")
    case = _get_case(resident_id, disease)
    previous_bad = bool(case) and rules.previous_uncontrolled(case.last_controlled, case.last_outcome)
    age = age_on(date.fromisoformat(resident.birth_date), visit)
    try:
        result = rules.classify(disease, readings, age=age, visit=visit,
                                previous_uncontrolled=previous_bad)
    except rules.ImpossibleReading as err:
        raise ValidationFailed(str(err), code=err.code) from None
    year = str(visit.year)
    count = (case.visits_count + 1) if case and case.visits_year == year else 1
    now = utcnow()
    followup = FollowUp(resident_id, f"{disease}#{visit.isoformat()}#{new_id()}", disease=disease,
                        client_visit_id=client_visit_id,
                        visit_date=visit.isoformat(), team_id=user.team_id,
                        systolic=readings.systolic, diastolic=readings.diastolic,
                        fasting_glucose=readings.fasting_glucose, heart_rate=readings.heart_rate,
                        temperature=readings.temperature,
                        danger_symptoms=list(readings.danger_symptoms), medication=medication,
                        adverse_reaction=readings.adverse_reaction != "none",
                        adverse_reaction_kind=readings.adverse_reaction,
                        new_complication=readings.new_complication, outcome=result.outcome,
                        controlled=result.controlled,
                        refer=result.refer, reasons=list(result.reasons),
                        next_due=result.next_due.isoformat(), recorded_by=user.login,
                        recorded_at=now)
    due = result.next_due.isoformat()
    referral = None
    if result.refer:
        referral = _new_referral(user, resident_id, disease=disease,
                                 reason="；".join(result.reasons) or result.label,
                                 department="内科", urgent=result.urgent)
        followup.referral_id = referral.referral_id
    fields = dict(team_id=user.team_id, due_key=_due_key(due, resident_id, disease), next_due=due,
                  name=resident.name, village_id=resident.village_id,
                  birth_date=resident.birth_date, last_visit=visit.isoformat(),
                  last_outcome=result.outcome, last_controlled=result.controlled,
                  last_systolic=readings.systolic,
                  last_diastolic=readings.diastolic, visits_year=year, visits_count=count)
    # county indicators (services.indicators): counted in this visit's transaction
    tally = Tally()
    tally.month(resident.village_id, "followups", day=visit)
    if not (case and case.last_visit and quarter_of(date.fromisoformat(case.last_visit)) == quarter_of(visit)):
        tally.month(resident.village_id, "followup_cases_q", day=visit)
    try:
        with transaction() as tx:
            tally.apply(tx)
            tx.save(followup, condition=FollowUp.visit_key.does_not_exist())
            if client_visit_id is not None:
                tx.save(Uniqueness(_visit_claim_key(user, client_visit_id),
                                   owner=f"{resident_id}|{followup.visit_key}"),
                        condition=Uniqueness.key.does_not_exist())
            if referral is not None:
                tx.save(referral, condition=Referral.referral_id.does_not_exist())
            sync_log.stamp(tx, user.team_id, [resident_id], f"followup.{disease}")
            if case is None:
                tx.save(ChronicCase(resident_id, disease, revision=1, registered_on=visit.isoformat(), **fields),
                        condition=ChronicCase.disease.does_not_exist())
            else:
                actions = [getattr(ChronicCase, k).set(v) for k, v in fields.items() if v is not None]
                actions += [getattr(ChronicCase, k).remove() for k, v in fields.items() if v is None]
                actions += [ChronicCase.hidden_until.remove(), ChronicCase.call_outcome.remove(),
                            ChronicCase.removed_reason.remove(),
                            ChronicCase.revision.set(case.revision + 1)]
                tx.update(ChronicCase(resident_id, disease), actions=actions,
                          condition=ChronicCase.revision == case.revision)
    except TransactWriteError as err:
        if condition_failed(err):
            claim = _visit_claim(user, client_visit_id)
            if claim is not None:  # the same visit, sent twice at once: the first one won
                return _replayed_visit(user, resident_id, disease, claim)
            raise Conflict("该患者的随访刚被他人更新，请刷新后重试", code="followup_conflict") from None
        raise
    audit.record(user, subject_id=resident_id, action="write",
                 what=f"followup.{disease}")
    if referral is not None:
        _attach_booking(user, referral)
    satisfaction.invite(resident_id, url=visit_rating_url(resident_id, followup.visit_key),
                        what=f"{rules.DISEASES[disease]}随访", dedupe=followup.visit_key)
    return followup, result, referral


def visit_rating_url(resident_id: str, visit_key: str) -> str:
    return links.rate_visit(resident_id, visit_key)


def history(user: CurrentUser, resident_id: str) -> dict:
    """A patient's follow-ups (newest first), cases and referrals; audited."""
    resident = team_patient(user, resident_id)
    followups = sorted(FollowUp.query(resident_id), key=lambda f: f.visit_key.split("#", 1)[1],
                       reverse=True)
    cases = list(ChronicCase.query(resident_id))
    referrals = sorted(Referral.query(resident_id), key=lambda r: r.referral_id, reverse=True)
    audit.record(user, subject_id=resident_id, action="read",
                 what="followup.history")
    return {"resident": resident, "followups": followups, "cases": cases, "referrals": referrals}


def referral_bookings(referrals: list[Referral]) -> dict:
    """The hospital appointments booked for these referrals (one BatchGet), by booking id."""
    from backend.models.booking import Booking
    ids = sorted({r.booking_ref for r in referrals if r.booking_ref})
    return {b.booking_id: b for b in Booking.batch_get(ids)} if ids else {}


@dataclass
class DueList:
    today: date
    overdue: list[ChronicCase]
    due: list[ChronicCase]
    more_overdue: str | None = None   # cursor (the last due_key shown) when there is more
    more_due: str | None = None


def _page(team_id: str, low: str | None, high: str, limit: int) -> tuple[list[ChronicCase], str | None]:
    """One Query on by-team-due for low < due_key < high, at most `limit` items."""
    cond = ChronicCase.due_key.between(low, high) if low else ChronicCase.due_key < high
    items = list(ChronicCase.by_team_due.query(team_id, cond, limit=limit + 2, page_size=limit + 2))
    items = [c for c in items if c.due_key != low and c.due_key != high][:limit + 1]
    more = items[limit - 1].due_key if len(items) > limit else None
    return items[:limit], more


def _team_of(user: CurrentUser) -> str:
    """The doctor's team (current membership, read per request): the scope of every list."""
    if user is None or user.role != "doctor" or not user.team_id:
        raise Forbidden("您目前不属于任何家庭医生团队，请联系卫生院管理员", code="no_team")
    return user.team_id


def _shown_cases(lst: DueList) -> list[str]:
    return [c.resident_id for c in lst.overdue + lst.due]


@audit.list_view("care.due", shown=_shown_cases)
def due_list(user: CurrentUser, today: date | None = None, *, horizon_days: int = 7,
             limit: int = 30, after: str | None = None) -> DueList:
    """Follow-ups due from today to today + `horizon_days`, in due order, one page.

    One Query on the by-team-due index (team_id, due_key between today and the horizon)
    with a Limit, so the page costs the same for a team of 200 or 20,000.
    """
    today = today or local_today()
    until = (today + timedelta(days=horizon_days)).isoformat()
    start = f"{today.isoformat()}#"
    low = after if after and after > start else today.isoformat()
    due, more = _page(_team_of(user), low, f"{until}#~", limit)
    return DueList(today, [], due, None, more)


@audit.list_view("care.overdue", shown=_shown_cases)
def overdue_list(user: CurrentUser, today: date | None = None, *, limit: int = 30,
                 after: str | None = None) -> DueList:
    """Follow-ups past their due date, longest overdue first, one page (one Query)."""
    today = today or local_today()
    start = f"{today.isoformat()}#"
    overdue, more = _page(_team_of(user), after if after and after < start else None, start, limit)
    return DueList(today, overdue, [], more, None)


@audit.list_view("care.calls", shown=lambda board: [c.resident_id for c in board.rows + board.later])
def call_list(user: CurrentUser, today: date | None = None):
    """The team's overdue call board (`services.calls.CallBoard`), riskiest first.

    Patients who agreed to come (7 days) or asked to be called later (30 days) wait until
    then, the latter listed apart with their return day; high-risk patients never wait;
    removed patients have left the index.
    """
    from backend.services.calls import call_board
    return call_board(_team_of(user), today)


def _quarter(day: date) -> str:
    return f"{day.year}Q{(day.month - 1) // 3 + 1}"


def record_call(user: CurrentUser, resident_id: str, *, disease: str, outcome: str,
                reason: str | None = None, note: str | None = None) -> ChronicCase:
    """The outcome of a call to an overdue patient; counts each patient once a quarter."""
    from backend.services import contracts

    team_patient(user, resident_id)
    today = local_today()
    try:
        until = contract_rules.hidden_until(outcome, today)
    except contract_rules.ContractRuleError as err:
        raise ValidationFailed(str(err), code=err.code) from None
    if outcome == "remove" and len((reason or "").strip()) < 2:
        raise ValidationFailed("移出名单须填写原因", code="reason_required")
    case = _get_case(resident_id, disease)
    if case is None or case.team_id != user.team_id or not case.due_key \
            or case.next_due >= today.isoformat():
        raise Conflict("该患者目前不在逾期名单上", code="not_overdue")
    actions = [ChronicCase.call_outcome.set(outcome), ChronicCase.revision.set(case.revision + 1)]
    if outcome == "remove":
        actions += [ChronicCase.due_key.remove(), ChronicCase.removed_reason.set(reason.strip()),
                    ChronicCase.hidden_until.remove()]
    else:
        actions.append(ChronicCase.hidden_until.set(until.isoformat()))
    quarter = _quarter(today)
    claim_key = f"overduecall#{user.team_id}#{quarter}#{resident_id}#{disease}"

    def writes(count: bool):
        def extra(tx):
            tx.update(ChronicCase(resident_id, disease), actions=actions,
                      condition=ChronicCase.revision == case.revision)
            if count:
                tx.save(Uniqueness(claim_key, owner=resident_id),
                        condition=Uniqueness.key.does_not_exist())
                tx.update(CareCounter(user.team_id, f"overdue_contacted#{quarter}"),
                          actions=[CareCounter.count.add(1)])
        return extra

    label = contract_rules.CALL_OUTCOMES[outcome][0]
    text = f"{label}" + (f"：{reason.strip()}" if outcome == "remove" else "") + (f"；{note}" if note else "")
    try:
        Uniqueness.get(claim_key)
        counted = True
    except DoesNotExist:
        counted = False
    try:
        contracts.log_contact(user, resident_id, channel="phone", note=text, call_outcome=outcome,
                              disease=disease, extra=writes(not counted))
    except Conflict:
        if counted:
            raise
        # Another call counted this patient a moment ago: record the outcome uncounted.
        contracts.log_contact(user, resident_id, channel="phone", note=text,
                              call_outcome=outcome, disease=disease, extra=writes(False))
    return ChronicCase.get(resident_id, disease)


def overdue_contacted(team_id: str, today: date | None = None) -> int:
    """Distinct overdue patients called this quarter."""
    try:
        return int(CareCounter.get(team_id, f"overdue_contacted#{_quarter(today or local_today())}").count)
    except DoesNotExist:
        return 0


def _set_due(tx, case: ChronicCase, due: str, *also) -> None:
    """Move a case's next follow-up to `due` (and the due index with it), if unchanged."""
    tx.update(ChronicCase(case.resident_id, case.disease), actions=[
        ChronicCase.next_due.set(due),
        ChronicCase.due_key.set(_due_key(due, case.resident_id, case.disease)),
        *also,
        ChronicCase.revision.set(case.revision + 1)],
        condition=ChronicCase.revision == case.revision)


def refer_up(user: CurrentUser, resident_id: str, *, reason: str, disease: str | None = None,
             department: str | None = None, urgent: bool = False) -> Referral:
    """Refer up to the lead hospital; the follow-up on the referral is due in 2 weeks."""
    team_patient(user, resident_id)
    today = local_today()
    due = (today + timedelta(days=rules.REFERRAL_FOLLOWUP_DAYS)).isoformat()
    referral = _new_referral(user, resident_id, disease=disease, reason=reason,
                             department=department, urgent=urgent)
    cases = [c for c in ChronicCase.query(resident_id) if c.team_id == user.team_id
             and (disease is None or c.disease == disease)]
    try:
        with transaction() as tx:
            tx.save(referral, condition=Referral.referral_id.does_not_exist())
            sync_log.stamp(tx, user.team_id, [resident_id], "referral.up")
            for c in cases:
                if c.next_due <= due and c.due_key:
                    continue  # already due sooner
                _set_due(tx, c, due, ChronicCase.removed_reason.remove())
    except TransactWriteError as err:
        if condition_failed(err):
            raise Conflict("数据已变化，请刷新后重试") from None
        raise
    audit.record(user, subject_id=resident_id, action="write",
                 what="referral.up")
    _attach_booking(user, referral)
    return referral


def refer_back(user: CurrentUser, resident_id: str, referral_id: str, *, plan: str) -> Referral:
    """The hospital sends the patient back down with a plan; follow-up due in 2 weeks."""
    try:
        referral = Referral.get(resident_id, referral_id)
    except DoesNotExist:
        raise NotFound("找不到该转诊记录") from None
    if user.role == "hospital_admin":
        if user.facility_id != referral.to_facility:
            raise Forbidden("只能处理转到本院的患者")
    else:
        team_patient(user, resident_id)
    if referral.status != "referred":
        raise Conflict("该转诊已下转", code="already_returned")
    today = local_today()
    due = (today + timedelta(days=rules.REFERRAL_FOLLOWUP_DAYS)).isoformat()
    cases = [c for c in ChronicCase.query(resident_id) if c.team_id
             and (referral.disease is None or c.disease == referral.disease)]
    try:
        with transaction() as tx:
            tx.update(Referral(resident_id, referral_id), actions=[
                Referral.status.set("returned"), Referral.plan.set(plan),
                Referral.returned_by.set(user.login), Referral.returned_on.set(today.isoformat())],
                condition=Referral.status == "referred")
            sync_log.stamp(tx, next((c.team_id for c in cases), None), [resident_id], "referral.down")
            for c in cases:
                _set_due(tx, c, due, ChronicCase.hidden_until.remove())
    except TransactWriteError as err:
        if condition_failed(err):
            raise Conflict("该转诊已下转或数据已变化", code="already_returned") from None
        raise
    audit.record(user, subject_id=resident_id, action="write",
                 what="referral.down")
    return Referral.get(resident_id, referral_id)


def all_teams():
    """Every family-doctor team, found through the facility tree (Queries only)."""
    from backend.models.facility import Facility
    for county in Facility.by_parent.query("root"):
        for centre in Facility.by_parent.query(county.facility_id):
            if centre.kind in ("township", "community"):
                yield from Team.by_facility.query(centre.facility_id)


def send_due_digests(today: date) -> dict:
    """One notice a day per team member: how many follow-ups are due today and overdue.

    Counties → centres → teams by key (no Scan), then one Query per team. The dedupe key
    makes a retried run send nothing twice.
    """
    teams = sent = 0
    for team in all_teams():
        teams += 1
        due_today = ChronicCase.by_team_due.count(
            team.team_id, ChronicCase.due_key.between(f"{today.isoformat()}#", f"{today.isoformat()}#~"))
        overdue = ChronicCase.by_team_due.count(
            team.team_id, ChronicCase.due_key < f"{today.isoformat()}#")
        if not due_today and not overdue:
            continue
        title = f"今天有{due_today}位随访到期"
        body = f"{team.name}：今天到期{due_today}位，已逾期{overdue}位。"
        for member in team.members:
            if notify.notify(member.login, kind="followup_due", title=title, body=body,
                             url=links.team(), dedupe_key=f"followup-digest#{today.isoformat()}"):
                sent += 1
    return {"teams": teams, "sent": sent}
