"""The in-app addresses notices link to: one function per page, every key quoted.

A notice's link is stored and opened later (from the inbox, a push, a text), outside the
request that made it, so it is built here rather than with `url_for`. Keys may hold `#`
(a waitlist is `<facility>#<department>#<day>`), which unquoted would end the path and
start a fragment; `tests/test_notice_links.py` opens every kind's link as its recipient.
"""
from __future__ import annotations

from urllib.parse import quote, urlencode

__all__ = ["booking", "booking_home", "waitlist_offer", "rate_booking", "rate_visit",
           "my_doctor", "scarce_window", "team"]


def _segment(value: str) -> str:
    return quote(str(value), safe="")


def booking(booking_id: str) -> str:
    return f"/booking/{_segment(booking_id)}"


def booking_home() -> str:
    return "/booking"


def waitlist_offer(list_key: str, entry_id: str) -> str:
    return "/booking/offer?" + urlencode({"list": list_key, "entry": entry_id})


def rate_booking(booking_id: str) -> str:
    return f"/rate/booking/{_segment(booking_id)}"


def rate_visit(resident_id: str, visit_key: str) -> str:
    return "/rate/visit?" + urlencode({"resident": resident_id, "visit": visit_key})


def my_doctor(offer_id: str | None = None) -> str:
    return "/my-doctor" + ("?" + urlencode({"offer": offer_id}) if offer_id else "")


def scarce_window(window_id: str) -> str:
    return f"/vaccines/scarce/{_segment(window_id)}"


def team() -> str:
    return "/team"
