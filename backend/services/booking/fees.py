"""The registration fee: charged once per person, department and day, whatever the timing.

The claim is the person's booking-ledger item `fee#<facility>#<department>#<YYYY-MM-DD>`:
`fee_booking` names the one booking that carries the fee, `holds` maps every booking of
that department and day that is not cancelled to its `HH:MM`. It is written inside the
booking's (or the cancel's) own transaction, always conditional on what was read:

    book, no claim         claim it, `attribute_not_exists(fee_booking)`   -> this one pays
    book, claimed by X     add to `holds`, `fee_booking = X`                 -> free
    cancel the carrier     the fee moves to the earliest other booking of the day (arrived
                           or not: the person came or is coming), `fee_booking = carrier`;
                           none left: the claim is deleted (`size(holds) = 1`), so the next
                           booking of that day pays
    cancel another         leave `holds`, `fee_booking = X`

Two bookings racing for the first place of the day cannot both carry the fee, and a booking
made after the first was marked arrived, or after its start, finds the claim and is free.
A failed condition means the claim changed meanwhile: the caller reads it again and retries.
Only slices of a kind that `charges_registration` with a fee above 0 take part.
"""
from __future__ import annotations

from pynamodb.expressions.condition import size

from backend.models.booking import Booking, BookingLedger, Slot
from backend.rules import booking as rules
from backend.services.slot_kinds import kind_of

from .keys import fee_key

__all__ = ["FeeRaced", "charges", "claim_entry", "fee_for", "on_book", "on_cancel"]


class FeeRaced(Exception):
    """The fee claim changed between the read and the transaction: read again, retry."""


def charges(slot: Slot) -> bool:
    return int(slot.fee or 0) > 0 and kind_of(slot.kind).charges_registration


def claim_entry(subject_id: str, facility_id: str, department: str, day: str) -> BookingLedger:
    return BookingLedger(subject_id, fee_key(facility_id, department, day))


def _holds(claim: BookingLedger | None) -> dict:
    if claim is None or claim.holds is None:
        return {}
    return dict(claim.holds.as_dict() if hasattr(claim.holds, "as_dict") else claim.holds)


def fee_for(slot: Slot, claim: BookingLedger | None) -> int:
    """What this booking of `slot` costs, given the claim as read (None: no claim yet)."""
    if not charges(slot):
        return 0
    return rules.registration_fee(int(slot.fee), 1 if claim is not None and claim.fee_booking else 0)


def on_book(tx, subject_id: str, slot: Slot, booking: Booking, claim: BookingLedger | None) -> bool:
    """Add the claim's write to the booking transaction; False when the slice takes no part."""
    if not charges(slot):
        return False
    entry = claim_entry(subject_id, slot.facility_id, slot.department, slot.day)
    if claim is None or not claim.fee_booking:
        tx.update(entry, actions=[BookingLedger.fee_booking.set(booking.booking_id),
                                  BookingLedger.holds.set({booking.booking_id: slot.start})],
                  condition=BookingLedger.fee_booking.does_not_exist())
    else:
        tx.update(entry, actions=[BookingLedger.holds[booking.booking_id].set(slot.start)],
                  condition=BookingLedger.fee_booking == claim.fee_booking)
    return True


def on_cancel(tx, booking: Booking, claim: BookingLedger | None) -> list[str]:
    """Add the claim's writes to the cancel transaction; returns their labels (delete first,
    then updates, in the order DynamoDB reports them)."""
    holds = _holds(claim)
    if claim is None or booking.booking_id not in holds:
        return []   # a slice without a fee, or a booking made before fee claims existed
    entry = claim_entry(booking.subject_id, booking.facility_id, booking.department, booking.day)
    bid = booking.booking_id
    if claim.fee_booking != bid:
        tx.update(entry, actions=[BookingLedger.holds[bid].remove()],
                  condition=BookingLedger.fee_booking == claim.fee_booking)
        return ["update:fee"]
    others = {k: v for k, v in holds.items() if k != bid}
    if not others:
        tx.delete(entry, condition=(BookingLedger.fee_booking == bid) & (size(BookingLedger.holds) == 1))
        return ["delete:fee"]
    heir = min(others, key=lambda k: (str(others[k]), k))
    tx.update(entry, actions=[BookingLedger.fee_booking.set(heir), BookingLedger.holds[bid].remove()],
              condition=BookingLedger.fee_booking == bid)
    tx.update(Booking(heir), actions=[Booking.fee.set(int(booking.fee or 0))],
              condition=Booking.status.is_in("booked", "arrived", "no_show"))
    return ["update:fee", "update:fee"]
