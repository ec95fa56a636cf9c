"""Accounts, one-time login codes, sessions and rate-limit counters."""
from __future__ import annotations

from pynamodb.attributes import (BooleanAttribute, ListAttribute, MapAttribute, NumberAttribute,
                                 UnicodeAttribute, UTCDateTimeAttribute, TTLAttribute)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex

from backend.models.base import BaseModel

__all__ = ["Account", "LoginCode", "LoginFailures", "Session", "RateCounter", "ROLES"]

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
    """The live one-time codes of a mobile number: a new request adds one, so a code
    already sent stays valid for its minutes (an attacker's request cannot void it).

    PK phone_hash: HMAC of the mobile number. `codes` maps the HMAC of each code to its
    expiry (epoch seconds; 0 once used): verifying is one conditional update
    (`codes.<hash> > now` → `codes.<hash> = 0`), so a code is used at most once. Guesses
    are limited by `LoginFailures`, not here. `revision` guards the read-modify-write of
    adding a code. Expires by TTL with its last code.
    """

    class Meta:
        table = "login-codes"

    phone_hash = UnicodeAttribute(hash_key=True)
    codes = MapAttribute(null=True)
    revision = NumberAttribute(default=0)
    expires_at = TTLAttribute()


class LoginFailures(BaseModel):
    """Recent failed guesses of one subject, for the rolling-day cap (`rules.login_limits`).

    PK key: `<kind>#<subject hash>`: `code#<phone>` (codes for a number from anywhere),
    `code-device#<device>#<phone>` (from the owner's trusted phone), `password#<account>
    #<address>` (a staff password from one address). `failures` are epoch times; a
    guess is written here before it is checked (conditional on `revision`), and taken
    out again if it was right. Expires by TTL a day after the last failure.
    """

    class Meta:
        table = "login-failures"

    key = UnicodeAttribute(hash_key=True)
    failures = ListAttribute(of=NumberAttribute, default=list)
    revision = NumberAttribute(default=0)
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
