"""Family-doctor care: teams, contracts, follow-ups, ledger, calls, medicine (JSON + pages)."""
from __future__ import annotations

from datetime import date
from typing import Literal

from flask import Blueprint, jsonify, render_template, request
from pydantic import Field

from backend import api
from backend.errors import Forbidden, NotFound
from backend.rules import contracts as contract_rules
from backend.rules import elderly
from backend.rules import followup as fu_rules
from backend.security import current_user, require
from backend.services import (calls, consent, contracts, followups, home_visits, ledger, medicine,
                              teams)
from backend.services.indicators import month_of
from backend.services.care_common import local_today, team_patient
from backend.services.residents import people_i_act_for

bp = Blueprint("care", __name__)

TAGS = ["家庭医生"]
Disease = Literal["hypertension", "diabetes"]


# ---- schemas -------------------------------------------------------------------------
class MemberIn(api.Schema):
    login: str = Field(min_length=3, max_length=64)
    name: str = Field(min_length=1, max_length=32)
    role: Literal["gp", "nurse", "public_health", "village_doctor"]
    phone: str = Field(pattern=r"^1[3-9]\d{9}$")
    title: str | None = Field(default=None, max_length=32)


class MembersIn(api.Schema):
    members: list[MemberIn] = Field(min_length=1, max_length=30)


class SignIn(api.Schema):
    resident_ids: list[str] = Field(min_length=1, max_length=20)
    team_id: str | None = Field(default=None, max_length=32)
    kind: Literal["individual", "household", "workplace"] = "individual"
    years: int
    channel: Literal["online", "desk"]
    consent_accepted: bool = False   # online: the resident confirms the text in the app
    consent_version: str | None = Field(default=None, max_length=16)
    paper_form_no: str | None = Field(default=None, max_length=32)  # desk: the signed form
    workplace: str | None = Field(default=None, max_length=64)


class RenewIn(api.Schema):
    years: int
    consent_accepted: bool = False
    consent_version: str | None = Field(default=None, max_length=16)
    paper_form_no: str | None = Field(default=None, max_length=32)


class OfferIn(api.Schema):
    resident_ids: list[str] = Field(min_length=1, max_length=20)
    kind: Literal["individual", "household", "workplace"] = "individual"
    years: int
    workplace: str | None = Field(default=None, max_length=64)


class ConfirmIn(api.Schema):
    consent_version: str = Field(min_length=1, max_length=16)


class EndIn(api.Schema):
    reason: str = Field(min_length=2, max_length=200)


class ContactIn(api.Schema):
    channel: Literal["phone", "wechat", "sms", "app", "visit"]
    note: str | None = Field(default=None, max_length=500)


class FollowUpIn(api.Schema):
    disease: Disease
    systolic: int | None = None
    diastolic: int | None = None
    fasting_glucose: float | None = None
    heart_rate: int | None = None
    temperature: float | None = None
    danger_symptoms: list[str] = Field(default_factory=list, max_length=10)
    medication: str | None = Field(default=None, max_length=500)
    adverse_reaction: Literal["none", "first", "hard_to_control"] = "none"
    new_complication: bool = False
    visit_date: date | None = None
    client_visit_id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_-]{8,64}$")

    def readings(self) -> fu_rules.Readings:
        """The measured values for the rules (the form and the offline outbox alike)."""
        return fu_rules.Readings(systolic=self.systolic, diastolic=self.diastolic,
                                 fasting_glucose=self.fasting_glucose, heart_rate=self.heart_rate,
                                 temperature=self.temperature,
                                 danger_symptoms=tuple(self.danger_symptoms),
                                 adverse_reaction=self.adverse_reaction,
                                 new_complication=self.new_complication)


class CallIn(api.Schema):
    disease: Disease
    outcome: Literal["agreed", "later", "remove"]
    reason: str | None = Field(default=None, max_length=200)
    note: str | None = Field(default=None, max_length=500)


class ReferIn(api.Schema):
    reason: str = Field(min_length=2, max_length=300)
    disease: Disease | None = None
    department: str | None = Field(default=None, max_length=32)
    urgent: bool = False


class ReturnIn(api.Schema):
    plan: str = Field(min_length=2, max_length=1000)


class ElderVisitIn(api.Schema):
    score: int
    flags: list[str] = Field(default_factory=list, max_length=10)
    note: str | None = Field(default=None, max_length=500)


class PrescriptionIn(api.Schema):
    disease: Disease
    weeks: int
    drugs: list[str] = Field(min_length=1, max_length=10)


class CollectorIn(api.Schema):
    collector_id: str = Field(min_length=1, max_length=64)
    relation: str = Field(min_length=1, max_length=16)


class CollectIn(api.Schema):
    collector_id: str = Field(min_length=1, max_length=64)


class HealthCheckIn(api.Schema):
    systolic: int
    diastolic: int
    fasting_glucose: float
    heart_rate: int


class LedgerQuery(api.Schema):
    grade: Literal["independent", "mild", "moderate", "dependent", "none"] | None = None
    village: str | None = Field(default=None, max_length=32)
    due_by: date | None = None


class Result(api.Schema):
    ok: bool
    message: str


# ---- serialisers ---------------------------------------------------------------------
def _contract(c) -> dict | None:
    if c is None:
        return None
    return {"contract_id": c.contract_id, "resident_id": c.resident_id, "team_id": c.team_id,
            "kind": c.kind, "years": int(c.years), "start": c.start, "end": c.end,
            "status": c.status, "channel": c.channel, "consent_version": c.consent_version,
            "consent_method": c.consent_method, "consent_form_no": c.consent_form_no,
            "group_id": c.group_id, "last_contact": c.last_contact}


def _case(c, today: date) -> dict:
    return {"resident_id": c.resident_id, "name": c.name, "disease": c.disease,
            "disease_label": fu_rules.DISEASES[c.disease], "village_id": c.village_id,
            "next_due": c.next_due, "overdue_days": max(0, (today - date.fromisoformat(c.next_due)).days),
            "last_visit": c.last_visit, "last_outcome": c.last_outcome,
            "last_bp": f"{int(c.last_systolic)}/{int(c.last_diastolic)}" if c.last_systolic else None,
            "high_risk": calls.high_risk(c),
            "visits_this_year": int(c.visits_count or 0) if c.visits_year == str(today.year) else 0,
            "hidden_until": c.hidden_until, "call_outcome": c.call_outcome}


class ServicePhoneOut(api.Schema):
    label: str
    number: str
    hours: str | None = None


class MemberOut(api.Schema):
    name: str
    role: str
    role_label: str
    title: str | None = None
    phone: str | None = None   # staff of the team and its centre only


class TeamOut(api.Schema):
    team_id: str
    name: str
    facility_id: str
    services: list[str]
    service_phones: list[ServicePhoneOut]
    members: list[MemberOut]


def _team(t, *, personal_phones: bool) -> dict:
    """A team as its viewer may see it: residents get the service phones, never mobiles."""
    return {"team_id": t.team_id, "name": t.name, "facility_id": t.facility_id,
            "services": list(t.services or contracts.DEFAULT_SERVICES),
            "service_phones": [{"label": p.label, "number": p.number, "hours": p.hours}
                               for p in t.service_phones or []],
            "members": [{"name": m.name, "role": m.role,
                         "role_label": contract_rules.TEAM_ROLES.get(m.role, m.role),
                         "title": m.title, **({"phone": m.phone} if personal_phones else {})}
                        for m in t.members]}


def _ok(message: str, **extra):
    return jsonify({"ok": True, "message": message, **extra})


# ---- teams and contracts --------------------------------------------------------------
@bp.get("/api/teams/<team_id>")
@require()
@api.describe(summary="查看家庭医生团队（居民：本人签约团队的服务电话；本团队与本中心员工：成员电话）",
              response=TeamOut, tags=TAGS)
def api_team(team_id: str):
    team, personal = teams.visible_team(current_user(), team_id)
    return jsonify(_team(team, personal_phones=personal))


@bp.put("/api/teams/<team_id>/members")
@require("township_admin")
@api.body(MembersIn, summary="调整团队成员（中心管理员；移出的成员立即失去访问）", response=TeamOut,
          tags=TAGS)
def api_team_members(data: MembersIn, team_id: str):
    team = teams.set_team_members(current_user(), team_id, [m.model_dump() for m in data.members])
    return jsonify(_team(team, personal_phones=True))


@bp.get("/api/contracts/consent")
@require()
@api.describe(summary="签约协议文本", tags=TAGS)
def api_consent():
    return jsonify({"version": contract_rules.CONSENT_VERSION, "text": contract_rules.CONSENT_TEXT})


@bp.post("/api/contracts")
@require("resident", "doctor")
@api.body(SignIn, summary="签约（线上或窗口；个人、家庭或单位）", response=Result, tags=TAGS)
def api_sign(data: SignIn):
    user = current_user()
    signed = contracts.sign(user, resident_ids=data.resident_ids, team_id=data.team_id,
                            kind=data.kind, years=data.years, channel=data.channel,
                            consent=consent.evidence(user, accepted=data.consent_accepted,
                                                     version=data.consent_version,
                                                     paper_form_no=data.paper_form_no),
                            workplace=data.workplace)
    return _ok(f"签约成功，共{len(signed)}人", contracts=[_contract(c) for c in signed]), 201


class OfferOut(api.Schema):
    offer_id: str
    team_name: str
    offered_by_name: str
    residents: list[dict]
    kind: str
    years: int
    consent_version: str
    consent_text: str


def _offer(o) -> dict:
    names = {r.resident_id: r.name for r in people_i_act_for(current_user())}
    return {"offer_id": o.offer_id, "team_name": contracts.get_team(o.team_id).name,
            "offered_by_name": o.offered_by_name, "kind": o.kind, "years": int(o.years),
            "residents": [{"resident_id": rid, "name": names.get(rid, "")}
                          for rid in o.resident_ids],
            "consent_version": contract_rules.CONSENT_VERSION,
            "consent_text": contract_rules.CONSENT_TEXT}


@bp.post("/api/contracts/offers")
@require("doctor")
@api.body(OfferIn, summary="窗口发起签约，居民在应用中确认（通知居民）", response=Result, tags=TAGS)
def api_offer(data: OfferIn):
    o = consent.offer(current_user(), resident_ids=data.resident_ids, kind=data.kind,
                      years=data.years, workplace=data.workplace)
    return _ok(f"已发送到居民的消息中，请居民在{consent.OFFER_DAYS}天内在应用中确认",
               offer_id=o.offer_id), 201


@bp.get("/api/contracts/offers/<offer_id>")
@require("resident")
@api.describe(summary="待我确认的签约邀请", response=OfferOut, tags=TAGS)
def api_offer_view(offer_id: str):
    return jsonify(_offer(consent.get_offer(current_user(), offer_id)))


@bp.post("/api/contracts/offers/<offer_id>/confirm")
@require("resident")
@api.body(ConfirmIn, summary="居民在应用中确认签约", response=Result, tags=TAGS)
def api_offer_confirm(data: ConfirmIn, offer_id: str):
    signed = consent.confirm(current_user(), offer_id, version=data.consent_version)
    return _ok(f"签约成功，共{len(signed)}人", contracts=[_contract(c) for c in signed]), 201


@bp.get("/api/contracts/<resident_id>")
@require("resident", "doctor")
@api.describe(summary="查看居民的有效签约", tags=TAGS)
def api_contract(resident_id: str):
    card = contracts.service_card(current_user(), resident_id)
    return jsonify({"contract": _contract(card["contract"])})


@bp.post("/api/contracts/<resident_id>/renew")
@require("resident", "doctor")
@api.body(RenewIn, summary="续约", response=Result, tags=TAGS)
def api_renew(data: RenewIn, resident_id: str):
    user = current_user()
    c = contracts.renew(user, resident_id, years=data.years,
                        consent=consent.evidence(user, accepted=data.consent_accepted,
                                                 version=data.consent_version,
                                                 paper_form_no=data.paper_form_no))
    return _ok(f"续约成功，新协议自{c.start}起至{c.end}", contract=_contract(c))


@bp.post("/api/contracts/<resident_id>/end")
@require("resident", "doctor")
@api.body(EndIn, summary="解约", response=Result, tags=TAGS)
def api_end(data: EndIn, resident_id: str):
    c = contracts.end_contract(current_user(), resident_id, reason=data.reason)
    return _ok("已解约", contract=_contract(c))


@bp.get("/api/care/residents/<resident_id>/card")
@require("resident", "doctor")
@api.describe(summary="签约服务卡", tags=TAGS)
def api_card(resident_id: str):
    card = contracts.service_card(current_user(), resident_id)
    r = card["resident"]
    return jsonify({"resident": {"resident_id": r.resident_id, "name": r.name,
                                 "conditions": sorted(r.conditions or [])},
                    "contract": _contract(card["contract"]),
                    "team": _team(card["team"], personal_phones=current_user().role == "doctor")
                    if card["team"] else None,
                    "given": card["given"]})


# ---- contacts -------------------------------------------------------------------------
@bp.post("/api/care/residents/<resident_id>/contacts")
@require("doctor")
@api.body(ContactIn, summary="记录一次联系", response=Result, tags=TAGS)
def api_contact(data: ContactIn, resident_id: str):
    contracts.log_contact(current_user(), resident_id, channel=data.channel, note=data.note)
    return _ok("已记录联系"), 201


@bp.get("/api/care/not-contacted")
@require("doctor")
@api.describe(summary="本季度尚未联系的签约居民", tags=TAGS)
def api_not_contacted():
    rows = contracts.not_contacted(current_user())
    return jsonify({"residents": [{"resident_id": c.resident_id, "name": c.name,
                                   "village_id": c.village_id, "last_contact": c.last_contact}
                                  for c in rows]})


# ---- follow-ups ----------------------------------------------------------------------
@bp.post("/api/care/residents/<resident_id>/followups")
@require("doctor")
@api.body(FollowUpIn, summary="记录高血压/糖尿病随访（自动分类并设定下次随访）", response=Result, tags=TAGS)
def api_followup(data: FollowUpIn, resident_id: str):
    f, result, referral = followups.record_followup(
        current_user(), resident_id, disease=data.disease, readings=data.readings(),
        medication=data.medication, visit_date=data.visit_date,
        client_visit_id=data.client_visit_id)
    msg = f"已保存：{result.label}，下次随访 {result.next_due.isoformat()}"
    if referral is not None:
        msg += "；已生成转诊单"
    return _ok(msg, outcome=result.outcome, next_due=result.next_due.isoformat(),
               refer=result.refer, reasons=list(result.reasons),
               referral_id=referral.referral_id if referral else None,
               visit_key=f.visit_key, client_visit_id=f.client_visit_id), 201


@bp.get("/api/care/residents/<resident_id>/followups")
@require("doctor")
@api.describe(summary="患者的随访记录与本年随访次数", tags=TAGS)
def api_history(resident_id: str):
    h = followups.history(current_user(), resident_id)
    today = local_today()
    year = str(today.year)
    return jsonify({
        "followups": [{"disease": f.disease, "visit_date": f.visit_date, "outcome": f.outcome,
                       "systolic": f.systolic, "diastolic": f.diastolic,
                       "fasting_glucose": f.fasting_glucose, "next_due": f.next_due}
                      for f in h["followups"]],
        "yearly": {c.disease: {"count": int(c.visits_count or 0) if c.visits_year == year else 0,
                               "required": fu_rules.MIN_FOLLOWUPS_PER_YEAR,
                               "short": fu_rules.followups_short(
                                   int(c.visits_count or 0) if c.visits_year == year else 0)}
                   for c in h["cases"]},
        "referrals": [{"referral_id": r.referral_id, "status": r.status, "reason": r.reason,
                       "plan": r.plan, "booking_ref": r.booking_ref} for r in h["referrals"]]})


class DueQuery(api.Schema):
    after: str | None = Field(default=None, max_length=120)
    limit: int = Field(default=30, ge=1, le=200)
    ended: bool = False   # the page after ending a contract says so


@bp.get("/api/care/due")
@require("doctor")
@api.describe(summary="7天内到期的随访（按到期日，分页）", tags=TAGS)
def api_due():
    q = api.query(DueQuery)
    lst = followups.due_list(_doctor(), limit=q.limit, after=q.after)
    return jsonify({"today": lst.today.isoformat(), "due": [_case(c, lst.today) for c in lst.due],
                    "more": lst.more_due})


@bp.get("/api/care/overdue")
@require("doctor")
@api.describe(summary="逾期随访（逾期最久的在前，分页）", tags=TAGS)
def api_overdue():
    q = api.query(DueQuery)
    lst = followups.overdue_list(_doctor(), limit=q.limit, after=q.after)
    return jsonify({"today": lst.today.isoformat(),
                    "overdue": [_case(c, lst.today) for c in lst.overdue],
                    "more": lst.more_overdue})


@bp.get("/api/care/calls")
@require("doctor")
@api.describe(summary="逾期患者电话名单（按风险排序）", tags=TAGS)
def api_calls():
    user = _doctor()
    board = followups.call_list(user)
    return jsonify({"patients": [_case(c, board.today) for c in board.rows],
                    "later": [_case(c, board.today) for c in board.later],
                    "agreed_waiting": board.agreed,
                    "overdue_contacted": followups.overdue_contacted(user.team_id, board.today)})


@bp.post("/api/care/residents/<resident_id>/calls")
@require("doctor")
@api.body(CallIn, summary="记录逾期患者的通话结果", response=Result, tags=TAGS)
def api_call(data: CallIn, resident_id: str):
    case = followups.record_call(current_user(), resident_id, disease=data.disease,
                                 outcome=data.outcome, reason=data.reason, note=data.note)
    return _ok(f"已记录：{contract_rules.CALL_OUTCOMES[data.outcome][0]}",
               hidden_until=case.hidden_until), 201


@bp.post("/api/care/residents/<resident_id>/referrals")
@require("doctor")
@api.body(ReferIn, summary="上转至牵头医院", response=Result, tags=TAGS)
def api_refer(data: ReferIn, resident_id: str):
    r = followups.refer_up(current_user(), resident_id, reason=data.reason, disease=data.disease,
                           department=data.department, urgent=data.urgent)
    return _ok("已上转，转诊随访两周内到期", referral_id=r.referral_id,
               booking_ref=r.booking_ref), 201


@bp.post("/api/care/residents/<resident_id>/referrals/<referral_id>/return")
@require("doctor", "hospital_admin")
@api.body(ReturnIn, summary="下转回基层（附管理方案）", response=Result, tags=TAGS)
def api_return(data: ReturnIn, resident_id: str, referral_id: str):
    followups.refer_back(current_user(), resident_id, referral_id, plan=data.plan)
    return _ok("已下转，随访两周内到期")


# ---- 65+ ledger ------------------------------------------------------------------------
@bp.get("/api/care/ledger")
@require("doctor", "township_admin")
@api.describe(summary="65岁及以上老年人台账（按分级、村、到期日筛选）", tags=TAGS)
def api_ledger():
    q = api.query(LedgerQuery)
    rows = ledger.ledger(current_user(), grade=q.grade, village_id=q.village, due_by=q.due_by)
    return jsonify({"residents": [r.__dict__ for r in rows]})


@bp.post("/api/care/residents/<resident_id>/elder-visits")
@require("doctor")
@api.body(ElderVisitIn, summary="老年人年度健康管理（自理能力评分）", response=Result, tags=TAGS)
def api_elder_visit(data: ElderVisitIn, resident_id: str):
    v = ledger.record_elder_visit(current_user(), resident_id, score=data.score,
                                  flags=data.flags, note=data.note)
    return _ok(f"已保存：{elderly.GRADES[v.grade]}，下次 {v.next_due}", grade=v.grade,
               next_due=v.next_due), 201


# ---- medicine and health checks --------------------------------------------------------
@bp.post("/api/care/residents/<resident_id>/prescriptions")
@require("doctor")
@api.body(PrescriptionIn, summary="开具长处方（4-12周）", response=Result, tags=TAGS)
def api_prescribe(data: PrescriptionIn, resident_id: str):
    rx = medicine.prescribe(current_user(), resident_id, disease=data.disease, weeks=data.weeks,
                            drugs=data.drugs)
    return _ok(f"已开具{int(rx.weeks)}周长处方，下次取药 {rx.next_refill}",
               prescription_id=rx.prescription_id, next_refill=rx.next_refill), 201


@bp.post("/api/care/residents/<resident_id>/collectors")
@require("resident", "doctor")
@api.body(CollectorIn, summary="授权亲属代取药", response=Result, tags=TAGS)
def api_collector(data: CollectorIn, resident_id: str):
    medicine.authorise_collector(current_user(), resident_id, collector_id=data.collector_id,
                                 relation=data.relation)
    return _ok("已授权代取药"), 201


@bp.post("/api/care/residents/<resident_id>/prescriptions/<prescription_id>/collect")
@require("doctor")
@api.body(CollectIn, summary="取药登记（本人或已授权亲属）", response=Result, tags=TAGS)
def api_collect(data: CollectIn, resident_id: str, prescription_id: str):
    rx = medicine.collect(current_user(), resident_id, prescription_id,
                          collector_id=data.collector_id)
    return _ok("已登记取药", next_refill=rx.next_refill)


@bp.post("/api/care/residents/<resident_id>/health-checks")
@require("doctor")
@api.body(HealthCheckIn, summary="脱贫人口年度免费健康体检", response=Result, tags=TAGS)
def api_health_check(data: HealthCheckIn, resident_id: str):
    hc = medicine.record_health_check(current_user(), resident_id, **data.model_dump())
    return _ok("已保存体检结果", flags=list(hc.flags)), 201


# ---- pages -----------------------------------------------------------------------------
def _doctor():
    user = current_user()
    if not user.team_id:
        raise Forbidden("您目前不属于任何家庭医生团队，请联系卫生院管理员", code="no_team")
    return user


@bp.get("/team")
@require("doctor")
def team_page():
    """The due list: one Query on by-team-due (benchmarked by bench.due_list)."""
    user = _doctor()
    q = api.query(DueQuery)
    lst = followups.due_list(user, limit=q.limit, after=q.after)
    return render_template("care/team.html", team=contracts.get_team(user.team_id),
                           rows=[_case(c, lst.today) for c in lst.due], today=lst.today,
                           more=lst.more_due, section="due", ended=q.ended,
                           home=home_visits.monthly(user.team_id, month_of(lst.today)))


@bp.get("/team/overdue")
@require("doctor")
def overdue_page():
    user = _doctor()
    q = api.query(DueQuery)
    lst = followups.overdue_list(user, limit=q.limit, after=q.after)
    return render_template("care/team.html", team=contracts.get_team(user.team_id),
                           rows=[_case(c, lst.today) for c in lst.overdue], today=lst.today,
                           more=lst.more_overdue, section="overdue")


@bp.get("/team/ledger")
@require("doctor", "township_admin")
def ledger_page():
    q = api.query(LedgerQuery)
    rows = ledger.ledger(current_user(), grade=q.grade, village_id=q.village, due_by=q.due_by)
    return render_template("care/ledger.html", rows=rows, q=q, grades=elderly.GRADES,
                           flags=ledger.PRIORITY_LABELS)


@bp.get("/team/uncontacted")
@require("doctor")
def uncontacted_page():
    rows = contracts.not_contacted(_doctor())
    return render_template("care/uncontacted.html", rows=rows)


@bp.get("/team/calls")
@require("doctor")
def calls_page():
    user = _doctor()
    board = followups.call_list(user)
    return render_template("care/calls.html", rows=[_case(c, board.today) for c in board.rows],
                           later=[_case(c, board.today) for c in board.later],
                           agreed=board.agreed, call_labels=contract_rules.CALL_OUTCOMES,
                           today_iso=board.today.isoformat(),
                           counted=followups.overdue_contacted(user.team_id, board.today),
                           outcomes=fu_rules.OUTCOMES)


@bp.get("/my-doctor")
@require("resident")
def my_doctor_page():
    user = current_user()
    people = []
    for p in people_i_act_for(user):
        c = contracts.current_contract(p.resident_id)
        people.append({"r": p, "contract": c})
    teams = contracts.teams_of_facility(people[0]["r"].township_id) if people else []
    offer, offer_error = None, None
    if request.args.get("offer"):
        try:
            offer = _offer(consent.get_offer(user, request.args["offer"]))
        except NotFound as err:
            offer_error = err.message
    return render_template("care/my_doctor.html", people=people, teams=teams,
                           offer=offer, offer_error=offer_error,
                           kinds=contract_rules.CONTRACT_KINDS,
                           consent=contract_rules.CONSENT_TEXT,
                           consent_version=contract_rules.CONSENT_VERSION, today=local_today())


@bp.get("/card/<resident_id>")
@require("resident", "doctor")
def card_page(resident_id: str):
    card = contracts.service_card(current_user(), resident_id)
    if card["contract"] is None:
        raise NotFound("该居民尚未签约，没有签约服务卡", code="no_active_contract")
    return render_template("care/card.html", card=card, kinds=contract_rules.CONTRACT_KINDS,
                           personal_phones=current_user().role == "doctor",
                           labels=fu_rules.DISEASES, roles=contract_rules.TEAM_ROLES)


__all__ = ["bp", "team_patient"]
