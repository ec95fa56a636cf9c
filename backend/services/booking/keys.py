"""Ids and key formats of booking: slot ids, client request ids, ledger and waitlist keys."""
from __future__ import annotations

import re
from datetime import datetime

from backend.errors import ValidationFailed

__all__ = ["parse_slot_id", "check_request_id", "valid_id", "list_key", "ledger_key",
           "hold_value", "fee_key", "state_key"]

_REQUEST_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
_FACILITY = re.compile(r"^[a-z0-9-]{1,40}$")
_TEMPLATE = re.compile(r"^[0-9A-Za-z-]{1,40}$")
_STARTKEY = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}$")
_ID = re.compile(r"^[A-Za-z0-9_-]+$")


def parse_slot_id(slot_id: str) -> tuple[str, str]:
    """`<facility>#<department>#<YYYY-MM-DD>T<HH:MM>#<template>` -> (bucket, start_key)."""
    parts = (slot_id or "").split("#")
    if len(parts) != 4 or len(slot_id) > 160:
        raise ValidationFailed("号源编号格式不正确", code="invalid_slot_id")
    facility, department, start, template = parts
    if not (_FACILITY.match(facility) and 0 < len(department) <= 20
            and _STARTKEY.match(start) and _TEMPLATE.match(template)):
        raise ValidationFailed("号源编号格式不正确", code="invalid_slot_id")
    try:
        datetime.strptime(start, "%Y-%m-%dT%H:%M")
    except ValueError:
        raise ValidationFailed("号源编号中的日期无效", code="invalid_slot_id") from None
    return f"{facility}#{department}", f"{start}#{template}"


def check_request_id(rid: str) -> None:
    if not _REQUEST_ID.match(rid or ""):
        raise ValidationFailed("请求编号格式不正确", code="invalid_request_id")


def valid_id(value: str) -> bool:
    return bool(value) and len(value) <= 64 and _ID.match(value) is not None


def list_key(facility_id: str, department: str, day: str) -> str:
    """A day's waitlist of one department: `<facility>#<department>#<YYYY-MM-DD>`."""
    return f"{facility_id}#{department}#{day}"


def ledger_key(facility_id: str, department: str) -> str:
    """The person's open bookings of one department: `dept#<facility>#<department>`."""
    return f"dept#{facility_id}#{department}"


def fee_key(facility_id: str, department: str, day: str) -> str:
    """The person's registration-fee claim of one department and day (`services.booking.fees`):
    `fee#<facility>#<department>#<YYYY-MM-DD>`."""
    return f"fee#{facility_id}#{department}#{day}"


def state_key(facility_id: str) -> str:
    """The person's no-shows and pause at one facility: `state#<facility>`."""
    return f"state#{facility_id}"


def hold_value(slot) -> str:
    """`<YYYY-MM-DD>T<HH:MM>|<slot id>`: sortable by time, names the slice."""
    return f"{slot.day}T{slot.start}|{slot.bucket}#{slot.start_key}"
