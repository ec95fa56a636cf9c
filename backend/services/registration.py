"""Registering yourself: a resident's request, the township centre's queue, match or decline.

    villages()                 the county's villages by township, for the form (cached)
    submit(...)                anyone: one pending request per identity number
    queue(user)                township staff: their centre's pending requests + candidates
    match(user, id, resident)  link the phone to the existing record (account + phone, one
                               transaction), then tell the resident by text
    create(user, id)           no record yet: register one (`registry.register_resident`,
                               doctor's 建档), then link and tell as for a match
    decline(user, id)          tell the resident to come in person; the claim is released
"""
from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from pynamodb.exceptions import DoesNotExist, TransactWriteError

from backend.errors import Conflict, Forbidden, NotFound, ValidationFailed
from backend.models.account import Account
from backend.models.base import condition_failed, failed_items, new_id, transaction, utcnow
from backend.models.facility import Facility
from backend.models.people import Resident, Uniqueness, save_with_claim
from backend.models.registration import RegistrationRequest
from backend.rules.identity import InvalidIdentityNumber, is_mobile, parse_identity_number
from backend.services import audit, ratelimit

__all__ = ["villages", "submit", "queue", "match", "create", "decline", "QueueItem", "get_request"]

log = logging.getLogger(__name__)

_NAME = re.compile(r"^[\u4e00-\u9fff·]{2,20}$")
KEEP_DAYS = 180
_villages_cache: dict = {}


def villages() -> list[tuple[str, list[Facility]]]:
    """[(township centre name, its village clinics)] for every county; cached 5 minutes."""
    from backend.services import places
    if _villages_cache.get("until", 0) > time.time():
        return _villages_cache["value"]
    out = []
    for county in Facility.by_parent.query("root"):
        for centre in Facility.by_parent.query(county.facility_id):
            if centre.kind in ("township", "community") and (clinics := places.villages_of(centre.facility_id)):
                out.append((centre.name, clinics))
    _villages_cache.update(value=out, until=time.time() + 300)
    return out


def _village(village_id: str) -> Facility:
    if not village_id or len(village_id) > 64:
        raise ValidationFailed("请选择所在的村", code="invalid_village")
    try:
        village = Facility.get(village_id)
    except DoesNotExist:
        raise ValidationFailed("请选择所在的村", code="invalid_village") from None
    if village.kind != "village":
        raise ValidationFailed("请选择所在的村", code="invalid_village")
    return village


def submit(*, name: str, id_number: str, phone: str, village_id: str,
           address: str) -> RegistrationRequest:
    """Store a request for the village's township centre.

    The answer is the same whether or not the identity number is already registered or
    already asked for (nobody learns from this form who is registered); a repeat changes
    nothing.
    """
    name = (name or "").strip()
    if not _NAME.fullmatch(name):
        raise ValidationFailed("请填写身份证上的姓名（2-20个汉字）", code="invalid_name")
    try:
        ident = parse_identity_number(id_number)
    except InvalidIdentityNumber as err:
        raise ValidationFailed(str(err), code="invalid_id_number") from None
    phone = (phone or "").strip()
    if not is_mobile(phone):
        raise ValidationFailed("请输入正确的11位手机号", code="invalid_phone")
    village = _village(village_id)
    secret = current_app.config["COUNTYCARE"].secret_key
    message = "提交太频繁，请稍后再试"
    ratelimit.hit("register-addr", ratelimit.subject_key(secret, address), 10, 3600, message=message)
    ratelimit.hit("register-id", ratelimit.subject_key(secret, ident.value), 3, 86400, message=message)
    now = utcnow()
    request = RegistrationRequest(village.parent_id, new_id(), name=name, id_number=ident.value,
                                  phone=phone, village_id=village.facility_id,
                                  village_name=village.name, status="pending", created_at=now,
                                  expires_at=now + timedelta(days=KEEP_DAYS))
    save_with_claim(request, f"regreq#{ident.value}", request.request_id)
    return request


@dataclass(frozen=True)
class QueueItem:
    request: RegistrationRequest
    candidate: Resident | None     # the record with the same identity number, if any
    phone_in_use: bool             # the number already signs in to an account


def _staff_centre(user) -> str:
    if user.role != "township_admin" or not user.facility_id:
        raise Forbidden("只有乡镇卫生院的工作人员可以处理登记申请")
    return user.facility_id


def queue(user, limit: int = 50) -> list[QueueItem]:
    """The centre's pending requests, oldest first, each with its candidate record (audited)."""
    centre = _staff_centre(user)
    pending = list(RegistrationRequest.query(centre, filter_condition=RegistrationRequest.status == "pending",
                                             limit=limit))
    if not pending:
        return []
    from backend.services.residents import id_number_claim
    claims = {id_number_claim(r.id_number): r.id_number for r in pending}
    owners = {claims[u.key]: u.owner for u in Uniqueness.batch_get(sorted(claims))}
    residents = {r.resident_id: r for r in Resident.batch_get(sorted(set(owners.values())))}
    accounts = {a.login for a in Account.batch_get(sorted({f"m:{r.phone}" for r in pending}),
                                                   attributes_to_get=["login"])}
    items = []
    for r in pending:
        candidate = residents.get(owners.get(r.id_number, ""))
        if candidate is not None:
            audit.record(user, subject_id=candidate.resident_id,
                         action="read", what="registration.candidate")
        items.append(QueueItem(r, candidate, f"m:{r.phone}" in accounts))
    return items


def get_request(user, request_id: str) -> RegistrationRequest:
    centre = _staff_centre(user)
    if not request_id or len(request_id) > 64:
        raise NotFound("找不到该登记申请", code="request_not_found")
    try:
        return RegistrationRequest.get(centre, request_id, consistent_read=True)
    except DoesNotExist:
        raise NotFound("找不到该登记申请", code="request_not_found") from None


def _tell(request: RegistrationRequest, kind: str) -> str:
    from backend.services.sms import SmsFailed
    texter = current_app.extensions["code_sender"]
    try:
        texter.send_text(request.phone, kind, {"name": request.name})
        return "sent"
    except SmsFailed as err:
        return err.code


def match(user, request_id: str, resident_id: str) -> RegistrationRequest:
    """Link the request's phone to the existing record with the same identity number."""
    request = get_request(user, request_id)
    if request.status != "pending":
        raise Conflict("该申请已处理", code="request_handled")
    try:
        resident = Resident.get(resident_id or "-")
    except DoesNotExist:
        raise NotFound("找不到该居民", code="resident_not_found") from None
    if resident.id_number != request.id_number:
        raise ValidationFailed("身份证号与该健康档案不一致，不能匹配", code="id_number_mismatch")
    return _link(user, request, resident, "matched")


def create(user, request_id: str) -> RegistrationRequest:
    """No health record has this identity number: register the person in a new household
    of the chosen village (idempotent by the request id), then link the phone and tell them."""
    from backend.services.registry import register_resident
    request = get_request(user, request_id)
    if request.status != "pending":
        raise Conflict("该申请已处理", code="request_handled")
    resident = register_resident(user, id_number=request.id_number, name=request.name, phone=None,
                                 village_id=request.village_id,
                                 request_id=f"regreq-{request.request_id}")
    return _link(user, request, resident, "created")


def _link(user, request: RegistrationRequest, resident: Resident, outcome: str) -> RegistrationRequest:
    now = utcnow()
    try:
        with transaction() as tx:
            tx.update(request, actions=[RegistrationRequest.status.set(outcome),
                                        RegistrationRequest.resident_id.set(resident.resident_id),
                                        RegistrationRequest.handled_by.set(user.login),
                                        RegistrationRequest.handled_at.set(now)],
                      condition=RegistrationRequest.status == "pending")
            tx.save(Account(f"m:{request.phone}", role="resident", display_name=resident.name,
                            resident_id=resident.resident_id, created_at=now),
                    condition=Account.login.does_not_exist())
            tx.update(resident, actions=[Resident.phone.set(request.phone)],
                      condition=Resident.id_number == request.id_number)
    except TransactWriteError as err:
        if not condition_failed(err):
            raise
        if 0 in failed_items(err):  # PynamoDB orders saves (the account) before updates
            raise Conflict("该手机号已用于另一位居民的账号，请与居民核实号码", code="phone_in_use") from None
        raise Conflict("该申请已处理", code="request_handled") from None
    audit.record(user, subject_id=resident.resident_id,
                 action="write", what=f"registration.{outcome}")
    told = _tell(request, "registration_done")
    request.update(actions=[RegistrationRequest.told.set(told)])
    return request


def decline(user, request_id: str) -> RegistrationRequest:
    """No record to match: the resident is asked by text to come to the centre in person."""
    request = get_request(user, request_id)
    try:
        request.update(actions=[RegistrationRequest.status.set("declined"),
                                RegistrationRequest.handled_by.set(user.login),
                                RegistrationRequest.handled_at.set(utcnow())],
                       condition=RegistrationRequest.status == "pending")
    except Exception as err:
        if getattr(err, "cause_response_code", "") == "ConditionalCheckFailedException":
            raise Conflict("该申请已处理", code="request_handled") from None
        raise
    try:  # a new request may come later
        Uniqueness(f"regreq#{request.id_number}").delete(
            condition=Uniqueness.owner == request.request_id)
    except Exception:
        log.info("registration claim already gone for request %s", request.request_id)
    request.update(actions=[RegistrationRequest.told.set(_tell(request, "registration_declined"))])
    return request
