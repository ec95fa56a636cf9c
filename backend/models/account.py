"""Accounts, one-time login codes, sessions and rate-limit counters."""
from __future__ import annotations

from pynamodb.attributes import (BooleanAttribute, NumberAttribute, UnicodeAttribute,
                                 UTCDateTimeAttribute, TTLAttribute)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex

from backend.models.base import BaseModel

__all__ = ["Account", "LoginCode", "Session", "RateCounter", "ROLES"]

ROLES = ("resident", "doctor", "township_admin", "hospital_admin", "county")


class Account(BaseModel):
    """A way in: a resident's mobile number or a staff member's user name.

    PK login: `m:<mobile>` for residents, `s:<username>` for staff.
    """

    class Meta:
        table = "accounts"

    login = UnicodeAttribute(hash_key=True)
    role = UnicodeAttribute()
    display_name = UnicodeAttribute()
    resident_id = UnicodeAttribute(null=True)   # the resident the phone belongs to
    facility_id = UnicodeAttribute(null=True)   # staff: their centre / hospital
    # A doctor's team is not kept here: it is `TeamMembership`, read on every request.
    title = UnicodeAttribute(null=True)         # doctors: e.g. 主治医师
    password_hash = UnicodeAttribute(null=True)
    disabled = BooleanAttribute(default=False)
    created_at = UTCDateTimeAttribute()


class LoginCode(BaseModel):
    """The current one-time code for a mobile number (a new request replaces it).

    PK phone_hash: HMAC of the mobile number. Expires by TTL; verified by a conditional
    update so a code is used at most once and guessed at most N times.
    """

    class Meta:
        table = "login-codes"

    phone_hash = UnicodeAttribute(hash_key=True)
    code_hash = UnicodeAttribute()
    attempts = NumberAttribute(default=0)
    used = BooleanAttribute(default=False)
    expires_at = TTLAttribute()


class SessionByLogin(GlobalSecondaryIndex):
    """All sessions of one account (to end them all, e.g. on password change)."""

    class Meta:
        index_name = "by-login"
        projection = AllProjection()

    login = UnicodeAttribute(hash_key=True)
    created_at = UTCDateTimeAttribute(range_key=True)


class Session(BaseModel):
    """A server-side session. PK token_hash: SHA-256 of the 256-bit cookie token.

    `expires_at` (TTL) is the absolute end; `idle_until` moves with each request.
    """

    class Meta:
        table = "sessions"

    token_hash = UnicodeAttribute(hash_key=True)
    login = UnicodeAttribute()
    role = UnicodeAttribute()
    csrf_token = UnicodeAttribute()
    display_name = UnicodeAttribute()
    resident_id = UnicodeAttribute(null=True)
    facility_id = UnicodeAttribute(null=True)
    created_at = UTCDateTimeAttribute()
    idle_until = NumberAttribute()
    expires_at = TTLAttribute()
    by_login = SessionByLogin()


class RateCounter(BaseModel):
    """Requests in one fixed window. PK key: `<action>#<subject hash>#<window start>`."""

    class Meta:
        table = "rate-counters"

    key = UnicodeAttribute(hash_key=True)
    count = NumberAttribute(default=0)
    expires_at = TTLAttribute()
