"""The patient page, one view per record type (summary, follow-up, medicine, referrals,
contract, visits), and its no-JavaScript forms: POST, then 303 to the view with a Chinese
confirmation. Every view is a health-data read, audited by the services it calls."""
from __future__ import annotations

from datetime import date
from typing import Literal

from flask import Blueprint, jsonify, redirect, render_template, request, url_for
from pydantic import Field

from backend import api
from backend.errors import AppError, NotFound, ValidationFailed
from backend.models.base import new_id
from backend.routes.care import (CollectIn, CollectorIn, EndIn, HealthCheckIn, PrescriptionIn,
                                 ReferIn, RenewIn, _doctor)
from backend.rules import contracts as contract_rules
from backend.rules import followup as fu_rules
from backend.rules.identity import age_on, mask_identity_number
from backend.security import require
from backend.services import consent, contracts, followups, home_visits, medicine, patient_summary
from backend.services.care_common import local_today
from backend.services.indicators import month_of

bp = Blueprint("patient", __name__)

# view -> tab label; "" is the summary
VIEWS = {"": "概况", "followup": "随访", "medicine": "用药", "referrals": "转诊",
         "contract": "签约", "visits": "上门"}


def _render(resident_id: str, view: str, *, errors: dict | None = None,
            values: dict | None = None):
    user = _doctor()
    h = followups.history(user, resident_id)   # audited: followup.history
    r = h["resident"]
    today = local_today()
    diseases = [d for d in fu_rules.DISEASES if d in (r.conditions or set())]
    done = request.args.get("done", "")
    ctx = dict(r=r, h=h, diseases=diseases, view=view, views=VIEWS,
               age=age_on(date.fromisoformat(r.birth_date), today),
               id_masked=mask_identity_number(r.id_number), today=today,
               labels=fu_rules.DISEASES, outcomes=fu_rules.OUTCOMES,
               reactions=fu_rules.ADVERSE_REACTIONS,
               year=str(today.year), need=fu_rules.MIN_FOLLOWUPS_PER_YEAR,
               channels=contract_rules.CONTACT_CHANNELS,
               flag_labels=SCREENING_LABELS, consent_version=contract_rules.CONSENT_VERSION,
               visit_id=new_id(), errors=errors or {}, values=values or {},
               done=PAGE_FORMS[done][2] if done in PAGE_FORMS else None,
               done_form=done if done in PAGE_FORMS else None,
               home_kinds=home_visits.KINDS)
    if view == "":
        ctx["s"] = patient_summary.summary(r, h["cases"], h["followups"], today)
    if view in ("medicine", "followup"):
        ctx["med"] = medicine.overview(user, resident_id)
    if view == "referrals":
        ctx["bookings"] = followups.referral_bookings(h["referrals"])
    if view == "contract":
        ctx["contract"] = contracts.current_contract(resident_id)
    if view == "visits":
        ctx["home"] = home_visits.visits_of(user, resident_id)
    return render_template("care/patient.html", **ctx)


@bp.get("/team/patients/<resident_id>")
@require("doctor")
def patient_page(resident_id: str):
    return _render(resident_id, "")


@bp.get("/team/patients/<resident_id>/<any(followup, medicine, referrals, contract, visits):view>")
@require("doctor")
def patient_view(resident_id: str, view: str):
    return _render(resident_id, view)


SCREENING_LABELS = {"suspected_hypertension": "疑似高血压", "suspected_diabetes": "疑似糖尿病",
                    "abnormal_heart_rate": "心率异常"}


# ---- page forms (no JavaScript: POST, then 303 back to the patient page) ----------------
class ReferForm(ReferIn):
    pass


class CollectForm(CollectIn):
    prescription_id: str = Field(min_length=1, max_length=64)


class EndForm(EndIn):
    confirm: bool = False


FIELD_LABELS = {"reason": "转诊原因", "disease": "病种", "department": "科室", "weeks": "周数",
                "drugs": "药品", "collector_id": "取药人", "relation": "关系",
                "prescription_id": "处方", "systolic": "收缩压", "diastolic": "舒张压",
                "fasting_glucose": "空腹血糖", "heart_rate": "心率", "years": "续约年限",
                "confirm": "确认", "urgent": "紧急", "paper_form_no": "纸质协议编号",
                "consent_version": "协议版本"}
ACTION_LABELS = {"end": {"reason": "解约原因"}}
BOOLEAN_FIELDS = {"urgent", "confirm", "consent_accepted"}


def _form_data(form) -> dict:
    data: dict = {}
    for key in form:
        if key == "csrf_token":
            continue
        value = form.get(key, "").strip()
        if key in BOOLEAN_FIELDS:
            data[key] = value not in ("", "0", "off", "false")
        elif key == "drugs":
            parts = value.replace("，", "\n").replace(",", "\n").replace("、", "\n").splitlines()
            data[key] = [d.strip() for d in parts if d.strip()]
        elif value != "":
            data[key] = value
    return data


def _parse_form(schema: type[api.Schema], form, labels: dict | None = None) -> api.Schema:
    """The same schema as the JSON API, with Chinese field names in the message."""
    from pydantic import ValidationError
    try:
        return schema.model_validate(_form_data(form))
    except ValidationError as err:
        first = err.errors(include_url=False)[0]
        field = str(first["loc"][0]) if first["loc"] else ""
        label = {**FIELD_LABELS, **(labels or {})}.get(field, "填写内容")
        raise ValidationFailed(f"{label}：{api._MESSAGES.get(first['type'], '取值无效')}",
                               code="invalid_form") from None


def _do_refer(user, rid, d: ReferForm):
    followups.refer_up(user, rid, reason=d.reason, disease=d.disease, department=d.department,
                       urgent=d.urgent)


def _do_prescribe(user, rid, d: PrescriptionIn):
    medicine.prescribe(user, rid, disease=d.disease, weeks=d.weeks, drugs=d.drugs)


def _do_collector(user, rid, d: CollectorIn):
    medicine.authorise_collector(user, rid, collector_id=d.collector_id, relation=d.relation)


def _do_collect(user, rid, d: CollectForm):
    medicine.collect(user, rid, d.prescription_id, collector_id=d.collector_id)


def _do_check(user, rid, d: HealthCheckIn):
    medicine.record_health_check(user, rid, **d.model_dump())


def _do_renew(user, rid, d: RenewIn):
    contracts.renew(user, rid, years=d.years,
                    consent=consent.evidence(user, version=d.consent_version,
                                             paper_form_no=d.paper_form_no))


def _do_end(user, rid, d: EndForm):
    if not d.confirm:
        raise ValidationFailed("请勾选“确认解约”后再提交", code="confirm_required")
    contracts.end_contract(user, rid, reason=d.reason)


# action -> (schema, handler, message shown after the redirect)
PAGE_FORMS = {
    "refer": (ReferForm, _do_refer, "已上转至牵头医院，转诊随访两周内到期"),
    "prescribe": (PrescriptionIn, _do_prescribe, "已开具长处方"),
    "collector": (CollectorIn, _do_collector, "已记录代取药授权"),
    "collect": (CollectForm, _do_collect, "已登记取药，下次取药日期已更新"),
    "check": (HealthCheckIn, _do_check, "已保存年度免费健康体检"),
    "renew": (RenewIn, _do_renew, "已续约"),
    "end": (EndForm, _do_end, "已解约"),
}


class HomeVisitForm(api.Schema):
    kind: str = Field(min_length=1, max_length=16)
    visit_date: date | None = None
    done: str = Field(min_length=2, max_length=1000)
    next_visit: date | None = None


def _do_home_visit(user, rid, d: HomeVisitForm):
    home_visits.record(user, rid, kind=d.kind, visit_date=d.visit_date, done=d.done,
                       next_visit=d.next_visit)


PAGE_FORMS["home-visit"] = (HomeVisitForm, _do_home_visit, "已保存上门服务记录")
FIELD_LABELS.update({"kind": "服务类型", "visit_date": "服务日期", "done": "服务内容",
                     "next_visit": "下次上门日期"})
# the view each form lives on
FORM_VIEWS = {"refer": "referrals", "prescribe": "medicine", "collect": "medicine",
              "collector": "medicine", "check": "followup", "renew": "contract",
              "end": "contract", "home-visit": "visits"}


@bp.post("/team/patients/<resident_id>/forms/<action>")
@require("doctor")
def patient_form(resident_id: str, action: str):
    if action not in PAGE_FORMS:
        raise NotFound("没有这个操作")
    schema, handler, _ = PAGE_FORMS[action]
    user = _doctor()
    try:
        handler(user, resident_id, _parse_form(schema, request.form, ACTION_LABELS.get(action)))
    except AppError as err:
        if err.status >= 500 or err.status == 401:
            raise
        values = {k: v for k, v in request.form.items() if k != "csrf_token"}
        return _render(resident_id, FORM_VIEWS[action], errors={action: err.message},
                       values={action: values}), err.status
    if action == "end":  # the team no longer looks after this person
        return redirect(url_for("care.team_page", ended=1), code=303)
    return redirect(url_for("patient.patient_view", resident_id=resident_id,
                            view=FORM_VIEWS[action], done=action,
                            _anchor=f"form-{action}"), code=303)


# ---- home services, JSON ---------------------------------------------------------------
TAGS = ["家庭医生"]


class HomeVisitIn(api.Schema):
    kind: Literal["treatment", "nursing", "rehab", "family_bed"]
    visit_date: date | None = None
    done: str = Field(min_length=2, max_length=1000)
    next_visit: date | None = None


class MonthQuery(api.Schema):
    month: str | None = Field(default=None, pattern=r"^\d{4}-(0[1-9]|1[0-2])$")


def _home(v) -> dict:
    return {"visit_key": v.visit_key, "kind": v.kind, "kind_label": home_visits.KINDS[v.kind],
            "visit_date": v.visit_date, "done": v.done, "next_visit": v.next_visit}


@bp.post("/api/care/residents/<resident_id>/home-visits")
@require("doctor")
@api.body(HomeVisitIn, summary="记录上门服务（上门治疗、上门护理、康复指导、家庭病床查床）",
          tags=TAGS)
def api_home_visit(data: HomeVisitIn, resident_id: str):
    v = home_visits.record(_doctor(), resident_id, kind=data.kind, visit_date=data.visit_date,
                           done=data.done, next_visit=data.next_visit)
    return jsonify({"ok": True, "message": f"已保存：{home_visits.KINDS[v.kind]}",
                    "visit": _home(v)}), 201


@bp.get("/api/care/residents/<resident_id>/home-visits")
@require("doctor")
@api.describe(summary="居民的上门服务记录（仅本团队）", tags=TAGS)
def api_home_visits(resident_id: str):
    return jsonify({"visits": [_home(v) for v in home_visits.visits_of(_doctor(), resident_id)]})


@bp.get("/api/care/home-visits/monthly")
@require("doctor")
@api.describe(summary="本团队每月上门服务次数（按类型）", tags=TAGS)
def api_home_monthly():
    q = api.query(MonthQuery)
    month = q.month or month_of(local_today())
    return jsonify({"team_id": _doctor().team_id, **home_visits.monthly(_doctor().team_id, month)})
