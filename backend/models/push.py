"""Web Push: the devices that receive a person's notices, and pushes held over quiet hours."""
from __future__ import annotations

from pynamodb.attributes import TTLAttribute, UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex

from backend.models.base import BaseModel

__all__ = ["PushSubscription", "HeldPush"]


class SubscriptionsByRecipient(GlobalSecondaryIndex):
    """Every device of one person (fan-out, the settings page's device list)."""

    class Meta:
        index_name = "by-recipient"
        projection = AllProjection()

    recipient = UnicodeAttribute(hash_key=True)
    device_id = UnicodeAttribute(range_key=True)


class PushSubscription(BaseModel):
    """One browser's push subscription. PK device_id: SHA-256 (hex, 32) of the endpoint.

    Keyed by the endpoint so one browser has one owner: whoever subscribes it last
    (a shared family phone) receives its pushes. `token_hash` is the SHA-256 of the
    device token the service worker presents on `pushsubscriptionchange`, when the
    session that subscribed may long be gone.
    """

    class Meta:
        table = "push-subscriptions"

    device_id = UnicodeAttribute(hash_key=True)
    recipient = UnicodeAttribute()          # res:<resident_id> or s:<login>
    endpoint = UnicodeAttribute()
    p256dh = UnicodeAttribute()
    auth = UnicodeAttribute()
    token_hash = UnicodeAttribute()
    label = UnicodeAttribute(default="")   # "Android 手机 · Chrome", shown in settings
    created_at = UTCDateTimeAttribute()

    by_recipient = SubscriptionsByRecipient()


class HeldPush(BaseModel):
    """A push held over quiet hours. PK release_day: the local date (YYYY-MM-DD) of the
    07:00 at which it goes out; SK `<recipient>#<notice_id>`. Gone after a week (TTL).
    """

    class Meta:
        table = "push-held"

    release_day = UnicodeAttribute(hash_key=True)
    held_key = UnicodeAttribute(range_key=True)
    recipient = UnicodeAttribute()
    notice_id = UnicodeAttribute()
    held_at = UTCDateTimeAttribute()
    expires_at = TTLAttribute()
