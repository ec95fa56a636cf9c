"""The booking engine: time-sliced places for any kind of clinic (门诊, 检查, 预防接种 ...).

Other areas call only what this module names (`__all__`); the modules behind it are one
concern each and may change:

    keys         slot ids, request ids, ledger and waitlist keys
    store        the clock, the one BatchGetItem, loading a booking, who may see it
    access       who may book whom where; which channel's place a booker takes
    transaction  the transaction that books and the one that cancels
    waitlist     waitlist entries and offers of freed places; `cancel` (frees a place)
    closing      停诊: closing a department's day
    attendance   arrivals, "not attended", the no-show rule
    listing      centres, departments, days, slices, a person's bookings, for pages
    reminders    the day-before reminder source
(`services.slot_kinds`, the registry of slice kinds, and `services.facilities`, the reads of
facilities, policies and templates, sit a floor down: `services.schedules` uses them too.)

Contract for another kind of clinic (e.g. vaccination, which books due doses here)
--------------------------------------------------------------------------------
1. Register the kind once, at import of your service module::

       booking.register_kind(booking.SlotKind(
           "vaccination", "预防接种", charges_registration=False,
           needs_purpose=True, check=dose_is_due))

   `check(user, resident, slot, purpose)` runs before the transaction: raise an AppError
   (Forbidden / Conflict / ValidationFailed, with a stable code and a Chinese message) to
   refuse; return the text people read for the purpose ("乙肝疫苗第2剂"), or None.
   A kind with `needs_purpose` is refused without a purpose (`purpose_required`).
2. Create templates of that kind for your departments through `services.schedules`
   (`save_template(..., TemplateInput(kind="vaccination", ...))`): slices are generated,
   split into online/desk/referral places, and opened on the facility's policy exactly as
   for outpatients.
3. Book with `booking.book(user, subject_id, slot_id, client_request_id, purpose=...)`.
   Guarantees, whatever the timing: a slice is never overbooked; one person holds at most
   one place per slice; a retried `client_request_id` returns the same booking (200,
   `replayed`); one purpose (`purpose#<person>#<purpose>`) holds at most one open booking
   (`purpose_booked`); proxies book only for people who authorised them; a kind that
   `charges_registration` charges its fee once per person, department and day.
   Answers are `BookResult(bookings, replayed)` or an AppError: `slot_full` (details say a
   waitlist is possible), `slot_past`, `day_closed`, `not_open_yet`, `duplicate_booking`,
   `limit_reached`, `booking_paused`, `not_authorised`, `service_busy` (503, retry).
4. Read with `list_days`, `list_slices`, `get_booking`, `my_bookings`; cancel with
   `cancel` (the place goes back and is offered to the day's waitlist first); the
   waitlist (`join_waitlist`, `leave_waitlist`, `accept_offer`, `decline_offer`), 停诊
   (`close_day`) and attendance (`mark_attendance`) work for every kind unchanged.
   Bookings carry `kind`, `purpose` and `purpose_label`, so your pages can filter them.
Never write the booking tables yourself: every invariant is held by the conditions of
these transactions.
"""
from __future__ import annotations

from backend.services.slot_kinds import SlotKind, kind_names, kind_of, register_kind

from .access import viewer_left
from .attendance import day_bookings, mark_attendance
from .closing import cancel_for_closed_day, close_day
from .keys import list_key, parse_slot_id
from .listing import (exam_days, exam_departments, exam_slices, get_booking, lead_hospital,
                      list_centres, list_days, list_departments, list_slices, my_bookings,
                      slots_for_review)
from .reminders import BookingAppointments, register_reminders
from .transaction import (MAX_AT_ONCE, BookResult, book, book_exams, book_many, book_referral)
from .waitlist import (accept_offer, cancel, decline_offer, expire_offers, get_entry,
                       join_waitlist, leave_waitlist, offer_next)

__all__ = ["SlotKind", "register_kind", "kind_of", "kind_names",
           "BookResult", "book", "book_many", "book_exams", "book_referral", "cancel",
           "parse_slot_id", "list_key", "viewer_left", "MAX_EXAMS",
           "join_waitlist", "leave_waitlist", "accept_offer", "decline_offer", "offer_next",
           "expire_offers", "get_entry",
           "close_day", "cancel_for_closed_day", "day_bookings", "mark_attendance",
           "list_centres", "list_departments", "list_days", "list_slices", "get_booking",
           "my_bookings", "lead_hospital", "exam_departments", "exam_days", "exam_slices",
           "slots_for_review", "BookingAppointments"]

MAX_EXAMS = MAX_AT_ONCE

register_reminders()
