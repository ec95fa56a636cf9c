"""Satisfaction: a resident rates a follow-up visit or an attended booking once (1-5 stars)."""
from __future__ import annotations

from dataclasses import dataclass

from pynamodb.exceptions import DoesNotExist, TransactWriteError

from backend.errors import Conflict, NotFound, ValidationFailed
from backend.models.base import condition_failed, transaction, utcnow
from backend.models.county import Rating
from backend.services.auth import CurrentUser
from backend.services.indicators import Tally

__all__ = ["RateTarget", "booking_target", "visit_target", "rate", "existing", "invite",
           "SATISFIED_FROM"]

SATISFIED_FROM = 4  # 4 or 5 stars count as satisfied (the seeds' 91 %)
MAX_TEXT = 300


@dataclass(frozen=True)
class RateTarget:
    subject: str        # the Rating key
    facility_id: str
    facility_name: str
    what: str           # what is rated, in Chinese (for the page)
    day: str


def _resident_may(user: CurrentUser, resident_id: str) -> None:
    from backend.services.residents import may_act_for
    if user.role != "resident" or not may_act_for(user, resident_id):
        raise NotFound("找不到可以评价的服务", code="nothing_to_rate")


def booking_target(user: CurrentUser, booking_id: str) -> RateTarget:
    """An attended booking of the resident (or of someone they act for)."""
    from backend.models.booking import Booking
    try:
        b = Booking.get(booking_id) if 0 < len(booking_id) <= 64 else None
    except DoesNotExist:
        b = None
    if b is None:
        raise NotFound("找不到可以评价的服务", code="nothing_to_rate")
    _resident_may(user, b.subject_id)
    if b.status != "arrived":
        raise Conflict("就诊后才能评价", code="not_attended")
    return RateTarget(f"booking#{b.booking_id}", b.facility_id, b.facility_name,
                      f"{b.department}就诊", b.day)


def visit_target(user: CurrentUser, resident_id: str, visit_key: str) -> RateTarget:
    """A follow-up visit of the resident (or of someone they act for)."""
    from backend.models.care import FollowUp
    from backend.models.facility import Facility, Team
    _resident_may(user, resident_id)
    try:
        f = FollowUp.get(resident_id, visit_key) if 0 < len(visit_key) <= 100 else None
        team = Team.get(f.team_id) if f else None
        facility = Facility.get(team.facility_id) if team else None
    except DoesNotExist:
        f = None
    if f is None or facility is None:
        raise NotFound("找不到可以评价的服务", code="nothing_to_rate")
    from backend.rules.followup import DISEASES
    return RateTarget(f"visit#{resident_id}#{visit_key}", facility.facility_id, facility.name,
                      f"{DISEASES.get(f.disease, '')}随访（{team.name}）", f.visit_date)


def existing(target: RateTarget) -> Rating | None:
    try:
        return Rating.get(target.subject)
    except DoesNotExist:
        return None


def rate(user: CurrentUser, target: RateTarget, *, stars: int, text: str | None) -> Rating:
    """Store the rating once; the facility's counters move in the same transaction."""
    if not isinstance(stars, int) or not 1 <= stars <= 5:
        raise ValidationFailed("请选择1到5星", code="invalid_stars")
    text = (text or "").strip() or None
    if text and len(text) > MAX_TEXT:
        raise ValidationFailed(f"评价内容最多{MAX_TEXT}字", code="text_too_long")
    rating = Rating(target.subject, facility_id=target.facility_id, stars=stars, text=text,
                    by=user.login, at=utcnow())
    tally = Tally()
    tally.month(target.facility_id, "ratings")
    tally.month(target.facility_id, "rating_sum", stars)
    tally.month(target.facility_id, "ratings_satisfied", int(stars >= SATISFIED_FROM))
    try:
        with transaction() as tx:
            tx.save(rating, condition=Rating.subject.does_not_exist())
            tally.apply(tx)
    except TransactWriteError as err:
        if condition_failed(err):
            raise Conflict("这次服务已经评价过了，每次服务只能评价一次", code="already_rated") from None
        raise
    return rating


def invite(resident_id: str, *, url: str, what: str, dedupe: str) -> None:
    """The inbox notice that asks for a rating (its link opens the rating page)."""
    from backend.services import notify
    try:
        notify.notify(notify.resident_recipient(resident_id), kind="rate_service",
                      title="请为本次服务评价", body=f"您的{what}已完成，欢迎评价（1-5星）。",
                      url=url, dedupe_key=f"rate#{dedupe}")
    except Exception:  # an invitation never breaks the service it follows
        import logging
        logging.getLogger(__name__).exception("rating invitation failed")
