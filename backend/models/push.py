"""Web Push: the devices that receive a person's notices, and pushes held over quiet hours."""
from __future__ import annotations

from pynamodb.attributes import TTLAttribute, UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.indexes import GlobalSecondaryIndex, KeysOnlyProjection

from backend.models.base import BaseModel

__all__ = ["PushSubscription", "HeldPush"]


class SubscriptionsByDevice(GlobalSecondaryIndex):
    """Who owns a browser's endpoint (taking it over; the service worker's resubscribe)."""

    class Meta:
        index_name = "by-device"
        projection = KeysOnlyProjection()

    device_id = UnicodeAttribute(hash_key=True)


class PushSubscription(BaseModel):
    """One browser's push subscription. PK recipient, SK device_id: SHA-256 (hex, 32) of
    the endpoint.

    Fan-out reads a person's devices with one strongly consistent Query on the base
    table (a device subscribed a moment ago is not missed). One browser has one owner:
    whoever subscribes it last (a shared family phone) takes it over, found through the
    by-device index. `token_hash` is the SHA-256 of the device token the service worker
    presents on `pushsubscriptionchange`, when the session may long be gone.
    """

    class Meta:
        table = "push-subscriptions"

    recipient = UnicodeAttribute(hash_key=True)   # res:<resident_id> or s:<login>
    device_id = UnicodeAttribute(range_key=True)
    endpoint = UnicodeAttribute()
    p256dh = UnicodeAttribute()
    auth = UnicodeAttribute()
    token_hash = UnicodeAttribute()
    label = UnicodeAttribute(default="")   # "Android 手机 · Chrome", shown in settings
    created_at = UTCDateTimeAttribute()

    by_device = SubscriptionsByDevice()


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
