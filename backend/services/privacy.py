"""The privacy notice and the separate consent to processing health data (PIPL arts. 13-17, 28-29).

    state_of(resident_id)      granted / missing / outdated / withdrawn (one GetItem)
    grant(user, ...)           the notice read and health data consented to (for oneself and,
                               recorded as such, for relatives who authorised the user)
    withdraw(user, confirm)    stops what `rules.privacy.WITHDRAWAL_STOPS` says; with open
                               bookings it first asks (409 `open_bookings`), then cancels them
    withdrawn_among(ids)       residents who withdrew (notify sends them inbox only)
"""
from __future__ import annotations

from pynamodb.exceptions import DoesNotExist

from backend.errors import Conflict, Forbidden, ValidationFailed
from backend.models.base import new_id, transaction, utcnow
from backend.models.people import ProxyGrant
from backend.models.privacy import PrivacyConsent
from backend.rules import privacy as rules

__all__ = ["state_of", "current", "grant", "withdraw", "withdrawn_among", "open_bookings",
           "history"]


def current(resident_id: str) -> PrivacyConsent | None:
    try:
        return PrivacyConsent.get(resident_id, "current", consistent_read=True)
    except DoesNotExist:
        return None


def state_of(resident_id: str) -> str:
    c = current(resident_id)
    if c is None:
        return "missing"
    if not c.health_data:
        return "withdrawn" if c.action == "withdrawn" else "missing"
    return "granted" if c.notice_version == rules.PRIVACY_VERSION else "outdated"


def _write(resident_id: str, *, action: str, health: bool, by_login: str, proxy_id: str | None = None,
           relation: str | None = None, cancelled: str | None = None) -> PrivacyConsent:
    now = utcnow()
    fields = dict(notice_version=rules.PRIVACY_VERSION, health_data=health, action=action, at=now,
                  by_login=by_login, proxy_id=proxy_id, relation=relation, cancelled_bookings=cancelled)
    state = PrivacyConsent(resident_id, "current", **fields)
    event = PrivacyConsent(resident_id, f"event#{now.isoformat()}#{new_id()}", **fields)
    with transaction() as tx:   # the state and its history together
        tx.save(state)
        tx.save(event, condition=PrivacyConsent.entry.does_not_exist())
    return state


def grant(user, *, version: str, notice_read: bool, health: bool,
          relatives: list[str] = ()) -> PrivacyConsent:
    """The resident read this version of the notice and (separately) consents to health data."""
    if user.role != "resident" or not user.resident_id:
        raise Forbidden("隐私授权由居民本人确认", code="residents_only")
    if version != rules.PRIVACY_VERSION:
        raise Conflict("隐私政策已更新，请阅读新版本后再确认", code="notice_changed")
    if not notice_read:
        raise ValidationFailed("请先阅读并确认隐私政策", code="notice_not_read")
    if not health:
        raise ValidationFailed("使用预约、健康档案等服务需要您单独同意处理健康信息", code="health_consent_required")
    for subject_id in relatives:
        if subject_id == user.resident_id:
            continue
        try:
            grant_row = ProxyGrant.get(user.resident_id, subject_id)
        except DoesNotExist:
            raise Forbidden("只能为授权您代办的家人代为同意", code="not_your_relative") from None
        _write(subject_id, action="granted", health=True, by_login=user.login,
               proxy_id=user.resident_id, relation=grant_row.relation)
    return _write(user.resident_id, action="granted", health=True, by_login=user.login)


def open_bookings(user) -> list:
    """The resident's own bookings not yet attended (what a withdrawal would cancel)."""
    from backend.services import booking
    from backend.services.care_common import local_today
    today = local_today().isoformat()
    return [b for b in booking.my_bookings(user)
            if b.subject_id == user.resident_id and b.status == "booked" and b.day >= today]


def withdraw(user, *, cancel_bookings: bool) -> tuple[PrivacyConsent, list]:
    """Withdraw the health-data consent. Open bookings are health data in use: the person is
    told first (409 `open_bookings`, nothing changed); confirmed, they are cancelled (places
    go back) and the withdrawal records which."""
    if user.role != "resident" or not user.resident_id:
        raise Forbidden("隐私授权由居民本人确认", code="residents_only")
    pending = open_bookings(user)
    if pending and not cancel_bookings:
        raise Conflict(f"您有{len(pending)}个未就诊的预约，撤回同意后这些预约将被取消，请确认",
                       code="open_bookings",
                       details=[{"booking_id": b.booking_id, "facility": b.facility_name,
                                 "department": b.department, "day": b.day, "start": b.start}
                                for b in pending])
    from backend.services import booking
    cancelled = [booking.cancel(user, b.booking_id) for b in pending]
    state = _write(user.resident_id, action="withdrawn", health=False, by_login=user.login,
                   cancelled=",".join(b.booking_id for b in cancelled) or None)
    return state, cancelled


def withdrawn_among(resident_ids: list[str]) -> set[str]:
    if not resident_ids:
        return set()
    return {c.resident_id for c in PrivacyConsent.batch_get([(r, "current") for r in resident_ids],
                                                             attributes_to_get=["resident_id", "action"])
            if c.action == "withdrawn"}


def history(resident_id: str) -> list[PrivacyConsent]:
    return list(PrivacyConsent.query(resident_id, PrivacyConsent.entry.startswith("event#"),
                                     scan_index_forward=False, limit=20))
