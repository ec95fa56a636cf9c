"""Children in a household, their vaccination book (接种本) and health checks, recording doses.

A child is a `Resident` in the parent's household; the parent is authorised for the child
by a `ProxyGrant` written in the same transaction as the child (and the identity-number
claim, or a request claim when the child has no number yet). Doses are `VaccinationDose`
items written with `attribute_not_exists`: a dose is recorded once. Every read of a child's
book and every write is audited.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from pynamodb.exceptions import DoesNotExist, PutError, TransactWriteError

from backend.errors import Conflict, Forbidden, NotFound, ValidationFailed
from backend.models.base import condition_failed, new_id, transaction, utcnow
from backend.models.facility import Facility
from backend.models.people import ProxyGrant, Resident, Uniqueness
from backend.models.vaccination import ChildCheck, VaccinationDose
from backend.rules import child_checks, immunisation
from backend.rules.identity import InvalidIdentityNumber, age_on, parse_identity_number
from backend.services import audit
from backend.services.care_common import local_today
from backend.services.residents import get_resident, may_act_for, people_i_act_for

__all__ = ["NewChild", "add_child", "my_children", "child_book", "ChildBook", "record_dose",
           "DoseInput", "record_check", "CHILD_MAX_AGE", "VACCINATING_KINDS", "history_of",
           "authorise_child", "plan_for"]

CHILD_MAX_AGE = 18          # the programme ends before 18 (HPV at 13)
VACCINATING_KINDS = ("township", "community")
RELATIONS = ("父亲", "母亲", "祖父母", "外祖父母", "监护人")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")


@dataclass(frozen=True)
class NewChild:
    name: str
    relation: str
    client_request_id: str
    id_number: str | None = None
    birth_date: date | None = None
    sex: str | None = None
    discharge_date: date | None = None
    parent_id: str | None = None     # staff only: the parent the child is added to


def _staff_may_manage(user, resident: Resident) -> bool:
    if user.role == "doctor":
        return bool(resident.team_id) and resident.team_id == user.team_id
    if user.role == "township_admin":
        return resident.township_id == user.facility_id
    return False


def _identity(data: NewChild, today: date) -> tuple[str, date, str]:
    if data.id_number:
        try:
            ident = parse_identity_number(data.id_number, today=today)
        except InvalidIdentityNumber as err:
            raise ValidationFailed(str(err), code="invalid_id_number") from None
        return ident.value, ident.birth_date, ident.sex
    if data.birth_date is None or data.sex not in ("M", "F"):
        raise ValidationFailed("没有身份证号时请填写出生日期和性别", code="birth_date_required")
    return "", data.birth_date, data.sex


def add_child(user, data: NewChild) -> Resident:
    """Add a child to the parent's household and authorise the parent; idempotent per request."""
    if not _REQUEST_ID.fullmatch(data.client_request_id or ""):
        raise ValidationFailed("请求编号格式不正确", code="invalid_request_id")
    if data.relation not in RELATIONS:
        raise ValidationFailed("与孩子的关系应为：" + "、".join(RELATIONS), code="invalid_relation")
    name = (data.name or "").strip()
    if not 1 <= len(name) <= 20:
        raise ValidationFailed("请填写孩子的姓名（不超过20个字）", code="invalid_name")
    today = local_today()
    if user.role == "resident":
        parent = get_resident(user.resident_id)
    elif user.role in ("doctor", "township_admin"):
        parent = get_resident(data.parent_id or "")
        if not _staff_may_manage(user, parent):
            raise Forbidden("只能为本团队（本辖区）的家庭添加孩子", code="not_your_resident")
    else:
        raise Forbidden("您没有权限添加孩子")
    id_number, birth, sex = _identity(data, today)
    if birth > today:
        raise ValidationFailed("出生日期不能晚于今天", code="birth_in_future")
    if age_on(birth, today) >= CHILD_MAX_AGE:
        raise ValidationFailed("只能添加未满18岁的孩子", code="not_a_child")
    if data.discharge_date and not birth <= data.discharge_date <= today:
        raise ValidationFailed("出院日期应在出生日期和今天之间", code="invalid_discharge_date")

    claim_key = f"childreq#{user.login}#{data.client_request_id}"
    try:
        return Resident.get(Uniqueness.get(claim_key, consistent_read=True).owner)
    except DoesNotExist:
        pass
    child = Resident(new_id(), id_number=id_number, name=name, sex=sex,
                     birth_date=birth.isoformat(), phone=None, household_id=parent.household_id,
                     village_id=parent.village_id, township_id=parent.township_id,
                     team_id=parent.team_id, created_at=utcnow())
    now = utcnow()
    try:
        with transaction() as tx:
            tx.save(Uniqueness(claim_key, owner=child.resident_id),
                    condition=Uniqueness.key.does_not_exist())
            if id_number:
                tx.save(Uniqueness(f"idno#{id_number}", owner=child.resident_id),
                        condition=Uniqueness.key.does_not_exist())
            tx.save(child, condition=Resident.resident_id.does_not_exist())
            tx.save(ProxyGrant(parent.resident_id, child.resident_id, relation=data.relation,
                               granted_at=now))
            if data.discharge_date:
                tx.save(ChildCheck(child.resident_id, "profile",
                                   discharge_date=data.discharge_date.isoformat(), recorded_at=now))
    except TransactWriteError as err:
        if not condition_failed(err):
            raise
        try:
            return Resident.get(Uniqueness.get(claim_key, consistent_read=True).owner)
        except DoesNotExist:
            raise Conflict("该身份证号已登记，请联系卫生院核对", code="duplicate_id_number") from None
    audit.record(user, subject_id=child.resident_id,
                 action="create", what="child")
    return child


def authorise_child(user, child_id: str) -> Resident:
    """The child, if `user` may see and book for them (parent with a grant, or staff)."""
    child = get_resident(child_id)
    if user.role == "resident":
        if child.resident_id == user.resident_id or not may_act_for(user, child.resident_id):
            raise Forbidden("您未获授权查看或代办该孩子的事务", code="not_authorised")
    elif user.role in ("doctor", "township_admin"):
        if not _staff_may_manage(user, child):
            raise Forbidden("该儿童不在本团队（本辖区）", code="not_your_resident")
    else:
        raise Forbidden("您没有权限查看儿童接种信息")
    if age_on(date.fromisoformat(child.birth_date), local_today()) >= CHILD_MAX_AGE:
        raise NotFound("找不到该儿童", code="not_a_child")
    return child


def my_children(user) -> list[Resident]:
    """Children (under 18) this resident is authorised for, youngest first."""
    today = local_today()
    kids = [r for r in people_i_act_for(user)[1:]
            if age_on(date.fromisoformat(r.birth_date), today) < CHILD_MAX_AGE]
    return sorted(kids, key=lambda r: r.birth_date, reverse=True)


def history_of(child_id: str) -> list[VaccinationDose]:
    return sorted(VaccinationDose.query(child_id, consistent_read=True),
                  key=lambda d: (d.given_on, d.dose_key))


def _given(doses) -> list[immunisation.GivenDose]:
    return [immunisation.GivenDose(d.vaccine, int(d.dose), date.fromisoformat(d.given_on))
            for d in doses if d.programme]


def plan_for(child: Resident, doses, today: date) -> immunisation.ChildPlan:
    return immunisation.plan(date.fromisoformat(child.birth_date), _given(doses), today,
                             sex=child.sex)


@dataclass
class ChildBook:
    child: Resident
    doses: list[VaccinationDose]
    plan: immunisation.ChildPlan
    checks: list[child_checks.CheckStatus]
    checks_done: list[ChildCheck]


def child_book(user, child_id: str) -> ChildBook:
    """The 接种本: doses given, what is due, and health checks (one Query each; audited)."""
    child = authorise_child(user, child_id)
    doses = history_of(child.resident_id)
    today = local_today()
    rows = list(ChildCheck.query(child.resident_id))
    profile = next((r for r in rows if r.check_key == "profile"), None)
    done = [r for r in rows if r.check_key != "profile"]
    discharge = date.fromisoformat(profile.discharge_date) if profile and profile.discharge_date \
        else None
    checks = child_checks.check_plan(date.fromisoformat(child.birth_date),
                                     {r.check_key for r in done}, today, discharge=discharge)
    audit.record(user, subject_id=child.resident_id,
                 action="read", what="child.vaccination_book")
    return ChildBook(child, doses, plan_for(child, doses, today), checks, done)


@dataclass(frozen=True)
class DoseInput:
    vaccine: str
    dose: int
    given_on: date
    batch: str
    manufacturer: str
    body_site: str
    booking_id: str | None = None


def _vaccinating_facility(user) -> Facility:
    if user.role not in ("doctor", "township_admin") or not user.facility_id:
        raise Forbidden("只有接种单位的工作人员可以登记接种", code="not_vaccinator")
    try:
        facility = Facility.get(user.facility_id)
    except DoesNotExist:
        raise Forbidden("只有接种单位的工作人员可以登记接种", code="not_vaccinator") from None
    if facility.kind not in VACCINATING_KINDS:
        raise Forbidden("本机构不是预防接种单位", code="not_vaccinator")
    return facility


def record_dose(user, child_id: str, data: DoseInput) -> VaccinationDose:
    """Record a dose given at the vaccinator's centre; refused before the minimum age or
    interval, twice, or for a vaccine not in the table in force on that day."""
    facility = _vaccinating_facility(user)
    child = get_resident(child_id)
    today = local_today()
    if data.given_on > today:
        raise ValidationFailed("接种日期不能晚于今天", code="given_in_future")
    for field, text in (("batch", data.batch), ("manufacturer", data.manufacturer),
                        ("body_site", data.body_site)):
        if not (text or "").strip():
            raise ValidationFailed("请填写疫苗批号、生产企业和接种部位", code=f"{field}_required")
    doses = history_of(child.resident_id)
    try:
        immunisation.check_dose(date.fromisoformat(child.birth_date), _given(doses), data.vaccine,
                                data.dose, data.given_on, sex=child.sex)
    except immunisation.DoseRefused as err:
        raise ValidationFailed(str(err), code=err.code) from None
    table = immunisation.load_schedule().in_force(data.given_on)
    item = VaccinationDose(child.resident_id, f"{data.vaccine}#{data.dose}", vaccine=data.vaccine,
                           vaccine_name=table.series[data.vaccine].name, dose=data.dose,
                           given_on=data.given_on.isoformat(), batch=data.batch.strip()[:40],
                           manufacturer=data.manufacturer.strip()[:40],
                           body_site=data.body_site.strip()[:20], facility_id=facility.facility_id,
                           facility_name=facility.name, given_by=user.display_name,
                           given_by_login=user.login, booking_id=data.booking_id,
                           programme=True, recorded_at=utcnow())
    try:
        item.save(condition=VaccinationDose.dose_key.does_not_exist())
    except PutError as err:
        if err.cause_response_code == "ConditionalCheckFailedException":
            raise ValidationFailed(f"{item.vaccine_name}第{data.dose}剂已接种，不能重复登记",
                                   code="dose_already_given") from None
        raise
    audit.record(user, subject_id=child.resident_id,
                 action="write", what=f"vaccination.{data.vaccine}#{data.dose}")
    return item


def record_check(user, child_id: str, check_key: str, done_on: date) -> ChildCheck:
    """A family doctor records a child's health check as done (once per check)."""
    child = authorise_child(user, child_id)
    if user.role == "resident":
        raise Forbidden("健康检查由医生登记", code="staff_only")
    if check_key not in {c.key for c in child_checks.checks()}:
        raise ValidationFailed("没有这项儿童健康检查", code="unknown_check")
    if done_on > local_today() or done_on < date.fromisoformat(child.birth_date):
        raise ValidationFailed("检查日期应在出生日期和今天之间", code="invalid_check_date")
    item = ChildCheck(child.resident_id, check_key, done_on=done_on.isoformat(),
                      done_by=user.display_name, recorded_at=utcnow())
    try:
        item.save(condition=ChildCheck.check_key.does_not_exist())
    except PutError as err:
        if err.cause_response_code == "ConditionalCheckFailedException":
            raise Conflict("这项检查已登记", code="check_already_recorded") from None
        raise
    audit.record(user, subject_id=child.resident_id,
                 action="write", what=f"child_check.{check_key}")
    return item
