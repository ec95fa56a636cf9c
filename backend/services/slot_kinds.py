"""Kinds of slice (门诊, 检查, and whatever another clinic registers, e.g. 预防接种): what the
engine needs to know about a kind, in one registry that templates (`services.schedules`) and
bookings (`services.booking`) both consult; re-exported by `services.booking`."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from backend.errors import ValidationFailed

__all__ = ["SlotKind", "register_kind", "kind_of", "kind_names", "PurposeCheck"]

# check(user, resident, slot, purpose) -> the text shown on the booking for that purpose
# (e.g. "乙肝疫苗第2剂"), or raise an AppError (403/409/422) to refuse the booking.
PurposeCheck = Callable[[object, object, object, "str | None"], "str | None"]


@dataclass(frozen=True)
class SlotKind:
    """What makes one kind of slice different; everything else is the shared engine.

    name: stored on templates, slices and bookings; label: what people read.
    charges_registration: the slice's fee is a registration fee, charged once per person,
      department and day (the fee claim in the booking transaction); False: every booking
      carries the slice's own price (an exam) or nothing (a free vaccination).
    several_at_once: may be booked several in one go, all or nothing (`book_many`).
    needs_purpose: a booking must name what it is for (a doctor's order, a due dose);
      `check` validates that purpose before the transaction, and the transaction claims
      `purpose#<person>#<purpose>` so one purpose holds one open booking.
    """

    name: str
    label: str
    charges_registration: bool = True
    several_at_once: bool = False
    needs_purpose: bool = False
    check: PurposeCheck | None = None


_KINDS: dict[str, SlotKind] = {}


def register_kind(kind: SlotKind) -> SlotKind:
    """Add (or replace, for the same name) a kind; idempotent, call at import of your area."""
    _KINDS[kind.name] = kind
    return kind


def kind_names() -> tuple[str, ...]:
    return tuple(_KINDS)


def kind_of(name: str) -> SlotKind:
    try:
        return _KINDS[name]
    except KeyError:
        raise ValidationFailed("类型应为门诊或检查", code="invalid_kind") from None


register_kind(SlotKind("outpatient", "门诊"))
register_kind(SlotKind("exam", "检查", several_at_once=True))
