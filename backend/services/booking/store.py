"""The booking package's reads: the clock, one BatchGetItem over several tables, a booking
by id, and who may see it."""
from __future__ import annotations

import time

from pynamodb.exceptions import DoesNotExist

from backend.errors import NotFound, ServiceBusy, is_unavailable
from backend.models.base import _connection
from backend.models.booking import Booking

from .keys import valid_id

__all__ = ["now", "fetch", "load_booking", "may_see", "cause", "BUSY"]

BUSY = {"ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded",
        "InternalServerError", "ThrottlingError", "ProvisionedThroughputExceeded"}


def now() -> float:
    return time.time()


def fetch(wanted: list[tuple[type, str, str | None]]) -> list:
    """One BatchGetItem (strongly consistent) over several tables; None where missing."""
    request: dict[str, dict] = {}
    index: dict[tuple, int] = {}
    for i, (model, hk, rk) in enumerate(wanted):
        kwargs = model.get_operation_kwargs_from_class(hk, range_key=rk)
        table, key = kwargs["TableName"], kwargs["Key"]
        request.setdefault(table, {"Keys": [], "ConsistentRead": True})["Keys"].append(key)
        index[(table, _key_of(key, key))] = i
    out: list = [None] * len(wanted)
    client = _connection().client
    while request:
        try:
            resp = client.batch_get_item(RequestItems=request)
        except Exception as err:  # throttled or unreachable -> 503, never 500
            code = (getattr(err, "response", None) or {}).get("Error", {}).get("Code", "")
            if code in BUSY or is_unavailable(err):
                raise ServiceBusy(retry_after=1) from None
            raise
        for table, items in resp.get("Responses", {}).items():
            names = request[table]["Keys"][0]
            for raw in items:
                i = index.get((table, _key_of(raw, names)))
                if i is not None:
                    out[i] = wanted[i][0].from_raw_data(raw)
        request = resp.get("UnprocessedKeys") or {}
        if request:
            time.sleep(0.05)
    return out


def _key_of(item: dict, names: dict) -> tuple:
    return tuple(sorted((name, tuple(sorted(item[name].items()))) for name in names))


def cause(err) -> str:
    try:
        return err.cause_response_code or ""
    except AttributeError:
        return ""


def load_booking(booking_id: str) -> Booking:
    if not valid_id(booking_id):
        raise NotFound("找不到该预约", code="booking_not_found")
    try:
        return Booking.get(booking_id, consistent_read=True)
    except DoesNotExist:
        raise NotFound("找不到该预约", code="booking_not_found") from None


def may_see(user, booking: Booking) -> bool:
    if booking.booker_login == user.login:
        return True
    if user.role == "resident":
        from backend.services.residents import may_act_for
        return may_act_for(user, booking.subject_id)
    if user.role in ("township_admin", "hospital_admin"):
        return booking.facility_id == user.facility_id
    return False
